// The `api` function: the dashboard's JSON API, read side, behind a Lambda Function URL or
// an API Gateway HTTP API, over the inventory table, for users signed in to the Cognito user
// pool (an ID token sent as `Authorization: Bearer`).
//
// Routes (docs/API.md, "The api Lambda function"): GET /healthz (open), GET /api/v1/me,
// GET /api/v1/stores and GET /api/v1/inventory with the embedded server's parameters, paging
// and JSON, byte for byte. They answer from a snapshot of the table: a Query of one store when
// the request names one, else a Scan of the table, reused for `table_cache`; the snapshot is
// loaded into the reference in-memory inventory store, so filters, sorting, cursors and the
// low-stock rule are the embedded mode's own code. The original table keeps no times, so
// `updated_at` and a store's `last_updated` are the time the table was read, and
// `last_upload` is null.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/auth/oidc.h"
#include "core/model/types.h"
#include "core/ports/clock.h"
#include "core/ports/inventory_store.h"
#include "nlohmann/json.hpp"

namespace stockwatch::lambda {

// Where the api function reads the inventory table.
class InventorySource {
 public:
  virtual ~InventorySource() = default;
  // Every item of `store` (all pages of a Query), or of the whole table when nullopt (all
  // pages of a Scan). Items that are not inventory (no numeric Count: the load-state items)
  // are left out.
  virtual absl::StatusOr<std::vector<core::InventoryItem>> Items(
      const std::optional<std::string>& store) = 0;
};

// Verifies a bearer token and returns its claims: kUnauthenticated if it is refused,
// kUnavailable if it cannot be checked now (the key set cannot be fetched).
using TokenVerifier = std::function<absl::StatusOr<nlohmann::json>(std::string_view token)>;

struct DashboardApiOptions {
  // The LowStock threshold in force for every item (check-stock's LOW_STOCK_THRESHOLD), for
  // `status=low` and the stores' `low` counts. Default none: no item is low.
  std::optional<int64_t> low_stock_threshold;
  // How long a Scan of the whole table is reused by later requests of a warm function.
  // Default 5 s; 0 reads the table for every request.
  std::chrono::milliseconds table_cache{5000};
  // How the ID token's groups become a role and store scope (as the embedded OIDC sign-in).
  core::OidcRoleMapping roles;
};

class DashboardApi {
 public:
  // `source` and `clock` must outlive the api.
  DashboardApi(InventorySource& source, TokenVerifier verify, core::Clock& clock,
               DashboardApiOptions options);
  ~DashboardApi();

  // Answers one request. `event` is a Function URL or HTTP API event (payload format 2.0:
  // requestContext.http.method, rawPath, rawQueryString, headers; format 1.0's httpMethod,
  // path and queryStringParameters are read too). Returns the response as those expect it:
  // {"statusCode","headers","body"}. Never fails: errors are JSON error responses as the
  // embedded server's (docs/API.md, "Errors"), 401 with `WWW-Authenticate: Bearer`.
  nlohmann::json Handle(const nlohmann::json& event);

 private:
  struct Snapshot;
  // The table (or one store of it) as an in-memory inventory store.
  absl::StatusOr<std::shared_ptr<Snapshot>> Read(const std::optional<std::string>& store);

  InventorySource& source_;
  TokenVerifier verify_;
  core::Clock& clock_;
  DashboardApiOptions options_;
  std::shared_ptr<Snapshot> table_;  // the last whole-table snapshot
  std::chrono::steady_clock::time_point table_read_at_;
};

}  // namespace stockwatch::lambda
