#include "core/auth/login_throttle.h"

#include <algorithm>

namespace stockwatch::core {

LoginThrottle::LoginThrottle(Clock& clock, LoginThrottleOptions options)
    : clock_(clock), options_(options) {}

std::chrono::seconds LoginThrottle::Remaining(const Table& table, std::string_view key,
                                              Time now) const {
  const auto it = table.entries.find(std::string(key));
  if (it == table.entries.end() || now >= it->second.locked_until) {
    return std::chrono::seconds(0);
  }
  // Rounded up, so a caller waiting `retry_after` is not refused again.
  return std::chrono::ceil<std::chrono::seconds>(it->second.locked_until - now);
}

LoginThrottle::Decision LoginThrottle::Check(std::string_view account, std::string_view address) {
  const Time now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  const std::chrono::seconds wait =
      std::max(Remaining(accounts_, account, now), Remaining(addresses_, address, now));
  return Decision{wait.count() == 0, wait};
}

void LoginThrottle::Fail(Table& table, const ThrottlePolicy& policy, std::string_view key,
                         Time now) {
  auto [it, added] = table.entries.try_emplace(std::string(key));
  Entry& entry = it->second;
  if (added) {
    table.lru.push_front(it->first);
    entry.lru = table.lru.begin();
  } else {
    table.lru.splice(table.lru.begin(), table.lru, entry.lru);
    // Quiet for a whole window since the last failure or the end of the last lock:
    // start afresh.
    if (now - std::max(entry.last_failure, entry.locked_until) >= policy.window) {
      entry.failures = 0;
      entry.locked_until = Time();
    }
  }
  entry.last_failure = now;
  ++entry.failures;
  if (entry.failures >= policy.max_failures) {
    // 1, 2, 4, ... times the base backoff; the shift is bounded so it cannot overflow.
    const int doublings = std::min(entry.failures - policy.max_failures, 30);
    const auto backoff = std::min<std::chrono::seconds>(
        policy.base_backoff * (int64_t{1} << doublings), policy.max_backoff);
    entry.locked_until = now + backoff;
  }
  while (table.entries.size() > options_.max_entries) {
    table.entries.erase(table.lru.back());
    table.lru.pop_back();
  }
}

void LoginThrottle::RecordFailure(std::string_view account, std::string_view address) {
  const Time now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  Fail(accounts_, options_.account, account, now);
  Fail(addresses_, options_.address, address, now);
}

void LoginThrottle::RecordSuccess(std::string_view account) {
  std::lock_guard lock(mu_);
  const auto it = accounts_.entries.find(std::string(account));
  if (it == accounts_.entries.end()) return;
  accounts_.lru.erase(it->second.lru);
  accounts_.entries.erase(it);
}

size_t LoginThrottle::account_entries() const {
  std::lock_guard lock(mu_);
  return accounts_.entries.size();
}

size_t LoginThrottle::address_entries() const {
  std::lock_guard lock(mu_);
  return addresses_.entries.size();
}

}  // namespace stockwatch::core
