// A small cache of database reads made on every request (a bearer token's row, its owner's
// user row), so the API's hot path does not open a read transaction for them.
//
// Correctness rests on the writers: every write to the cached tables must be followed by
// Invalidate() (or an increment of the shared generation counter), so a change made in this process
// (a revoked token, a disabled user) applies to the very next lookup. Entries also expire after
// `ttl`, which bounds how long a change made by another process on the same database (the
// `stockwatch users` commands) goes unseen. Misses are never cached, so unknown keys cannot fill
// the cache.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace stockwatch::adapters {

template <typename Key, typename Value, typename Hash = std::hash<Key>>
class ReadCache {
 public:
  using Clock = std::chrono::steady_clock;

  // `generation` counts the writes to the cached tables: every writer (this cache's owner
  // and any other adapter writing them) increments it after its transaction, directly or
  // with Invalidate(); it must outlive the cache. `ttl` <= 0 disables the cache (every Get
  // misses). At most `max_entries` are kept; a full cache is emptied rather than managed
  // entry by entry, as the working set (the tokens and users in use) is small. `now`
  // replaces the steady clock in tests.
  ReadCache(std::atomic<uint64_t>& generation, Clock::duration ttl, size_t max_entries = 1024,
            std::function<Clock::time_point()> now = nullptr)
      : generation_(generation), ttl_(ttl), max_entries_(max_entries), now_(std::move(now)) {}

  // The generation to pass to Put(): read it before reading the database, so a write that
  // commits during the read keeps the read's (possibly stale) result out of the cache.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // The cached value of `key`, if fresh and no write happened since it was read.
  // Thread-safe.
  std::optional<Value> Get(const Key& key) {
    if (ttl_ <= Clock::duration::zero()) return std::nullopt;
    const Clock::time_point now = Now();
    std::lock_guard lock(mu_);
    SyncLocked(generation());
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (now >= it->second.expires) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  // Caches `value` for `key`, read at `generation` (from generation()); ignored if a write
  // happened since. Thread-safe.
  void Put(const Key& key, Value value, uint64_t generation) {
    if (ttl_ <= Clock::duration::zero()) return;
    const Clock::time_point expires = Now() + ttl_;
    std::lock_guard lock(mu_);
    if (generation != this->generation()) return;
    SyncLocked(generation);
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_.insert_or_assign(key, Entry{std::move(value), expires});
  }

  // Counts a write and drops every entry; call after each write to the cached tables.
  // Thread-safe.
  void Invalidate() {
    generation_.fetch_add(1, std::memory_order_acq_rel);
    std::lock_guard lock(mu_);
    entries_.clear();
  }

 private:
  struct Entry {
    Value value;
    Clock::time_point expires;
  };
  Clock::time_point Now() const { return now_ ? now_() : Clock::now(); }
  // Drops the entries read before the write that made the generation `current`.
  void SyncLocked(uint64_t current) {
    if (seen_ == current) return;
    entries_.clear();
    seen_ = current;
  }

  std::atomic<uint64_t>& generation_;
  const Clock::duration ttl_;
  const size_t max_entries_;
  const std::function<Clock::time_point()> now_;
  std::mutex mu_;
  uint64_t seen_ = 0;  // the generation of every entry
  std::unordered_map<Key, Entry, Hash> entries_;
};

}  // namespace stockwatch::adapters
