// The query parameters of GET /api/v1/inventory (docs/API.md) as a core::InventoryQuery:
// shared by the embedded server's router and the `api` Lambda function, so both accept the
// same parameters with the same errors. Pure; thread-safe.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/ports/inventory_store.h"
#include "server/url.h"

namespace stockwatch::server {

// Page sizes of the list routes: default and maximum.
inline constexpr int64_t kDefaultPage = 100;
inline constexpr int64_t kMaxPage = 10000;

// store, item_prefix, max_count, limit, cursor, sort, order, status, q, changed_since.
// The scope is left at its default (all stores): the caller narrows it to the principal's.
// kInvalidArgument naming the parameter for a value out of range or not understood.
absl::StatusOr<core::InventoryQuery> ParseInventoryQuery(const QueryParams& query);

}  // namespace stockwatch::server
