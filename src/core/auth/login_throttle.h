// Login throttling: slows password guessing against one account (from many addresses) and
// from one address (against many accounts).
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/ports/clock.h"

namespace stockwatch::core {

// When one key (an account or an address) is locked.
struct ThrottlePolicy {
  // Failures within `window` that lock the key. Default 5.
  int max_failures = 5;
  // How long failures are remembered: a key whose last failure (or lock) ended `window`
  // ago starts afresh. Default 15 minutes.
  std::chrono::seconds window{15 * 60};
  // The lock after the max_failures-th failure; each further failure doubles it. Default
  // 1 minute.
  std::chrono::seconds base_backoff{60};
  // The longest lock. Default 15 minutes.
  std::chrono::seconds max_backoff{15 * 60};
};

struct LoginThrottleOptions {
  // Per account name (unknown names included, so a lock says nothing about whether the
  // account exists). Default: 5 failures in 15 minutes, 1 minute doubling up to 15.
  ThrottlePolicy account;
  // Per client address. Higher than per account because many people may share one
  // address (an office behind NAT). Default: 20 failures in 15 minutes, 1 minute doubling
  // up to 15.
  ThrottlePolicy address{20};
  // Most keys of each kind remembered; beyond it the least recently failed goes. Default
  // 10000. Evicting is what bounds memory; an attacker would need many addresses to flush
  // the address table, and spraying names from one address locks that address first.
  size_t max_entries = 10000;
};

// Tracks failed logins per account and per address. Callers normalise keys: the account
// name as the store compares it (ASCII lower case), and an IPv6 address by its /64.
// Uses `clock.Monotonic()`. Thread-safe.
class LoginThrottle {
 public:
  // REQUIRES: `clock` outlives this.
  explicit LoginThrottle(Clock& clock, LoginThrottleOptions options = {});

  // Whether a login for `account` from `address` may be tried now. When not, the caller
  // refuses it without checking the password (and records nothing), answering with
  // `retry_after` (rounded up to a whole second).
  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};
  };
  Decision Check(std::string_view account, std::string_view address);
  // A wrong password (or an unknown account): counts against both keys.
  void RecordFailure(std::string_view account, std::string_view address);
  // A correct password: forgets the account's failures. The address keeps its own, so
  // logging in to one's own account does not buy more guesses against others.
  void RecordSuccess(std::string_view account);

  // Keys remembered, per kind; for tests.
  size_t account_entries() const;
  size_t address_entries() const;

 private:
  using Time = std::chrono::steady_clock::time_point;
  struct Entry {
    int failures = 0;
    Time last_failure;
    Time locked_until;
    std::list<std::string>::iterator lru;
  };
  struct Table {
    std::unordered_map<std::string, Entry> entries;
    std::list<std::string> lru;  // most recently failed first
  };

  // How long `key` stays locked.
  std::chrono::seconds Remaining(const Table& table, std::string_view key, Time now) const;
  void Fail(Table& table, const ThrottlePolicy& policy, std::string_view key, Time now);

  Clock& clock_;
  const LoginThrottleOptions options_;
  mutable std::mutex mu_;
  Table accounts_;   // guarded by mu_
  Table addresses_;  // guarded by mu_
};

}  // namespace stockwatch::core
