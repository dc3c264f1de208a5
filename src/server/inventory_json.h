// The body of GET /api/v1/inventory, written directly rather than through nlohmann::json:
// the route is the API's hot path (a page of 100 items per request), and building and
// dumping a JSON tree cost more than the rest of the request together.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/checker/stock_rules.h"
#include "core/ports/credential_store.h"
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

// A PUT /api/v1/thresholds body: `{"store": name|null, "item": name|null, "value":
// 0..kMaxCount|null}` (null store or item: any; null value: remove), as the embedded server
// and the api Lambda function take it.
struct ThresholdChange {
  core::Threshold scope;         // store and item; value unused
  std::optional<int64_t> value;  // nullopt: remove the threshold
};

// Reads `body`. kInvalidArgument for a malformed one; kPermissionDenied when `principal`
// is limited to some stores and the threshold is not of one of them (a manager sets its own
// stores' thresholds, never the global ones). Roles without writes are refused before this.
absl::StatusOr<ThresholdChange> ParseThresholdChange(const nlohmann::json& body,
                                                     const core::Principal& principal);

// The answer to it: {"store","item","value"} with null for any or removed.
nlohmann::json ThresholdChangeJson(const ThresholdChange& change);

// {"thresholds":[{"store"|null,"item"|null,"value"}...]}, GET /api/v1/thresholds.
nlohmann::json ThresholdsJson(const std::vector<core::Threshold>& thresholds);

}  // namespace stockwatch::server
