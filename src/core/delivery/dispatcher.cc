#include "core/delivery/dispatcher.h"

#include <algorithm>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"

namespace stockwatch::core {

std::chrono::milliseconds Backoff(const RetryPolicy& policy, int attempts,
                                  std::optional<std::chrono::seconds> retry_after,
                                  std::mt19937_64& rng) {
  const int doublings = std::clamp(attempts - 1, 0, 30);
  const int64_t cap =
      std::min<int64_t>(policy.max_backoff.count(), policy.initial_backoff.count() << doublings);
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(cap, 0));
  std::chrono::milliseconds delay(jitter(rng));
  if (retry_after) {
    delay = std::max<std::chrono::milliseconds>(delay, *retry_after);
  }
  return delay;
}

Dispatcher::Dispatcher(Notifier& notifier, std::map<Protocol, Channel*> channels, Clock& clock,
                       DispatcherOptions options, uint64_t seed)
    : notifier_(notifier),
      channels_(std::move(channels)),
      clock_(clock),
      options_(std::move(options)),
      rng_(seed) {}

AttemptOutcome Dispatcher::Attempt(const Delivery& delivery) {
  AttemptOutcome outcome;
  auto channel = channels_.find(delivery.subscription.protocol);
  if (channel == channels_.end() || channel->second == nullptr) {
    // Kept as failed rather than dropped: a later configuration can redrive it.
    outcome.permanent_failure = true;
    outcome.error = "no channel configured for protocol " +
                    std::string(ProtocolName(delivery.subscription.protocol));
    return outcome;
  }
  const SendResult sent = channel->second->Send(delivery);
  const TimePoint now = clock_.Now();
  if (sent.kind == SendResult::Kind::kDelivered) {
    outcome.delivered = true;
    return outcome;
  }
  outcome.error = sent.error;
  if (sent.kind == SendResult::Kind::kPermanent) {
    outcome.permanent_failure = true;
    return outcome;
  }
  const RetryPolicy& policy = options_.policies[delivery.subscription.protocol];
  const int attempts = delivery.attempts + 1;
  const TimePoint next = now + Backoff(policy, attempts, sent.retry_after, rng_);
  if (attempts >= policy.max_attempts || next > delivery.message.at + policy.max_age) {
    outcome.permanent_failure = true;
    outcome.error += " (gave up after " + std::to_string(attempts) + " attempts)";
    return outcome;
  }
  outcome.next_attempt_at = next;
  return outcome;
}

absl::StatusOr<DispatchResult> Dispatcher::DispatchDue() {
  DispatchResult result;
  auto& metrics = base::Metrics::Get();
  while (true) {
    SW_ASSIGN_OR_RETURN(std::vector<Delivery> due,
                        notifier_.DueDeliveries(clock_.Now(), options_.batch));
    if (due.empty()) break;
    for (const Delivery& delivery : due) {
      const AttemptOutcome outcome = Attempt(delivery);
      SW_RETURN_IF_ERROR(notifier_.RecordAttempt(delivery.id, outcome, clock_.Now()));
      if (outcome.delivered) {
        ++result.delivered;
        metrics.deliveries_succeeded.fetch_add(1, std::memory_order_relaxed);
        metrics.deliver_seconds.Observe(
            std::chrono::duration<double>(clock_.Now() - delivery.message.at).count());
      } else if (outcome.permanent_failure) {
        ++result.failed;
        metrics.deliveries_failed.fetch_add(1, std::memory_order_relaxed);
      } else {
        ++result.retried;
        metrics.deliveries_retried.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (due.size() < options_.batch) break;
  }
  SW_ASSIGN_OR_RETURN(result.next_due, notifier_.NextDue());
  return result;
}

}  // namespace stockwatch::core
