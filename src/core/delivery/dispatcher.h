// The delivery stage: sends due outbox deliveries through their protocol's channel and
// records each attempt, retrying failures with exponential backoff and full jitter.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/delivery/schedule.h"
#include "core/delivery/templates.h"
#include "core/ports/channel.h"
#include "core/ports/clock.h"
#include "core/ports/notifier.h"

namespace stockwatch::core {

// When to retry a delivery and when to give up on it.
struct RetryPolicy {
  // Attempts before a delivery is kept as failed. Default 50.
  int max_attempts = 50;
  // A delivery not delivered this long after it became pending (its message's time, or its
  // last redrive) is kept as failed. Default 24 h.
  std::chrono::seconds max_age{24 * 3600};
  // Backoff cap of the first retry; doubles per attempt. Default 1 s.
  std::chrono::milliseconds initial_backoff{1000};
  // Largest backoff. Default 10 min.
  std::chrono::milliseconds max_backoff{10 * 60 * 1000};
};

// Backoff before attempt `attempts + 1` after `attempts` failures: uniformly random in
// [0, min(max_backoff, initial_backoff * 2^(attempts-1))] ("full jitter"), and never less
// than `retry_after` when the server asked for it.
std::chrono::milliseconds Backoff(const RetryPolicy& policy, int attempts,
                                  std::optional<std::chrono::seconds> retry_after,
                                  std::mt19937_64& rng);

// A token bucket: `rate` sends per second on average, bursts of up to max(1, rate).
// A rate <= 0 is unlimited. Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate, TimePoint now);
  // Takes a token, going into debt when there is none, and returns the time of the slot
  // it stands for: `now` when a token was there, else when the debt before it is repaid.
  // Successive calls get successive slots, 1/rate apart: first come, first served.
  TimePoint Reserve(TimePoint now);
  // Whether it has refilled completely by `now` (an idle bucket that can be dropped).
  bool Full(TimePoint now) const;

 private:
  void Refill(TimePoint now);
  double rate_;
  double burst_;
  double tokens_;
  TimePoint last_;
};

struct DispatcherOptions {
  // Deliveries in flight at most (fetched, being sent or waiting to be recorded): bounds
  // memory. Default 256.
  size_t batch = 256;
  // Sends running at once, each on its own worker thread: one slow receiver holds only its
  // own workers while the others go on. Default 16.
  size_t concurrency = 16;
  // Retry policy per protocol. Defaults: email 50 attempts over 6 h; webhooks 24 h.
  std::map<Protocol, RetryPolicy> policies = {
      {Protocol::kEmail, RetryPolicy{50, std::chrono::seconds(6 * 3600)}},
      {Protocol::kWebhook, RetryPolicy{50, std::chrono::seconds(24 * 3600)}},
  };
  // Sends per second at most to one email address (as SNS); more are deferred, not failed
  // and not counted as attempts. A digest is one send. <= 0: unlimited. Default 10.
  double email_rate_per_address = 10;
  // The same for one endpoint of any other protocol. Default 0 (unlimited): a webhook
  // receiver is expected to take thousands of alerts a second (issue #4's fan-out figure).
  double rate_per_subscription = 0;
  // Sends per second at most through one channel (protocol), across all its endpoints: a
  // provider's account limit (an SMS sender number, a mail relay's quota). A send needs a
  // slot from its endpoint's limit and from its channel's. Absent or <= 0: unlimited, the
  // default for every channel.
  std::map<Protocol, double> rate_per_channel;
  // Alerts in one digest message at most; more go in the next one. Default 10000.
  size_t max_digest = 10000;
};

struct DispatchResult {
  size_t delivered = 0;
  size_t retried = 0;
  size_t failed = 0;
  size_t deferred = 0;                // held by a digest window, quiet hours or throttling
  std::optional<TimePoint> next_due;  // earliest pending delivery after this round
};

// Digests, quiet hours and throttling: a due delivery whose subscription has a digest
// window or quiet hours (core/delivery/schedule.h) that hold it is deferred to when they end
// (Notifier::Defer: no attempt is counted). Due deliveries of a digest subscription are sent
// as one message (DigestMessage), per upload for "per-upload"; its idempotency key (the
// delivery id the channel sees) is the smallest delivery id of the group, and its outcome
// is recorded for every delivery of the group. Sends over the rate of their (protocol,
// endpoint), or of their protocol as a whole, are deferred until a token is there. Confirmation
// messages are never digested nor held by quiet hours; alerts of urgent topics are not held by
// quiet hours.
//
// Templates: an alert whose topic has templates for the subscription's protocol, or for any
// protocol (Notifier::SetTemplate), reaches its channel with the subject and body rendered
// from them (a digest lists each alert's rendered body); other alerts keep their stored
// text, and confirmation messages are never templated.
//
// DispatchDue() is called by one thread at a time (the pipeline's delivery stage); sends run
// on `options.concurrency` worker threads owned by the dispatcher, so channels must be
// thread-safe. Outcomes are recorded in batches, one transaction per batch.
class Dispatcher {
 public:
  Dispatcher(Notifier& notifier, std::map<Protocol, Channel*> channels, Clock& clock,
             DispatcherOptions options, uint64_t seed = std::random_device{}());
  // Waits for the sends in flight (each bounded by its channel's timeout).
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Sends every delivery due now, and those that fall due while it runs, and records the
  // outcomes; returns when nothing is due or in flight. On an error some sends may still
  // be in flight: the next call records them.
  absl::StatusOr<DispatchResult> DispatchDue();

  // The outcome to record for `sent`, the result of attempt `delivery.attempts + 1`, at `now`.
  AttemptOutcome Classify(const Delivery& delivery, const SendResult& sent, TimePoint now);

 private:
  // One send: `delivery` is what the channel gets (a made-up one for a digest); `members`
  // are the outbox deliveries whose outcome it is, with their message times.
  struct Job {
    Delivery delivery;
    std::vector<std::pair<int64_t, TimePoint>> members;
  };
  struct Finished {
    Job job;
    SendResult sent;
  };
  void Work();
  SendResult Send(const Delivery& delivery);
  // Turns due deliveries into jobs to send now and deliveries to defer (by time).
  absl::Status Plan(std::vector<Delivery> due, TimePoint now,
                    const std::set<std::string, std::less<>>& urgent, std::vector<Job>& jobs,
                    std::map<TimePoint, std::vector<int64_t>>& deferred);
  const ParsedSchedule& ScheduleOf(const Subscription& subscription);
  // When `delivery` may go out, at or after `now`.
  TimePoint HoldUntil(const Delivery& delivery, TimePoint now,
                      const std::set<std::string, std::less<>>& urgent);
  // When `job` may be sent under its rate limit: `now`, or the later slot reserved for it.
  TimePoint Throttle(const Job& job, TimePoint now);
  // Reloads templates_ if the notifier's templates changed since it was loaded.
  absl::Status RefreshTemplates();
  // Renders `message`'s subject and body from its configured templates for `protocol`, if
  // any and if it is an alert.
  void ApplyTemplates(Message& message, Protocol protocol) const;

  Notifier& notifier_;
  std::map<Protocol, Channel*> channels_;
  Clock& clock_;
  DispatcherOptions options_;
  std::mt19937_64 rng_;

  std::mutex mu_;
  std::condition_variable work_cv_;      // queue_ gained a delivery, or stopping_
  std::condition_variable finished_cv_;  // finished_ gained an outcome
  std::deque<Job> queue_;
  std::vector<Finished> finished_;
  bool stopping_ = false;
  // Only touched by DispatchDue's thread:
  std::set<int64_t> in_flight_;
  // Parsed schedules by subscription id, with the spec strings each was parsed from: a
  // subscription's schedule may change (Notifier::UpdateSubscription), and each delivery
  // carries the current one, so an entry whose specs differ is parsed again.
  struct CachedSchedule {
    DeliverySchedule spec;
    ParsedSchedule parsed;
  };
  std::map<int64_t, CachedSchedule> schedules_;
  std::map<std::pair<Protocol, std::string>, TokenBucket> buckets_;
  // Throttled deliveries and the slot reserved for each (see TokenBucket::Reserve): when it
  // comes, the delivery goes without taking another token, so deliveries that wait are
  // served in order and retries cannot starve them. Lost on restart, which only costs a
  // new reservation.
  std::map<int64_t, TimePoint> reserved_;
  // The configured templates as of Notifier::TemplatesGeneration() == templates_generation_
  // (0: not loaded yet). The global template is never used: without a configured one, an
  // alert keeps its stored text.
  uint64_t templates_generation_ = 0;
  TemplateSet templates_{MessageTemplates{}};
  std::vector<std::thread> workers_;
};

}  // namespace stockwatch::core
