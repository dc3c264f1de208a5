// Listings for a store-scoped caller (a manager): entries outside its stores are dropped while
// reading, batch after batch, so its pages are full and its cursors right, with a bound on how
// much one request reads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace stockwatch::server {

// Most entries one listing reads to fill a page for a store-scoped caller: past it, a page
// may come back short (its cursor still leads on).
inline constexpr size_t kMaxScopedScan = 100000;

// For newest-first listings without a cursor (alerts, deliveries): reads through `read(n)`
// (at most n entries, newest first), widening n until `limit` entries pass `keep`, the source
// has no more, or kMaxScopedScan entries were read.
template <typename T, typename Read, typename Keep>
absl::StatusOr<std::vector<T>> NewestInScope(size_t limit, Read read, Keep keep) {
  size_t window = limit;
  while (true) {
    absl::StatusOr<std::vector<T>> all = read(window);
    if (!all.ok()) return all.status();
    std::vector<T> kept;
    for (T& entry : *all) {
      if (!keep(entry)) continue;
      kept.push_back(std::move(entry));
      if (kept.size() == limit) break;
    }
    if (kept.size() == limit || all->size() < window || window >= kMaxScopedScan) return kept;
    window = std::min(window * 4, kMaxScopedScan);
  }
}

template <typename T, typename Cursor>
struct ScopedScan {
  std::vector<T> kept;     // in the source's order, at most `wanted`
  Cursor cursor{};         // the position of the last entry read (kept or not)
  bool exhausted = false;  // the source had nothing more after `cursor`
};

// For listings with a cursor (changes after a sequence, uploads before one): reads batches of
// `wanted` through `read(cursor, wanted)`, each entry's position given by `position(entry)`,
// keeping the entries that pass `keep`, until `wanted` are kept, the source is exhausted, or
// kMaxScopedScan entries were read. Resuming a listing from `cursor` reads on where this one
// stopped.
template <typename T, typename Cursor, typename Read, typename Position, typename Keep>
absl::StatusOr<ScopedScan<T, Cursor>> ScanInScope(Cursor start, size_t wanted, Read read,
                                                  Position position, Keep keep) {
  ScopedScan<T, Cursor> scan;
  scan.cursor = start;
  size_t scanned = 0;
  while (scan.kept.size() < wanted && !scan.exhausted && scanned < kMaxScopedScan) {
    absl::StatusOr<std::vector<T>> batch = read(scan.cursor, wanted);
    if (!batch.ok()) return batch.status();
    size_t consumed = 0;
    for (T& entry : *batch) {
      scan.cursor = position(entry);
      ++consumed;
      if (keep(entry)) scan.kept.push_back(std::move(entry));
      if (scan.kept.size() == wanted) break;
    }
    scanned += consumed;
    scan.exhausted = batch->size() < wanted && consumed == batch->size();
  }
  return scan;
}

}  // namespace stockwatch::server
