// Topics, subscriptions, messages and the delivery outbox in the shared SQLite database.
#pragma once

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "adapters/sqlite/sqlite_database.h"
#include "core/ports/clock.h"
#include "core/ports/notifier.h"

namespace stockwatch::adapters {

// The topics NoStock, LowStock and BackInStock exist from the first migration; user topics
// are rows of the same table (migration 9), kept with `deleted` set when deleted.
//
// Semantics beyond the port (shared with InMemoryNotifier):
// - Publish: kInvalidArgument, writing nothing, if a message names an unknown topic. A
//   message whose id is already stored is skipped (no new deliveries), so publishing is
//   idempotent by message id.
// - Subscribe: kInvalidArgument for an empty endpoint.
// - RecordAttempt(s): kNotFound for an unknown delivery. A delivery that is no longer pending
//   (failed by Unsubscribe meanwhile) is left as it is, and OK is returned.
// - Unsubscribe and PurgeExpiredSubscriptions stamp the failed deliveries with `clock`'s
//   time; UpdateSubscription makes held deliveries due at `clock`'s time.
// Durability: subscription changes and redrives are synced; Publish and RecordAttempts
// commit with Durability::kNormal (a lost tail is published or attempted again:
// at-least-once).
// Thread-safe.
class SqliteNotifier final : public core::Notifier {
 public:
  // `clock` must outlive the notifier.
  static absl::StatusOr<std::unique_ptr<SqliteNotifier>> Open(std::shared_ptr<SqliteDatabase> db,
                                                              core::Clock& clock,
                                                              core::NotifierOptions options = {});

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
  SqliteNotifier(std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
                 core::NotifierOptions options);
  // Gives subscription `s` a new confirmation token and puts its confirmation message in the
  // outbox, in `conn`'s transaction.
  absl::Status StartConfirmation(SqliteConnection& conn, core::Subscription& s, core::TimePoint at);
  absl::StatusOr<std::vector<core::Delivery>> LoadDeliveries(
      const std::string& where, absl::FunctionRef<void(SqliteStatement&)> bind);

  std::shared_ptr<SqliteDatabase> db_;
  core::Clock& clock_;
  const core::NotifierOptions options_;
  // Bumped after each committed template change (TemplatesGeneration).
  std::atomic<uint64_t> templates_generation_{1};
};

}  // namespace stockwatch::adapters
