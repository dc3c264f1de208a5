// Accounts on the HTTP API: login and session cookies, CSRF and Origin checks, bearer tokens
// owned by users, the users admin routes, and the role matrix (docs/API.md, "Accounts and
// roles") applied to every /api/v1 route.

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/auth/session_secrets.h"
#include "core/model/account.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/status_http.h"

namespace stockwatch::server {
namespace {

// Longest personal token name, in bytes.
constexpr size_t kMaxTokenNameBytes = 100;
// The one answer for an unknown user, a wrong password and a disabled account.
constexpr char kWrongLogin[] = "wrong user name or password";

// The token of an `Authorization: Bearer <token>` field; empty if another scheme.
std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return {};
  }
  return TrimAsciiWhitespace(authorization.substr(kScheme.size()));
}

bool IsReadMethod(std::string_view method) { return method == "GET" || method == "HEAD"; }

bool InScope(const core::ObjectScope& scope, std::string_view store) {
  return scope.all_stores || std::binary_search(scope.stores.begin(), scope.stores.end(), store);
}

HttpResponse NoContent() {
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

// {"name","role","stores":[..]|null}: what a client needs to know about who it is.
nlohmann::json PrincipalUserJson(const core::Principal& principal) {
  nlohmann::json stores = nullptr;
  if (!principal.scope.all_stores) stores = principal.scope.stores;
  return {{"name", principal.name}, {"role", principal.role}, {"stores", std::move(stores)}};
}

// A user as the users routes list it; never the password hash.
nlohmann::json UserJson(const core::User& user) {
  nlohmann::json stores = nullptr;
  if (!user.scope.all_stores) stores = user.scope.stores;
  return {{"id", user.id},
          {"name", user.name},
          {"role", core::RoleName(user.role)},
          {"stores", std::move(stores)},
          {"disabled", user.disabled},
          {"created_at", core::FormatTime(user.created_at)}};
}

nlohmann::json TokenJson(const core::TokenInfo& token, std::string_view owner) {
  nlohmann::json user = nullptr;
  if (!owner.empty()) user = owner;
  return {{"id", token.id},
          {"name", token.name},
          {"user", std::move(user)},
          {"created_at", core::FormatTime(token.created_at)}};
}

// A principal acting as `user`.
core::Principal PrincipalFor(const core::User& user) {
  core::Principal principal;
  principal.name = user.name;
  principal.role = std::string(core::RoleName(user.role));
  principal.scope = user.scope;
  principal.user_id = user.id;
  return principal;
}

// A new personal API token: 32 random bytes, hex, with the prefix secret scanners look for
// (the first-start admin token has the same shape).
std::string NewApiToken() {
  unsigned char bytes[32];
  SW_CHECK(RAND_bytes(bytes, sizeof bytes) == 1);
  std::string token = "sw_";
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : bytes) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 0xf]);
  }
  return token;
}

// A required string member of a JSON body.
absl::StatusOr<std::string> RequiredString(const nlohmann::json& body, std::string_view name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return absl::InvalidArgumentError(fmt::format("{} is required: a string", name));
  }
  return it->get<std::string>();
}

// The "stores" member of a users request: absent or null -> all stores; else a non-empty
// array of store names.
absl::StatusOr<core::ObjectScope> StoresMember(const nlohmann::json& body) {
  core::ObjectScope scope;
  auto it = body.find("stores");
  if (it == body.end() || it->is_null()) return scope;
  if (!it->is_array()) {
    return absl::InvalidArgumentError("stores must be an array of store names, or null");
  }
  scope.all_stores = false;
  for (const nlohmann::json& store : *it) {
    if (!store.is_string()) {
      return absl::InvalidArgumentError("stores must be an array of store names, or null");
    }
    scope.stores.push_back(store.get<std::string>());
  }
  return scope;
}

absl::StatusOr<core::Role> RoleMember(const nlohmann::json& value) {
  std::optional<core::Role> role;
  if (value.is_string()) role = core::ParseRole(value.get<std::string>());
  if (!role) return absl::InvalidArgumentError("role must be admin, manager or viewer");
  return *role;
}

// Whether the enabled admins other than `name` include at least one.
absl::StatusOr<bool> AnotherEnabledAdmin(core::UserStore& users, std::string_view name) {
  SW_ASSIGN_OR_RETURN(std::vector<core::User> all, users.ListUsers());
  for (const core::User& user : all) {
    if (user.role == core::Role::kAdmin && !user.disabled && !EqualsIgnoreCase(user.name, name)) {
      return true;
    }
  }
  return false;
}

absl::Status LastAdmin(std::string_view what) {
  return absl::FailedPreconditionError(
      fmt::format("cannot {} the last enabled admin: make another admin first", what));
}

}  // namespace

std::string_view SessionCookieName(bool tls) { return tls ? "__Host-sw_session" : "sw_session"; }

std::optional<std::string_view> CookieValue(std::string_view cookie_header, std::string_view name) {
  while (!cookie_header.empty()) {
    const size_t end = cookie_header.find(';');
    std::string_view pair = TrimAsciiWhitespace(cookie_header.substr(0, end));
    cookie_header =
        end == std::string_view::npos ? std::string_view() : cookie_header.substr(end + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (TrimAsciiWhitespace(pair.substr(0, eq)) == name) {
      return TrimAsciiWhitespace(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

bool SameOrigin(std::string_view origin, std::string_view host, std::string_view public_url) {
  if (!host.empty() &&
      (origin == fmt::format("http://{}", host) || origin == fmt::format("https://{}", host))) {
    return true;
  }
  // The scheme and authority of the public URL: what a browser sends as Origin for it.
  const size_t scheme_end = public_url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const size_t path = public_url.find('/', scheme_end + 3);
  return EqualsIgnoreCase(origin, public_url.substr(0, path));
}

std::string ThrottleAddressKey(std::string_view address) {
  unsigned char bytes[16];
  const std::string text(address);
  if (text.find(':') == std::string::npos || inet_pton(AF_INET6, text.c_str(), bytes) != 1) {
    return text;
  }
  // An IPv4-mapped address is its IPv4 address; any other IPv6 address counts by its /64,
  // which one subscriber usually holds whole.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, bytes)) {
    return fmt::format("{}.{}.{}.{}", bytes[12], bytes[13], bytes[14], bytes[15]);
  }
  std::fill(bytes + 8, bytes + 16, 0);
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, bytes, out, sizeof out) == nullptr) return text;
  return std::string(out) + "/64";
}

bool PolicyWithinScope(std::string_view filter_policy, const core::ObjectScope& scope) {
  if (scope.all_stores) return true;
  nlohmann::json policy = nlohmann::json::parse(filter_policy, nullptr, /*allow_exceptions=*/false);
  if (!policy.is_object()) return false;
  auto stores = policy.find("store");
  if (stores == policy.end() || !stores->is_array() || stores->empty()) return false;
  for (const nlohmann::json& store : *stores) {
    if (!store.is_string() || !InScope(scope, store.get<std::string>())) return false;
  }
  return true;
}

std::string ApiRouter::ClearedSessionCookie(bool secure) const {
  return fmt::format("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
                     SessionCookieName(secure), secure ? "; Secure" : "");
}

// Authentication.

absl::StatusOr<core::Principal> ApiRouter::Authenticate(const HttpRequest& request) {
  // A bearer token wins over a cookie: scripts send one, and need no CSRF token.
  if (std::optional<std::string_view> authorization = request.Header("authorization")) {
    return AuthenticateBearer(*authorization);
  }
  if (std::optional<std::string_view> cookies = request.Header("cookie")) {
    if (std::optional<std::string_view> id =
            CookieValue(*cookies, SessionCookieName(Secure(request)));
        id && !id->empty()) {
      return AuthenticateSession(request, *id);
    }
  }
  return absl::UnauthenticatedError(
      "not logged in: log in (POST /api/v1/login) or send Authorization: Bearer <token>");
}

absl::StatusOr<core::Principal> ApiRouter::AuthenticateBearer(std::string_view authorization) {
  std::string_view token = BearerToken(authorization);
  if (token.empty()) {
    return absl::UnauthenticatedError("authorization must use the Bearer scheme");
  }
  absl::StatusOr<core::Principal> principal = services_.credentials.Authenticate(token);
  if (!principal.ok()) {
    // The store's message might describe the token; say only that it was refused.
    if (absl::IsUnauthenticated(principal.status())) {
      return absl::UnauthenticatedError("invalid bearer token");
    }
    return principal.status();
  }
  if (principal->user_id == 0) {
    // A token without an owner (made before accounts existed) keeps the role it was made with,
    // over all stores.
    return principal;
  }
  // A user's token acts as its user, as the user is now: a changed role applies at once, and a
  // disabled or deleted user's tokens stop working.
  absl::StatusOr<core::User> user = services_.users.GetUserById(principal->user_id);
  if (!user.ok()) {
    if (absl::IsNotFound(user.status())) return absl::UnauthenticatedError("invalid bearer token");
    return user.status();
  }
  if (user->disabled) return absl::UnauthenticatedError("invalid bearer token");
  core::Principal acting = PrincipalFor(*user);
  acting.token_id = principal->token_id;
  return acting;
}

absl::StatusOr<core::Principal> ApiRouter::AuthenticateSession(const HttpRequest& request,
                                                               std::string_view session_id) {
  const std::string id_hash = core::HashSessionId(session_id);
  absl::StatusOr<core::SessionUser> session = services_.users.Touch(id_hash, services_.clock.Now());
  if (!session.ok()) {
    if (absl::IsUnauthenticated(session.status())) {
      return absl::UnauthenticatedError("the session has ended: log in again");
    }
    return session.status();
  }
  // A state change with the cookie must prove it comes from our own pages: the CSRF token
  // they got at login (a cross-site form cannot read it) and, when the browser says where the
  // request comes from, our own origin.
  if (!IsReadMethod(request.method)) {
    std::optional<std::string_view> csrf = request.Header("x-csrf-token");
    if (!csrf || csrf->empty()) {
      return absl::PermissionDeniedError(
          "missing X-CSRF-Token: a state change with the session cookie needs the csrf_token "
          "from login or GET /api/v1/me");
    }
    const std::string& expected = session->session.csrf_token;
    if (csrf->size() != expected.size() ||
        CRYPTO_memcmp(csrf->data(), expected.data(), expected.size()) != 0) {
      return absl::PermissionDeniedError("X-CSRF-Token does not match this session");
    }
    if (std::optional<std::string_view> origin = request.Header("origin")) {
      const std::string public_url = options_.links.base_url ? options_.links.base_url() : "";
      if (!SameOrigin(*origin, request.Header("host").value_or(""), public_url)) {
        return absl::PermissionDeniedError(fmt::format(
            "cross-origin request refused: Origin {} is not this server", origin->substr(0, 200)));
      }
    }
  }
  core::Principal principal = PrincipalFor(session->user);
  principal.session_id_hash = id_hash;
  principal.csrf_token = session->session.csrf_token;
  return principal;
}

// Authorization.

absl::Status ApiRouter::Authorize(std::string_view method,
                                  std::span<const std::string_view> segments,
                                  const core::Principal& principal) {
  if (principal.role == "admin") return absl::OkStatus();
  if (segments.size() == 1 && segments[0] == "metrics") {
    return RequireAdmin(principal, "read the metrics");
  }
  if (segments.size() < 3 || segments[0] != "api" || segments[1] != "v1") {
    return absl::OkStatus();  // no such route: 404 follows
  }
  const std::string_view collection = segments[2];
  // Every account manages its own session, password and tokens.
  if (collection == "me" || collection == "logout" || collection == "tokens") {
    return absl::OkStatus();
  }
  if (collection == "users") return RequireAdmin(principal, "manage users");
  if (collection == "keys") return RequireAdmin(principal, "manage S3 access keys");
  if (collection == "sms") return RequireAdmin(principal, "manage SMS opt-outs");
  if (collection == "settings") return RequireAdmin(principal, "read the settings");
  if (IsReadMethod(method)) return absl::OkStatus();
  // Previewing a template renders it and changes nothing: any role.
  if (collection == "templates" && method == "POST" && segments.size() == 4 &&
      segments[3] == "preview") {
    return absl::OkStatus();
  }
  if (collection == "deliveries") return RequireAdmin(principal, "redrive deliveries");
  if (collection == "topics") return RequireAdmin(principal, "change topics");
  if (collection == "templates") return RequireAdmin(principal, "change message templates");
  if (collection == "subscriptions" && method == "PATCH") {
    return RequireAdmin(principal, "change subscriptions");
  }
  if (principal.role != "manager") {
    return absl::PermissionDeniedError(
        fmt::format("a {} may only read", principal.role.empty() ? "viewer" : principal.role));
  }
  // What a manager may change: within its stores (CheckStoreScope and the handlers).
  if (collection == "uploads" && method == "PUT") return absl::OkStatus();
  if (collection == "thresholds" && method == "PUT") return absl::OkStatus();
  if (collection == "subscriptions" && (method == "POST" || method == "DELETE")) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(fmt::format("a manager may not {} this", method));
}

absl::Status ApiRouter::CheckStoreScope(std::string_view method,
                                        std::span<const std::string_view> segments,
                                        const core::Principal& principal) {
  if (principal.scope.all_stores || segments.size() < 4) return absl::OkStatus();
  const std::string_view collection = segments[2];
  std::span<const std::string_view> rest = segments.subspan(2);
  if (collection == "inventory" && rest.size() == 3) {
    absl::StatusOr<std::string> store = PercentDecode(rest[1], PlusMode::kLiteral);
    if (store.ok() && !InScope(principal.scope, *store)) {
      return absl::PermissionDeniedError(
          fmt::format("store \"{}\" is outside your stores", store->substr(0, 256)));
    }
  } else if (collection == "uploads" && rest.size() >= 2 && IsReadMethod(method)) {
    absl::StatusOr<int64_t> id =
        ParseInteger("upload id", rest[1], 1, std::numeric_limits<int64_t>::max());
    if (!id.ok()) return absl::OkStatus();  // the handler says what is wrong
    absl::StatusOr<core::ObjectCreatedEvent> event = services_.objects.GetEvent(*id);
    if (event.ok() && !principal.scope.Covers(event->object.scope)) {
      return absl::PermissionDeniedError(
          fmt::format("upload {} is not one of your stores' uploads", *id));
    }
  } else if (collection == "subscriptions" &&
             ((rest.size() == 2 && method == "DELETE") ||
              (rest.size() == 3 && rest[2] == "test" && method == "POST"))) {
    absl::StatusOr<int64_t> id =
        ParseInteger("subscription id", rest[1], 1, std::numeric_limits<int64_t>::max());
    if (!id.ok()) return absl::OkStatus();
    SW_ASSIGN_OR_RETURN(std::vector<core::Subscription> subscriptions,
                        services_.notifier.Subscriptions());
    for (const core::Subscription& subscription : subscriptions) {
      if (subscription.id == *id &&
          !PolicyWithinScope(subscription.filter_policy, principal.scope)) {
        return absl::PermissionDeniedError(
            fmt::format("subscription {} is not limited to your stores", *id));
      }
    }
  } else if (collection == "deliveries" && rest.size() == 2 && IsReadMethod(method)) {
    absl::StatusOr<int64_t> id =
        ParseInteger("delivery id", rest[1], 1, std::numeric_limits<int64_t>::max());
    if (!id.ok()) return absl::OkStatus();
    absl::StatusOr<core::Delivery> delivery = services_.notifier.GetDelivery(*id);
    // A test message has no store: it is about its subscription, which may be the manager's.
    if (delivery.ok() && !InScope(principal.scope, delivery->message.store) &&
        !(delivery->message.kind == core::MessageKind::kTest &&
          PolicyWithinScope(delivery->subscription.filter_policy, principal.scope))) {
      return absl::PermissionDeniedError(fmt::format("delivery {} is not about your stores", *id));
    }
  }
  return absl::OkStatus();
}

absl::Status ApiRouter::FilterForScope(std::span<const std::string_view> segments,
                                       const core::Principal& principal, HttpResponse& response) {
  if (principal.scope.all_stores || response.status != 200 || response.body.empty() ||
      segments.size() != 3 || segments[0] != "api" || segments[1] != "v1") {
    return absl::OkStatus();
  }
  const std::string_view collection = segments[2];
  // The member holding the list, and whether an entry may be shown.
  std::string member;
  std::function<absl::StatusOr<bool>(const nlohmann::json&)> keep;
  const auto store_in_scope = [&](const nlohmann::json& entry) -> absl::StatusOr<bool> {
    auto store = entry.find("store");
    return store != entry.end() && store->is_string() &&
           InScope(principal.scope, store->get<std::string>());
  };
  if (collection == "inventory") {
    member = "items";
    keep = store_in_scope;
  } else if (collection == "stores" || collection == "changes" || collection == "alerts") {
    member = std::string(collection);
    keep = store_in_scope;
  } else if (collection == "deliveries") {
    member = "deliveries";
    // A test message has no store: shown when its subscription is within the scope.
    std::optional<std::set<int64_t>> own;
    keep = [&, own](const nlohmann::json& entry) mutable -> absl::StatusOr<bool> {
      SW_ASSIGN_OR_RETURN(bool in_scope, store_in_scope(entry));
      if (in_scope || entry.value("kind", "") != "test") return in_scope;
      if (!own) {
        SW_ASSIGN_OR_RETURN(std::vector<core::Subscription> subscriptions,
                            services_.notifier.Subscriptions());
        own.emplace();
        for (const core::Subscription& subscription : subscriptions) {
          if (PolicyWithinScope(subscription.filter_policy, principal.scope)) {
            own->insert(subscription.id);
          }
        }
      }
      auto id = entry.find("subscription_id");
      return id != entry.end() && id->is_number_integer() && own->contains(id->get<int64_t>());
    };
  } else if (collection == "thresholds") {
    // The global thresholds apply to its stores too: shown, not changeable.
    member = "thresholds";
    keep = [&](const nlohmann::json& entry) -> absl::StatusOr<bool> {
      auto store = entry.find("store");
      if (store == entry.end() || store->is_null()) return true;
      return store->is_string() && InScope(principal.scope, store->get<std::string>());
    };
  } else if (collection == "subscriptions") {
    member = "subscriptions";
    keep = [&](const nlohmann::json& entry) -> absl::StatusOr<bool> {
      auto policy = entry.find("filter_policy");
      if (policy == entry.end() || policy->is_null()) return false;
      return PolicyWithinScope(policy->is_string() ? policy->get<std::string>() : policy->dump(),
                               principal.scope);
    };
  } else if (collection == "uploads") {
    member = "uploads";
    keep = [&](const nlohmann::json& entry) -> absl::StatusOr<bool> {
      auto id = entry.find("id");
      if (id == entry.end() || !id->is_number_integer()) return false;
      absl::StatusOr<core::ObjectCreatedEvent> event =
          services_.objects.GetEvent(id->get<int64_t>());
      if (!event.ok()) {
        if (absl::IsNotFound(event.status())) return false;
        return event.status();
      }
      return principal.scope.Covers(event->object.scope);
    };
  } else {
    return absl::OkStatus();
  }
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return absl::OkStatus();
  auto list = body.find(member);
  if (list == body.end() || !list->is_array()) return absl::OkStatus();
  nlohmann::json kept = nlohmann::json::array();
  for (nlohmann::json& entry : *list) {
    SW_ASSIGN_OR_RETURN(bool shown, keep(entry));
    if (shown) kept.push_back(std::move(entry));
  }
  *list = std::move(kept);
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> ApiRouter::Route(HttpRequest& request,
                                              const core::Principal& principal) {
  TargetParts target = SplitTarget(request.target);
  std::vector<std::string_view> segments = PathSegments(target.path);
  const std::string& method = request.method;
  SW_RETURN_IF_ERROR(Authorize(method, segments, principal));
  if (segments.size() >= 3 && segments[0] == "api" && segments[1] == "v1") {
    std::span<const std::string_view> rest(segments.begin() + 2, segments.end());
    const std::string_view collection = rest[0];
    const auto not_allowed = [&](std::string_view allow) -> absl::StatusOr<HttpResponse> {
      return WithHttpStatus(absl::UnimplementedError(fmt::format(
                                "method {} is not allowed here; use {}", method, allow)),
                            405);
    };
    if (collection == "logout" && rest.size() == 1) {
      if (method != "POST") return not_allowed("POST");
      return Logout(principal, Secure(request));
    }
    if (collection == "me" && rest.size() == 1) {
      if (!IsReadMethod(method)) return not_allowed("GET");
      return GetMe(principal);
    }
    if (collection == "me" && rest.size() == 2 && rest[1] == "password") {
      if (method != "POST") return not_allowed("POST");
      // Throttled as a login is, and answered as one: 429 with Retry-After.
      int64_t retry_after = 0;
      absl::StatusOr<HttpResponse> changed = ChangePassword(request, principal, retry_after);
      if (!changed.ok() && retry_after > 0) {
        HttpResponse error = ErrorResponse(changed.status());
        error.headers.emplace_back("Retry-After", std::to_string(retry_after));
        return error;
      }
      return changed;
    }
    if (collection == "tokens" && rest.size() == 1) {
      if (IsReadMethod(method)) return ListTokens(principal);
      if (method == "POST") return CreateToken(request, principal);
      return not_allowed("GET, POST");
    }
    if (collection == "tokens" && rest.size() == 2) {
      if (method != "DELETE") return not_allowed("DELETE");
      return DeleteToken(rest[1], principal);
    }
    if (collection == "users" && rest.size() == 1) {
      if (IsReadMethod(method)) return ListUsers();
      if (method == "POST") return CreateUser(request);
      return not_allowed("GET, POST");
    }
    if (collection == "users" && rest.size() == 2) {
      if (method == "PATCH") return UpdateUser(rest[1], request);
      if (method == "DELETE") return DeleteUser(rest[1]);
      return not_allowed("PATCH, DELETE");
    }
    if (collection == "inventory" && rest.size() == 1 && !principal.scope.all_stores) {
      SW_ASSIGN_OR_RETURN(QueryParams query, QueryParams::Parse(target.query));
      if (std::optional<std::string> store = query.Get("store");
          store && !InScope(principal.scope, *store)) {
        return absl::PermissionDeniedError(
            fmt::format("store \"{}\" is outside your stores", store->substr(0, 256)));
      }
    }
  }
  SW_RETURN_IF_ERROR(CheckStoreScope(method, segments, principal));
  SW_ASSIGN_OR_RETURN(HttpResponse response, RouteApi(request, principal));
  SW_RETURN_IF_ERROR(FilterForScope(segments, principal, response));
  return response;
}

// Sessions.

HttpResponse ApiRouter::Login(HttpRequest& request) {
  int64_t retry_after = 0;
  absl::StatusOr<HttpResponse> response = LoginOrError(request, retry_after);
  if (!response.ok()) {
    HttpResponse error = ErrorResponse(response.status());
    if (retry_after > 0) error.headers.emplace_back("Retry-After", std::to_string(retry_after));
    error.headers.emplace_back("Cache-Control", "no-store");
    return error;
  }
  return *std::move(response);
}

absl::StatusOr<HttpResponse> ApiRouter::LoginOrError(HttpRequest& request, int64_t& retry_after) {
  if (request.method != "POST") {
    return WithHttpStatus(absl::UnimplementedError(fmt::format(
                              "method {} is not allowed here; use POST", request.method)),
                          405);
  }
  // A login form posted from another site would log the victim into the attacker's account.
  if (std::optional<std::string_view> origin = request.Header("origin")) {
    const std::string public_url = options_.links.base_url ? options_.links.base_url() : "";
    if (!SameOrigin(*origin, request.Header("host").value_or(""), public_url)) {
      return absl::PermissionDeniedError(fmt::format(
          "cross-origin request refused: Origin {} is not this server", origin->substr(0, 200)));
    }
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  SW_ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
  SW_ASSIGN_OR_RETURN(std::string password, RequiredString(body, "password"));
  if (services_.passwords == nullptr) {
    return absl::UnavailableError("logins are not available on this server");
  }
  const std::string account = AsciiLower(name);
  const std::string address = ThrottleAddressKey(request.client_address);
  if (services_.login_throttle != nullptr) {
    core::LoginThrottle::Decision decision = services_.login_throttle->Check(account, address);
    if (!decision.allowed) {
      retry_after = std::max<int64_t>(1, decision.retry_after.count());
      return absl::ResourceExhaustedError(
          fmt::format("too many failed logins: try again in {} seconds", retry_after));
    }
  }
  absl::StatusOr<core::User> user = services_.users.GetUser(name);
  if (!user.ok() && !absl::IsNotFound(user.status())) return user.status();
  // The same work and the same answer whether the account is unknown, disabled or the
  // password wrong, so the answer says nothing about which accounts exist.
  bool verified = false;
  if (user.ok() && !user->password_hash.empty()) {
    verified = services_.passwords->Verify(password, user->password_hash) && !user->disabled;
  } else {
    services_.passwords->DummyVerify(password);
  }
  if (!verified) {
    if (services_.login_throttle != nullptr) {
      services_.login_throttle->RecordFailure(account, address);
    }
    return absl::UnauthenticatedError(kWrongLogin);
  }
  if (services_.login_throttle != nullptr) services_.login_throttle->RecordSuccess(account);
  if (services_.passwords->NeedsRehash(user->password_hash)) {
    // Hashes made with older parameters are upgraded while the password is at hand.
    if (absl::StatusOr<std::string> rehashed = services_.passwords->Hash(password); rehashed.ok()) {
      services_.users.SetPassword(user->name, *rehashed).IgnoreError();
    }
  }
  // A new session id at every login (no fixation); the session the browser had ends.
  if (std::optional<std::string_view> cookies = request.Header("cookie")) {
    if (std::optional<std::string_view> old_id =
            CookieValue(*cookies, SessionCookieName(Secure(request)));
        old_id && !old_id->empty()) {
      services_.users.DeleteSession(core::HashSessionId(*old_id)).IgnoreError();
    }
  }
  const core::SessionSecrets secrets = core::NewSessionSecrets();
  SW_ASSIGN_OR_RETURN(core::Session session,
                      services_.users.CreateSession(user->name, secrets.id_hash, secrets.csrf_token,
                                                    services_.clock.Now()));
  HttpResponse response = JsonResponse(
      200, {{"user", PrincipalUserJson(PrincipalFor(*user))}, {"csrf_token", session.csrf_token}});
  response.headers.emplace_back(
      "Set-Cookie",
      fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict{}", SessionCookieName(Secure(request)),
                  secrets.id, Secure(request) ? "; Secure" : ""));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::Logout(const core::Principal& principal, bool secure) {
  if (!principal.session_id_hash.empty()) {
    SW_RETURN_IF_ERROR(services_.users.DeleteSession(principal.session_id_hash));
  }
  HttpResponse response = NoContent();
  response.headers.emplace_back("Set-Cookie", ClearedSessionCookie(secure));
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::GetMe(const core::Principal& principal) {
  nlohmann::json csrf = nullptr;
  if (!principal.csrf_token.empty()) csrf = principal.csrf_token;
  HttpResponse response =
      JsonResponse(200, {{"user", PrincipalUserJson(principal)}, {"csrf_token", std::move(csrf)}});
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::ChangePassword(HttpRequest& request,
                                                       const core::Principal& principal,
                                                       int64_t& retry_after) {
  if (principal.user_id == 0) {
    return absl::FailedPreconditionError("this token belongs to no user, so it has no password");
  }
  if (services_.passwords == nullptr) {
    return absl::UnavailableError("password changes are not available on this server");
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  SW_ASSIGN_OR_RETURN(std::string current, RequiredString(body, "current_password"));
  SW_ASSIGN_OR_RETURN(std::string next, RequiredString(body, "new_password"));
  SW_ASSIGN_OR_RETURN(core::User user, services_.users.GetUserById(principal.user_id));
  // Guessing the current password through this route is throttled as logins are.
  const std::string account = AsciiLower(user.name);
  const std::string address = ThrottleAddressKey(request.client_address);
  if (services_.login_throttle != nullptr) {
    core::LoginThrottle::Decision decision = services_.login_throttle->Check(account, address);
    if (!decision.allowed) {
      retry_after = std::max<int64_t>(1, decision.retry_after.count());
      return absl::ResourceExhaustedError(
          fmt::format("too many wrong passwords: try again in {} seconds", retry_after));
    }
  }
  if (!services_.passwords->Verify(current, user.password_hash)) {
    if (services_.login_throttle != nullptr) {
      services_.login_throttle->RecordFailure(account, address);
    }
    return absl::PermissionDeniedError("current_password is wrong");
  }
  if (absl::Status rules = core::CheckPasswordRules(next); !rules.ok()) {
    return absl::InvalidArgumentError(fmt::format("new_password: {}", ToStd(rules.message())));
  }
  SW_ASSIGN_OR_RETURN(std::string hash, services_.passwords->Hash(next));
  SW_RETURN_IF_ERROR(services_.users.SetPassword(user.name, hash));
  // Whoever knew the old password is logged out everywhere but here.
  SW_RETURN_IF_ERROR(
      services_.users.DeleteSessionsOf(user.name, principal.session_id_hash).status());
  return NoContent();
}

// Personal API tokens.

absl::StatusOr<HttpResponse> ApiRouter::ListTokens(const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(std::vector<core::TokenInfo> tokens, services_.credentials.Tokens());
  SW_ASSIGN_OR_RETURN(std::vector<core::User> users, services_.users.ListUsers());
  const bool all = principal.role == "admin";
  nlohmann::json list = nlohmann::json::array();
  for (const core::TokenInfo& token : tokens) {
    if (!all && token.user_id != principal.user_id) continue;
    std::string owner;
    for (const core::User& user : users) {
      if (user.id == token.user_id) owner = user.name;
    }
    list.push_back(TokenJson(token, owner));
  }
  return JsonResponse(200, {{"tokens", std::move(list)}});
}

absl::StatusOr<HttpResponse> ApiRouter::CreateToken(HttpRequest& request,
                                                    const core::Principal& principal) {
  if (principal.user_id == 0) {
    return absl::FailedPreconditionError("this token belongs to no user, so it cannot make tokens");
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  SW_ASSIGN_OR_RETURN(std::string name, RequiredString(body, "name"));
  if (name.empty() || name.size() > kMaxTokenNameBytes ||
      std::any_of(name.begin(), name.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return absl::InvalidArgumentError(
        fmt::format("name must be 1..{} bytes without control characters", kMaxTokenNameBytes));
  }
  const std::string token = NewApiToken();
  SW_ASSIGN_OR_RETURN(
      core::TokenInfo info,
      services_.credentials.AddUserToken(principal.user_id, name, token, services_.clock.Now()));
  nlohmann::json json = TokenJson(info, principal.name);
  json["token"] = token;
  HttpResponse response = JsonResponse(201, json);
  response.headers.emplace_back("Location", fmt::format("/api/v1/tokens/{}", info.id));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::DeleteToken(std::string_view raw_id,
                                                    const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(int64_t id,
                      ParseInteger("token id", raw_id, 1, std::numeric_limits<int64_t>::max()));
  SW_ASSIGN_OR_RETURN(std::vector<core::TokenInfo> tokens, services_.credentials.Tokens());
  auto it = std::find_if(tokens.begin(), tokens.end(),
                         [&](const core::TokenInfo& token) { return token.id == id; });
  // Another user's token is as unknown to a non-admin as a missing one.
  if (it == tokens.end() || (principal.role != "admin" && it->user_id != principal.user_id)) {
    return absl::NotFoundError(fmt::format("no token {}", id));
  }
  SW_RETURN_IF_ERROR(services_.credentials.DeleteToken(id));
  return NoContent();
}

// Users (admin only: Authorize).

absl::StatusOr<HttpResponse> ApiRouter::ListUsers() {
  SW_ASSIGN_OR_RETURN(std::vector<core::User> users, services_.users.ListUsers());
  nlohmann::json list = nlohmann::json::array();
  for (const core::User& user : users) list.push_back(UserJson(user));
  return JsonResponse(200, {{"users", std::move(list)}});
}

absl::StatusOr<HttpResponse> ApiRouter::CreateUser(HttpRequest& request) {
  if (services_.passwords == nullptr) {
    return absl::UnavailableError("passwords are not available on this server");
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  core::User user;
  SW_ASSIGN_OR_RETURN(user.name, RequiredString(body, "name"));
  SW_RETURN_IF_ERROR(core::CheckUserName(user.name));
  auto role = body.find("role");
  if (role == body.end()) return absl::InvalidArgumentError("role is required");
  SW_ASSIGN_OR_RETURN(user.role, RoleMember(*role));
  SW_ASSIGN_OR_RETURN(user.scope, StoresMember(body));
  SW_ASSIGN_OR_RETURN(std::string password, RequiredString(body, "password"));
  if (absl::Status rules = core::CheckPasswordRules(password); !rules.ok()) {
    return absl::InvalidArgumentError(fmt::format("password: {}", ToStd(rules.message())));
  }
  SW_ASSIGN_OR_RETURN(user.scope, core::CanonicalScopeForRole(user.role, user.scope));
  SW_ASSIGN_OR_RETURN(user.password_hash, services_.passwords->Hash(password));
  user.created_at = services_.clock.Now();
  SW_ASSIGN_OR_RETURN(core::User created, services_.users.AddUser(user));
  HttpResponse response = JsonResponse(201, UserJson(created));
  response.headers.emplace_back("Location", fmt::format("/api/v1/users/{}", created.name));
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::UpdateUser(std::string_view raw_name,
                                                   HttpRequest& request) {
  SW_ASSIGN_OR_RETURN(std::string name, PercentDecode(raw_name, PlusMode::kLiteral));
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  for (const auto& member : body.items()) {
    if (member.key() != "role" && member.key() != "stores" && member.key() != "disabled" &&
        member.key() != "password") {
      return absl::InvalidArgumentError(
          fmt::format("{} cannot be changed: give role, stores, disabled or password",
                      member.key().substr(0, 64)));
    }
  }
  if (body.empty()) {
    return absl::InvalidArgumentError("nothing to change: give role, stores, disabled or password");
  }
  SW_ASSIGN_OR_RETURN(core::User user, services_.users.GetUser(name));
  // Everything is checked before anything changes.
  core::Role role = user.role;
  core::ObjectScope scope = user.scope;
  if (auto it = body.find("role"); it != body.end()) {
    SW_ASSIGN_OR_RETURN(role, RoleMember(*it));
  }
  if (body.contains("stores")) {
    SW_ASSIGN_OR_RETURN(scope, StoresMember(body));
  } else if (role != user.role) {
    // A new role without stores: all stores, which a manager cannot have (refused below).
    scope = core::ObjectScope{};
  }
  SW_ASSIGN_OR_RETURN(scope, core::CanonicalScopeForRole(role, scope));
  std::optional<bool> disabled;
  if (auto it = body.find("disabled"); it != body.end()) {
    if (!it->is_boolean()) return absl::InvalidArgumentError("disabled must be true or false");
    disabled = it->get<bool>();
  }
  std::optional<std::string> hash;
  if (auto it = body.find("password"); it != body.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("password must be a string");
    if (absl::Status rules = core::CheckPasswordRules(it->get<std::string>()); !rules.ok()) {
      return absl::InvalidArgumentError(fmt::format("password: {}", ToStd(rules.message())));
    }
    if (services_.passwords == nullptr) {
      return absl::UnavailableError("passwords are not available on this server");
    }
    SW_ASSIGN_OR_RETURN(hash, services_.passwords->Hash(it->get<std::string>()));
  }
  const bool stays_admin = role == core::Role::kAdmin && !disabled.value_or(user.disabled);
  if (user.role == core::Role::kAdmin && !user.disabled && !stays_admin) {
    SW_ASSIGN_OR_RETURN(bool another, AnotherEnabledAdmin(services_.users, user.name));
    if (!another) return LastAdmin(role != core::Role::kAdmin ? "demote" : "disable");
  }
  if (role != user.role || !(scope == user.scope)) {
    SW_RETURN_IF_ERROR(services_.users.SetRole(user.name, role, scope));
  }
  if (disabled && *disabled != user.disabled) {
    SW_RETURN_IF_ERROR(*disabled ? services_.users.DisableUser(user.name)
                                 : services_.users.EnableUser(user.name));
  }
  if (hash) {
    SW_RETURN_IF_ERROR(services_.users.SetPassword(user.name, *hash));
    // A password set by an admin ends the sessions made with the old one.
    SW_RETURN_IF_ERROR(services_.users.DeleteSessionsOf(user.name).status());
  }
  SW_ASSIGN_OR_RETURN(core::User updated, services_.users.GetUser(user.name));
  return JsonResponse(200, UserJson(updated));
}

absl::StatusOr<HttpResponse> ApiRouter::DeleteUser(std::string_view raw_name) {
  SW_ASSIGN_OR_RETURN(std::string name, PercentDecode(raw_name, PlusMode::kLiteral));
  SW_ASSIGN_OR_RETURN(core::User user, services_.users.GetUser(name));
  if (user.role == core::Role::kAdmin && !user.disabled) {
    SW_ASSIGN_OR_RETURN(bool another, AnotherEnabledAdmin(services_.users, user.name));
    if (!another) return LastAdmin("delete");
  }
  SW_RETURN_IF_ERROR(services_.users.DeleteUser(user.name));
  return NoContent();
}

}  // namespace stockwatch::server
