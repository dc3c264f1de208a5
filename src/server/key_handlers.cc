// /api/v1/keys: the S3 access keys. A secret appears in exactly one answer, the one to the
// POST that created it; it is never logged.

#include <algorithm>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/url.h"

namespace stockwatch::server {
namespace {

nlohmann::json KeyJson(const core::AccessKey& key) {
  nlohmann::json json = {
      {"access_key_id", key.id},
      {"all_stores", key.scope.all_stores},
      {"stores", key.scope.all_stores ? nlohmann::json(nullptr) : nlohmann::json(key.scope.stores)},
      {"description", key.description},
      {"created_at", core::FormatTime(key.created_at)},
      {"revoked_at", nullptr}};
  if (key.revoked_at) json["revoked_at"] = core::FormatTime(*key.revoked_at);
  return json;
}

}  // namespace

absl::StatusOr<HttpResponse> ApiRouter::ListKeys() {
  SW_ASSIGN_OR_RETURN(std::vector<core::AccessKey> keys, services_.access_keys.List());
  nlohmann::json list = nlohmann::json::array();
  for (const core::AccessKey& key : keys) list.push_back(KeyJson(key));
  return JsonResponse(200, {{"keys", std::move(list)}});
}

absl::StatusOr<HttpResponse> ApiRouter::CreateKey(HttpRequest& request) {
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  core::ObjectScope scope;
  const auto all = body.find("all_stores");
  const auto stores = body.find("stores");
  if (all != body.end() && !all->is_boolean()) {
    return absl::InvalidArgumentError("all_stores must be true or false");
  }
  scope.all_stores = all != body.end() && all->get<bool>();
  if (stores != body.end() && !stores->is_null()) {
    if (!stores->is_array()) return absl::InvalidArgumentError("stores must be an array of names");
    for (const nlohmann::json& store : *stores) {
      if (!store.is_string()) {
        return absl::InvalidArgumentError("stores must be an array of names");
      }
      scope.stores.push_back(store.get<std::string>());
    }
  }
  if (scope.all_stores && !scope.stores.empty()) {
    return absl::InvalidArgumentError("give either stores or all_stores, not both");
  }
  if (!scope.all_stores && scope.stores.empty()) {
    return absl::InvalidArgumentError(
        "a key needs the stores it may write (stores) or all_stores: true");
  }
  std::sort(scope.stores.begin(), scope.stores.end());
  scope.stores.erase(std::unique(scope.stores.begin(), scope.stores.end()), scope.stores.end());
  std::string description;
  if (const auto it = body.find("description"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return absl::InvalidArgumentError("description must be a string");
    description = it->get<std::string>();
    if (description.size() > 256) {
      return absl::InvalidArgumentError("description must be at most 256 bytes");
    }
  }
  SW_ASSIGN_OR_RETURN(core::NewAccessKey created,
                      services_.access_keys.Create(scope, description, services_.clock.Now()));
  nlohmann::json json = KeyJson(created.key);
  json["secret_access_key"] = created.secret;
  HttpResponse response = JsonResponse(201, json);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::RevokeKey(std::string_view raw_id) {
  SW_ASSIGN_OR_RETURN(std::string id, PercentDecode(raw_id, PlusMode::kLiteral));
  SW_RETURN_IF_ERROR(services_.access_keys.Revoke(id, services_.clock.Now()));
  SW_ASSIGN_OR_RETURN(std::vector<core::AccessKey> keys, services_.access_keys.List());
  for (const core::AccessKey& key : keys) {
    if (key.id == id) return JsonResponse(200, KeyJson(key));
  }
  return absl::NotFoundError(fmt::format("no access key {}", id));
}

}  // namespace stockwatch::server
