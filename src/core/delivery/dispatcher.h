// The delivery stage: sends due outbox deliveries through their protocol's channel and
// records each attempt, retrying failures with exponential backoff and full jitter.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>

#include "absl/status/statusor.h"
#include "core/ports/channel.h"
#include "core/ports/clock.h"
#include "core/ports/notifier.h"

namespace stockwatch::core {

// When to retry a delivery and when to give up on it.
struct RetryPolicy {
  // Attempts before a delivery is kept as failed. Default 50.
  int max_attempts = 50;
  // A delivery not delivered this long after its message is kept as failed. Default 24 h.
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
  // Deliveries fetched per round. Default 256.
  size_t batch = 256;
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

// Not thread-safe: one dispatcher per notifier. Channels are called from the calling
// thread; a channel bounds each attempt by its own timeout.
class Dispatcher {
 public:
  Dispatcher(Notifier& notifier, std::map<Protocol, Channel*> channels, Clock& clock,
             DispatcherOptions options, uint64_t seed = std::random_device{}());

  // Sends every delivery due now and records the outcomes.
  absl::StatusOr<DispatchResult> DispatchDue();

 private:
  AttemptOutcome Attempt(const Delivery& delivery);

  Notifier& notifier_;
  std::map<Protocol, Channel*> channels_;
  Clock& clock_;
  DispatcherOptions options_;
  std::mt19937_64 rng_;
};

}  // namespace stockwatch::core
