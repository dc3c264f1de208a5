// A Notifier in memory: for tests, and the reference semantics that SqliteNotifier matches.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/ports/clock.h"
#include "core/ports/notifier.h"

namespace stockwatch::adapters {

// Same contract as SqliteNotifier (see sqlite_notifier.h for the semantics beyond the
// port), with the topics NoStock, LowStock and BackInStock and the user topics CreateTopic adds.
// `clock` stamps deliveries failed by Unsubscribe and PurgeExpiredSubscriptions (and is the
// time UpdateSubscription releases held deliveries at); it must outlive the notifier.
// Thread-safe.
class InMemoryNotifier final : public core::Notifier {
 public:
  explicit InMemoryNotifier(core::Clock& clock, core::NotifierOptions options = {});

  absl::Status Publish(const std::vector<core::Message>& messages, uint64_t expected,
                       uint64_t checkpoint) override;
  absl::StatusOr<uint64_t> Checkpoint() override;
  absl::StatusOr<std::vector<core::Message>> RecentMessages(std::optional<std::string> topic,
                                                            size_t limit) override;
  absl::StatusOr<core::Subscription> Subscribe(
      std::string_view topic, core::Protocol protocol, std::string_view endpoint,
      core::TimePoint at, std::string_view filter_policy = {},
      core::Confirmation confirmation = core::Confirmation::kNotRequired,
      const core::DeliverySchedule& schedule = {}) override;
  absl::StatusOr<core::Subscription> ConfirmSubscription(std::string_view token,
                                                         core::TimePoint now) override;
  absl::Status OptOutSms(std::string_view number, core::TimePoint at) override;
  absl::Status OptInSms(std::string_view number) override;
  absl::StatusOr<std::vector<core::SmsOptOut>> SmsOptOuts() override;
  absl::StatusOr<core::Subscription> UpdateSubscription(
      int64_t id, const core::SubscriptionUpdate& update) override;
  absl::Status Unsubscribe(int64_t subscription_id) override;
  absl::StatusOr<int64_t> PurgeExpiredSubscriptions(core::TimePoint now) override;
  absl::StatusOr<std::vector<core::Subscription>> Subscriptions() override;
  absl::StatusOr<core::Delivery> SendTestMessage(int64_t subscription_id,
                                                 core::TimePoint at) override;
  absl::StatusOr<std::vector<std::string>> Topics() override;
  absl::StatusOr<core::TopicInfo> CreateTopic(std::string_view name,
                                              const std::vector<std::string>& rules,
                                              std::string_view filter_policy,
                                              core::TimePoint at) override;
  absl::Status DeleteTopic(std::string_view name) override;
  absl::StatusOr<std::vector<core::TopicInfo>> TopicInfos() override;
  absl::StatusOr<std::vector<core::Delivery>> DueDeliveries(core::TimePoint now,
                                                            size_t limit) override;
  absl::StatusOr<std::optional<core::TimePoint>> NextDue() override;
  absl::StatusOr<std::vector<core::Delivery>> DueDeliveriesOf(int64_t subscription_id,
                                                              core::TimePoint now,
                                                              size_t limit) override;
  absl::Status Defer(const std::vector<int64_t>& delivery_ids, core::TimePoint until) override;
  absl::Status SetTopicUrgent(std::string_view topic, bool urgent) override;
  absl::StatusOr<std::vector<std::string>> UrgentTopics() override;
  absl::Status SetTemplate(std::string_view topic, std::optional<core::Protocol> protocol,
                           std::string_view subject, std::string_view body) override;
  absl::Status DeleteTemplate(std::string_view topic,
                              std::optional<core::Protocol> protocol) override;
  absl::StatusOr<std::vector<core::TemplateRecord>> Templates() override;
  uint64_t TemplatesGeneration() override;
  absl::Status RecordAttempts(const std::vector<core::AttemptRecord>& attempts) override;
  absl::StatusOr<std::vector<core::DeliveryAttempt>> Attempts(int64_t delivery_id) override;
  absl::StatusOr<core::Delivery> GetDelivery(int64_t delivery_id) override;
  absl::StatusOr<int64_t> Redrive(std::optional<int64_t> delivery_id, core::TimePoint at) override;
  absl::StatusOr<std::vector<core::Delivery>> Deliveries(std::optional<core::DeliveryState> state,
                                                         size_t limit) override;
  absl::StatusOr<int64_t> PublishReminders(core::TimePoint now, std::chrono::seconds after,
                                           int limit, size_t max) override;
  absl::StatusOr<std::optional<core::TimePoint>> NextReminderDue(std::chrono::seconds after,
                                                                 int limit) override;

 private:
  struct StoredDelivery {
    size_t message = 0;  // index into messages_
    int64_t subscription_id = 0;
    core::DeliveryState state = core::DeliveryState::kPending;
    int attempts = 0;
    core::TimePoint next_attempt_at;
    std::string last_error;
    core::TimePoint updated_at;
    core::TimePoint since;
    int redrives = 0;
    std::vector<core::DeliveryAttempt> history;
  };
  struct StoredSubscription {
    core::Subscription subscription;
    bool active = true;
    std::string token_sha256;  // raw SHA-256 of the confirmation token; empty when none
  };
  // Adds a new confirmation token to `s` and its message and delivery to the outbox.
  // REQUIRES: mu_ held.
  absl::Status StartConfirmation(StoredSubscription& s, core::TimePoint at);
  core::Delivery Expand(size_t index) const;
  // An open outage (reminders): its item has been at 0 since `since`; its next reminder is
  // due `after` after `last` (its start, then the previous reminder's slot).
  struct Outage {
    int64_t id = 0;
    core::TimePoint since;
    core::TimePoint last;
    int reminders = 0;
  };
  // Opens or closes the outage `m` is about (core::OpensOutage, core::ClosesOutage).
  // REQUIRES: mu_ held.
  void TrackOutage(const core::Message& m);
  // Stores `m` (unless its id is stored or its topic was deleted) with one delivery per
  // subscription of its topic that gets it, and opens or closes its outage. Publish and
  // PublishReminders both store through it. REQUIRES: mu_ held.
  void StoreMessage(const core::Message& m);
  bool Known(int64_t delivery_id) const;  // REQUIRES: mu_ held

  core::Clock& clock_;
  const core::NotifierOptions options_;
  std::mutex mu_;
  // The live topics: the built-in ones and the user topics not deleted.
  std::set<std::string, std::less<>> topics_;
  // Every user topic ever created, deleted ones included (TopicInfo::builtin is false).
  struct UserTopic {
    core::TopicInfo info;
    bool deleted = false;
  };
  std::map<std::string, UserTopic, std::less<>> user_topics_;
  uint64_t checkpoint_ = 0;
  std::vector<core::Message> messages_;
  std::set<std::string, std::less<>> message_ids_;
  std::vector<StoredSubscription> subscriptions_;  // id = index + 1
  std::vector<StoredDelivery> deliveries_;         // id = index + 1
  std::map<std::string, core::TimePoint, std::less<>> sms_opt_outs_;
  std::set<std::string, std::less<>> urgent_topics_;
  std::map<std::pair<std::string, std::string>, Outage> outages_;  // by (store, item)
  int64_t next_outage_id_ = 1;
  // By (topic, protocol); nullopt (any protocol) sorts first.
  std::map<std::pair<std::string, std::optional<core::Protocol>>, core::TemplateRecord> templates_;
  std::atomic<uint64_t> templates_generation_{1};
};

}  // namespace stockwatch::adapters
