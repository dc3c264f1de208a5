// GET /api/v1/settings (admin): every setting in force, for the dashboard's Admin page.

#include <string>

#include "base/config.h"
#include "nlohmann/json.hpp"
#include "server/router.h"

namespace stockwatch::server {

namespace {

// What a secret setting's value is listed as when it is set.
constexpr std::string_view kRedacted = "<redacted>";

}  // namespace

absl::StatusOr<HttpResponse> ApiRouter::ListSettings() {
  nlohmann::json list = nlohmann::json::array();
  for (const base::SettingSpec& spec : base::Settings()) {
    // Which settings are secret is said in one place: the `secret` column of base::Settings()
    // (passwords, secrets, tokens and keys; config_test checks the names). Their values, set
    // or default, never leave the server: only whether one is set.
    const std::string value = options_.settings != nullptr ? options_.settings->Text(spec.name)
                                                           : std::string(spec.default_value);
    const bool secret = spec.secret;
    nlohmann::json entry = {
        {"name", std::string(spec.name)},
        {"type", spec.type == base::SettingType::kInt    ? "int"
                 : spec.type == base::SettingType::kBool ? "bool"
                                                         : "string"},
        {"value", secret && !value.empty() ? std::string(kRedacted) : value},
        {"default", secret && !spec.default_value.empty() ? std::string(kRedacted)
                                                          : std::string(spec.default_value)},
        {"source", options_.settings != nullptr ? options_.settings->Source(spec.name)
                                                : std::string("default")},
        {"env", base::Config::EnvName(spec.name)},
        {"secret", secret},
    };
    list.push_back(std::move(entry));
  }
  HttpResponse response = JsonResponse(200, {{"settings", std::move(list)}});
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

}  // namespace stockwatch::server
