#include "lambda/dashboard_api.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <tuple>
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
#include "server/router.h"
#include "server/status_http.h"
#include "server/url.h"

namespace stockwatch::lambda {

struct DashboardApi::Snapshot {
  adapters::InMemoryInventoryStore store;
};

// One request of a payload format 2.0 or 1.0 event, as the embedded server's handlers see
// one: header names lower case, format 2.0's `cookies` array joined into a `cookie` header.
struct DashboardApi::Request {
  server::HttpRequest http;  // method, target, headers, secure
  std::string path;
  std::string query;
  std::string body;       // decoded when the event's body is base64
  bool format_v2 = true;  // Set-Cookie goes in `cookies` (2.0) or `multiValueHeaders` (1.0)

  // The value of cookie `name`, "" when absent.
  std::string Cookie(std::string_view name) const {
    std::optional<std::string_view> header = http.Header("cookie");
    if (!header) return "";
    std::optional<std::string_view> value = server::CookieValue(*header, name);
    return value ? std::string(*value) : "";
  }
  // Whether the request is a browser's navigation (Accept names text/html), which gets a
  // page rather than a JSON error.
  bool AcceptsHtml() const {
    std::optional<std::string_view> accept = http.Header("accept");
    return accept && server::AsciiLower(*accept).find("text/html") != std::string::npos;
  }
};

namespace {

// The cookie holding a sign-in attempt while the browser is at the hosted UI (as the
// embedded server's, server/oidc_sign_in.h).
constexpr std::string_view kAttemptCookie = "sw_oidc";
// What each sealed cookie is for: a token sealed for one does not open as the other.
constexpr std::string_view kSessionPurpose = "stockwatch session v1";
constexpr std::string_view kAttemptPurpose = "stockwatch oidc attempt v1";
constexpr std::chrono::seconds kAttemptTtl{600};
constexpr std::string_view kCallbackPath = "/api/v1/oidc/callback";
// The dashboard pages this function serves (GET /api/v1/me, "features"; "subscriptions" is
// added when the alert topics are configured, "thresholds" with a threshold store: the admin
// page shows only its thresholds then); the web app hides the others (overview, item,
// uploads, alerts, account, admin, live events, and the embedded notifier's subscription
// options: digests, quiet hours, test messages), whose data the table and SNS do not hold.
constexpr const char* kFeatures[] = {"inventory"};
// Bounds of a JSON request body (subscriptions, thresholds).
constexpr size_t kMaxJsonBody = 64 * 1024;
constexpr size_t kMaxPolicyStores = 100;

// A write's body: a JSON object of at most kMaxJsonBody bytes.
absl::StatusOr<nlohmann::json> JsonObjectBody(std::string_view text) {
  if (text.size() > kMaxJsonBody) return server::PayloadTooLarge("the request body is over 64 KiB");
  nlohmann::json body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return absl::InvalidArgumentError("the body must be a JSON object");
  return body;
}

// The printable-ASCII start of a value a client sent, for messages.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

server::HttpResponse Json(int status, const nlohmann::json& body) {
  server::HttpResponse response = server::JsonResponse(status, body);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

server::HttpResponse Error(const absl::Status& status) {
  server::HttpResponse response = server::ErrorResponse(status);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

server::HttpResponse MethodNotAllowed(const std::string& method, std::string_view allow) {
  server::HttpResponse response = Error(server::WithHttpStatus(
      absl::InvalidArgumentError("method " + Printable(method) + " is not allowed here; use " +
                                 std::string(allow)),
      405));
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

server::HttpResponse Redirect(std::string location) {
  server::HttpResponse response;
  response.status = 302;
  response.content_type.clear();
  response.headers.emplace_back("Location", std::move(location));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

std::string SetCookie(std::string_view name, std::string_view value, std::string_view path,
                      std::chrono::seconds max_age, std::string_view same_site, bool secure) {
  return std::string(name) + "=" + std::string(value) + "; Path=" + std::string(path) +
         "; Max-Age=" + std::to_string(max_age.count()) +
         "; HttpOnly; SameSite=" + std::string(same_site) + (secure ? "; Secure" : "");
}

std::string ClearAttemptCookie(bool secure) {
  return SetCookie(kAttemptCookie, "", "/api/v1/oidc", std::chrono::seconds(0), "Lax", secure);
}

// A string member of `object`, or "" when absent or not a string.
std::string StringAt(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return "";
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> FromBase64(std::string_view text) {
  std::string out(3 * (text.size() / 4) + 3, '\0');
  if (text.size() % 4 != 0) return std::nullopt;
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t size = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

DashboardApi::Request ReadRequest(const nlohmann::json& event) {
  DashboardApi::Request request;
  std::string method;
  if (auto context = event.find("requestContext");
      context != event.end() && context->is_object() && context->contains("http")) {
    method = StringAt((*context)["http"], "method");
  }
  if (method.empty()) {
    method = StringAt(event, "httpMethod");
    request.format_v2 = method.empty() || StringAt(event, "version") == "2.0";
  }
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
  request.http.method = std::move(method);
  request.http.target = request.query.empty() ? request.path : request.path + "?" + request.query;
  // Format 2.0 lower-cases header names; 1.0 keeps the client's case.
  if (auto headers = event.find("headers"); headers != event.end() && headers->is_object()) {
    for (const auto& [name, value] : headers->items()) {
      if (!value.is_string()) continue;
      request.http.headers.emplace_back(server::AsciiLower(name), value.get<std::string>());
    }
  }
  if (auto cookies = event.find("cookies"); cookies != event.end() && cookies->is_array()) {
    std::string joined;
    for (const nlohmann::json& cookie : *cookies) {
      if (!cookie.is_string()) continue;
      if (!joined.empty()) joined += "; ";
      joined += cookie.get<std::string>();
    }
    if (!joined.empty()) request.http.headers.emplace_back("cookie", std::move(joined));
  }
  // A Function URL is HTTPS only and says so; a plain-HTTP front (a test) says "http".
  std::optional<std::string_view> proto = request.http.Header("x-forwarded-proto");
  request.http.secure = !proto || !server::EqualsIgnoreCase(*proto, "http");
  request.body = StringAt(event, "body");
  // find + is_boolean: json::value() throws on a non-boolean field.
  if (auto encoded = event.find("isBase64Encoded");
      encoded != event.end() && encoded->is_boolean() && encoded->get<bool>()) {
    request.body = FromBase64(request.body).value_or("");
  }
  return request;
}

// The Lambda answer to `request`: the security headers added, Set-Cookie moved where the
// event's format wants it, a binary (gzipped) body base64-encoded.
nlohmann::json ToLambda(server::HttpResponse response, const DashboardApi::Request& request) {
  server::AddSecurityHeaders(response, request.http.secure);
  nlohmann::json headers = nlohmann::json::object();
  nlohmann::json cookies = nlohmann::json::array();
  if (!response.content_type.empty()) headers["content-type"] = response.content_type;
  bool binary = false;
  for (auto& [name, value] : response.headers) {
    const std::string lower = server::AsciiLower(name);
    if (lower == "set-cookie") {
      cookies.push_back(std::move(value));
      continue;
    }
    if (lower == "content-encoding") binary = true;
    headers[lower] = std::move(value);
  }
  // A HEAD answer has no body but says how long the GET's would be.
  if (response.head_content_length) {
    headers["content-length"] = std::to_string(*response.head_content_length);
  }
  nlohmann::json out = {{"statusCode", response.status}, {"headers", std::move(headers)}};
  if (!cookies.empty()) {
    if (request.format_v2) {
      out["cookies"] = std::move(cookies);
    } else {
      out["multiValueHeaders"] = {{"set-cookie", std::move(cookies)}};
    }
  }
  if (binary) {
    out["body"] = Base64(response.body);
    out["isBase64Encoded"] = true;
  } else {
    out["body"] = std::move(response.body);
    out["isBase64Encoded"] = false;
  }
  return out;
}

}  // namespace

const std::vector<core::Threshold>& ThresholdCache::Get(std::chrono::steady_clock::time_point now,
                                                        absl::Status& read_error) {
  read_error = absl::OkStatus();
  if (read_at_ && now - *read_at_ < max_age_) return thresholds_;
  absl::StatusOr<std::vector<core::Threshold>> read = store_.List();
  if (!read.ok()) {
    read_error = read.status();
    return thresholds_;
  }
  thresholds_ = *std::move(read);
  read_at_ = now;
  return thresholds_;
}

DashboardApi::DashboardApi(InventorySource& source, TokenVerifier verify, core::Clock& clock,
                           DashboardApiOptions options)
    : source_(source), verify_(std::move(verify)), clock_(clock), options_(std::move(options)) {
  if (options_.browser) {
    SW_CHECK(options_.browser->provider != nullptr);
    sealer_ = std::make_unique<core::TokenSealer>(options_.browser->session_secret);
  }
  if (options_.thresholds != nullptr) {
    thresholds_.emplace(*options_.thresholds, options_.table_cache);
  }
}

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
  // The dashboard's thresholds over it (a global one set there replaces the default),
  // read at most once per table_cache, and again after a write here.
  if (thresholds_) {
    absl::Status read_error;
    const std::vector<core::Threshold>& set = thresholds_->Get(now, read_error);
    SW_RETURN_IF_ERROR(read_error);
    for (const core::Threshold& threshold : set) {
      SW_RETURN_IF_ERROR(snapshot->store.SetThreshold(threshold, threshold.value));
    }
  }
  if (!store) {
    table_ = snapshot;
    table_read_at_ = now;
  }
  return snapshot;
}

nlohmann::json DashboardApi::Handle(const nlohmann::json& event) {
  const Request request = ReadRequest(event);
  return ToLambda(Route(request), request);
}

server::HttpResponse DashboardApi::Route(const Request& request) {
  const std::string& method = request.http.method;
  const std::string& path = request.path;
  if (path == "/healthz") {
    if (method != "GET") return MethodNotAllowed(method, "GET");
    return Json(200, {{"status", "ok"}});
  }
  // The web app and the sign-in are open: they hold no data.
  if (server::IsWebRoute(path)) return server::WebAssetResponse(request.http, path);
  if (path.starts_with("/api/v1/oidc/")) return OidcRoute(request);

  // Everything else needs a signed-in user, before even saying whether the route exists.
  std::string csrf_token;
  absl::StatusOr<core::Principal> principal = Authenticate(request, &csrf_token);
  if (!principal.ok()) return Error(principal.status());
  const bool subscriptions = options_.subscriptions != nullptr &&
                             (path == "/api/v1/topics" || path == "/api/v1/subscriptions" ||
                              path.starts_with("/api/v1/subscriptions/"));
  const bool threshold_route = options_.thresholds != nullptr && path == "/api/v1/thresholds";
  const bool known = subscriptions || threshold_route || path == "/api/v1/me" ||
                     path == "/api/v1/stores" || path == "/api/v1/inventory" ||
                     path == "/api/v1/logout";
  if (!known) {
    return Error(absl::NotFoundError(
        "no route " + Printable(path) +
        " (the api function serves /api/v1/me, /api/v1/stores, "
        "/api/v1/inventory, /api/v1/logout" +
        (options_.thresholds != nullptr ? ", /api/v1/thresholds" : "") +
        (options_.subscriptions != nullptr ? ", /api/v1/topics, /api/v1/subscriptions)" : ")")));
  }
  // A session's writes need its CSRF token (a bearer token has none to check).
  if (method != "GET" && method != "HEAD" && !csrf_token.empty()) {
    std::optional<std::string_view> sent = request.http.Header("x-csrf-token");
    if (!sent || !SameSecret(*sent, csrf_token)) {
      return Error(absl::PermissionDeniedError(
          "X-CSRF-Token is missing or wrong: send the csrf_token of GET /api/v1/me"));
    }
  }
  if (path == "/api/v1/logout") {
    if (method != "POST") return MethodNotAllowed(method, "POST");
    return Logout(request);
  }
  if (subscriptions) return SubscriptionRoute(request, *principal);
  if (threshold_route) return ThresholdRoute(request, *principal);
  if (method != "GET") return MethodNotAllowed(method, "GET");

  if (path == "/api/v1/me") {
    nlohmann::json stores = nullptr;
    if (!principal->scope.all_stores) stores = principal->scope.stores;
    nlohmann::json features = nlohmann::json::array();
    for (const char* feature : kFeatures) features.push_back(feature);
    if (options_.subscriptions != nullptr) features.push_back("subscriptions");
    if (options_.thresholds != nullptr) features.push_back("thresholds");
    return Json(
        200,
        {{"user",
          {{"name", principal->name}, {"role", principal->role}, {"stores", std::move(stores)}}},
         {"csrf_token", csrf_token.empty() ? nlohmann::json() : nlohmann::json(csrf_token)},
         {"features", std::move(features)}});
  }
  absl::StatusOr<server::QueryParams> params = server::QueryParams::Parse(request.query);
  if (!params.ok()) return Error(params.status());

  if (path == "/api/v1/stores") {
    absl::StatusOr<std::shared_ptr<Snapshot>> snapshot = Read(std::nullopt);
    if (!snapshot.ok()) return Error(snapshot.status());
    absl::StatusOr<nlohmann::json> stores =
        server::StoreSummariesJson((*snapshot)->store, principal->scope);
    if (!stores.ok()) return Error(stores.status());
    // The table keeps no upload times (see the header).
    for (nlohmann::json& store : *stores) store["last_upload"] = nullptr;
    return Json(200, {{"stores", *std::move(stores)}});
  }

  absl::StatusOr<core::InventoryQuery> query = server::ParseInventoryQuery(*params);
  if (!query.ok()) return Error(query.status());
  query->scope = principal->scope;
  if (query->store && !core::ScopeCoversStore(query->scope, *query->store)) {
    return Error(absl::PermissionDeniedError(
        principal->name + " may not see the inventory of store \"" + *query->store + "\""));
  }
  absl::StatusOr<std::shared_ptr<Snapshot>> snapshot = Read(query->store);
  if (!snapshot.ok()) return Error(snapshot.status());
  absl::StatusOr<core::InventoryPage> page = (*snapshot)->store.Query(*query);
  if (!page.ok()) return Error(page.status());
  absl::StatusOr<std::vector<core::Threshold>> thresholds = (*snapshot)->store.Thresholds();
  if (!thresholds.ok()) return Error(thresholds.status());
  server::HttpResponse response;
  response.body = server::InventoryPageJson(*page, core::ThresholdTable(*thresholds));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

absl::StatusOr<core::Principal> DashboardApi::Authenticate(const Request& request,
                                                           std::string* csrf_token) {
  core::Principal principal;
  // A bearer token wins over a cookie, as in the embedded server: scripts send one.
  if (std::optional<std::string_view> header = request.http.Header("authorization")) {
    constexpr std::string_view kScheme = "bearer ";
    if (header->size() <= kScheme.size() || !server::StartsWithIgnoreCase(*header, kScheme)) {
      return absl::UnauthenticatedError(
          "sign in: send the Cognito ID token as Authorization: Bearer <token>");
    }
    SW_ASSIGN_OR_RETURN(nlohmann::json claims, verify_(header->substr(kScheme.size())));
    SW_ASSIGN_OR_RETURN(principal.name, core::OidcUserName(claims));
    SW_ASSIGN_OR_RETURN(core::MappedRole mapped, core::MapOidcRole(claims, options_.roles));
    principal.role = std::string(core::RoleName(mapped.role));
    principal.scope = std::move(mapped.scope);
    return principal;
  }
  const std::string cookie = request.Cookie(server::SessionCookieName(request.http.secure));
  if (cookie.empty() || !sealer_) {
    return absl::UnauthenticatedError(
        sealer_ ? "sign in at /api/v1/oidc/login, or send the Cognito ID token as "
                  "Authorization: Bearer <token>"
                : "sign in: send the Cognito ID token as Authorization: Bearer <token>");
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json session, sealer_->Open(kSessionPurpose, cookie, clock_.Now()));
  const auto generation = session.find("gen");
  if (generation == session.end() || !generation->is_number_integer() ||
      generation->get<int64_t>() != options_.browser->session_generation) {
    return absl::UnauthenticatedError("the session has been ended for everyone: sign in again");
  }
  // What the callback sealed: its role mapping was applied then, at sign-in.
  const std::string role = StringAt(session, "role");
  principal.name = StringAt(session, "name");
  principal.role = role;
  *csrf_token = StringAt(session, "csrf");
  const std::optional<core::Role> parsed = core::ParseRole(role);
  auto stores = session.find("stores");
  if (principal.name.empty() || !parsed || csrf_token->empty() || stores == session.end()) {
    return absl::UnauthenticatedError("the session is malformed: sign in again");
  }
  if (stores->is_array()) {
    principal.scope.all_stores = false;
    for (const nlohmann::json& store : *stores) {
      if (store.is_string()) principal.scope.stores.push_back(store.get<std::string>());
    }
  }
  if (*parsed == core::Role::kManager && principal.scope.all_stores) {
    return absl::UnauthenticatedError("the session is malformed: sign in again");
  }
  return principal;
}

std::string DashboardApi::RedirectUrl(const Request& request) const {
  if (!options_.browser->redirect_url.empty()) return options_.browser->redirect_url;
  std::string host(request.http.Header("host").value_or(""));
  return (request.http.secure ? "https://" : "http://") + host + std::string(kCallbackPath);
}

server::HttpResponse DashboardApi::OidcRoute(const Request& request) {
  const std::string_view name =
      std::string_view(request.path).substr(std::string_view("/api/v1/oidc/").size());
  absl::StatusOr<server::HttpResponse> response;
  if (name != "config" && name != "login" && name != "callback") {
    return Error(absl::NotFoundError("no route " + Printable(request.path)));
  }
  if (request.http.method != "GET") return MethodNotAllowed(request.http.method, "GET");
  if (name == "config") {
    // No password form here: the pool's hosted UI is the only sign-in.
    return Json(200, {{"enabled", sealer_ != nullptr},
                      {"login_url", "/api/v1/oidc/login"},
                      {"password_login", false}});
  }
  if (!sealer_) {
    response = absl::NotFoundError(
        "sign-in in the browser is not configured (SESSION_SECRET or SESSION_SECRET_ARN)");
  } else if (name == "login") {
    response = OidcLogin(request);
  } else {
    response = OidcCallback(request);
  }
  if (response.ok()) return *std::move(response);
  if (name == "callback" && request.AcceptsHtml()) {
    // A browser the pool sent back lands on the login page, which explains the code; the
    // detail (which check failed) goes to the log, not into a URL.
    std::fprintf(stderr, "%s\n",
                 nlohmann::json({{"level", "warn"},
                                 {"msg", "oidc sign-in failed"},
                                 {"error", std::string(response.status().message())}})
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                     .c_str());
    server::HttpResponse redirect =
        Redirect("/#/login?error=" + std::string(server::StatusToHttp(response.status()).code));
    redirect.headers.emplace_back("Set-Cookie", ClearAttemptCookie(request.http.secure));
    return redirect;
  }
  return Error(response.status());
}

absl::StatusOr<server::HttpResponse> DashboardApi::OidcLogin(const Request& request) {
  const BrowserSignInOptions& browser = *options_.browser;
  SW_ASSIGN_OR_RETURN(std::string endpoint, browser.provider->AuthorizationEndpoint());
  const core::OidcAttempt attempt = core::NewOidcAttempt();
  core::AuthorizationRequest authorization;
  authorization.endpoint = std::move(endpoint);
  authorization.client_id = browser.client_id;
  authorization.redirect_uri = RedirectUrl(request);
  authorization.scopes = browser.scopes;
  authorization.state = attempt.state;
  authorization.nonce = attempt.nonce;
  authorization.code_challenge = core::PkceChallenge(attempt.code_verifier);
  server::HttpResponse response = Redirect(core::AuthorizationUrl(authorization));
  // The attempt travels with the browser, sealed: a state seen in a URL (logs, Referer) is
  // useless without it. SameSite=Lax: the pool's redirect back is a cross-site top-level GET.
  const std::string sealed = sealer_->Seal(
      kAttemptPurpose,
      {{"state", attempt.state}, {"nonce", attempt.nonce}, {"verifier", attempt.code_verifier}},
      clock_.Now() + kAttemptTtl);
  response.headers.emplace_back("Set-Cookie", SetCookie(kAttemptCookie, sealed, "/api/v1/oidc",
                                                        kAttemptTtl, "Lax", request.http.secure));
  return response;
}

absl::StatusOr<server::HttpResponse> DashboardApi::OidcCallback(const Request& request) {
  SW_ASSIGN_OR_RETURN(server::QueryParams params, server::QueryParams::Parse(request.query));
  if (std::optional<std::string> error = params.Get("error")) {
    return absl::UnauthenticatedError("the provider refused the sign-in: " + Printable(*error));
  }
  const std::string cookie = request.Cookie(kAttemptCookie);
  if (cookie.empty()) {
    return absl::UnauthenticatedError(
        "no sign-in is waiting in this browser (it expired or was used): start again at "
        "/api/v1/oidc/login");
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json attempt, sealer_->Open(kAttemptPurpose, cookie, clock_.Now()));
  const std::optional<std::string> state = params.Get("state");
  if (!state || !SameSecret(*state, StringAt(attempt, "state"))) {
    return absl::UnauthenticatedError(
        "the sign-in state does not match this browser's: start again at /api/v1/oidc/login");
  }
  const std::optional<std::string> code = params.Get("code");
  if (!code || code->empty()) return absl::InvalidArgumentError("code is required");
  SW_ASSIGN_OR_RETURN(nlohmann::json claims, options_.browser->provider->Redeem(
                                                 *code, StringAt(attempt, "verifier"),
                                                 RedirectUrl(request), StringAt(attempt, "nonce")));
  SW_ASSIGN_OR_RETURN(std::string name, core::OidcUserName(claims));
  SW_ASSIGN_OR_RETURN(core::MappedRole mapped, core::MapOidcRole(claims, options_.roles));
  nlohmann::json stores = nullptr;
  if (!mapped.scope.all_stores) stores = mapped.scope.stores;
  const std::string sealed = sealer_->Seal(kSessionPurpose,
                                           {{"name", name},
                                            {"role", core::RoleName(mapped.role)},
                                            {"stores", std::move(stores)},
                                            {"csrf", core::RandomUrlToken()},
                                            {"gen", options_.browser->session_generation}},
                                           clock_.Now() + options_.browser->session_ttl);
  const bool secure = request.http.secure;
  server::HttpResponse response = Redirect("/");
  // SameSite=Strict: no other site can make the browser send it.
  response.headers.emplace_back("Set-Cookie",
                                SetCookie(server::SessionCookieName(secure), sealed, "/",
                                          options_.browser->session_ttl, "Strict", secure));
  response.headers.emplace_back("Set-Cookie", ClearAttemptCookie(secure));
  return response;
}

server::HttpResponse DashboardApi::Logout(const Request& request) {
  // Stateless sessions end when the browser forgets the cookie (see the header).
  server::HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  response.headers.emplace_back("Cache-Control", "no-store");
  const bool secure = request.http.secure;
  response.headers.emplace_back("Set-Cookie", SetCookie(server::SessionCookieName(secure), "", "/",
                                                        std::chrono::seconds(0), "Strict", secure));
  return response;
}

namespace {

nlohmann::json SubscriptionJson(const AlertSubscription& subscription) {
  const bool confirmed = subscription.id.starts_with("arn:");
  nlohmann::json policy = nullptr;
  if (!subscription.stores.empty()) policy = {{"store", subscription.stores}};
  if (!subscription.other_filter.empty()) {
    policy = nlohmann::json::parse(subscription.other_filter, nullptr, false);
    if (policy.is_discarded()) policy = subscription.other_filter;
  }
  nlohmann::json out = {{"id", subscription.id},
                        {"topic", subscription.topic},
                        {"protocol", subscription.protocol},
                        {"endpoint", subscription.endpoint},
                        {"status", confirmed ? "confirmed" : "pending_confirmation"},
                        {"filter_policy", std::move(policy)}};
  if (!subscription.other_filter_scope.empty()) {
    out["filter_policy_scope"] = subscription.other_filter_scope;
  }
  return out;
}

// Whether `principal` may see and change `subscription`: an admin or viewer (who may not
// change anything anyway) any; a manager those limited to stores all of which are theirs
// (never one with a filter policy the dashboard did not write).
bool InScope(const core::Principal& principal, const AlertSubscription& subscription) {
  if (principal.scope.all_stores) return true;
  if (subscription.stores.empty() || !subscription.other_filter.empty()) return false;
  for (const std::string& store : subscription.stores) {
    if (!core::ScopeCoversStore(principal.scope, store)) return false;
  }
  return true;
}

// The SNS protocol and endpoint of what the dashboard's form takes: mailto:<address>,
// https://<url> or +<E.164 number>.
absl::StatusOr<std::pair<std::string, std::string>> SnsEndpoint(const std::string& endpoint) {
  if (endpoint.starts_with("mailto:")) {
    const std::string address = endpoint.substr(7);
    const size_t at = address.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == address.size() || address.size() > 254 ||
        address.find_first_of(" ,;<>\"") != std::string::npos) {
      return absl::InvalidArgumentError("endpoint: \"" + Printable(endpoint) +
                                        "\" is not mailto:<one email address>");
    }
    return std::make_pair(std::string("email"), address);
  }
  if (endpoint.starts_with("https://")) {
    if (endpoint.size() > 2048 || endpoint.size() < 9 ||
        endpoint.find_first_of(" \t\r\n") != std::string::npos) {
      return absl::InvalidArgumentError("endpoint: not an https URL of at most 2048 characters");
    }
    return std::make_pair(std::string("https"), endpoint);
  }
  if (endpoint.starts_with("+")) {
    const std::string digits = endpoint.substr(1);
    if (digits.size() < 8 || digits.size() > 15 || digits[0] == '0' ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      return absl::InvalidArgumentError("endpoint: \"" + Printable(endpoint) +
                                        "\" is not a phone number in E.164 form (+ and 8 to 15 "
                                        "digits)");
    }
    return std::make_pair(std::string("sms"), endpoint);
  }
  return absl::InvalidArgumentError(
      "endpoint: use mailto:<address> (email), https://<url> (webhook) or +<E.164 number> "
      "(SMS)");
}

}  // namespace

server::HttpResponse DashboardApi::SubscriptionRoute(const Request& request,
                                                     const core::Principal& principal) {
  AlertSubscriptions& subscriptions = *options_.subscriptions;
  const std::string& method = request.http.method;
  const std::string& path = request.path;
  const bool may_change = principal.role != "viewer";
  if (path == "/api/v1/topics") {
    if (method != "GET") return MethodNotAllowed(method, "GET");
    return Json(200, {{"topics", subscriptions.Topics()}});
  }
  if (path == "/api/v1/subscriptions") {
    if (method == "GET") {
      absl::StatusOr<std::vector<AlertSubscription>> all = subscriptions.List();
      if (!all.ok()) return Error(all.status());
      nlohmann::json out = nlohmann::json::array();
      for (const AlertSubscription& subscription : *all) {
        if (InScope(principal, subscription)) out.push_back(SubscriptionJson(subscription));
      }
      return Json(200, {{"subscriptions", std::move(out)}});
    }
    if (method != "POST") return MethodNotAllowed(method, "GET, POST");
    if (!may_change) {
      return Error(absl::PermissionDeniedError(principal.name + " (a viewer) may not subscribe"));
    }
    absl::StatusOr<nlohmann::json> parsed = JsonObjectBody(request.body);
    if (!parsed.ok()) return Error(parsed.status());
    const nlohmann::json& body = *parsed;
    AlertSubscription subscription;
    subscription.topic = StringAt(body, "topic");
    const std::vector<std::string> topics = subscriptions.Topics();
    if (std::find(topics.begin(), topics.end(), subscription.topic) == topics.end()) {
      return Error(absl::InvalidArgumentError("topic: \"" + Printable(subscription.topic) +
                                              "\" is not one of the alert topics"));
    }
    absl::StatusOr<std::pair<std::string, std::string>> endpoint =
        SnsEndpoint(StringAt(body, "endpoint"));
    if (!endpoint.ok()) return Error(endpoint.status());
    std::tie(subscription.protocol, subscription.endpoint) = *std::move(endpoint);
    if (auto policy = body.find("filter_policy"); policy != body.end() && !policy->is_null()) {
      auto stores = policy->is_object() ? policy->find("store") : policy->end();
      if (stores == policy->end() || !stores->is_array() || stores->empty() ||
          stores->size() > kMaxPolicyStores) {
        return Error(absl::InvalidArgumentError(
            "filter_policy: must be {\"store\": [1 to 100 store names]}"));
      }
      for (const nlohmann::json& store : *stores) {
        if (!store.is_string() || store.get<std::string>().empty() ||
            store.get<std::string>().size() > 256) {
          return Error(absl::InvalidArgumentError(
              "filter_policy: each store must be a name of 1 to 256 bytes"));
        }
        subscription.stores.push_back(store.get<std::string>());
      }
    }
    if (!InScope(principal, subscription)) {
      return Error(absl::PermissionDeniedError(
          principal.name + " may subscribe only to alerts of their own stores (filter_policy)"));
    }
    absl::StatusOr<std::string> id = subscriptions.Subscribe(subscription);
    if (!id.ok()) return Error(id.status());
    subscription.id = *std::move(id);
    nlohmann::json created = SubscriptionJson(subscription);
    // SNS confirms SMS at once; an email or a URL must confirm first.
    if (subscription.protocol != "sms") created["status"] = "pending_confirmation";
    return Json(201, created);
  }
  // /api/v1/subscriptions/{id}
  if (method != "DELETE") return MethodNotAllowed(method, "DELETE");
  absl::StatusOr<std::string> id = server::PercentDecode(
      std::string_view(path).substr(std::string_view("/api/v1/subscriptions/").size()),
      server::PlusMode::kLiteral);
  if (!id.ok()) return Error(id.status());
  if (!may_change) {
    return Error(absl::PermissionDeniedError(principal.name + " (a viewer) may not unsubscribe"));
  }
  if (!id->starts_with("arn:")) {
    return Error(absl::FailedPreconditionError(
        "a subscription pending confirmation cannot be removed (SNS drops it after 3 days "
        "unconfirmed)"));
  }
  absl::StatusOr<std::vector<AlertSubscription>> all = subscriptions.List();
  if (!all.ok()) return Error(all.status());
  auto found = std::find_if(all->begin(), all->end(),
                            [&](const AlertSubscription& s) { return s.id == *id; });
  if (found == all->end() || !InScope(principal, *found)) {
    return Error(absl::NotFoundError("no subscription " + Printable(*id)));
  }
  absl::Status removed = subscriptions.Unsubscribe(*id);
  if (!removed.ok()) return Error(removed);
  server::HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

server::HttpResponse DashboardApi::ThresholdRoute(const Request& request,
                                                  const core::Principal& principal) {
  ThresholdStore& store = *options_.thresholds;
  const std::string& method = request.http.method;
  if (method == "GET") {
    absl::StatusOr<std::vector<core::Threshold>> all = store.List();
    if (!all.ok()) return Error(all.status());
    // A manager sees its stores' thresholds and the global ones, which apply to them too.
    std::erase_if(*all, [&](const core::Threshold& threshold) {
      return threshold.store && !core::ScopeCoversStore(principal.scope, *threshold.store);
    });
    server::HttpResponse response = Json(200, server::ThresholdsJson(*all));
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  }
  if (method != "PUT") return MethodNotAllowed(method, "GET, PUT");
  if (principal.role == "viewer") {
    return Error(
        absl::PermissionDeniedError(principal.name + " (a viewer) may not set thresholds"));
  }
  absl::StatusOr<nlohmann::json> body = JsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  absl::StatusOr<server::ThresholdChange> change = server::ParseThresholdChange(*body, principal);
  if (!change.ok()) return Error(change.status());
  absl::Status set = store.Set(change->scope, change->value);
  if (!set.ok()) return Error(set);
  table_.reset();  // the next read shows it
  thresholds_->Invalidate();
  server::HttpResponse response = Json(200, server::ThresholdChangeJson(*change));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

}  // namespace stockwatch::lambda
