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

// How a new subscription starts (Notifier::Subscribe).
enum class Confirmation {
  // Confirmed at once: the caller vouches for the endpoint (an admin, a test, or a protocol
  // whose endpoint cannot answer; see ProtocolNeedsConfirmation).
  kNotRequired,
  // Pending until its endpoint confirms: Subscribe also writes one delivery of a
  // kSubscriptionConfirmation message carrying a new random token, due at once.
  kRequired,
};

// A subscription's delivery schedule, as given to Notifier::Subscribe: the spec strings of
// core/delivery/schedule.h, empty for the defaults (immediate; no quiet hours; UTC).
struct DeliverySchedule {
  std::string digest;
  std::string quiet_hours;
  std::string timezone;
  bool operator==(const DeliverySchedule&) const = default;
};

// Settings of a notifier.
struct NotifierOptions {
  // How long a confirmation token works after Subscribe. Default 48 h (SNS: 2 days).
  std::chrono::seconds confirmation_ttl{48 * 3600};
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

  // Alerts (kAlert messages; never confirmations) newest first, of one topic when `topic` is
  // set, at most `limit`.
  virtual absl::StatusOr<std::vector<Message>> RecentMessages(std::optional<std::string> topic,
                                                              size_t limit) = 0;

  // kInvalidArgument for an unknown topic, an empty endpoint, a filter policy that does
  // not parse (FilterPolicy::Parse; empty: none) or a schedule that does not
  // (CanonicalSchedule in core/delivery/schedule.h; it is kept in canonical form).
  // Publish gives the subscription only the messages its policy matches, and none while it is
  // pending confirmation. Subscribing the same endpoint twice to a topic returns the existing
  // subscription unchanged, except that a pending one whose token expired gets a new token and
  // confirmation message. With Confirmation::kRequired the subscription starts pending: only the
  // SHA-256 of its token is kept with the subscription; the token itself is in the confirmation
  // message (the outbox must be able to send it again), and is worthless once confirmed or expired.
  virtual absl::StatusOr<Subscription> Subscribe(
      std::string_view topic, Protocol protocol, std::string_view endpoint, TimePoint at,
      std::string_view filter_policy = {}, Confirmation confirmation = Confirmation::kNotRequired,
      const DeliverySchedule& schedule = {}) = 0;
  // Confirms the pending subscription whose token is `token` (64 hex digits) and returns it.
  // kNotFound, changing nothing, for an unknown, already used or expired (at `now`) token.
  virtual absl::StatusOr<Subscription> ConfirmSubscription(std::string_view token,
                                                           TimePoint now) = 0;
  // kNotFound if absent. Pending deliveries of it are failed with "unsubscribed".
  virtual absl::Status Unsubscribe(int64_t subscription_id) = 0;
  virtual absl::StatusOr<std::vector<Subscription>> Subscriptions() = 0;

  // SMS opt-outs (STOP). OptOutSms records `number` (E.164) at `at`: Publish writes no
  // deliveries to sms subscriptions with that endpoint, and their pending deliveries are
  // failed with "opted out (STOP)". Opting out again keeps the first time. kInvalidArgument
  // for an empty number.
  virtual absl::Status OptOutSms(std::string_view number, TimePoint at) = 0;
  // Removes `number` from the opt-outs (START); OK if it was not there. Deliveries failed
  // meanwhile stay failed (they may be redriven).
  virtual absl::Status OptInSms(std::string_view number) = 0;
  // Every opted-out number, in number order.
  virtual absl::StatusOr<std::vector<SmsOptOut>> SmsOptOuts() = 0;
  virtual absl::StatusOr<std::vector<std::string>> Topics() = 0;

  // Pending deliveries due at or before `now`, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<Delivery>> DueDeliveries(TimePoint now, size_t limit) = 0;
  // The earliest next_attempt_at among pending deliveries, if any.
  virtual absl::StatusOr<std::optional<TimePoint>> NextDue() = 0;
  // DueDeliveries of one subscription (the dispatcher gathers a digest with it).
  virtual absl::StatusOr<std::vector<Delivery>> DueDeliveriesOf(int64_t subscription_id,
                                                                TimePoint now, size_t limit) = 0;
  // Holds pending deliveries until `until` without counting an attempt (digest windows,
  // quiet hours, throttling): next_attempt_at becomes `until`, and a delivery not yet
  // attempted starts its retry budget (`since`) then. Deliveries that are unknown or no
  // longer pending are left as they are.
  virtual absl::Status Defer(const std::vector<int64_t>& delivery_ids, TimePoint until) = 0;

  // Urgent topics skip quiet hours. Every topic starts non-urgent. kInvalidArgument for an
  // unknown topic.
  virtual absl::Status SetTopicUrgent(std::string_view topic, bool urgent) = 0;
  // The urgent topics, sorted.
  virtual absl::StatusOr<std::vector<std::string>> UrgentTopics() = 0;
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
