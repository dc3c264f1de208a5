#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Result of one delivery attempt, recorded by the dispatcher.
struct AttemptOutcome {
  bool delivered = false;
  bool permanent_failure = false;  // stop retrying: the delivery is kept as failed
  std::string error;               // empty when delivered
  TimePoint next_attempt_at;       // when to retry, if neither delivered nor permanent
};

// One attempt to record: its delivery, outcome and time.
struct AttemptRecord {
  int64_t delivery_id = 0;
  AttemptOutcome outcome;
  TimePoint at;
};

// A failed attempt kept in a delivery's history (the dead-letter queue shows them all).
struct DeliveryAttempt {
  TimePoint at;
  std::string error;
  bool operator==(const DeliveryAttempt&) const = default;
};

// Topics, subscriptions and a durable outbox, modelled on an SNS topic. Publish writes one
// delivery per (message, subscription) together with the stock checker's checkpoint, so a
// message is neither lost nor published twice. Thread-safe.
class Notifier {
 public:
  virtual ~Notifier() = default;

  // Atomically: stores `messages`, one pending delivery per subscription of each message's
  // topic (due at `message.at`), and sets the checker checkpoint to `checkpoint`.
  // Returns kAborted, writing nothing, if the stored checkpoint is not `expected` (another
  // checker ran), and kInvalidArgument, writing nothing, if a message names an unknown
  // topic. A message whose id is already stored is skipped (no new deliveries).
  virtual absl::Status Publish(const std::vector<Message>& messages, uint64_t expected,
                               uint64_t checkpoint) = 0;
  // The checker checkpoint: the last change sequence it has handled, 0 at first.
  virtual absl::StatusOr<uint64_t> Checkpoint() = 0;

  // Messages newest first, of one topic when `topic` is set, at most `limit`.
  virtual absl::StatusOr<std::vector<Message>> RecentMessages(std::optional<std::string> topic,
                                                              size_t limit) = 0;

  // kInvalidArgument for an unknown topic, an empty endpoint or a filter policy that does
  // not parse (FilterPolicy::Parse; empty: none). Publish gives the subscription only the
  // messages its policy matches. Subscribing the same endpoint twice to a topic returns the
  // existing subscription unchanged.
  virtual absl::StatusOr<Subscription> Subscribe(std::string_view topic, Protocol protocol,
                                                 std::string_view endpoint, TimePoint at,
                                                 std::string_view filter_policy = {}) = 0;
  // kNotFound if absent. Pending deliveries of it are failed with "unsubscribed".
  virtual absl::Status Unsubscribe(int64_t subscription_id) = 0;
  virtual absl::StatusOr<std::vector<Subscription>> Subscriptions() = 0;
  virtual absl::StatusOr<std::vector<std::string>> Topics() = 0;

  // Pending deliveries due at or before `now`, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<Delivery>> DueDeliveries(TimePoint now, size_t limit) = 0;
  // The earliest next_attempt_at among pending deliveries, if any.
  virtual absl::StatusOr<std::optional<TimePoint>> NextDue() = 0;
  // Counts one attempt of a pending delivery: delivered, failed for good, or due again at
  // `outcome.next_attempt_at`. kNotFound for an unknown delivery; a delivery no longer
  // pending (failed by Unsubscribe meanwhile) is left as it is, returning OK.
  // Every failed attempt (not delivered) is also appended to the delivery's history.
  absl::Status RecordAttempt(int64_t delivery_id, const AttemptOutcome& outcome, TimePoint at) {
    return RecordAttempts({AttemptRecord{delivery_id, outcome, at}});
  }
  // RecordAttempt for many deliveries in one transaction. kNotFound, writing nothing, if any
  // delivery is unknown.
  virtual absl::Status RecordAttempts(const std::vector<AttemptRecord>& attempts) = 0;
  // The failed attempts of a delivery, oldest first. kNotFound for an unknown delivery.
  virtual absl::StatusOr<std::vector<DeliveryAttempt>> Attempts(int64_t delivery_id) = 0;
  // kNotFound for an unknown delivery.
  virtual absl::StatusOr<Delivery> GetDelivery(int64_t delivery_id) = 0;
  // Redrive from the dead-letter queue: failed deliveries of active subscriptions become
  // pending again, due at `at`, with their attempt count (not their history) reset and
  // `since` set to `at`. With `delivery_id`, only that one: kNotFound if unknown,
  // kFailedPrecondition if it is not failed or its subscription is gone. Returns how many
  // were redriven.
  virtual absl::StatusOr<int64_t> Redrive(std::optional<int64_t> delivery_id, TimePoint at) = 0;
  // Deliveries newest first; `state` filters when set.
  virtual absl::StatusOr<std::vector<Delivery>> Deliveries(std::optional<DeliveryState> state,
                                                           size_t limit) = 0;
};

}  // namespace stockwatch::core
