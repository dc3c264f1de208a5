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
};

struct DispatchResult {
  size_t delivered = 0;
  size_t retried = 0;
  size_t failed = 0;
  std::optional<TimePoint> next_due;  // earliest pending delivery after this round
};

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
  struct Finished {
    Delivery delivery;
    SendResult sent;
  };
  void Work();
  SendResult Send(const Delivery& delivery);

  Notifier& notifier_;
  std::map<Protocol, Channel*> channels_;
  Clock& clock_;
  DispatcherOptions options_;
  std::mt19937_64 rng_;

  std::mutex mu_;
  std::condition_variable work_cv_;      // queue_ gained a delivery, or stopping_
  std::condition_variable finished_cv_;  // finished_ gained an outcome
  std::deque<Delivery> queue_;
  std::vector<Finished> finished_;
  bool stopping_ = false;
  std::set<int64_t> in_flight_;  // only touched by DispatchDue's thread
  std::vector<std::thread> workers_;
};

}  // namespace stockwatch::core
