#include "adapters/memory/in_memory_notifier.h"

#include <algorithm>
#include <random>

#include "core/delivery/filter_policy.h"
#include "fmt/format.h"

namespace stockwatch::adapters {
namespace {

absl::Status NoSuchDelivery(int64_t delivery_id) {
  return absl::NotFoundError("notifier: no delivery " + std::to_string(delivery_id));
}

}  // namespace

using core::DeliveryState;

InMemoryNotifier::InMemoryNotifier(core::Clock& clock)
    : clock_(clock),
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
    if (!topics_.contains(m.topic)) {
      return absl::InvalidArgumentError("notifier: unknown topic \"" + m.topic + "\"");
    }
  }
  std::set<std::string, std::less<>> seen;
  for (const core::Message& m : messages) {
    if (message_ids_.contains(m.id) || !seen.insert(m.id).second) continue;
    messages_.push_back(m);
    const core::Attributes attributes = core::MessageAttributes(m);
    for (const StoredSubscription& s : subscriptions_) {
      if (!s.active || s.subscription.topic != m.topic) continue;
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
  message_ids_.merge(seen);
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
    if (!topic || it->topic == *topic) out.push_back(*it);
  }
  return out;
}

absl::StatusOr<core::Subscription> InMemoryNotifier::Subscribe(std::string_view topic,
                                                               core::Protocol protocol,
                                                               std::string_view endpoint,
                                                               core::TimePoint at,
                                                               std::string_view filter_policy) {
  if (endpoint.empty()) return absl::InvalidArgumentError("notifier: endpoint is empty");
  absl::StatusOr<std::string> policy = core::CanonicalFilterPolicy(filter_policy);
  if (!policy.ok()) return policy.status();
  std::lock_guard lock(mu_);
  if (!topics_.contains(topic)) {
    return absl::InvalidArgumentError("notifier: unknown topic \"" + std::string(topic) + "\"");
  }
  for (const StoredSubscription& s : subscriptions_) {
    if (s.active && s.subscription.topic == topic && s.subscription.endpoint == endpoint) {
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
  std::random_device random;
  for (int i = 0; i < 8; ++i) subscription.secret += fmt::format("{:08x}", random());
  subscriptions_.push_back(StoredSubscription{subscription, true});
  return subscription;
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

absl::StatusOr<std::vector<core::Subscription>> InMemoryNotifier::Subscriptions() {
  std::lock_guard lock(mu_);
  std::vector<core::Subscription> out;
  for (const StoredSubscription& s : subscriptions_) {
    if (s.active) out.push_back(s.subscription);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> InMemoryNotifier::Topics() {
  return std::vector<std::string>(topics_.begin(), topics_.end());
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

}  // namespace stockwatch::adapters
