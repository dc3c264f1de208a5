// A Notifier in memory: for tests, and the reference semantics that SqliteNotifier matches.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/ports/clock.h"
#include "core/ports/notifier.h"

namespace stockwatch::adapters {

// Same contract as SqliteNotifier (see sqlite_notifier.h for the semantics beyond the
// port), with the topics NoStock, LowStock and BackInStock. `clock` stamps deliveries
// failed by Unsubscribe and must outlive the notifier. Thread-safe.
class InMemoryNotifier final : public core::Notifier {
 public:
  explicit InMemoryNotifier(core::Clock& clock);

  absl::Status Publish(const std::vector<core::Message>& messages, uint64_t expected,
                       uint64_t checkpoint) override;
  absl::StatusOr<uint64_t> Checkpoint() override;
  absl::StatusOr<std::vector<core::Message>> RecentMessages(std::optional<std::string> topic,
                                                            size_t limit) override;
  absl::StatusOr<core::Subscription> Subscribe(std::string_view topic, core::Protocol protocol,
                                               std::string_view endpoint, core::TimePoint at,
                                               std::string_view filter_policy = {}) override;
  absl::Status Unsubscribe(int64_t subscription_id) override;
  absl::StatusOr<std::vector<core::Subscription>> Subscriptions() override;
  absl::StatusOr<std::vector<std::string>> Topics() override;
  absl::StatusOr<std::vector<core::Delivery>> DueDeliveries(core::TimePoint now,
                                                            size_t limit) override;
  absl::StatusOr<std::optional<core::TimePoint>> NextDue() override;
  absl::Status RecordAttempts(const std::vector<core::AttemptRecord>& attempts) override;
  absl::StatusOr<std::vector<core::DeliveryAttempt>> Attempts(int64_t delivery_id) override;
  absl::StatusOr<core::Delivery> GetDelivery(int64_t delivery_id) override;
  absl::StatusOr<int64_t> Redrive(std::optional<int64_t> delivery_id, core::TimePoint at) override;
  absl::StatusOr<std::vector<core::Delivery>> Deliveries(std::optional<core::DeliveryState> state,
                                                         size_t limit) override;

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
  };
  core::Delivery Expand(size_t index) const;
  bool Known(int64_t delivery_id) const;  // REQUIRES: mu_ held

  core::Clock& clock_;
  std::mutex mu_;
  const std::set<std::string, std::less<>> topics_;
  uint64_t checkpoint_ = 0;
  std::vector<core::Message> messages_;
  std::set<std::string, std::less<>> message_ids_;
  std::vector<StoredSubscription> subscriptions_;  // id = index + 1
  std::vector<StoredDelivery> deliveries_;         // id = index + 1
};

}  // namespace stockwatch::adapters
