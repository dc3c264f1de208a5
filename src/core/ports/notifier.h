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

// What Notifier::UpdateSubscription changes: each field set is replaced, each unset one is
// kept. Values are as Subscribe takes them: an empty filter policy removes the policy, an empty
// digest is immediate, empty quiet hours are none, an empty time zone is UTC.
struct SubscriptionUpdate {
  std::optional<std::string> filter_policy;
  std::optional<std::string> digest;
  std::optional<std::string> quiet_hours;
  std::optional<std::string> timezone;
};

// The message templates configured for a topic (Notifier::SetTemplate), as their source
// text (core/delivery/templates.h has the syntax).
struct TemplateRecord {
  std::string topic;
  // The protocol they are for; nullopt: every protocol of the topic without its own.
  std::optional<Protocol> protocol;
  std::string subject;
  std::string body;
  bool operator==(const TemplateRecord&) const = default;
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
  // Changes the filter policy and delivery schedule of active subscription `id` as `update`
  // says and returns the subscription. The result is validated as Subscribe validates it
  // (the filter policy as FilterPolicy::Parse, the schedule as CanonicalSchedule, applied to
  // the schedule that results) and kept in canonical form. kInvalidArgument, changing nothing,
  // naming the bad field; kNotFound for an unknown or unsubscribed id. Its status, token,
  // secret and deliveries are kept: pending deliveries go out under the new schedule (the
  // dispatcher reads it with each delivery), and the new filter policy applies to messages
  // published after the change. When the schedule changes, pending deliveries of the
  // subscription that were held (deferred, never attempted) become due at once, so the
  // dispatcher plans them again under the new schedule: removing quiet hours or a digest
  // window releases what they held. Deliveries waiting for a retry keep their time.
  virtual absl::StatusOr<Subscription> UpdateSubscription(int64_t id,
                                                          const SubscriptionUpdate& update) = 0;
  // kNotFound if absent. Pending deliveries of it are failed with "unsubscribed".
  virtual absl::Status Unsubscribe(int64_t subscription_id) = 0;
  // Unsubscribes every subscription still pending confirmation whose token has expired at
  // `now` (confirmation_expires_at <= now, as ConfirmSubscription counts expiry), as
  // Unsubscribe does, except that their pending deliveries (the confirmation message) are
  // failed with "confirmation expired". Returns how many it unsubscribed. Subscribing such an
  // endpoint again afterwards makes a new subscription.
  virtual absl::StatusOr<int64_t> PurgeExpiredSubscriptions(TimePoint now) = 0;
  virtual absl::StatusOr<std::vector<Subscription>> Subscriptions() = 0;
  // Writes one message of kind kTest (subject kTestMessageSubject, a body naming the
  // subscription and its topic, no store or item, at `at`) and one delivery of it to
  // subscription `subscription_id` only, due at `at`, in one transaction; the dispatcher sends
  // and retries it as any delivery. Returns the delivery. kNotFound for an unknown or deleted
  // subscription; kFailedPrecondition for one still pending confirmation. Not an alert:
  // RecentMessages never lists it and Publish's checkpoint is untouched. Adapters that cannot
  // send one return kUnimplemented (the default).
  virtual absl::StatusOr<Delivery> SendTestMessage(int64_t /*subscription_id*/, TimePoint /*at*/) {
    return absl::UnimplementedError("this notifier cannot send test messages");
  }

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
  // The names of the live topics (built-in and user topics), sorted.
  virtual absl::StatusOr<std::vector<std::string>> Topics() = 0;

  // User topics (issue 4: "users can create more and choose which rules publish to them").
  // Creates topic `name` fed by the built-in `rules` (NoStock, LowStock, BackInStock), narrowed
  // by `filter_policy` (FilterPolicy syntax, kept canonical; empty: none), and returns it.
  // kInvalidArgument for a name that is not 1..256 of [A-Za-z0-9_-] (ValidateTopicName in
  // core/checker/topic_routes.h), no rules, an unknown rule or a policy that does not parse;
  // kAlreadyExists if a live topic (built-in ones included) has the name, ignoring ASCII case.
  // Creating the name of a deleted user topic again revives it with the new rules and policy
  // (non-urgent, no subscriptions).
  virtual absl::StatusOr<TopicInfo> CreateTopic(std::string_view name,
                                                const std::vector<std::string>& rules,
                                                std::string_view filter_policy, TimePoint at) = 0;
  // Deletes user topic `name`: its subscriptions are unsubscribed (their pending deliveries
  // fail with "topic deleted"), its templates are deleted (TemplatesGeneration moves), and it
  // leaves Topics(), TopicInfos() and routing; it is unknown
  // to Subscribe and SetTopicUrgent from then on. Its published messages are kept (they
  // still name it), and Publish skips new messages to it instead of failing (a checker may
  // have read the routes before the deletion). kNotFound if no live topic is called `name`;
  // kFailedPrecondition for a built-in topic.
  virtual absl::Status DeleteTopic(std::string_view name) = 0;
  // Every live topic, built-in and user, sorted by name.
  virtual absl::StatusOr<std::vector<TopicInfo>> TopicInfos() = 0;

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

  // Message templates (core/delivery/templates.h): the dispatcher renders the subject and
  // body of an alert from the templates of its (topic, protocol), else of (topic, any
  // protocol); with none, the alert keeps its stored text.
  // SetTemplate sets them for `topic` and `protocol` (nullopt: any protocol), replacing
  // what was set for the same pair. Changing nothing, kNotFound for an unknown topic and
  // kInvalidArgument for a template that does not parse (the message starts "subject: " or
  // "body: " and names the line and column, as Template::Parse).
  virtual absl::Status SetTemplate(std::string_view topic, std::optional<Protocol> protocol,
                                   std::string_view subject, std::string_view body) = 0;
  // Removes the templates of (`topic`, `protocol`), so that pair falls back again; OK if
  // none were set. kNotFound for an unknown topic.
  virtual absl::Status DeleteTemplate(std::string_view topic, std::optional<Protocol> protocol) = 0;
  // Every configured template, by topic, then any protocol before the protocols in their
  // stored order.
  virtual absl::StatusOr<std::vector<TemplateRecord>> Templates() = 0;
  // A number that changes whenever SetTemplate or DeleteTemplate of this notifier changes
  // the templates, and never goes back to an earlier value; it is at least 1. Costs no store
  // access, so a reader can cache Templates() and reload only when it changes. Changes made
  // through another notifier object on the same data are not seen.
  virtual uint64_t TemplatesGeneration() = 0;
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

  // Reminders (core/delivery/reminders.h). Publish keeps the open outages in its transaction:
  // a stored message for which core::OpensOutage holds opens one for (store, item) starting
  // at its `at` (an outage already open keeps its start); one for which core::ClosesOutage
  // holds closes it.
  //
  // Atomically publishes, for at most `max` open outages whose next reminder is due at
  // `now` (the oldest due first), core::ReminderMessage numbered one more than the reminders
  // the outage has had, with deliveries as Publish gives them (confirmed subscriptions of the
  // NoStock topic whose filter policy matches, no SMS to opted-out numbers), and its copies for
  // the user topics whose rules include NoStock (core::TopicRouter, as the checker routes
  // alerts), and advances the outage (core::NextReminderBase). An outage's first reminder is due
  // `after` after its start, each further one `after` after the previous one's slot; an outage that
  // has had `limit` reminders gets no more. Returns how many reminders it published. The reminder
  // ids are stable, so no reminder is stored twice. kInvalidArgument if `after` is not
  // positive. Does not touch the checker checkpoint.
  virtual absl::StatusOr<int64_t> PublishReminders(TimePoint now, std::chrono::seconds after,
                                                   int limit, size_t max) = 0;
  // When the next reminder is due under `after` and `limit` (possibly in the past), or
  // nullopt if no open outage will get one.
  virtual absl::StatusOr<std::optional<TimePoint>> NextReminderDue(std::chrono::seconds after,
                                                                   int limit) = 0;
};

}  // namespace stockwatch::core
