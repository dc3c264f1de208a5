// Sign-in with OpenID Connect (authorization code flow with PKCE): GET /api/v1/oidc/config,
// /api/v1/oidc/login and /api/v1/oidc/callback. None takes credentials: the provider's
// signed ID token is the credential, and a successful callback starts a session exactly as
// POST /api/v1/login does.

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "base/status.h"
#include "core/auth/oidc.h"
#include "core/auth/session_secrets.h"
#include "core/model/account.h"
#include "fmt/format.h"
#include "server/router.h"
#include "server/status_http.h"
#include "spdlog/spdlog.h"

namespace stockwatch::server {
namespace {

constexpr std::string_view kCallbackPath = "/api/v1/oidc/callback";

HttpResponse Redirect(std::string location) {
  HttpResponse response;
  response.status = 302;
  response.content_type.clear();
  response.headers.emplace_back("Location", std::move(location));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Whether the request is a browser's navigation (its Accept names text/html), which gets a
// page rather than a JSON error.
bool AcceptsHtml(const HttpRequest& request) {
  std::optional<std::string_view> accept = request.Header("accept");
  if (!accept) return false;
  std::string lower(*accept);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("text/html") != std::string::npos;
}

// The printable-ASCII start of a value the provider sent, for messages.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

void OidcAttemptStore::Put(const std::string& key, const core::OidcAttempt& attempt,
                           std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(attempts_, [now](const auto& entry) { return entry.second.expires_at <= now; });
  // Full of live attempts: the one closest to expiry goes.
  while (!attempts_.empty() && attempts_.size() >= max_attempts_) {
    auto oldest = std::min_element(
        attempts_.begin(), attempts_.end(),
        [](const auto& a, const auto& b) { return a.second.expires_at < b.second.expires_at; });
    attempts_.erase(oldest);
  }
  attempts_[key] = Entry{attempt, now + ttl_};
}

std::optional<core::OidcAttempt> OidcAttemptStore::Take(std::string_view key,
                                                        std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attempts_.find(key);
  if (it == attempts_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  attempts_.erase(it);
  if (entry.expires_at <= now) return std::nullopt;
  return std::move(entry.attempt);
}

size_t OidcAttemptStore::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return attempts_.size();
}

HttpResponse ApiRouter::OidcRoute(HttpRequest& request, std::string_view path,
                                  std::string_view query) {
  const std::string_view name = path.substr(std::string_view("/api/v1/oidc/").size());
  absl::StatusOr<HttpResponse> response;
  if (name != "config" && name != "login" && name != "callback") {
    response =
        absl::NotFoundError(fmt::format("no route for {} {}", request.method, Printable(path)));
  } else if (request.method != "GET") {
    HttpResponse error = ErrorResponse(
        WithHttpStatus(absl::UnimplementedError(fmt::format(
                           "method {} is not allowed here; use GET", Printable(request.method))),
                       405));
    error.headers.emplace_back("Allow", "GET");
    return error;
  } else if (name == "config") {
    response = JsonResponse(200, {{"enabled", services_.identity_provider != nullptr},
                                  {"login_url", "/api/v1/oidc/login"}});
  } else if (services_.identity_provider == nullptr) {
    response = absl::NotFoundError("sign-in with OpenID Connect is not configured (oidc.issuer)");
  } else if (name == "login") {
    response = OidcLogin(Secure(request));
  } else {
    response = OidcCallback(request, query);
  }
  if (!response.ok()) {
    if (name == "callback" && AcceptsHtml(request)) {
      // A browser the provider sent back lands on the login page, which explains the code;
      // the detail (which check failed) goes to the log, not into a URL.
      spdlog::warn("oidc: sign-in failed: {}", response.status().ToString());
      HttpResponse redirect =
          Redirect(fmt::format("/#/login?error={}", StatusToHttp(response.status()).code));
      redirect.headers.emplace_back(
          "Set-Cookie", fmt::format("{}=; Path=/api/v1/oidc; Max-Age=0; HttpOnly; SameSite=Lax{}",
                                    kOidcCookie, Secure(request) ? "; Secure" : ""));
      return redirect;
    }
    HttpResponse error = ErrorResponse(response.status());
    error.headers.emplace_back("Cache-Control", "no-store");
    return error;
  }
  return *std::move(response);
}

absl::StatusOr<HttpResponse> ApiRouter::OidcLogin(bool secure) {
  SW_ASSIGN_OR_RETURN(std::string endpoint, services_.identity_provider->AuthorizationEndpoint());
  const core::OidcAttempt attempt = core::NewOidcAttempt();
  // The browser's key to its attempt, separate from the state that travels through the
  // provider: a state seen in a URL (logs, Referer) is useless without this cookie.
  const std::string key = core::RandomUrlToken();
  oidc_attempts_.Put(key, attempt, services_.clock.Monotonic());

  core::AuthorizationRequest authorization;
  authorization.endpoint = std::move(endpoint);
  authorization.client_id = options_.oidc.client_id;
  authorization.redirect_uri = OidcRedirectUrl();
  authorization.scopes = options_.oidc.scopes;
  authorization.state = attempt.state;
  authorization.nonce = attempt.nonce;
  authorization.code_challenge = core::PkceChallenge(attempt.code_verifier);
  HttpResponse response = Redirect(core::AuthorizationUrl(authorization));
  // SameSite=Lax: the provider's redirect back is a cross-site top-level GET, which Lax
  // cookies accompany and Strict ones do not.
  response.headers.emplace_back(
      "Set-Cookie",
      fmt::format("{}={}; Path=/api/v1/oidc; Max-Age={}; HttpOnly; SameSite=Lax{}", kOidcCookie,
                  key, kOidcAttemptTtl.count(), secure ? "; Secure" : ""));
  return response;
}

std::string ApiRouter::OidcRedirectUrl() const {
  if (!options_.oidc.redirect_url.empty()) return options_.oidc.redirect_url;
  std::string base = options_.links.base_url ? options_.links.base_url() : "";
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + std::string(kCallbackPath);
}

absl::StatusOr<HttpResponse> ApiRouter::OidcCallback(HttpRequest& request, std::string_view query) {
  SW_ASSIGN_OR_RETURN(QueryParams params, QueryParams::Parse(query));
  // The attempt is used up whatever happens next: a code or state cannot be tried twice.
  std::optional<core::OidcAttempt> attempt;
  if (std::optional<std::string_view> cookies = request.Header("cookie")) {
    if (std::optional<std::string_view> key = CookieValue(*cookies, kOidcCookie)) {
      attempt = oidc_attempts_.Take(*key, services_.clock.Monotonic());
    }
  }
  if (std::optional<std::string> error = params.Get("error")) {
    return absl::UnauthenticatedError(
        fmt::format("the provider refused the sign-in: {}", Printable(*error)));
  }
  if (!attempt) {
    return absl::UnauthenticatedError(
        "no sign-in is waiting in this browser (it expired or was used): start again at "
        "/api/v1/oidc/login");
  }
  const std::optional<std::string> state = params.Get("state");
  if (!state || !SameSecret(*state, attempt->state)) {
    return absl::UnauthenticatedError(
        "the sign-in state does not match this browser's: start again at /api/v1/oidc/login");
  }
  const std::optional<std::string> code = params.Get("code");
  if (!code || code->empty()) return absl::InvalidArgumentError("code is required");

  SW_ASSIGN_OR_RETURN(nlohmann::json claims,
                      services_.identity_provider->Redeem(*code, attempt->code_verifier,
                                                          OidcRedirectUrl(), attempt->nonce));
  SW_ASSIGN_OR_RETURN(core::User user, OidcUser(claims));

  // The session starts as a password login's does (auth_handlers.cc, LoginOrError): the
  // browser's old session ends and a new id is made.
  if (std::optional<std::string_view> cookies = request.Header("cookie")) {
    if (std::optional<std::string_view> old_id =
            CookieValue(*cookies, SessionCookieName(Secure(request)));
        old_id && !old_id->empty()) {
      services_.users.DeleteSession(core::HashSessionId(*old_id)).IgnoreError();
    }
  }
  const core::SessionSecrets secrets = core::NewSessionSecrets();
  absl::StatusOr<core::Session> session = services_.users.CreateSession(
      user.name, secrets.id_hash, secrets.csrf_token, services_.clock.Now());
  if (absl::IsFailedPrecondition(session.status())) {
    return absl::PermissionDeniedError(fmt::format("the account {} is disabled", user.name));
  }
  SW_RETURN_IF_ERROR(session.status());
  HttpResponse response = Redirect("/");
  response.headers.emplace_back(
      "Set-Cookie",
      fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict{}", SessionCookieName(Secure(request)),
                  secrets.id, Secure(request) ? "; Secure" : ""));
  response.headers.emplace_back(
      "Set-Cookie", fmt::format("{}=; Path=/api/v1/oidc; Max-Age=0; HttpOnly; SameSite=Lax{}",
                                kOidcCookie, Secure(request) ? "; Secure" : ""));
  return response;
}

absl::StatusOr<core::User> ApiRouter::OidcUser(const nlohmann::json& claims) {
  SW_ASSIGN_OR_RETURN(std::string name, core::OidcUserName(claims));
  SW_ASSIGN_OR_RETURN(core::MappedRole mapped, core::MapOidcRole(claims, options_.oidc.roles));
  for (int tries = 0; tries < 2; ++tries) {
    absl::StatusOr<core::User> user = services_.users.GetUser(name);
    if (user.ok()) {
      // A local account with a password is not the provider's to sign in to: anyone able to
      // pick their name (or email) at the provider would take it over.
      if (!user->password_hash.empty()) {
        return absl::PermissionDeniedError(
            fmt::format("a local account named {} exists: sign in with its password", user->name));
      }
      if (user->role != mapped.role || user->scope != mapped.scope) {
        SW_RETURN_IF_ERROR(services_.users.SetRole(user->name, mapped.role, mapped.scope));
        user->role = mapped.role;
        user->scope = mapped.scope;
      }
      return user;
    }
    if (!absl::IsNotFound(user.status())) return user.status();
    core::User fresh;
    fresh.name = name;
    fresh.role = mapped.role;
    fresh.scope = mapped.scope;
    fresh.created_at = services_.clock.Now();
    absl::StatusOr<core::User> added = services_.users.AddUser(fresh);
    // Two first sign-ins at once: the other made it; read it again.
    if (absl::IsAlreadyExists(added.status())) continue;
    return added;
  }
  return absl::AbortedError("the account changed during sign-in: try again");
}

}  // namespace stockwatch::server
