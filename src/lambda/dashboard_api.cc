#include "lambda/dashboard_api.h"

#include <string>
#include <utility>

#include "adapters/memory/in_memory_inventory_store.h"
#include "base/status.h"
#include "core/checker/inventory_order.h"
#include "core/checker/stock_rules.h"
#include "core/model/account.h"
#include "core/ports/credential_store.h"
#include "server/ascii.h"
#include "server/inventory_json.h"
#include "server/inventory_query_params.h"
#include "server/status_http.h"
#include "server/url.h"

namespace stockwatch::lambda {

struct DashboardApi::Snapshot {
  adapters::InMemoryInventoryStore store;
};

namespace {

nlohmann::json Response(int status, std::string body) {
  return {{"statusCode", status},
          {"headers",
           {{"content-type", "application/json"},
            {"cache-control", "no-store"},
            {"x-content-type-options", "nosniff"}}},
          {"body", std::move(body)}};
}

nlohmann::json JsonResponse(int status, const nlohmann::json& body) {
  return Response(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::json ErrorResponse(const absl::Status& status) {
  const server::HttpError http = server::StatusToHttp(status);
  nlohmann::json response = Response(http.http_status, server::ErrorJson(status));
  if (http.http_status == 401) response["headers"]["www-authenticate"] = "Bearer";
  return response;
}

nlohmann::json MethodNotAllowed(const std::string& method) {
  nlohmann::json response = ErrorResponse(server::WithHttpStatus(
      absl::InvalidArgumentError("method " + method + " is not allowed here; use GET"), 405));
  response["headers"]["allow"] = "GET";
  return response;
}

// A string member of `object`, or "" when absent or not a string.
std::string StringAt(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return "";
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// Method, path and query of a payload format 2.0 or 1.0 event.
struct Request {
  std::string method;
  std::string path;
  std::string query;
  std::string authorization;
};

Request ReadRequest(const nlohmann::json& event) {
  Request request;
  if (auto context = event.find("requestContext");
      context != event.end() && context->is_object() && context->contains("http")) {
    request.method = StringAt((*context)["http"], "method");
  }
  if (request.method.empty()) request.method = StringAt(event, "httpMethod");
  request.path = StringAt(event, "rawPath");
  if (request.path.empty()) request.path = StringAt(event, "path");
  request.query = StringAt(event, "rawQueryString");
  if (request.query.empty()) {
    // Format 1.0: decoded values; encode them again for the one query parser.
    auto params = event.find("queryStringParameters");
    if (params != event.end() && params->is_object()) {
      for (const auto& [name, value] : params->items()) {
        if (!value.is_string()) continue;
        if (!request.query.empty()) request.query += '&';
        request.query +=
            core::PercentEncode(name) + "=" + core::PercentEncode(value.get<std::string>());
      }
    }
  }
  // Format 2.0 lower-cases header names; 1.0 keeps the client's case.
  if (auto headers = event.find("headers"); headers != event.end() && headers->is_object()) {
    for (const auto& [name, value] : headers->items()) {
      if (value.is_string() && server::EqualsIgnoreCase(name, "authorization")) {
        request.authorization = value.get<std::string>();
      }
    }
  }
  return request;
}

absl::StatusOr<core::Principal> Authenticate(const Request& request, const TokenVerifier& verify,
                                             const core::OidcRoleMapping& roles) {
  constexpr std::string_view kScheme = "bearer ";
  const std::string& header = request.authorization;
  if (header.size() <= kScheme.size() || !server::StartsWithIgnoreCase(header, kScheme)) {
    return absl::UnauthenticatedError(
        "sign in: send the Cognito ID token as Authorization: Bearer <token>");
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json claims, verify(header.substr(kScheme.size())));
  SW_ASSIGN_OR_RETURN(std::string name, core::OidcUserName(claims));
  SW_ASSIGN_OR_RETURN(core::MappedRole mapped, core::MapOidcRole(claims, roles));
  core::Principal principal;
  principal.name = std::move(name);
  principal.role = std::string(core::RoleName(mapped.role));
  principal.scope = std::move(mapped.scope);
  return principal;
}

}  // namespace

DashboardApi::DashboardApi(InventorySource& source, TokenVerifier verify, core::Clock& clock,
                           DashboardApiOptions options)
    : source_(source), verify_(std::move(verify)), clock_(clock), options_(std::move(options)) {}

DashboardApi::~DashboardApi() = default;

absl::StatusOr<std::shared_ptr<DashboardApi::Snapshot>> DashboardApi::Read(
    const std::optional<std::string>& store) {
  const auto now = clock_.Monotonic();
  if (!store && table_ && now - table_read_at_ < options_.table_cache) return table_;
  SW_ASSIGN_OR_RETURN(std::vector<core::InventoryItem> items, source_.Items(store));
  auto snapshot = std::make_shared<Snapshot>();
  SW_ASSIGN_OR_RETURN(std::unique_ptr<core::UploadWriter> writer,
                      snapshot->store.BeginUpload(1, clock_.Now()));
  int64_t line = 0;
  for (const core::InventoryItem& item : items) {
    writer->Upsert(item.store, item.item, item.count, ++line);
  }
  core::LoadReport report;
  report.upload_id = 1;
  report.status = core::LoadStatus::kLoaded;
  SW_RETURN_IF_ERROR(writer->Commit(report));
  writer.reset();
  if (options_.low_stock_threshold) {
    SW_RETURN_IF_ERROR(
        snapshot->store.SetThreshold(core::Threshold{}, options_.low_stock_threshold));
  }
  if (!store) {
    table_ = snapshot;
    table_read_at_ = now;
  }
  return snapshot;
}

nlohmann::json DashboardApi::Handle(const nlohmann::json& event) {
  const Request request = ReadRequest(event);
  if (request.path == "/healthz") {
    if (request.method != "GET") return MethodNotAllowed(request.method);
    return JsonResponse(200, {{"status", "ok"}});
  }
  // Everything else needs a signed-in user, before even saying whether the route exists.
  absl::StatusOr<core::Principal> principal = Authenticate(request, verify_, options_.roles);
  if (!principal.ok()) return ErrorResponse(principal.status());
  const bool known = request.path == "/api/v1/me" || request.path == "/api/v1/stores" ||
                     request.path == "/api/v1/inventory";
  if (!known) {
    return ErrorResponse(absl::NotFoundError("no route " + request.path +
                                             " (the api function serves /api/v1/me, "
                                             "/api/v1/stores and /api/v1/inventory)"));
  }
  if (request.method != "GET") return MethodNotAllowed(request.method);

  if (request.path == "/api/v1/me") {
    nlohmann::json stores = nullptr;
    if (!principal->scope.all_stores) stores = principal->scope.stores;
    return JsonResponse(
        200,
        {{"user",
          {{"name", principal->name}, {"role", principal->role}, {"stores", std::move(stores)}}}});
  }
  absl::StatusOr<server::QueryParams> params = server::QueryParams::Parse(request.query);
  if (!params.ok()) return ErrorResponse(params.status());

  if (request.path == "/api/v1/stores") {
    absl::StatusOr<std::shared_ptr<Snapshot>> snapshot = Read(std::nullopt);
    if (!snapshot.ok()) return ErrorResponse(snapshot.status());
    absl::StatusOr<nlohmann::json> stores =
        server::StoreSummariesJson((*snapshot)->store, principal->scope);
    if (!stores.ok()) return ErrorResponse(stores.status());
    // The table keeps no upload times (see the header).
    for (nlohmann::json& store : *stores) store["last_upload"] = nullptr;
    return JsonResponse(200, {{"stores", *std::move(stores)}});
  }

  absl::StatusOr<core::InventoryQuery> query = server::ParseInventoryQuery(*params);
  if (!query.ok()) return ErrorResponse(query.status());
  query->scope = principal->scope;
  if (query->store && !core::ScopeCoversStore(query->scope, *query->store)) {
    return ErrorResponse(absl::PermissionDeniedError(
        principal->name + " may not see the inventory of store \"" + *query->store + "\""));
  }
  absl::StatusOr<std::shared_ptr<Snapshot>> snapshot = Read(query->store);
  if (!snapshot.ok()) return ErrorResponse(snapshot.status());
  absl::StatusOr<core::InventoryPage> page = (*snapshot)->store.Query(*query);
  if (!page.ok()) return ErrorResponse(page.status());
  absl::StatusOr<std::vector<core::Threshold>> thresholds = (*snapshot)->store.Thresholds();
  if (!thresholds.ok()) return ErrorResponse(thresholds.status());
  return Response(200, server::InventoryPageJson(*page, core::ThresholdTable(*thresholds)));
}

}  // namespace stockwatch::lambda
