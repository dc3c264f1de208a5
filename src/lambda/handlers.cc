#include "lambda/handlers.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

#include "adapters/oidc/oidc_identity_provider.h"
#include "aws/aws_config.h"
#include "aws/aws_http.h"
#include "aws/secrets_manager.h"
#include "base/status.h"
#include "core/auth/oidc.h"
#include "core/auth/sealed_token.h"
#include "core/ports/clock.h"
#include "lambda/aws_adapters.h"
#include "lambda/check_stock.h"
#include "lambda/dashboard_api.h"
#include "lambda/events.h"
#include "lambda/load_inventory.h"

namespace stockwatch::lambda {
namespace {

std::string Env(const char* name, std::string fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// The whole number environment variable `name` holds, within min..max; `fallback` when it is
// unset or empty. `unit` ("hours") only words the error.
absl::StatusOr<std::optional<int64_t>> WholeNumberFromEnv(const char* name,
                                                          std::optional<int64_t> fallback,
                                                          int64_t min, int64_t max,
                                                          std::string_view unit) {
  const std::string text = Env(name);
  if (text.empty()) return fallback;
  int64_t value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || value < min ||
      value > max) {
    std::string message = std::string(name) + " \"" + text + "\" is not a whole number";
    if (!unit.empty()) message += " of " + std::string(unit);
    message += max == std::numeric_limits<int64_t>::max()
                   ? " >= " + std::to_string(min)
                   : " within " + std::to_string(min) + ".." + std::to_string(max);
    return absl::InvalidArgumentError(message);
  }
  return value;
}

// The boolean environment variable `name` holds ("true" or "false"); `fallback` when unset.
absl::StatusOr<bool> BoolFromEnv(const char* name, bool fallback) {
  const std::string text = Env(name, fallback ? "true" : "false");
  if (text != "true" && text != "false") {
    return absl::InvalidArgumentError(std::string(name) + " \"" + text + "\" is not true or false");
  }
  return text == "true";
}

void LogJson(const nlohmann::json& line) {
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(stderr, "%s\n", text.c_str());
}

class LoadInventoryHandler final : public LambdaHandler {
 public:
  LoadInventoryHandler(aws::AwsConfig config, const std::string& table,
                       const std::string& state_table, LoadInventoryOptions options)
      : s3_(config),
        db_(std::move(config)),
        storage_(s3_),
        writer_(db_, table),
        state_(db_, table, state_table),
        loader_(storage_, writer_, state_, std::move(options)) {}

  absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json& event,
                                        const InvocationContext&) override {
    SW_ASSIGN_OR_RETURN(std::vector<S3EventRecord> records, ParseS3Event(event));
    SW_ASSIGN_OR_RETURN(nlohmann::json result, loader_.HandleAll(records));
    for (const nlohmann::json& record : result["records"]) {
      LogJson({{"level", "info"}, {"msg", "load"}, {"record", record}});
    }
    return result;
  }

 private:
  aws::S3Client s3_;
  aws::DynamoDbClient db_;
  S3ObjectStorage storage_;
  DynamoDbInventoryWriter writer_;
  DynamoDbLoadStateStore state_;
  InventoryLoader loader_;
};

// Where check-stock reads the dashboard's thresholds (TABLE_THRESHOLDS=true): the table's
// threshold items, kept for THRESHOLD_CACHE_SECONDS.
struct ThresholdSourceOptions {
  std::string table;  // empty: none are read
  std::chrono::seconds cache{60};
};

class CheckStockHandler final : public LambdaHandler {
 public:
  CheckStockHandler(aws::AwsConfig config, std::map<std::string, TopicTarget> targets,
                    CheckStockOptions options, ThresholdSourceOptions thresholds)
      : sns_(config),
        db_(std::move(config)),
        publisher_(sns_, std::move(targets)),
        options_(options),
        read_thresholds_(!thresholds.table.empty()),
        threshold_store_(db_, thresholds.table),
        thresholds_(threshold_store_, thresholds.cache) {}

  absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json& event,
                                        const InvocationContext&) override {
    SW_ASSIGN_OR_RETURN(std::vector<StreamRecord> records, ParseStreamEvent(event));
    if (read_thresholds_) {
      // A failed read never holds alerts back: the thresholds read before stay in force,
      // or, before the first read, LOW_STOCK_THRESHOLD alone (NoStock and BackInStock need
      // no threshold). It is logged, and read again at the next invocation.
      absl::Status read_error;
      options_.thresholds = thresholds_.Get(std::chrono::steady_clock::now(), read_error);
      if (!read_error.ok()) {
        LogJson({{"level", "error"},
                 {"msg",
                  "thresholds not read; the last ones read (or LOW_STOCK_THRESHOLD "
                  "alone) stay in force"},
                 {"error", read_error.message()}});
      }
    }
    CheckStockResult result = CheckStock(records, options_, publisher_);
    for (size_t i = 0; i < result.failed_sequence_numbers.size(); ++i) {
      LogJson({{"level", "error"},
               {"msg", "record failed"},
               {"sequenceNumber", result.failed_sequence_numbers[i]},
               {"error", result.failure_messages[i]}});
    }
    LogJson({{"level", "info"},
             {"msg", "checked"},
             {"records", records.size()},
             {"published", result.published},
             {"ignored", result.ignored},
             {"failed", result.failed_sequence_numbers.size()}});
    return result.ToJson();
  }

 private:
  aws::SnsClient sns_;
  aws::DynamoDbClient db_;
  SnsAlertPublisher publisher_;
  CheckStockOptions options_;
  bool read_thresholds_;
  DynamoDbThresholds threshold_store_;
  ThresholdCache thresholds_;
};

// The request path of a Function URL (rawPath) or API Gateway 1.0 (path) event, for logs;
// "" when neither is a string.
std::string PathOf(const nlohmann::json& event) {
  for (const char* name : {"rawPath", "path"}) {
    auto it = event.is_object() ? event.find(name) : event.end();
    if (it != event.end() && it->is_string()) return it->get<std::string>();
  }
  return "";
}

// `options` with the browser sign-in (if any) going through `provider`, and the
// subscriptions (if any topic is configured) through `subscriptions`.
DashboardApiOptions WithAdapters(DashboardApiOptions options, core::IdentityProvider* provider,
                                 AlertSubscriptions* subscriptions, ThresholdStore* thresholds) {
  if (options.browser) options.browser->provider = provider;
  options.subscriptions = subscriptions;
  options.thresholds = thresholds;
  return options;
}

// The dashboard over the table (dashboard_api.h), for Cognito users.
class ApiHandler final : public LambdaHandler {
 public:
  // `topics`: the alert topics (name, ARN) whose subscriptions the dashboard manages; none:
  // no subscription routes. `table_thresholds`: the threshold routes, over the table.
  ApiHandler(aws::AwsConfig config, const std::string& table, adapters::OidcProviderOptions cognito,
             DashboardApiOptions options, std::vector<std::pair<std::string, std::string>> topics,
             bool table_thresholds)
      : sns_(config),
        db_(std::move(config)),
        source_(db_, table),
        subscriptions_(sns_, std::move(topics)),
        thresholds_(db_, table),
        cognito_(std::move(cognito), clock_),
        api_(
            source_, [this](std::string_view token) { return cognito_.VerifyBearer(token); },
            clock_,
            WithAdapters(std::move(options), &cognito_,
                         subscriptions_.Topics().empty() ? nullptr : &subscriptions_,
                         table_thresholds ? &thresholds_ : nullptr)) {}

  absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json& event,
                                        const InvocationContext&) override {
    nlohmann::json response = api_.Handle(event);
    const int status = response.value("statusCode", 0);
    if (status >= 500 || source_.skipped() > 0) {
      LogJson({{"level", status >= 500 ? "error" : "warn"},
               {"msg", "api"},
               {"status", status},
               {"path", PathOf(event)},
               {"skipped_items", source_.skipped()},
               {"error", status >= 500 ? response.value("body", "") : ""}});
    }
    return response;
  }

 private:
  aws::SnsClient sns_;
  aws::DynamoDbClient db_;
  DynamoDbInventorySource source_;
  SnsAlertSubscriptions subscriptions_;
  DynamoDbThresholds thresholds_;
  core::SystemClock clock_;
  adapters::OidcIdentityProvider cognito_;
  DashboardApi api_;
};

absl::StatusOr<std::optional<int64_t>> ThresholdFromEnv() {
  return WholeNumberFromEnv("LOW_STOCK_THRESHOLD", std::nullopt, 0,
                            std::numeric_limits<int64_t>::max(), "");
}

}  // namespace

namespace {

// Sign-in in the browser, when a session secret is set: SESSION_SECRET itself, or the
// Secrets Manager secret SESSION_SECRET_ARN names (read once, at the function's start);
// SESSION_GENERATION, sealed into each session, ends every session when raised.
// COGNITO_DOMAIN (the hosted UI's https://<prefix>.auth.<region>.amazoncognito.com) gives
// the authorization and token endpoints, else the pool's discovery document does;
// DASHBOARD_CALLBACK_URL the registered callback, SESSION_HOURS the session's length,
// OIDC_SCOPES the scopes, OIDC_REQUIRE_NONCE=false accepts ID tokens without the nonce.
absl::StatusOr<std::optional<BrowserSignInOptions>> BrowserSignInFromEnv(
    const aws::AwsConfig& config, const std::string& client,
    adapters::OidcProviderOptions& cognito) {
  std::string secret = Env("SESSION_SECRET");
  const std::string secret_arn = Env("SESSION_SECRET_ARN");
  if (secret.empty() && secret_arn.empty()) return std::nullopt;
  std::string secret_name = "SESSION_SECRET";
  if (secret.empty()) {
    aws::AwsHttpClient secrets(config, aws::kSecretsManagerService);
    absl::StatusOr<std::string> fetched = aws::GetSecretString(secrets, secret_arn);
    if (!fetched.ok()) {
      return absl::Status(fetched.status().code(),
                          "SESSION_SECRET_ARN: " + std::string(fetched.status().message()));
    }
    secret = *std::move(fetched);
    secret_name = "the secret SESSION_SECRET_ARN names";
  }
  SW_RETURN_IF_ERROR(core::CheckSealSecret(secret, secret_name));
  BrowserSignInOptions browser;
  browser.session_secret = std::move(secret);
  browser.client_id = client;
  browser.redirect_url = Env("DASHBOARD_CALLBACK_URL");
  browser.scopes = Env("OIDC_SCOPES", browser.scopes);
  SW_ASSIGN_OR_RETURN(const std::optional<int64_t> hours,
                      WholeNumberFromEnv("SESSION_HOURS", 8, 1, 168, "hours"));
  browser.session_ttl = std::chrono::hours(*hours);
  SW_ASSIGN_OR_RETURN(
      const std::optional<int64_t> generation,
      WholeNumberFromEnv("SESSION_GENERATION", 1, 0, std::numeric_limits<int64_t>::max(), ""));
  browser.session_generation = *generation;
  std::string domain = Env("COGNITO_DOMAIN");
  while (!domain.empty() && domain.back() == '/') domain.pop_back();
  if (!domain.empty()) {
    cognito.authorization_endpoint = domain + "/oauth2/authorize";
    cognito.token_endpoint = domain + "/oauth2/token";
  }
  SW_ASSIGN_OR_RETURN(cognito.require_nonce, BoolFromEnv("OIDC_REQUIRE_NONCE", true));
  return browser;
}

// The api function's settings from the environment: the user pool, the table, the groups.
absl::StatusOr<std::unique_ptr<LambdaHandler>> MakeApiHandler(aws::AwsConfig config) {
  const std::string pool = Env("COGNITO_USER_POOL_ID");
  const std::string client = Env("COGNITO_CLIENT_ID");
  if (pool.empty() || client.empty()) {
    return absl::InvalidArgumentError(
        "the api function needs COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID");
  }
  adapters::OidcProviderOptions cognito;
  cognito.issuer =
      Env("COGNITO_ISSUER", "https://cognito-idp." + config.region + ".amazonaws.com/" + pool);
  cognito.client_id = client;
  cognito.jwks_uri = Env("COGNITO_JWKS_URL", cognito.issuer + "/.well-known/jwks.json");
  DashboardApiOptions options;
  SW_ASSIGN_OR_RETURN(options.low_stock_threshold, ThresholdFromEnv());
  SW_ASSIGN_OR_RETURN(const std::optional<int64_t> seconds,
                      WholeNumberFromEnv("TABLE_CACHE_SECONDS", 5, 0, 3600, "seconds"));
  options.table_cache = std::chrono::seconds(*seconds);
  options.roles.admin_groups = core::SplitCommaList(Env("ADMIN_GROUPS"));
  options.roles.manager_groups = core::SplitCommaList(Env("MANAGER_GROUPS"));
  options.roles.viewer_groups = core::SplitCommaList(Env("VIEWER_GROUPS"));
  options.roles.require_group = Env("REQUIRE_GROUP") == "true";
  SW_ASSIGN_OR_RETURN(options.browser, BrowserSignInFromEnv(config, client, cognito));
  // The alert topics by ARN (as check-stock's), for the subscriptions page.
  std::vector<std::pair<std::string, std::string>> topics;
  for (const auto& [name, variable] :
       {std::pair<const char*, const char*>{"NoStock", "NO_STOCK_TOPIC_ARN"},
        {"LowStock", "LOW_STOCK_TOPIC_ARN"},
        {"BackInStock", "BACK_IN_STOCK_TOPIC_ARN"}}) {
    if (std::string arn = Env(variable); !arn.empty()) topics.emplace_back(name, std::move(arn));
  }
  SW_ASSIGN_OR_RETURN(const bool table_thresholds, BoolFromEnv("TABLE_THRESHOLDS", false));
  return std::make_unique<ApiHandler>(std::move(config), Env("TABLE_NAME", "Inventory"),
                                      std::move(cognito), std::move(options), std::move(topics),
                                      table_thresholds);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LambdaHandler>> MakeHandler(std::string_view name) {
  if (name != "load-inventory" && name != "check-stock" && name != "api") {
    std::string known;
    for (std::string_view n : kHandlerNames) known += (known.empty() ? "" : ", ") + std::string(n);
    return absl::NotFoundError("unknown handler \"" + std::string(name) + "\" (known: " + known +
                               ")");
  }
  SW_ASSIGN_OR_RETURN(aws::AwsConfig config, aws::LoadAwsConfig(aws::ProcessEnv()));
  if (name == "api") return MakeApiHandler(std::move(config));
  if (name == "load-inventory") {
    LoadInventoryOptions options;
    const std::string on_bad_row = Env("ON_BAD_ROW", "skip");
    if (on_bad_row == "reject") {
      options.bad_row_policy = core::BadRowPolicy::kReject;
    } else if (on_bad_row != "skip") {
      return absl::InvalidArgumentError("ON_BAD_ROW \"" + on_bad_row + "\" is not skip or reject");
    }
    return std::make_unique<LoadInventoryHandler>(std::move(config), Env("TABLE_NAME", "Inventory"),
                                                  Env("STATE_TABLE"), std::move(options));
  }
  CheckStockOptions options;
  SW_ASSIGN_OR_RETURN(options.low_stock_threshold, ThresholdFromEnv());
  std::map<std::string, TopicTarget> targets;
  targets[std::string(core::kTopicNoStock)] = {Env("NO_STOCK_TOPIC_ARN"),
                                               Env("NO_STOCK_TOPIC_NAME", "NoStock"), true};
  targets[std::string(core::kTopicLowStock)] = {Env("LOW_STOCK_TOPIC_ARN"),
                                                Env("LOW_STOCK_TOPIC_NAME", "LowStock"), false};
  targets[std::string(core::kTopicBackInStock)] = {
      Env("BACK_IN_STOCK_TOPIC_ARN"), Env("BACK_IN_STOCK_TOPIC_NAME", "BackInStock"), false};
  ThresholdSourceOptions thresholds;
  SW_ASSIGN_OR_RETURN(const bool table_thresholds, BoolFromEnv("TABLE_THRESHOLDS", false));
  if (table_thresholds) thresholds.table = Env("TABLE_NAME", "Inventory");
  SW_ASSIGN_OR_RETURN(const std::optional<int64_t> seconds,
                      WholeNumberFromEnv("THRESHOLD_CACHE_SECONDS", 60, 0, 3600, "seconds"));
  thresholds.cache = std::chrono::seconds(*seconds);
  return std::make_unique<CheckStockHandler>(std::move(config), std::move(targets), options,
                                             std::move(thresholds));
}

}  // namespace stockwatch::lambda
