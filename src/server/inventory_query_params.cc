#include "server/inventory_query_params.h"

#include <optional>
#include <string>

#include "base/status.h"
#include "core/model/json.h"
#include "core/model/types.h"

namespace stockwatch::server {
namespace {

absl::StatusOr<core::InventorySort> ParseInventorySort(const std::optional<std::string>& text) {
  if (!text || *text == "store") return core::InventorySort::kStore;
  if (*text == "item") return core::InventorySort::kItem;
  if (*text == "count") return core::InventorySort::kCount;
  if (*text == "updated_at") return core::InventorySort::kUpdatedAt;
  return absl::InvalidArgumentError("sort must be store, item, count or updated_at");
}

absl::StatusOr<core::SortOrder> ParseSortOrder(const std::optional<std::string>& text) {
  if (!text || *text == "asc") return core::SortOrder::kAsc;
  if (*text == "desc") return core::SortOrder::kDesc;
  return absl::InvalidArgumentError("order must be asc or desc");
}

absl::StatusOr<std::optional<core::StockStatus>> ParseStockStatus(
    const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  if (*text == "out") return core::StockStatus::kOut;
  if (*text == "low") return core::StockStatus::kLow;
  return absl::InvalidArgumentError("status must be out or low");
}

}  // namespace

absl::StatusOr<core::InventoryQuery> ParseInventoryQuery(const QueryParams& query) {
  core::InventoryQuery parsed;
  parsed.store = query.Get("store");
  parsed.item_prefix = query.Get("item_prefix");
  SW_ASSIGN_OR_RETURN(parsed.max_count, query.GetOptionalInt("max_count", 0, core::kMaxCount));
  SW_ASSIGN_OR_RETURN(int64_t limit, query.GetInt("limit", 1, kMaxPage, kDefaultPage));
  parsed.limit = static_cast<size_t>(limit);
  parsed.cursor = query.Get("cursor").value_or("");
  SW_ASSIGN_OR_RETURN(parsed.sort, ParseInventorySort(query.Get("sort")));
  SW_ASSIGN_OR_RETURN(parsed.order, ParseSortOrder(query.Get("order")));
  SW_ASSIGN_OR_RETURN(parsed.status, ParseStockStatus(query.Get("status")));
  if (std::optional<std::string> q = query.Get("q"); q && !q->empty()) parsed.q = q;
  if (std::optional<std::string> since = query.Get("changed_since")) {
    absl::StatusOr<core::TimePoint> at = core::ParseTime(*since);
    if (!at.ok()) {
      return absl::InvalidArgumentError(
          "changed_since must be an RFC 3339 time such as 2026-11-25T15:21:50Z");
    }
    parsed.changed_since = *at;
  }
  return parsed;
}

}  // namespace stockwatch::server
