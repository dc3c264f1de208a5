#include "base/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <filesystem>

#include "base/status.h"

extern char** environ;

namespace stockwatch::base {
namespace {

constexpr std::array<SettingSpec, 70> kSettings = {{
    {"server.listen", SettingType::kString, "127.0.0.1:8080", false},
    {"server.data_dir", SettingType::kString, "./data", false},
    {"server.max_upload_bytes", SettingType::kInt, "1073741824", false},
    {"server.max_connections", SettingType::kInt, "256", false},
    {"server.idle_timeout_seconds", SettingType::kInt, "60", false},
    {"server.tls_cert", SettingType::kString, "", false},
    {"server.tls_key", SettingType::kString, "", false},
    {"server.trust_proxy", SettingType::kBool, "false", false},
    {"server.admin_token", SettingType::kString, "", true},
    {"server.backend", SettingType::kString, "embedded", false},
    {"auth.session_idle_seconds", SettingType::kInt, "1800", false},
    {"auth.session_absolute_seconds", SettingType::kInt, "43200", false},
    {"s3.listen", SettingType::kString, "127.0.0.1:9000", false},
    {"s3.buckets", SettingType::kString, "inventory", false},
    {"s3.region", SettingType::kString, "us-east-1", false},
    {"s3.domain", SettingType::kString, "localhost", false},
    {"s3.max_object_bytes", SettingType::kInt, "1073741824", false},
    {"s3.inline_max_bytes", SettingType::kInt, "65536", false},
    {"loader.on_bad_row", SettingType::kString, "skip", false},
    {"smtp.url", SettingType::kString, "", false},
    {"smtp.from", SettingType::kString, "stockwatch@localhost", false},
    {"smtp.username", SettingType::kString, "", false},
    {"smtp.password", SettingType::kString, "", true},
    {"smtp.require_tls", SettingType::kBool, "false", false},
    {"smtp.insecure_skip_verify", SettingType::kBool, "false", false},
    {"smtp.timeout_seconds", SettingType::kInt, "15", false},
    {"webhook.timeout_seconds", SettingType::kInt, "15", false},
    {"delivery.email_max_attempts", SettingType::kInt, "50", false},
    {"delivery.email_max_age_seconds", SettingType::kInt, "21600", false},
    {"delivery.webhook_max_attempts", SettingType::kInt, "50", false},
    {"delivery.webhook_max_age_seconds", SettingType::kInt, "86400", false},
    {"delivery.initial_backoff_ms", SettingType::kInt, "1000", false},
    {"delivery.max_backoff_ms", SettingType::kInt, "600000", false},
    {"delivery.concurrency", SettingType::kInt, "16", false},
    {"delivery.email_rate_per_address", SettingType::kInt, "10", false},
    {"delivery.rate_per_subscription", SettingType::kInt, "0", false},
    {"delivery.channel_rate_email", SettingType::kInt, "0", false},
    {"delivery.channel_rate_sms", SettingType::kInt, "0", false},
    {"delivery.channel_rate_webhook", SettingType::kInt, "0", false},
    {"delivery.channel_rate_slack", SettingType::kInt, "0", false},
    {"delivery.channel_rate_teams", SettingType::kInt, "0", false},
    {"notify.allow_private_targets", SettingType::kBool, "false", false},
    {"notify.public_url", SettingType::kString, "", false},
    {"notify.confirmation_ttl_seconds", SettingType::kInt, "172800", false},
    {"notify.reminder_after_seconds", SettingType::kInt, "0", false},
    {"notify.reminder_limit", SettingType::kInt, "3", false},
    {"sms.base_url", SettingType::kString, "https://api.twilio.com", false},
    {"sms.account_sid", SettingType::kString, "", false},
    {"sms.auth_token", SettingType::kString, "", true},
    {"sms.from", SettingType::kString, "", false},
    {"oidc.issuer", SettingType::kString, "", false},
    {"oidc.client_id", SettingType::kString, "", false},
    {"oidc.client_secret", SettingType::kString, "", true},
    {"oidc.redirect_url", SettingType::kString, "", false},
    {"oidc.scopes", SettingType::kString, "openid email", false},
    {"oidc.groups_claim", SettingType::kString, "cognito:groups", false},
    {"oidc.admin_groups", SettingType::kString, "", false},
    {"oidc.manager_groups", SettingType::kString, "", false},
    {"oidc.manager_stores_claim", SettingType::kString, "custom:stores", false},
    {"oidc.viewer_groups", SettingType::kString, "", false},
    {"oidc.require_group", SettingType::kBool, "false", false},
    {"oidc.require_nonce", SettingType::kBool, "true", false},
    {"oidc.authorization_endpoint", SettingType::kString, "", false},
    {"oidc.token_endpoint", SettingType::kString, "", false},
    {"oidc.jwks_uri", SettingType::kString, "", false},
    {"aws.table", SettingType::kString, "Inventory", false},
    {"aws.topics", SettingType::kString, "NoStock,LowStock,BackInStock", false},
    {"aws.stream_poll_ms", SettingType::kInt, "250", false},
    {"aws.bucket", SettingType::kString, "", false},
    {"log.level", SettingType::kString, "info", false},
}};

const SettingSpec* Find(std::string_view name) {
  for (const SettingSpec& spec : kSettings) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

absl::Status Validate(const SettingSpec& spec, std::string_view text) {
  switch (spec.type) {
    case SettingType::kString:
      return absl::OkStatus();
    case SettingType::kInt: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty()) {
        return absl::InvalidArgumentError("setting " + std::string(spec.name) + ": \"" +
                                          std::string(text) + "\" is not a whole number");
      }
      return absl::OkStatus();
    }
    case SettingType::kBool:
      if (text == "true" || text == "false" || text == "1" || text == "0") {
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError("setting " + std::string(spec.name) + ": \"" +
                                        std::string(text) + "\" is not true or false");
  }
  return absl::OkStatus();
}

}  // namespace

std::span<const SettingSpec> Settings() { return kSettings; }

std::string Config::EnvName(std::string_view setting) {
  std::string out = "STOCKWATCH_";
  for (char c : setting) {
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::map<std::string, std::string> Config::ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

absl::Status Config::Set(std::string_view name, std::string text, std::string source) {
  const SettingSpec* spec = Find(name);
  if (spec == nullptr) {
    return absl::InvalidArgumentError("unknown setting " + std::string(name));
  }
  SW_RETURN_IF_ERROR(Validate(*spec, text));
  values_[std::string(name)] = Value{std::move(text), std::move(source)};
  return absl::OkStatus();
}

absl::StatusOr<Config> Config::Load(const std::string& file,
                                    const std::map<std::string, std::string>& environment,
                                    const std::map<std::string, std::string>& overrides) {
  Config config;
  for (const SettingSpec& spec : kSettings) {
    config.values_[std::string(spec.name)] = Value{std::string(spec.default_value), "default"};
  }
  if (!file.empty()) {
    if (!std::filesystem::exists(file)) {
      return absl::NotFoundError("config file " + file + " does not exist");
    }
    toml::table table;
    try {
      table = toml::parse_file(file);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      return absl::InvalidArgumentError(file + ":" + std::to_string(where.line) + ":" +
                                        std::to_string(where.column) + ": " +
                                        std::string(e.description()));
    }
    for (const auto& [section, node] : table) {
      const toml::table* inner = node.as_table();
      if (inner == nullptr) {
        return absl::InvalidArgumentError(file + ": \"" + std::string(section.str()) +
                                          "\" is not a [section]");
      }
      for (const auto& [key, value] : *inner) {
        const std::string name = std::string(section.str()) + "." + std::string(key.str());
        std::string text;
        if (auto s = value.value<std::string>(); s && value.is_string()) {
          text = *s;
        } else if (value.is_integer()) {
          text = std::to_string(*value.value<int64_t>());
        } else if (value.is_boolean()) {
          text = *value.value<bool>() ? "true" : "false";
        } else {
          return absl::InvalidArgumentError(file + ": " + name +
                                            " must be a string, integer or boolean");
        }
        absl::Status st = config.Set(name, std::move(text), "file");
        if (!st.ok()) return absl::InvalidArgumentError(file + ": " + std::string(st.message()));
      }
    }
  }
  for (const SettingSpec& spec : kSettings) {
    auto it = environment.find(EnvName(spec.name));
    if (it == environment.end()) continue;
    absl::Status st = config.Set(spec.name, it->second, "env");
    if (!st.ok()) {
      return absl::InvalidArgumentError(it->first + ": " + std::string(st.message()));
    }
  }
  for (const auto& [name, text] : overrides) {
    SW_RETURN_IF_ERROR(config.Set(name, text, "flag"));
  }
  return config;
}

std::string Config::GetString(std::string_view name) const {
  auto it = values_.find(name);
  SW_CHECK(it != values_.end());
  return it->second.text;
}

int64_t Config::GetInt(std::string_view name) const {
  const std::string text = GetString(name);
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

bool Config::GetBool(std::string_view name) const {
  const std::string text = GetString(name);
  return text == "true" || text == "1";
}

std::string Config::Source(std::string_view name) const {
  auto it = values_.find(name);
  SW_CHECK(it != values_.end());
  return it->second.source;
}

std::string Config::Describe() const {
  std::string out;
  for (const SettingSpec& spec : kSettings) {
    const Value& v = values_.at(std::string(spec.name));
    const std::string shown = spec.secret && !v.text.empty() ? "<secret>" : v.text;
    out += std::string(spec.name) + " = \"" + shown + "\"  # " + v.source + "\n";
  }
  return out;
}

}  // namespace stockwatch::base
