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
      rng_(seed) {
  options_.batch = std::max<size_t>(options_.batch, 1);
  options_.concurrency = std::clamp<size_t>(options_.concurrency, 1, options_.batch);
  workers_.reserve(options_.concurrency);
  for (size_t i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { Work(); });
}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  work_cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void Dispatcher::Work() {
  while (true) {
    Delivery delivery;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      delivery = std::move(queue_.front());
      queue_.pop_front();
    }
    SendResult sent = Send(delivery);
    {
      std::lock_guard lock(mu_);
      finished_.push_back(Finished{std::move(delivery), std::move(sent)});
    }
    finished_cv_.notify_one();
  }
}

SendResult Dispatcher::Send(const Delivery& delivery) {
  auto channel = channels_.find(delivery.subscription.protocol);
  if (channel == channels_.end() || channel->second == nullptr) {
    // Kept as failed rather than dropped: a later configuration can redrive it.
    return SendResult{SendResult::Kind::kPermanent,
                      "no channel configured for protocol " +
                          std::string(ProtocolName(delivery.subscription.protocol)),
                      std::nullopt};
  }
  return channel->second->Send(delivery);
}

AttemptOutcome Dispatcher::Classify(const Delivery& delivery, const SendResult& sent,
                                    TimePoint now) {
  AttemptOutcome outcome;
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
  if (attempts >= policy.max_attempts || next > delivery.since + policy.max_age) {
    outcome.permanent_failure = true;
    outcome.error += " (gave up after " + std::to_string(attempts) + " attempts)";
    return outcome;
  }
  outcome.next_attempt_at = next;
  return outcome;
}

absl::StatusOr<DispatchResult> Dispatcher::DispatchDue() {
  // While sends are in flight, due deliveries are looked up again at least this often, so a
  // slow receiver does not hold back new alerts to the others.
  constexpr auto kRefill = std::chrono::milliseconds(20);
  DispatchResult result;
  auto& metrics = base::Metrics::Get();
  std::vector<Finished> finished;
  std::vector<AttemptRecord> records;
  while (true) {
    {
      std::lock_guard lock(mu_);
      finished.swap(finished_);
    }
    if (!finished.empty()) {
      const TimePoint now = clock_.Now();
      records.clear();
      for (const Finished& f : finished) {
        records.push_back(AttemptRecord{f.delivery.id, Classify(f.delivery, f.sent, now), now});
      }
      for (const Finished& f : finished) in_flight_.erase(f.delivery.id);
      SW_RETURN_IF_ERROR(notifier_.RecordAttempts(records));
      for (size_t i = 0; i < records.size(); ++i) {
        const AttemptOutcome& outcome = records[i].outcome;
        if (outcome.delivered) {
          ++result.delivered;
          metrics.deliveries_succeeded.fetch_add(1, std::memory_order_relaxed);
          metrics.deliver_seconds.Observe(
              std::chrono::duration<double>(now - finished[i].delivery.message.at).count());
        } else if (outcome.permanent_failure) {
          ++result.failed;
          metrics.deliveries_failed.fetch_add(1, std::memory_order_relaxed);
        } else {
          ++result.retried;
          metrics.deliveries_retried.fetch_add(1, std::memory_order_relaxed);
        }
      }
      finished.clear();
    }
    if (in_flight_.size() < options_.batch) {
      // In-flight deliveries are still pending, so ask for enough to fill every free slot.
      SW_ASSIGN_OR_RETURN(std::vector<Delivery> due,
                          notifier_.DueDeliveries(clock_.Now(), options_.batch));
      size_t queued = 0;
      {
        std::lock_guard lock(mu_);
        for (Delivery& d : due) {
          if (in_flight_.size() >= options_.batch) break;
          if (!in_flight_.insert(d.id).second) continue;
          queue_.push_back(std::move(d));
          ++queued;
        }
      }
      if (queued > 0) work_cv_.notify_all();
    }
    if (in_flight_.empty()) break;
    // Wait until a quarter of the slots (or everything in flight) has finished, or the
    // refill interval passed: recording outcomes in batches keeps transactions few.
    const size_t enough = std::min(in_flight_.size(), std::max<size_t>(options_.batch / 4, 1));
    std::unique_lock lock(mu_);
    finished_cv_.wait_for(lock, kRefill, [&] { return finished_.size() >= enough; });
  }
  SW_ASSIGN_OR_RETURN(result.next_due, notifier_.NextDue());
  return result;
}

}  // namespace stockwatch::core
