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

TokenBucket::TokenBucket(double rate, TimePoint now)
    : rate_(rate), burst_(std::max(1.0, rate)), tokens_(burst_), last_(now) {}

void TokenBucket::Refill(TimePoint now) {
  if (now <= last_) return;
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
  last_ = now;
}

TimePoint TokenBucket::Reserve(TimePoint now) {
  if (rate_ <= 0) return now;
  Refill(now);
  tokens_ -= 1;
  if (tokens_ >= 0) return now;
  const auto wait = std::chrono::duration<double>(-tokens_ / rate_);
  return std::max(last_, now) +
         std::max<TimePoint::duration>(std::chrono::ceil<TimePoint::duration>(wait),
                                       TimePoint::duration(1));
}

bool TokenBucket::Full(TimePoint now) const {
  return rate_ <= 0 ||
         tokens_ + std::chrono::duration<double>(now - last_).count() * rate_ >= burst_;
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
    Job job;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    SendResult sent = Send(job.delivery);
    {
      std::lock_guard lock(mu_);
      finished_.push_back(Finished{std::move(job), std::move(sent)});
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

const ParsedSchedule& Dispatcher::ScheduleOf(const Subscription& subscription) {
  DeliverySchedule spec{subscription.digest, subscription.quiet_hours, subscription.timezone};
  auto it = schedules_.find(subscription.id);
  if (it != schedules_.end() && it->second.spec == spec) return it->second.parsed;
  // Stored schedules were validated at Subscribe; one that no longer parses (a time zone
  // removed from the system) falls back to immediate delivery rather than holding alerts.
  absl::StatusOr<ParsedSchedule> parsed = ParseSchedule(subscription);
  CachedSchedule entry{std::move(spec), parsed.ok() ? *std::move(parsed) : ParsedSchedule{}};
  if (it != schedules_.end()) {
    it->second = std::move(entry);
  } else {
    it = schedules_.emplace(subscription.id, std::move(entry)).first;
  }
  return it->second.parsed;
}

TimePoint Dispatcher::HoldUntil(const Delivery& delivery, TimePoint now,
                                const std::set<std::string, std::less<>>& urgent) {
  if (delivery.message.kind != MessageKind::kAlert) return now;
  const ParsedSchedule& schedule = ScheduleOf(delivery.subscription);
  TimePoint at = std::max(now, schedule.digest.DueAt(delivery.message.at));
  if (schedule.quiet && !urgent.contains(delivery.message.topic)) {
    at = schedule.quiet->Release(at);
  }
  return at;
}

TimePoint Dispatcher::Throttle(const Job& job, TimePoint now) {
  // A digest's members were reserved together: its smallest id stands for the job.
  if (auto r = reserved_.find(job.members.front().first); r != reserved_.end()) {
    const TimePoint slot = r->second;
    if (slot > now) return slot;
    for (const auto& member : job.members) reserved_.erase(member.first);
    return now;
  }
  const Subscription& subscription = job.delivery.subscription;
  const double endpoint_rate = subscription.protocol == Protocol::kEmail
                                   ? options_.email_rate_per_address
                                   : options_.rate_per_subscription;
  const auto channel = options_.rate_per_channel.find(subscription.protocol);
  const double channel_rate = channel == options_.rate_per_channel.end() ? 0 : channel->second;
  if (endpoint_rate <= 0 && channel_rate <= 0) return now;
  // Idle buckets are full: dropping them changes nothing and keeps the map small.
  constexpr size_t kMaxBuckets = 4096;
  if (buckets_.size() > kMaxBuckets) {
    std::erase_if(buckets_, [&](const auto& entry) { return entry.second.Full(now); });
  }
  const auto reserve = [&](std::string endpoint, double rate) {
    if (rate <= 0) return now;
    auto key = std::make_pair(subscription.protocol, std::move(endpoint));
    auto it = buckets_.find(key);
    if (it == buckets_.end()) it = buckets_.emplace(std::move(key), TokenBucket(rate, now)).first;
    return it->second.Reserve(now);
  };
  // The channel's bucket is keyed by an empty endpoint, which no subscription has. The send
  // waits for the later of its two slots; the earlier one goes unused, so neither limit is
  // ever exceeded.
  const TimePoint slot =
      std::max(reserve(subscription.endpoint, endpoint_rate), reserve("", channel_rate));
  if (slot > now) {
    // Reservations of deliveries that went away (unsubscribed, redriven) are dropped once
    // long past; a live one is taken within moments of its slot.
    constexpr size_t kMaxReserved = 100000;
    if (reserved_.size() >= kMaxReserved) {
      std::erase_if(reserved_,
                    [&](const auto& e) { return e.second < now - std::chrono::hours(1); });
    }
    for (const auto& member : job.members) reserved_[member.first] = slot;
  }
  return slot;
}

absl::Status Dispatcher::RefreshTemplates() {
  // Templates change rarely and alerts go out often, so they are cached here rather than
  // read from the store on every pass. The notifier counts its template changes in memory
  // (TemplatesGeneration: an atomic load, no store access), and the cache is reloaded when
  // that count moves. A generation counter rather than a change callback keeps the port free
  // of registration and lifetime rules, and the reload happens on this thread, so the
  // cache needs no lock. The count is read before the templates: a change made in between
  // moves it again, and the next pass reloads.
  const uint64_t generation = notifier_.TemplatesGeneration();
  if (generation == templates_generation_) return absl::OkStatus();
  SW_ASSIGN_OR_RETURN(std::vector<TemplateRecord> records, notifier_.Templates());
  TemplateSet loaded{MessageTemplates{}};
  for (const TemplateRecord& record : records) {
    // Stored templates were parsed when set; one that no longer parses is skipped, so its
    // alerts keep their stored text rather than being held back.
    absl::StatusOr<MessageTemplates> parsed = ParseTemplates(record.subject, record.body);
    if (parsed.ok()) loaded.Set(record.topic, record.protocol, *std::move(parsed));
  }
  templates_ = std::move(loaded);
  templates_generation_ = generation;
  return absl::OkStatus();
}

void Dispatcher::ApplyTemplates(Message& message, Protocol protocol) const {
  // Reminders keep their own wording ("still out of stock since ..."): a topic's template
  // words its first alert.
  if (message.kind != MessageKind::kAlert || message.since || templates_.empty()) return;
  const MessageTemplates* found = templates_.FindSet(message.topic, protocol);
  if (found == nullptr) return;
  const TemplateValues values = ValuesFor(message);
  message.subject = found->subject.Render(values);
  message.body = found->body.Render(values);
}

absl::Status Dispatcher::Plan(std::vector<Delivery> due, TimePoint now,
                              const std::set<std::string, std::less<>>& urgent,
                              std::vector<Job>& jobs,
                              std::map<TimePoint, std::vector<int64_t>>& deferred) {
  std::set<int64_t> planned;
  std::set<int64_t> gathered;  // digest subscriptions already gathered in this round
  std::vector<Job> ready;
  const auto single = [this](Delivery d) {
    Job job;
    job.members.emplace_back(d.id, d.message.at);
    ApplyTemplates(d.message, d.subscription.protocol);
    job.delivery = std::move(d);
    return job;
  };
  for (Delivery& d : due) {
    if (in_flight_.contains(d.id) || planned.contains(d.id)) continue;
    const TimePoint hold = HoldUntil(d, now, urgent);
    if (hold > now) {
      deferred[hold].push_back(d.id);
      planned.insert(d.id);
      continue;
    }
    const DigestSpec& digest = ScheduleOf(d.subscription).digest;
    if (digest.kind == DigestSpec::Kind::kImmediate || d.message.kind != MessageKind::kAlert) {
      planned.insert(d.id);
      ready.push_back(single(std::move(d)));
      continue;
    }
    if (!gathered.insert(d.subscription.id).second) continue;
    // Every due alert of the subscription joins, not only those of this page of `due`.
    SW_ASSIGN_OR_RETURN(std::vector<Delivery> all,
                        notifier_.DueDeliveriesOf(d.subscription.id, now, options_.max_digest));
    std::map<int64_t, std::vector<Delivery>> groups;  // per upload, or all under 0
    const int64_t first_id = d.id;
    bool seen_first = false;
    for (Delivery& m : all) {
      if (in_flight_.contains(m.id) || planned.contains(m.id)) continue;
      if (m.message.kind != MessageKind::kAlert) continue;  // sent on its own when due
      const TimePoint m_hold = HoldUntil(m, now, urgent);
      planned.insert(m.id);
      if (m_hold > now) {
        deferred[m_hold].push_back(m.id);
        continue;
      }
      seen_first = seen_first || m.id == first_id;
      const int64_t key =
          digest.kind == DigestSpec::Kind::kPerUpload ? m.message.upload_id : int64_t{0};
      groups[key].push_back(std::move(m));
    }
    if (!seen_first && !planned.contains(first_id)) {
      planned.insert(first_id);
      const int64_t key =
          digest.kind == DigestSpec::Kind::kPerUpload ? d.message.upload_id : int64_t{0};
      groups[key].push_back(std::move(d));
    }
    for (auto& [key, members] : groups) {
      if (members.size() == 1) {
        ready.push_back(single(std::move(members.front())));
        continue;
      }
      std::sort(members.begin(), members.end(),
                [](const Delivery& a, const Delivery& b) { return a.id < b.id; });
      std::vector<Message> messages;
      messages.reserve(members.size());
      Job job;
      // The smallest id is the idempotency key: the same group gives the same key on a retry.
      job.delivery = members.front();
      for (const Delivery& m : members) {
        messages.push_back(m.message);
        ApplyTemplates(messages.back(), job.delivery.subscription.protocol);
        job.members.emplace_back(m.id, m.message.at);
        job.delivery.attempts = std::max(job.delivery.attempts, m.attempts);
        job.delivery.since = std::min(job.delivery.since, m.since);
      }
      job.delivery.message = DigestMessage(messages, job.delivery.subscription.protocol,
                                           std::to_string(job.delivery.id));
      ready.push_back(std::move(job));
    }
  }
  for (Job& job : ready) {
    if (const TimePoint slot = Throttle(job, now); slot > now) {
      for (const auto& member : job.members) deferred[slot].push_back(member.first);
      continue;
    }
    jobs.push_back(std::move(job));
  }
  return absl::OkStatus();
}

absl::StatusOr<DispatchResult> Dispatcher::DispatchDue() {
  // While sends are in flight, due deliveries are looked up again at least this often, so a
  // slow receiver does not hold back new alerts to the others.
  constexpr auto kRefill = std::chrono::milliseconds(20);
  DispatchResult result;
  auto& metrics = base::Metrics::Get();
  std::vector<Finished> finished;
  std::vector<AttemptRecord> records;
  SW_ASSIGN_OR_RETURN(std::vector<std::string> urgent_list, notifier_.UrgentTopics());
  const std::set<std::string, std::less<>> urgent(urgent_list.begin(), urgent_list.end());
  while (true) {
    {
      std::lock_guard lock(mu_);
      finished.swap(finished_);
    }
    if (!finished.empty()) {
      const TimePoint now = clock_.Now();
      records.clear();
      std::vector<TimePoint> message_times;
      for (const Finished& f : finished) {
        // A digest's outcome is the outcome of every delivery it holds.
        const AttemptOutcome outcome = Classify(f.job.delivery, f.sent, now);
        for (const auto& [id, at] : f.job.members) {
          records.push_back(AttemptRecord{id, outcome, now});
          message_times.push_back(at);
        }
      }
      for (const Finished& f : finished) {
        for (const auto& member : f.job.members) in_flight_.erase(member.first);
      }
      SW_RETURN_IF_ERROR(notifier_.RecordAttempts(records));
      for (size_t i = 0; i < records.size(); ++i) {
        const AttemptOutcome& outcome = records[i].outcome;
        if (outcome.delivered) {
          ++result.delivered;
          metrics.deliveries_succeeded.fetch_add(1, std::memory_order_relaxed);
          metrics.deliver_seconds.Observe(
              std::chrono::duration<double>(now - message_times[i]).count());
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
      const TimePoint now = clock_.Now();
      SW_ASSIGN_OR_RETURN(std::vector<Delivery> due, notifier_.DueDeliveries(now, options_.batch));
      std::vector<Job> jobs;
      std::map<TimePoint, std::vector<int64_t>> deferred;
      SW_RETURN_IF_ERROR(RefreshTemplates());
      SW_RETURN_IF_ERROR(Plan(std::move(due), now, urgent, jobs, deferred));
      for (const auto& [until, ids] : deferred) {
        SW_RETURN_IF_ERROR(notifier_.Defer(ids, until));
        result.deferred += ids.size();
      }
      size_t queued = 0;
      {
        std::lock_guard lock(mu_);
        // Plan never returns more than `due` held, so the batch bound holds but for digests,
        // which are bounded by max_digest.
        for (Job& job : jobs) {
          for (const auto& member : job.members) in_flight_.insert(member.first);
          queue_.push_back(std::move(job));
          ++queued;
        }
      }
      if (queued > 0) work_cv_.notify_all();
      // What was deferred is out of the way now: look again for other due deliveries.
      if (!deferred.empty() && queued == 0 && in_flight_.empty()) continue;
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
