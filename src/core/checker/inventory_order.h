// The filters and orders of InventoryQuery (core/ports/inventory_store.h), shared by the
// InventoryStore adapters so that they agree on what matches and in which order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/checker/stock_rules.h"
#include "core/model/types.h"
#include "core/ports/inventory_store.h"

namespace stockwatch::core {

// What an item is sorted by. The views must outlive the key.
struct InventorySortKey {
  int64_t count = 0;
  int64_t updated_ns = 0;  // updated_at, nanoseconds since the Unix epoch
  std::string_view store;
  std::string_view item;
};

InventorySortKey SortKeyOf(const InventoryItem& item);
int64_t ToUnixNanos(TimePoint t);

// Whether `a` comes strictly before `b` in the order of (`sort`, `order`).
bool SortsBefore(InventorySort sort, SortOrder order, const InventorySortKey& a,
                 const InventorySortKey& b);

// Whether the default order, (store, item) ascending, is asked for: the adapters' own
// cursors and fast path.
inline bool IsDefaultOrder(const InventoryQuery& query) {
  return query.sort == InventorySort::kStore && query.order == SortOrder::kAsc;
}

// Whether `haystack` contains `needle`, ignoring ASCII case. An empty needle is contained.
bool ContainsIgnoringAsciiCase(std::string_view haystack, std::string_view needle);

// Whether `scope` lets its holder see items of `store`.
bool ScopeCoversStore(const ObjectScope& scope, std::string_view store);

// Whether an item passes every filter of `query` but the cursor: store, item_prefix,
// max_count, q, status (thresholds resolved by `thresholds`), changed_since and scope.
bool MatchesInventoryQuery(const InventoryQuery& query, const ThresholdTable& thresholds,
                           std::string_view store, std::string_view item, int64_t count,
                           int64_t updated_ns);

// The cursor after `last` for a query not in the default order: it names the order, so a
// cursor of another order is refused.
std::string EncodeOrderedCursor(InventorySort sort, SortOrder order, const InventorySortKey& last);

// The position a cursor of EncodeOrderedCursor names; its views point into `storage`.
// kInvalidArgument if `cursor` is not one for (`sort`, `order`).
absl::StatusOr<InventorySortKey> DecodeOrderedCursor(InventorySort sort, SortOrder order,
                                                     std::string_view cursor, std::string& storage);

}  // namespace stockwatch::core
