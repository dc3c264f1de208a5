// The OpenID Connect sign-in routes through ApiRouter::Handle over the in-memory adapters,
// with a scripted IdentityProvider standing in for the provider's back channel (the whole
// flow against moto's Cognito is tests/integration/test_oidc.py).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ports/identity_provider.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/api_router_test_support.h"
#include "server/router.h"
#include "server/url.h"

namespace stockwatch::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// Answers Redeem() with `claims` (or `refusal`), recording what it was asked.
class ScriptedIdentityProvider final : public core::IdentityProvider {
 public:
  absl::StatusOr<std::string> AuthorizationEndpoint() override {
    return std::string("https://idp.example/authorize");
  }
  absl::StatusOr<nlohmann::json> Redeem(std::string_view code, std::string_view code_verifier,
                                        std::string_view redirect_uri,
                                        std::string_view nonce) override {
    calls.push_back({std::string(code), std::string(code_verifier), std::string(redirect_uri),
                     std::string(nonce)});
    if (!refusal.ok()) return refusal;
    return claims;
  }

  struct Call {
    std::string code, verifier, redirect_uri, nonce;
  };
  std::vector<Call> calls;
  json claims;
  absl::Status refusal;
};

std::optional<std::string> HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [field, value] : response.headers) {
    if (field == name) return value;
  }
  return std::nullopt;
}

// name -> the whole Set-Cookie value.
std::map<std::string, std::string> SetCookies(const HttpResponse& response) {
  std::map<std::string, std::string> out;
  for (const auto& [field, value] : response.headers) {
    if (field == "Set-Cookie") out[value.substr(0, value.find('='))] = value;
  }
  return out;
}

std::string CookieValueOf(const std::string& set_cookie) {
  const size_t eq = set_cookie.find('=');
  return set_cookie.substr(eq + 1, set_cookie.find(';') - eq - 1);
}

class OidcRoutesTest : public ApiRouterTest {
 protected:
  OidcRoutesTest() {
    options_.oidc.client_id = "client123";
    options_.oidc.redirect_url = "https://stock.test/api/v1/oidc/callback";
    options_.oidc.roles.admin_groups = {"stockwatch-admins"};
    options_.oidc.roles.manager_groups = {"stockwatch-managers"};
    provider_.claims = {
        {"sub", "s-1"}, {"cognito:username", "alice"}, {"cognito:groups", {"stockwatch-admins"}}};
  }

  // One router for the whole test, as `serve` has: sign-in attempts live in it.
  HttpResponse Get(const std::string& target, const std::string& cookie = "",
                   const std::string& accept = "") {
    if (!router_) {
      router_.emplace(Services{objects_, inventory_, inventory_, notifier_, credentials_, clock_,
                               wakeup_, access_keys_, users_, nullptr, &hasher_, &throttle_,
                               enabled_ ? &provider_ : nullptr},
                      options_);
    }
    StringBody reader("");
    HttpRequest request;
    request.method = "GET";
    request.target = target;
    request.headers = {{"host", "stock.test"}};
    if (!cookie.empty()) request.headers.emplace_back("cookie", cookie);
    if (!accept.empty()) request.headers.emplace_back("accept", accept);
    request.body = &reader;
    return router_->Handle(request);
  }

  // Starts a sign-in: the sw_oidc cookie value and the authorization URL's parameters.
  std::pair<std::string, std::map<std::string, std::string>> StartSignIn() {
    HttpResponse login = Get("/api/v1/oidc/login");
    EXPECT_EQ(login.status, 302) << login.body;
    const std::string location = HeaderOf(login, "Location").value_or("");
    EXPECT_THAT(location, ::testing::StartsWith("https://idp.example/authorize?"));
    std::map<std::string, std::string> params;
    absl::StatusOr<QueryParams> query = QueryParams::Parse(location.substr(location.find('?') + 1));
    EXPECT_TRUE(query.ok());
    for (const char* name : {"response_type", "client_id", "redirect_uri", "scope", "state",
                             "nonce", "code_challenge", "code_challenge_method"}) {
      params[name] = query->Get(name).value_or("");
    }
    return {CookieValueOf(SetCookies(login)["sw_oidc"]), params};
  }

  HttpResponse Callback(const std::string& key, const std::string& state) {
    return Get("/api/v1/oidc/callback?code=the-code&state=" + state, "sw_oidc=" + key);
  }

  ScriptedIdentityProvider provider_;
  bool enabled_ = true;
  std::optional<ApiRouter> router_;
};

TEST_F(OidcRoutesTest, ConfigSaysWhetherSignInIsOn) {
  EXPECT_EQ(json::parse(Get("/api/v1/oidc/config").body),
            json({{"enabled", true}, {"login_url", "/api/v1/oidc/login"}}));
}

TEST_F(OidcRoutesTest, OffWithoutAProvider) {
  enabled_ = false;
  EXPECT_EQ(json::parse(Get("/api/v1/oidc/config").body)["enabled"], false);
  EXPECT_EQ(Get("/api/v1/oidc/login").status, 404);
  EXPECT_EQ(Get("/api/v1/oidc/callback?code=c&state=s").status, 404);
}

TEST_F(OidcRoutesTest, LoginRedirectsWithPkceAndAnAttemptCookie) {
  HttpResponse login = Get("/api/v1/oidc/login");
  ASSERT_EQ(login.status, 302);
  const std::string cookie = SetCookies(login)["sw_oidc"];
  EXPECT_THAT(cookie, HasSubstr("; Path=/api/v1/oidc; Max-Age=600; HttpOnly; SameSite=Lax"));
  auto [key, params] = StartSignIn();
  EXPECT_EQ(params["response_type"], "code");
  EXPECT_EQ(params["client_id"], "client123");
  EXPECT_EQ(params["redirect_uri"], "https://stock.test/api/v1/oidc/callback");
  EXPECT_EQ(params["scope"], "openid email");
  EXPECT_EQ(params["code_challenge_method"], "S256");
  EXPECT_EQ(params["state"].size(), 43u);
  EXPECT_EQ(params["nonce"].size(), 43u);
  EXPECT_EQ(params["code_challenge"].size(), 43u);
  EXPECT_NE(key, CookieValueOf(cookie));  // every attempt has its own key
}

TEST_F(OidcRoutesTest, CallbackStartsASessionForTheMappedAccount) {
  auto [key, params] = StartSignIn();
  HttpResponse callback = Callback(key, params["state"]);
  ASSERT_EQ(callback.status, 302) << callback.body;
  EXPECT_EQ(HeaderOf(callback, "Location"), "/");
  std::map<std::string, std::string> cookies = SetCookies(callback);
  EXPECT_THAT(cookies["sw_session"], HasSubstr("; Path=/; HttpOnly; SameSite=Strict"));
  EXPECT_THAT(cookies["sw_oidc"], HasSubstr("sw_oidc=; Path=/api/v1/oidc; Max-Age=0"));
  // The provider got the verifier of the challenge, the nonce and the redirect URL.
  ASSERT_EQ(provider_.calls.size(), 1u);
  EXPECT_EQ(provider_.calls[0].code, "the-code");
  EXPECT_EQ(core::PkceChallenge(provider_.calls[0].verifier), params["code_challenge"]);
  EXPECT_EQ(provider_.calls[0].nonce, params["nonce"]);
  EXPECT_EQ(provider_.calls[0].redirect_uri, "https://stock.test/api/v1/oidc/callback");

  HttpResponse me = Get("/api/v1/me", "sw_session=" + CookieValueOf(cookies["sw_session"]));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body)["user"],
            json({{"name", "alice"}, {"role", "admin"}, {"stores", nullptr}}));

  // The attempt is used up: the same callback again is refused without asking the provider.
  EXPECT_EQ(Callback(key, params["state"]).status, 401);
  EXPECT_EQ(provider_.calls.size(), 1u);

  // The next sign-in updates the role from the groups.
  provider_.claims = {{"sub", "s-1"},
                      {"cognito:username", "alice"},
                      {"cognito:groups", {"stockwatch-managers"}},
                      {"custom:stores", "Paris,Berlin"}};
  auto [key2, params2] = StartSignIn();
  callback = Callback(key2, params2["state"]);
  ASSERT_EQ(callback.status, 302) << callback.body;
  absl::StatusOr<core::User> user = users_.GetUser("alice");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->role, core::Role::kManager);
  EXPECT_EQ(user->scope.stores, (std::vector<std::string>{"Berlin", "Paris"}));
  EXPECT_TRUE(user->password_hash.empty());
}

TEST_F(OidcRoutesTest, WrongStateOrMissingCookieIsRefusedBeforeTheCodeIsRedeemed) {
  auto [key, params] = StartSignIn();
  HttpResponse callback = Callback(key, params["state"] + "x");
  EXPECT_EQ(callback.status, 401);
  EXPECT_THAT(callback.body, HasSubstr("state does not match"));
  // The attempt is gone even after a wrong state.
  EXPECT_EQ(Callback(key, params["state"]).status, 401);
  auto [key2, params2] = StartSignIn();
  EXPECT_EQ(Get("/api/v1/oidc/callback?code=c&state=" + params2["state"]).status, 401);
  EXPECT_TRUE(provider_.calls.empty());
}

TEST_F(OidcRoutesTest, ProviderErrorsAndRefusedTokensAreUnauthenticated) {
  auto [key, params] = StartSignIn();
  HttpResponse callback =
      Get("/api/v1/oidc/callback?error=access_denied&state=" + params["state"], "sw_oidc=" + key);
  EXPECT_EQ(callback.status, 401);
  EXPECT_THAT(callback.body, HasSubstr("access_denied"));

  provider_.refusal = absl::UnauthenticatedError("id token: signature does not verify");
  auto [key2, params2] = StartSignIn();
  callback = Callback(key2, params2["state"]);
  EXPECT_EQ(callback.status, 401);
  EXPECT_THAT(callback.body, HasSubstr("signature does not verify"));
  EXPECT_TRUE(SetCookies(callback).count("sw_session") == 0);
}

// What a browser sends when the provider redirects it back (a navigation).
constexpr char kBrowserAccept[] =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";

TEST_F(OidcRoutesTest, ABrowserLandsOnTheLoginPageWithTheErrorCode) {
  auto [key, params] = StartSignIn();
  HttpResponse callback = Get("/api/v1/oidc/callback?error=access_denied&state=" + params["state"],
                              "sw_oidc=" + key, kBrowserAccept);
  EXPECT_EQ(callback.status, 302) << callback.body;
  EXPECT_EQ(HeaderOf(callback, "Location"), "/#/login?error=unauthenticated");
  EXPECT_EQ(HeaderOf(callback, "Cache-Control"), "no-store");
  // No provider text travels into the page's URL, and the attempt's cookie is cleared.
  EXPECT_THAT(HeaderOf(callback, "Location").value_or(""), Not(HasSubstr("access_denied")));
  std::map<std::string, std::string> cookies = SetCookies(callback);
  EXPECT_THAT(cookies["sw_oidc"], HasSubstr("Max-Age=0"));
  EXPECT_EQ(cookies.count("sw_session"), 0u);

  provider_.refusal = absl::UnauthenticatedError("id token: signature does not verify");
  auto [key2, params2] = StartSignIn();
  callback = Get("/api/v1/oidc/callback?code=c&state=" + params2["state"], "sw_oidc=" + key2,
                 kBrowserAccept);
  EXPECT_EQ(HeaderOf(callback, "Location"), "/#/login?error=unauthenticated");
  EXPECT_EQ(SetCookies(callback).count("sw_session"), 0u);

  provider_.refusal = absl::UnavailableError("the provider cannot be reached");
  auto [key3, params3] = StartSignIn();
  callback = Get("/api/v1/oidc/callback?code=c&state=" + params3["state"], "sw_oidc=" + key3,
                 kBrowserAccept);
  EXPECT_EQ(HeaderOf(callback, "Location"), "/#/login?error=unavailable");

  provider_.refusal = absl::OkStatus();
  provider_.claims = {{"sub", "s-2"}, {"cognito:username", "viewer"}};  // a local account
  auto [key4, params4] = StartSignIn();
  callback = Get("/api/v1/oidc/callback?code=c&state=" + params4["state"], "sw_oidc=" + key4,
                 kBrowserAccept);
  EXPECT_EQ(HeaderOf(callback, "Location"), "/#/login?error=permission_denied");

  // A client that asks for JSON (or says nothing) still gets the JSON error.
  EXPECT_EQ(Get("/api/v1/oidc/callback?code=c&state=s", "", "application/json").status, 401);
}

TEST_F(OidcRoutesTest, NeverSignsInToALocalAccountWithAPassword) {
  provider_.claims = {{"sub", "s-2"}, {"cognito:username", "viewer"}};  // the fixture's user
  auto [key, params] = StartSignIn();
  HttpResponse callback = Callback(key, params["state"]);
  EXPECT_EQ(callback.status, 403);
  EXPECT_THAT(callback.body, HasSubstr("local account named viewer exists"));
  EXPECT_EQ(users_.GetUser("viewer")->role, core::Role::kViewer);
}

TEST_F(OidcRoutesTest, RefusesUsersWithoutARequiredGroupAndDisabledAccounts) {
  options_.oidc.roles.require_group = true;
  provider_.claims = {{"sub", "s-3"}, {"cognito:username", "mallory"}};
  auto [key, params] = StartSignIn();
  EXPECT_EQ(Callback(key, params["state"]).status, 403);
  EXPECT_FALSE(users_.GetUser("mallory").ok());

  provider_.claims = {
      {"sub", "s-4"}, {"cognito:username", "dora"}, {"cognito:groups", {"stockwatch-admins"}}};
  auto [key2, params2] = StartSignIn();
  ASSERT_EQ(Callback(key2, params2["state"]).status, 302);
  ASSERT_TRUE(users_.DisableUser("dora").ok());
  auto [key3, params3] = StartSignIn();
  HttpResponse callback = Callback(key3, params3["state"]);
  EXPECT_EQ(callback.status, 403);
  EXPECT_THAT(callback.body, HasSubstr("disabled"));
}

TEST(OidcAttemptStoreTest, AttemptsAreUsedOnceExpireAndAreBounded) {
  using std::chrono::seconds;
  const std::chrono::steady_clock::time_point t0{std::chrono::hours(1)};
  OidcAttemptStore store(/*max_attempts=*/2, /*ttl=*/seconds(600));
  core::OidcAttempt a{"sa", "na", "va"};
  store.Put("a", a, t0);
  EXPECT_EQ(store.Take("a", t0 + seconds(599))->state, "sa");
  EXPECT_FALSE(store.Take("a", t0 + seconds(599)).has_value());  // used

  store.Put("b", a, t0);
  EXPECT_FALSE(store.Take("b", t0 + seconds(600)).has_value());  // expired

  store.Put("c", a, t0);
  store.Put("d", a, t0 + seconds(1));
  store.Put("e", a, t0 + seconds(2));  // full: "c", the oldest, goes
  EXPECT_EQ(store.size(), 2u);
  EXPECT_FALSE(store.Take("c", t0 + seconds(3)).has_value());
  EXPECT_TRUE(store.Take("d", t0 + seconds(3)).has_value());
  EXPECT_TRUE(store.Take("e", t0 + seconds(3)).has_value());
}

}  // namespace
}  // namespace stockwatch::server
