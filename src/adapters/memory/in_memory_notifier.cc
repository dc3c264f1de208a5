#include "adapters/memory/in_memory_notifier.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <random>
#include <set>

#include "base/status.h"
#include "core/checker/topic_routes.h"
#include "core/delivery/filter_policy.h"
#include "core/delivery/reminders.h"
#include "core/delivery/schedule.h"
#include "core/delivery/templates.h"
#include "fmt/format.h"

namespace stockwatch::adapters {
namespace {

absl::Status NoSuchDelivery(int64_t delivery_id) {
  return absl::NotFoundError("notifier: no delivery " + std::to_string(delivery_id));
}

absl::Status UnknownToken() {
  return absl::NotFoundError(
      "notifier: unknown or expired confirmation token (tokens work once, for a limited time)");
}

std::string Sha256(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

bool IsToken(std::string_view token) {
  return token.size() == 64 && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

using core::DeliveryState;

InMemoryNotifier::InMemoryNotifier(core::Clock& clock, core::NotifierOptions options)
    : clock_(clock),
      options_(options),
      topics_{std::string(core::kTopicNoStock), std::string(core::kTopicLowStock),
              std::string(core::kTopicBackInStock)} {}

absl::Status InMemoryNotifier::Publish(const std::vector<core::Message>& messages,
                                       uint64_t expected, uint64_t checkpoint) {
  std::lock_guard lock(mu_);
  if (checkpoint_ != expected) {
    return absl::AbortedError("notifier: checkpoint is " + std::to_string(checkpoint_) + ", not " +
                              std::to_string(expected) + " (another checker ran)");
  }
  for (const core::Message& m : messages) {
    if (!topics_.contains(m.topic) && !user_topics_.contains(m.topic)) {
      return absl::InvalidArgumentError("notifier: unknown topic \"" + m.topic + "\"");
    }
  }
  for (const core::Message& m : messages) StoreMessage(m);
  checkpoint_ = checkpoint;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> InMemoryNotifier::Checkpoint() {
  std::lock_guard lock(mu_);
  return checkpoint_;
}

absl::StatusOr<std::vector<core::Message>> InMemoryNotifier::RecentMessages(
    std::optional<std::string> topic, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<core::Message> out;
  for (auto it = messages_.rbegin(); it != messages_.rend() && out.size() < limit; ++it) {
    if (it->kind != core::MessageKind::kAlert) continue;
    if (!topic || it->topic == *topic) out.push_back(*it);
  }
  return out;
}

absl::StatusOr<core::Subscription> InMemoryNotifier::Subscribe(
    std::string_view topic, core::Protocol protocol, std::string_view endpoint, core::TimePoint at,
    std::string_view filter_policy, core::Confirmation confirmation,
    const core::DeliverySchedule& schedule) {
  if (endpoint.empty()) return absl::InvalidArgumentError("notifier: endpoint is empty");
  absl::StatusOr<std::string> policy = core::CanonicalFilterPolicy(filter_policy);
  if (!policy.ok()) return policy.status();
  absl::StatusOr<core::DeliverySchedule> canonical = core::CanonicalSchedule(schedule);
  if (!canonical.ok()) return canonical.status();
  std::lock_guard lock(mu_);
  if (!topics_.contains(topic)) {
    return absl::InvalidArgumentError("notifier: unknown topic \"" + std::string(topic) + "\"");
  }
  for (StoredSubscription& s : subscriptions_) {
    if (s.active && s.subscription.topic == topic && s.subscription.endpoint == endpoint) {
      if (s.subscription.status == core::SubscriptionStatus::kPendingConfirmation &&
          s.subscription.confirmation_expires_at <= at) {
        if (absl::Status started = StartConfirmation(s, at); !started.ok()) return started;
      }
      return s.subscription;
    }
  }
  core::Subscription subscription;
  subscription.id = static_cast<int64_t>(subscriptions_.size()) + 1;
  subscription.topic = std::string(topic);
  subscription.protocol = protocol;
  subscription.endpoint = std::string(endpoint);
  subscription.created_at = at;
  subscription.filter_policy = *std::move(policy);
  subscription.digest = canonical->digest;
  subscription.quiet_hours = canonical->quiet_hours;
  subscription.timezone = canonical->timezone;
  std::random_device random;
  for (int i = 0; i < 8; ++i) subscription.secret += fmt::format("{:08x}", random());
  subscriptions_.push_back(StoredSubscription{subscription, true, ""});
  if (confirmation == core::Confirmation::kRequired) {
    if (absl::Status started = StartConfirmation(subscriptions_.back(), at); !started.ok()) {
      subscriptions_.pop_back();
      return started;
    }
  }
  return subscriptions_.back().subscription;
}

absl::Status InMemoryNotifier::StartConfirmation(StoredSubscription& s, core::TimePoint at) {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::UnavailableError("notifier: no random bytes for a confirmation token");
  }
  std::string token;
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  s.token_sha256 = Sha256(token);
  s.subscription.status = core::SubscriptionStatus::kPendingConfirmation;
  s.subscription.confirmation_expires_at = at + options_.confirmation_ttl;
  core::Message m;
  m.id = fmt::format(
      "confirm-{}-{}", s.subscription.id,
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
  m.topic = s.subscription.topic;
  m.subject = "Confirm your subscription to " + s.subscription.topic;
  m.body = std::move(token);
  m.at = at;
  m.kind = core::MessageKind::kSubscriptionConfirmation;
  messages_.push_back(std::move(m));
  deliveries_.push_back(StoredDelivery{
      messages_.size() - 1, s.subscription.id, DeliveryState::kPending, 0, at, "", at, at, 0, {}});
  return absl::OkStatus();
}

absl::StatusOr<core::Subscription> InMemoryNotifier::ConfirmSubscription(std::string_view token,
                                                                         core::TimePoint now) {
  if (!IsToken(token)) return UnknownToken();
  const std::string hash = Sha256(token);
  std::lock_guard lock(mu_);
  for (StoredSubscription& s : subscriptions_) {
    if (!s.active || s.token_sha256.size() != hash.size() ||
        CRYPTO_memcmp(s.token_sha256.data(), hash.data(), hash.size()) != 0) {
      continue;
    }
    if (s.subscription.status != core::SubscriptionStatus::kPendingConfirmation ||
        !s.subscription.confirmation_expires_at || *s.subscription.confirmation_expires_at <= now) {
      return UnknownToken();
    }
    s.subscription.status = core::SubscriptionStatus::kConfirmed;
    s.subscription.confirmation_expires_at.reset();
    s.token_sha256.clear();
    return s.subscription;
  }
  return UnknownToken();
}

absl::Status InMemoryNotifier::OptOutSms(std::string_view number, core::TimePoint at) {
  if (number.empty()) return absl::InvalidArgumentError("notifier: sms number is empty");
  const core::TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  sms_opt_outs_.emplace(std::string(number), at);
  for (StoredDelivery& d : deliveries_) {
    const core::Subscription& s =
        subscriptions_[static_cast<size_t>(d.subscription_id - 1)].subscription;
    if (d.state == DeliveryState::kPending && s.protocol == core::Protocol::kSms &&
        s.endpoint == number) {
      d.state = DeliveryState::kFailed;
      d.last_error = "opted out (STOP)";
      d.updated_at = now;
    }
  }
  return absl::OkStatus();
}

absl::Status InMemoryNotifier::OptInSms(std::string_view number) {
  std::lock_guard lock(mu_);
  if (auto it = sms_opt_outs_.find(number); it != sms_opt_outs_.end()) sms_opt_outs_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<core::SmsOptOut>> InMemoryNotifier::SmsOptOuts() {
  std::lock_guard lock(mu_);
  std::vector<core::SmsOptOut> out;
  for (const auto& [number, at] : sms_opt_outs_) out.push_back({number, at});
  return out;
}

absl::StatusOr<core::Subscription> InMemoryNotifier::UpdateSubscription(
    int64_t id, const core::SubscriptionUpdate& update) {
  const core::TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  if (id < 1 || id > static_cast<int64_t>(subscriptions_.size()) ||
      !subscriptions_[static_cast<size_t>(id - 1)].active) {
    return absl::NotFoundError("notifier: no subscription " + std::to_string(id));
  }
  core::Subscription& stored = subscriptions_[static_cast<size_t>(id - 1)].subscription;
  absl::StatusOr<core::Subscription> updated = core::ApplySubscriptionUpdate(stored, update);
  if (!updated.ok()) return updated.status();
  const bool rescheduled = updated->digest != stored.digest ||
                           updated->quiet_hours != stored.quiet_hours ||
                           updated->timezone != stored.timezone;
  stored = *std::move(updated);
  if (rescheduled) {
    for (StoredDelivery& d : deliveries_) {
      if (d.subscription_id == id && d.state == DeliveryState::kPending && d.attempts == 0 &&
          d.next_attempt_at > now) {
        d.next_attempt_at = now;
      }
    }
  }
  return stored;
}

absl::StatusOr<int64_t> InMemoryNotifier::PurgeExpiredSubscriptions(core::TimePoint now) {
  const core::TimePoint stamp = clock_.Now();
  std::lock_guard lock(mu_);
  int64_t purged = 0;
  std::set<int64_t> ids;
  for (StoredSubscription& s : subscriptions_) {
    if (s.active && s.subscription.status == core::SubscriptionStatus::kPendingConfirmation &&
        s.subscription.confirmation_expires_at && *s.subscription.confirmation_expires_at <= now) {
      s.active = false;
      s.token_sha256.clear();
      ids.insert(s.subscription.id);
      ++purged;
    }
  }
  for (StoredDelivery& d : deliveries_) {
    if (d.state == DeliveryState::kPending && ids.contains(d.subscription_id)) {
      d.state = DeliveryState::kFailed;
      d.last_error = "confirmation expired";
      d.updated_at = stamp;
    }
  }
  return purged;
}

absl::Status InMemoryNotifier::Unsubscribe(int64_t subscription_id) {
  const core::TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  if (subscription_id < 1 || subscription_id > static_cast<int64_t>(subscriptions_.size()) ||
      !subscriptions_[static_cast<size_t>(subscription_id - 1)].active) {
    return absl::NotFoundError("notifier: no subscription " + std::to_string(subscription_id));
  }
  subscriptions_[static_cast<size_t>(subscription_id - 1)].active = false;
  for (StoredDelivery& d : deliveries_) {
    if (d.subscription_id == subscription_id && d.state == DeliveryState::kPending) {
      d.state = DeliveryState::kFailed;
      d.last_error = "unsubscribed";
      d.updated_at = now;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<core::Delivery> InMemoryNotifier::SendTestMessage(int64_t subscription_id,
                                                                 core::TimePoint at) {
  std::lock_guard lock(mu_);
  if (subscription_id < 1 || subscription_id > static_cast<int64_t>(subscriptions_.size()) ||
      !subscriptions_[static_cast<size_t>(subscription_id - 1)].active) {
    return absl::NotFoundError("notifier: no subscription " + std::to_string(subscription_id));
  }
  const core::Subscription& subscription =
      subscriptions_[static_cast<size_t>(subscription_id - 1)].subscription;
  if (subscription.status != core::SubscriptionStatus::kConfirmed) {
    return absl::FailedPreconditionError(
        "subscription " + std::to_string(subscription_id) +
        " is not confirmed yet: its endpoint must confirm it before it gets messages");
  }
  core::Message m;
  // The message's index keeps ids unique within one clock tick.
  m.id = fmt::format(
      "test-{}-{}-{}", subscription_id,
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count(),
      messages_.size());
  m.topic = subscription.topic;
  m.subject = std::string(core::kTestMessageSubject);
  m.body = core::TestMessageBody(subscription_id, subscription.topic);
  m.at = at;
  m.kind = core::MessageKind::kTest;
  messages_.push_back(std::move(m));
  deliveries_.push_back(StoredDelivery{
      messages_.size() - 1, subscription_id, DeliveryState::kPending, 0, at, "", at, at, 0, {}});
  return Expand(deliveries_.size() - 1);
}

absl::StatusOr<std::vector<core::Subscription>> InMemoryNotifier::Subscriptions() {
  std::lock_guard lock(mu_);
  std::vector<core::Subscription> out;
  for (const StoredSubscription& s : subscriptions_) {
    if (s.active) out.push_back(s.subscription);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> InMemoryNotifier::Topics() {
  std::lock_guard lock(mu_);
  return std::vector<std::string>(topics_.begin(), topics_.end());
}

absl::StatusOr<core::TopicInfo> InMemoryNotifier::CreateTopic(std::string_view name,
                                                              const std::vector<std::string>& rules,
                                                              std::string_view filter_policy,
                                                              core::TimePoint at) {
  SW_RETURN_IF_ERROR(core::ValidateTopicName(name));
  SW_ASSIGN_OR_RETURN(std::vector<std::string> canonical_rules, core::CanonicalTopicRules(rules));
  SW_ASSIGN_OR_RETURN(std::string policy, core::CanonicalFilterPolicy(filter_policy));
  std::lock_guard lock(mu_);
  for (const std::string& topic : topics_) {
    if (core::SameTopicName(topic, name)) {
      return absl::AlreadyExistsError("notifier: topic \"" + topic + "\" already exists");
    }
  }
  UserTopic& stored = user_topics_[std::string(name)];
  stored.deleted = false;
  stored.info = core::TopicInfo{std::string(name), false, false, std::move(canonical_rules),
                                std::move(policy), at};
  topics_.emplace(name);
  if (auto it = urgent_topics_.find(name); it != urgent_topics_.end()) urgent_topics_.erase(it);
  return stored.info;
}

absl::Status InMemoryNotifier::DeleteTopic(std::string_view name) {
  const core::TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  if (!topics_.contains(name)) {
    return absl::NotFoundError("notifier: no topic \"" + std::string(name) + "\"");
  }
  auto user = user_topics_.find(name);
  if (user == user_topics_.end()) {
    return absl::FailedPreconditionError("notifier: \"" + std::string(name) +
                                         "\" is a built-in topic and cannot be deleted");
  }
  user->second.deleted = true;
  topics_.erase(topics_.find(name));
  // A topic created again later under this name starts with the default wording.
  std::erase_if(templates_, [&](const auto& entry) { return entry.first.first == name; });
  templates_generation_.fetch_add(1, std::memory_order_release);
  if (auto it = urgent_topics_.find(name); it != urgent_topics_.end()) urgent_topics_.erase(it);
  for (StoredSubscription& s : subscriptions_) {
    if (!s.active || s.subscription.topic != name) continue;
    s.active = false;
    for (StoredDelivery& d : deliveries_) {
      if (d.subscription_id == s.subscription.id && d.state == DeliveryState::kPending) {
        d.state = DeliveryState::kFailed;
        d.last_error = "topic deleted";
        d.updated_at = now;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<core::TopicInfo>> InMemoryNotifier::TopicInfos() {
  std::lock_guard lock(mu_);
  std::vector<core::TopicInfo> out;
  for (const std::string& name : topics_) {
    if (auto user = user_topics_.find(name); user != user_topics_.end()) {
      out.push_back(user->second.info);
    } else {
      out.push_back(core::TopicInfo{name, true, false, {name}, "", {}});
    }
    out.back().urgent = urgent_topics_.contains(name);
  }
  return out;
}

core::Delivery InMemoryNotifier::Expand(size_t index) const {
  const StoredDelivery& d = deliveries_[index];
  core::Delivery out;
  out.id = static_cast<int64_t>(index) + 1;
  out.message = messages_[d.message];
  out.subscription = subscriptions_[static_cast<size_t>(d.subscription_id - 1)].subscription;
  out.state = d.state;
  out.attempts = d.attempts;
  out.next_attempt_at = d.next_attempt_at;
  out.last_error = d.last_error;
  out.updated_at = d.updated_at;
  out.since = d.since;
  out.redrives = d.redrives;
  return out;
}

absl::StatusOr<std::vector<core::Delivery>> InMemoryNotifier::DueDeliveries(core::TimePoint now,
                                                                            size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<size_t> due;
  for (size_t i = 0; i < deliveries_.size(); ++i) {
    if (deliveries_[i].state == DeliveryState::kPending && deliveries_[i].next_attempt_at <= now) {
      due.push_back(i);
    }
  }
  std::stable_sort(due.begin(), due.end(), [&](size_t a, size_t b) {
    return deliveries_[a].next_attempt_at < deliveries_[b].next_attempt_at;
  });
  std::vector<core::Delivery> out;
  for (size_t i = 0; i < due.size() && out.size() < limit; ++i) out.push_back(Expand(due[i]));
  return out;
}

absl::StatusOr<std::optional<core::TimePoint>> InMemoryNotifier::NextDue() {
  std::lock_guard lock(mu_);
  std::optional<core::TimePoint> next;
  for (const StoredDelivery& d : deliveries_) {
    if (d.state == DeliveryState::kPending && (!next || d.next_attempt_at < *next)) {
      next = d.next_attempt_at;
    }
  }
  return next;
}

absl::StatusOr<std::vector<core::Delivery>> InMemoryNotifier::DueDeliveriesOf(
    int64_t subscription_id, core::TimePoint now, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<size_t> due;
  for (size_t i = 0; i < deliveries_.size(); ++i) {
    const StoredDelivery& d = deliveries_[i];
    if (d.subscription_id == subscription_id && d.state == DeliveryState::kPending &&
        d.next_attempt_at <= now) {
      due.push_back(i);
    }
  }
  std::stable_sort(due.begin(), due.end(), [&](size_t a, size_t b) {
    return deliveries_[a].next_attempt_at < deliveries_[b].next_attempt_at;
  });
  std::vector<core::Delivery> out;
  for (size_t i = 0; i < due.size() && out.size() < limit; ++i) out.push_back(Expand(due[i]));
  return out;
}

absl::Status InMemoryNotifier::Defer(const std::vector<int64_t>& delivery_ids,
                                     core::TimePoint until) {
  std::lock_guard lock(mu_);
  for (int64_t id : delivery_ids) {
    if (!Known(id)) continue;
    StoredDelivery& d = deliveries_[static_cast<size_t>(id - 1)];
    if (d.state != DeliveryState::kPending) continue;
    d.next_attempt_at = until;
    if (d.attempts == 0) d.since = until;
  }
  return absl::OkStatus();
}

absl::Status InMemoryNotifier::SetTopicUrgent(std::string_view topic, bool urgent) {
  std::lock_guard lock(mu_);
  if (!topics_.contains(topic)) {
    return absl::InvalidArgumentError("notifier: unknown topic \"" + std::string(topic) + "\"");
  }
  if (urgent) {
    urgent_topics_.emplace(topic);
  } else if (auto it = urgent_topics_.find(topic); it != urgent_topics_.end()) {
    urgent_topics_.erase(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> InMemoryNotifier::UrgentTopics() {
  std::lock_guard lock(mu_);
  return std::vector<std::string>(urgent_topics_.begin(), urgent_topics_.end());
}

absl::Status InMemoryNotifier::SetTemplate(std::string_view topic,
                                           std::optional<core::Protocol> protocol,
                                           std::string_view subject, std::string_view body) {
  SW_RETURN_IF_ERROR(core::ParseTemplates(subject, body).status());
  std::lock_guard lock(mu_);
  if (!topics_.contains(topic)) {
    return absl::NotFoundError("notifier: unknown topic \"" + std::string(topic) + "\"");
  }
  templates_[{std::string(topic), protocol}] =
      core::TemplateRecord{std::string(topic), protocol, std::string(subject), std::string(body)};
  templates_generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status InMemoryNotifier::DeleteTemplate(std::string_view topic,
                                              std::optional<core::Protocol> protocol) {
  std::lock_guard lock(mu_);
  if (!topics_.contains(topic)) {
    return absl::NotFoundError("notifier: unknown topic \"" + std::string(topic) + "\"");
  }
  if (templates_.erase({std::string(topic), protocol}) > 0) {
    templates_generation_.fetch_add(1, std::memory_order_release);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<core::TemplateRecord>> InMemoryNotifier::Templates() {
  std::lock_guard lock(mu_);
  std::vector<core::TemplateRecord> out;
  out.reserve(templates_.size());
  for (const auto& [key, record] : templates_) out.push_back(record);
  return out;
}

uint64_t InMemoryNotifier::TemplatesGeneration() {
  return templates_generation_.load(std::memory_order_acquire);
}

absl::Status InMemoryNotifier::RecordAttempts(const std::vector<core::AttemptRecord>& attempts) {
  std::lock_guard lock(mu_);
  for (const core::AttemptRecord& attempt : attempts) {
    if (!Known(attempt.delivery_id)) return NoSuchDelivery(attempt.delivery_id);
  }
  for (const core::AttemptRecord& attempt : attempts) {
    StoredDelivery& d = deliveries_[static_cast<size_t>(attempt.delivery_id - 1)];
    if (d.state != DeliveryState::kPending) continue;
    const core::AttemptOutcome& outcome = attempt.outcome;
    ++d.attempts;
    d.updated_at = attempt.at;
    if (outcome.delivered) {
      d.state = DeliveryState::kDelivered;
      d.last_error.clear();
      continue;
    }
    d.last_error = outcome.error;
    d.history.push_back({attempt.at, outcome.error});
    if (outcome.permanent_failure) {
      d.state = DeliveryState::kFailed;
    } else {
      d.next_attempt_at = outcome.next_attempt_at;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<core::DeliveryAttempt>> InMemoryNotifier::Attempts(int64_t delivery_id) {
  std::lock_guard lock(mu_);
  if (!Known(delivery_id)) return NoSuchDelivery(delivery_id);
  return deliveries_[static_cast<size_t>(delivery_id - 1)].history;
}

absl::StatusOr<core::Delivery> InMemoryNotifier::GetDelivery(int64_t delivery_id) {
  std::lock_guard lock(mu_);
  if (!Known(delivery_id)) return NoSuchDelivery(delivery_id);
  return Expand(static_cast<size_t>(delivery_id - 1));
}

absl::StatusOr<int64_t> InMemoryNotifier::Redrive(std::optional<int64_t> delivery_id,
                                                  core::TimePoint at) {
  std::lock_guard lock(mu_);
  auto active = [&](const StoredDelivery& d) {
    return subscriptions_[static_cast<size_t>(d.subscription_id - 1)].active;
  };
  if (delivery_id) {
    if (!Known(*delivery_id)) return NoSuchDelivery(*delivery_id);
    const StoredDelivery& d = deliveries_[static_cast<size_t>(*delivery_id - 1)];
    if (d.state != DeliveryState::kFailed) {
      return absl::FailedPreconditionError("notifier: delivery " + std::to_string(*delivery_id) +
                                           " is " + std::string(core::DeliveryStateName(d.state)) +
                                           ", not failed");
    }
    if (!active(d)) {
      return absl::FailedPreconditionError("notifier: the subscription of delivery " +
                                           std::to_string(*delivery_id) + " was deleted");
    }
  }
  int64_t redriven = 0;
  for (size_t i = 0; i < deliveries_.size(); ++i) {
    StoredDelivery& d = deliveries_[i];
    if (delivery_id && static_cast<int64_t>(i) + 1 != *delivery_id) continue;
    if (d.state != DeliveryState::kFailed || !active(d)) continue;
    d.state = DeliveryState::kPending;
    d.attempts = 0;
    d.next_attempt_at = at;
    d.since = at;
    d.updated_at = at;
    ++d.redrives;
    ++redriven;
  }
  return redriven;
}

bool InMemoryNotifier::Known(int64_t delivery_id) const {
  return delivery_id >= 1 && delivery_id <= static_cast<int64_t>(deliveries_.size());
}

absl::StatusOr<std::vector<core::Delivery>> InMemoryNotifier::Deliveries(
    std::optional<DeliveryState> state, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<core::Delivery> out;
  for (size_t i = deliveries_.size(); i > 0 && out.size() < limit; --i) {
    if (!state || deliveries_[i - 1].state == *state) out.push_back(Expand(i - 1));
  }
  return out;
}

void InMemoryNotifier::TrackOutage(const core::Message& m) {
  if (core::OpensOutage(m)) {
    auto [it, opened] = outages_.try_emplace({m.store, m.item});
    if (opened) it->second = Outage{next_outage_id_++, m.at, m.at, 0};
  } else if (core::ClosesOutage(m)) {
    outages_.erase({m.store, m.item});
  }
}

void InMemoryNotifier::StoreMessage(const core::Message& m) {
  // A user topic deleted since the checker read its routes gets nothing more.
  if (!topics_.contains(m.topic)) return;
  if (!message_ids_.insert(m.id).second) return;
  messages_.push_back(m);
  TrackOutage(m);
  const core::Attributes attributes = core::MessageAttributes(m);
  for (const StoredSubscription& s : subscriptions_) {
    if (!s.active || s.subscription.topic != m.topic) continue;
    if (s.subscription.status != core::SubscriptionStatus::kConfirmed) continue;
    if (s.subscription.protocol == core::Protocol::kSms &&
        sms_opt_outs_.contains(s.subscription.endpoint)) {
      continue;
    }
    if (!core::PolicyAccepts(s.subscription.filter_policy, attributes)) continue;
    deliveries_.push_back(StoredDelivery{messages_.size() - 1,
                                         s.subscription.id,
                                         DeliveryState::kPending,
                                         0,
                                         m.at,
                                         "",
                                         m.at,
                                         m.at,
                                         0,
                                         {}});
  }
}

absl::StatusOr<int64_t> InMemoryNotifier::PublishReminders(core::TimePoint now,
                                                           std::chrono::seconds after, int limit,
                                                           size_t max) {
  if (after.count() <= 0) {
    return absl::InvalidArgumentError("notifier: the reminder interval must be positive");
  }
  // Reminders reach the user topics whose rules include NoStock, as the checker routes alerts.
  absl::StatusOr<std::vector<core::TopicInfo>> topics = TopicInfos();
  if (!topics.ok()) return topics.status();
  const core::TopicRouter router(*topics);
  std::lock_guard lock(mu_);
  std::vector<std::pair<const std::pair<std::string, std::string>, Outage>*> due;
  for (auto& entry : outages_) {
    const Outage& o = entry.second;
    if (o.reminders < limit && o.last + after <= now) due.push_back(&entry);
  }
  // The oldest due first, as SqliteNotifier orders them.
  std::sort(due.begin(), due.end(), [](const auto* a, const auto* b) {
    return std::pair(a->second.last, a->second.id) < std::pair(b->second.last, b->second.id);
  });
  if (due.size() > max) due.resize(max);
  for (auto* entry : due) {
    Outage& o = entry->second;
    ++o.reminders;
    const core::Message reminder = core::ReminderMessage(o.id, o.reminders, entry->first.first,
                                                         entry->first.second, o.since, now);
    StoreMessage(reminder);
    for (const core::Message& copy : router.Route(reminder)) StoreMessage(copy);
    o.last = core::NextReminderBase(o.last, now, after);
  }
  return static_cast<int64_t>(due.size());
}

absl::StatusOr<std::optional<core::TimePoint>> InMemoryNotifier::NextReminderDue(
    std::chrono::seconds after, int limit) {
  std::lock_guard lock(mu_);
  std::optional<core::TimePoint> next;
  for (const auto& [key, o] : outages_) {
    if (o.reminders >= limit) continue;
    if (!next || o.last + after < *next) next = o.last + after;
  }
  return next;
}

}  // namespace stockwatch::adapters
