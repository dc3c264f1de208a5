// The body of GET /api/v1/inventory, written directly rather than through nlohmann::json:
// the route is the API's hot path (a page of 100 items per request), and building and
// dumping a JSON tree cost more than the rest of the request together.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "core/checker/stock_rules.h"
#include "core/ports/inventory_store.h"
#include "nlohmann/json.hpp"

namespace stockwatch::server {

// `{"items":[{"count","item","store","threshold","updated_at"}...],"next_cursor","total"}`,
// byte for byte what nlohmann::json::dump() gives for the same document (keys sorted,
// invalid UTF-8 replaced by U+FFFD). `threshold` is thresholds.For(store, item) or null.
std::string InventoryPageJson(const core::InventoryPage& page,
                              const core::ThresholdTable& thresholds);

// The `stores` array of GET /api/v1/stores: per store of `scope`, in name order,
// {"store","items","out_of_stock","low","last_updated","last_upload"}; `low` counts the
// items at or under their LowStock threshold (a query per store).
absl::StatusOr<nlohmann::json> StoreSummariesJson(core::InventoryStore& inventory,
                                                  const core::ObjectScope& scope);

}  // namespace stockwatch::server
