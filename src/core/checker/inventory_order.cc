#include "core/checker/inventory_order.h"

#include <algorithm>
#include <chrono>
#include <tuple>

#include "base/status.h"

namespace stockwatch::core {
namespace {

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr char kHex[] = "0123456789abcdef";

void PutBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

uint64_t GetBigEndian(std::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = value << 8 | static_cast<uint8_t>(in[i]);
  return value;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "o" + sort digit + order digit + "." + hex(count, updated_ns, store length, store, item).
std::string CursorPrefix(InventorySort sort, SortOrder order) {
  return std::string("o") + static_cast<char>('0' + static_cast<int>(sort)) +
         static_cast<char>('0' + static_cast<int>(order)) + ".";
}

}  // namespace

int64_t ToUnixNanos(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

InventorySortKey SortKeyOf(const InventoryItem& item) {
  return InventorySortKey{item.count, ToUnixNanos(item.updated_at), item.store, item.item};
}

bool SortsBefore(InventorySort sort, SortOrder order, const InventorySortKey& a,
                 const InventorySortKey& b) {
  auto tuple = [sort](const InventorySortKey& k) {
    switch (sort) {
      case InventorySort::kItem:
        return std::make_tuple(int64_t{0}, k.item, k.store);
      case InventorySort::kCount:
        return std::make_tuple(k.count, k.store, k.item);
      case InventorySort::kUpdatedAt:
        return std::make_tuple(k.updated_ns, k.store, k.item);
      case InventorySort::kStore:
        break;
    }
    return std::make_tuple(int64_t{0}, k.store, k.item);
  };
  return order == SortOrder::kAsc ? tuple(a) < tuple(b) : tuple(b) < tuple(a);
}

bool ContainsIgnoringAsciiCase(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char x, char y) { return LowerAscii(x) == LowerAscii(y); });
  return it != haystack.end();
}

bool ScopeCoversStore(const ObjectScope& scope, std::string_view store) {
  return scope.all_stores || std::binary_search(scope.stores.begin(), scope.stores.end(), store);
}

bool MatchesInventoryQuery(const InventoryQuery& query, const ThresholdTable& thresholds,
                           std::string_view store, std::string_view item, int64_t count,
                           int64_t updated_ns) {
  if (query.store && store != *query.store) return false;
  if (query.item_prefix && !item.starts_with(*query.item_prefix)) return false;
  if (query.max_count && count > *query.max_count) return false;
  if (!ScopeCoversStore(query.scope, store)) return false;
  if (query.changed_since && updated_ns < ToUnixNanos(*query.changed_since)) return false;
  if (query.status == StockStatus::kOut && count != 0) return false;
  if (query.status == StockStatus::kLow) {
    if (count == 0) return false;
    std::optional<int64_t> threshold = thresholds.For(store, item);
    if (!threshold || count > *threshold) return false;
  }
  if (query.q && !ContainsIgnoringAsciiCase(item, *query.q) &&
      !ContainsIgnoringAsciiCase(store, *query.q)) {
    return false;
  }
  return true;
}

std::string EncodeOrderedCursor(InventorySort sort, SortOrder order, const InventorySortKey& last) {
  std::string raw;
  PutBigEndian(raw, static_cast<uint64_t>(last.count), 8);
  PutBigEndian(raw, static_cast<uint64_t>(last.updated_ns), 8);
  PutBigEndian(raw, last.store.size(), 4);
  raw.append(last.store);
  raw.append(last.item);
  std::string out = CursorPrefix(sort, order);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::StatusOr<InventorySortKey> DecodeOrderedCursor(InventorySort sort, SortOrder order,
                                                     std::string_view cursor,
                                                     std::string& storage) {
  auto bad = [] {
    return absl::InvalidArgumentError(
        "inventory: cursor is not one of this query's pages (same sort and order)");
  };
  const std::string prefix = CursorPrefix(sort, order);
  if (!cursor.starts_with(prefix)) return bad();
  cursor.remove_prefix(prefix.size());
  if (cursor.size() % 2 != 0 || cursor.size() < 2 * 20) return bad();
  storage.clear();
  for (size_t i = 0; i < cursor.size(); i += 2) {
    int hi = HexValue(cursor[i]);
    int lo = HexValue(cursor[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    storage.push_back(static_cast<char>(hi << 4 | lo));
  }
  InventorySortKey key;
  key.count = static_cast<int64_t>(GetBigEndian(storage, 8));
  key.updated_ns = static_cast<int64_t>(GetBigEndian(std::string_view(storage).substr(8), 8));
  const uint64_t store_size = GetBigEndian(std::string_view(storage).substr(16), 4);
  if (store_size > storage.size() - 20) return bad();
  key.store = std::string_view(storage).substr(20, store_size);
  key.item = std::string_view(storage).substr(20 + store_size);
  return key;
}

}  // namespace stockwatch::core
