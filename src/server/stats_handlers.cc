// GET /api/v1/stats/out-of-stock: the number of items at 0 over time, for the Overview chart.
//
// Derived from the change stream without a table of its own: the current number per store
// (InventoryStore::Stores) is walked back through the changes since `since`, newest first,
// undoing each move into or out of 0. The first change at or after `since` is found by a
// binary search over sequence numbers (each probe is a one-record read), so only the changes
// inside the window are read.

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/checker/inventory_order.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "server/router.h"

namespace stockwatch::server {
namespace {

// Most points in one answer; a longer window is refused.
constexpr int64_t kMaxStatsPoints = 1000;
// Changes read per call while walking the window.
constexpr size_t kStatsReadBatch = 10000;

// The time of record `sequence`, or nullopt past the end of the stream.
absl::StatusOr<std::optional<core::TimePoint>> TimeOfRecord(core::ChangeStream& changes,
                                                            uint64_t sequence) {
  SW_ASSIGN_OR_RETURN(std::vector<core::ChangeRecord> records, changes.Read(sequence - 1, 1));
  if (records.empty()) return std::nullopt;
  return records.front().at;
}

// The sequence after which every record is at or after `since` (0: the whole stream).
absl::StatusOr<uint64_t> SequenceBefore(core::ChangeStream& changes, core::TimePoint since) {
  // Exponential probe for a sequence past the end or at/after `since`, then bisect.
  uint64_t lo = 0;  // records <= lo are before `since` (0: none known)
  uint64_t hi = 1;
  while (true) {
    SW_ASSIGN_OR_RETURN(std::optional<core::TimePoint> at, TimeOfRecord(changes, hi));
    if (!at || *at >= since) break;
    lo = hi;
    hi *= 2;
  }
  // Invariant: record lo is before `since` (or lo = 0); record hi is at/after it or absent.
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    SW_ASSIGN_OR_RETURN(std::optional<core::TimePoint> at, TimeOfRecord(changes, mid));
    if (!at || *at >= since) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return lo;
}

}  // namespace

absl::StatusOr<HttpResponse> ApiRouter::OutOfStockStats(const QueryParams& query,
                                                        const core::Principal& principal) {
  const std::string bucket_name = query.Get("bucket").value_or("hour");
  std::chrono::seconds bucket;
  if (bucket_name == "hour") {
    bucket = std::chrono::hours(1);
  } else if (bucket_name == "day") {
    bucket = std::chrono::hours(24);
  } else {
    return absl::InvalidArgumentError("bucket must be hour or day");
  }
  const core::TimePoint now = services_.clock.Now();
  core::TimePoint since =
      now - (bucket_name == "hour" ? std::chrono::hours(24) : std::chrono::hours(24 * 30));
  if (std::optional<std::string> text = query.Get("since")) {
    absl::StatusOr<core::TimePoint> parsed = core::ParseTime(*text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          "since must be an RFC 3339 time such as 2026-11-25T15:21:50Z");
    }
    since = *parsed;
  }
  // Buckets are aligned to multiples of their length since the Unix epoch (UTC days).
  const int64_t bucket_s = bucket.count();
  auto floor_to_bucket = [&](core::TimePoint t) {
    const int64_t s = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    const int64_t floored = s - ((s % bucket_s) + bucket_s) % bucket_s;
    return core::TimePoint(std::chrono::seconds(floored));
  };
  const core::TimePoint first = floor_to_bucket(std::min(since, now));
  const int64_t points = (floor_to_bucket(now) - first) / bucket + 1;
  if (points > kMaxStatsPoints) {
    return absl::InvalidArgumentError(fmt::format(
        "since is too far back: at most {} {}s per answer", kMaxStatsPoints, bucket_name));
  }
  const std::optional<std::string> store = query.Get("store");
  auto counted = [&](std::string_view name) {
    return core::ScopeCoversStore(principal.scope, name) && (!store || *store == name);
  };

  int64_t current = 0;
  SW_ASSIGN_OR_RETURN(std::vector<core::StoreSummary> stores, services_.inventory.Stores());
  for (const core::StoreSummary& summary : stores) {
    if (counted(summary.store)) current += summary.out_of_stock;
  }
  // +1 for a change into 0, -1 for one out of it, per bucket (index into the points).
  std::vector<int64_t> delta(static_cast<size_t>(points), 0);
  SW_ASSIGN_OR_RETURN(uint64_t after, SequenceBefore(services_.changes, first));
  while (true) {
    SW_ASSIGN_OR_RETURN(std::vector<core::ChangeRecord> records,
                        services_.changes.Read(after, kStatsReadBatch));
    if (records.empty()) break;
    after = records.back().sequence;
    for (const core::ChangeRecord& record : records) {
      if (!counted(record.store) || record.at < first) continue;
      const bool was_out = record.old_count && *record.old_count == 0;
      const bool is_out = record.new_count == 0;
      if (was_out == is_out) continue;
      const auto index = std::min<int64_t>((record.at - first) / bucket, points - 1);
      delta[static_cast<size_t>(index)] += is_out ? 1 : -1;
    }
  }
  // Each point is the number at the end of its bucket (the last one: now).
  std::vector<int64_t> values(static_cast<size_t>(points));
  int64_t value = current;
  for (int64_t i = points - 1; i >= 0; --i) {
    values[static_cast<size_t>(i)] = value;
    value -= delta[static_cast<size_t>(i)];
  }
  nlohmann::json series = nlohmann::json::array();
  for (int64_t i = 0; i < points; ++i) {
    series.push_back({{"at", core::FormatTime(first + i * bucket)},
                      {"out_of_stock", values[static_cast<size_t>(i)]}});
  }
  return JsonResponse(200, {{"bucket", bucket_name},
                            {"store", store ? nlohmann::json(*store) : nlohmann::json(nullptr)},
                            {"points", std::move(series)}});
}

}  // namespace stockwatch::server
