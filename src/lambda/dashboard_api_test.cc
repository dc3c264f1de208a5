#include "lambda/dashboard_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <map>
#include <string>
#include <vector>

#include "core/auth/oidc.h"
#include "server/url.h"
#include "server/web_assets.h"

namespace stockwatch::lambda {
namespace {

using ::testing::HasSubstr;

class FakeClock final : public core::Clock {
 public:
  core::TimePoint Now() override { return now_; }
  std::chrono::steady_clock::time_point Monotonic() override { return monotonic_; }
  void Advance(std::chrono::milliseconds by) {
    monotonic_ += by;
    now_ += by;
  }

 private:
  core::TimePoint now_{std::chrono::seconds(1795680000)};
  std::chrono::steady_clock::time_point monotonic_{std::chrono::hours(1000)};
};

class FakeSource final : public InventorySource {
 public:
  absl::StatusOr<std::vector<core::InventoryItem>> Items(
      const std::optional<std::string>& store) override {
    calls.push_back(store.value_or("*"));
    if (!status.ok()) return status;
    std::vector<core::InventoryItem> out;
    for (const core::InventoryItem& item : items) {
      if (!store || item.store == *store) out.push_back(item);
    }
    return out;
  }
  std::vector<core::InventoryItem> items = {{"Berlin", "Echo Plus", 0, {}},
                                            {"Berlin", "Echo Dot", 3, {}},
                                            {"Berlin", "Kindle", 40, {}},
                                            {"Paris", "Echo Plus", 12, {}},
                                            {"Paris", "Kindle", 0, {}}};
  std::vector<std::string> calls;  // the store asked for, "*" for the whole table
  absl::Status status;
};

// Tokens are their user's name; "manager" is in the managers group with Berlin.
absl::StatusOr<nlohmann::json> Verify(std::string_view token) {
  if (token == "alice") return nlohmann::json{{"sub", "s-1"}, {"cognito:username", "alice"}};
  if (token == "manager") {
    return nlohmann::json{{"sub", "s-2"},
                          {"cognito:username", "bob"},
                          {"cognito:groups", {"managers"}},
                          {"custom:stores", "Berlin"}};
  }
  return absl::UnauthenticatedError("id token: bad signature");
}

nlohmann::json Event(const std::string& method, const std::string& path,
                     const std::string& query = "", const std::string& token = "alice") {
  nlohmann::json headers = {{"host", "abc.lambda-url.eu-west-1.on.aws"}};
  if (!token.empty()) headers["authorization"] = "Bearer " + token;
  return {{"version", "2.0"},
          {"rawPath", path},
          {"rawQueryString", query},
          {"headers", headers},
          {"requestContext", {{"http", {{"method", method}, {"path", path}}}}},
          {"isBase64Encoded", false}};
}

nlohmann::json Body(const nlohmann::json& response) {
  return nlohmann::json::parse(response["body"].get<std::string>());
}

class DashboardApiTest : public ::testing::Test {
 protected:
  DashboardApi MakeApi(std::optional<int64_t> low = std::nullopt) {
    DashboardApiOptions options;
    options.low_stock_threshold = low;
    options.roles.manager_groups = {"managers"};
    return DashboardApi(source_, Verify, clock_, options);
  }
  FakeSource source_;
  FakeClock clock_;
};

TEST_F(DashboardApiTest, HealthIsOpenAndEverythingElseNeedsAValidToken) {
  DashboardApi api = MakeApi();
  nlohmann::json health = api.Handle(Event("GET", "/healthz", "", ""));
  EXPECT_EQ(health["statusCode"], 200);
  EXPECT_EQ(Body(health)["status"], "ok");

  for (const char* path : {"/api/v1/inventory", "/api/v1/no-such-route", "/api/v1/me"}) {
    nlohmann::json refused = api.Handle(Event("GET", path, "", ""));
    EXPECT_EQ(refused["statusCode"], 401) << path;
    EXPECT_EQ(refused["headers"]["www-authenticate"], "Bearer");
    EXPECT_EQ(Body(refused)["error"]["code"], "unauthenticated");
  }
  nlohmann::json forged = api.Handle(Event("GET", "/api/v1/inventory", "", "forged"));
  EXPECT_EQ(forged["statusCode"], 401);
  EXPECT_THAT(Body(forged)["error"]["message"].get<std::string>(), HasSubstr("signature"));
  EXPECT_TRUE(source_.calls.empty()) << "the table is read only for a signed-in user";

  nlohmann::json missing = api.Handle(Event("GET", "/api/v1/no-such-route"));
  EXPECT_EQ(missing["statusCode"], 404);
}

TEST_F(DashboardApiTest, MeNamesTheSignedInUserAndTheirRole) {
  DashboardApi api = MakeApi();
  nlohmann::json me = Body(api.Handle(Event("GET", "/api/v1/me")));
  EXPECT_EQ(me["user"]["name"], "alice");
  EXPECT_EQ(me["user"]["role"], "viewer");
  EXPECT_TRUE(me["user"]["stores"].is_null());
  me = Body(api.Handle(Event("GET", "/api/v1/me", "", "manager")));
  EXPECT_EQ(me["user"]["role"], "manager");
  EXPECT_EQ(me["user"]["stores"], nlohmann::json({"Berlin"}));
}

TEST_F(DashboardApiTest, InventoryOfOneStoreIsAQueryOfThatStoreWithTheEmbeddedFilters) {
  DashboardApi api = MakeApi();
  nlohmann::json response =
      api.Handle(Event("GET", "/api/v1/inventory", "store=Berlin&status=out"));
  ASSERT_EQ(response["statusCode"], 200) << response;
  EXPECT_EQ(response["headers"]["content-type"], "application/json");
  nlohmann::json page = Body(response);
  ASSERT_EQ(page["items"].size(), 1u) << page;
  EXPECT_EQ(page["items"][0]["item"], "Echo Plus");
  EXPECT_EQ(page["items"][0]["count"], 0);
  EXPECT_EQ(page["total"], 1);
  EXPECT_EQ(source_.calls, std::vector<std::string>{"Berlin"});

  // Sorting and paging as the embedded server: by count, two a page, then the next page.
  page = Body(api.Handle(Event("GET", "/api/v1/inventory", "sort=count&order=desc&limit=2")));
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["items"][0]["count"], 40);
  EXPECT_EQ(page["items"][1]["count"], 12);
  EXPECT_EQ(page["total"], 5);
  ASSERT_FALSE(page["next_cursor"].get<std::string>().empty());
  nlohmann::json next = Body(api.Handle(
      Event("GET", "/api/v1/inventory",
            "sort=count&order=desc&limit=2&cursor=" + page["next_cursor"].get<std::string>())));
  ASSERT_EQ(next["items"].size(), 2u) << next;
  EXPECT_EQ(next["items"][0]["count"], 3);

  nlohmann::json bad = api.Handle(Event("GET", "/api/v1/inventory", "limit=0"));
  EXPECT_EQ(bad["statusCode"], 400);
  EXPECT_THAT(Body(bad)["error"]["message"].get<std::string>(), HasSubstr("limit"));
}

TEST_F(DashboardApiTest, TheWholeTableIsReadOnceForTheCacheTime) {
  DashboardApi api = MakeApi();
  api.Handle(Event("GET", "/api/v1/inventory"));
  api.Handle(Event("GET", "/api/v1/stores"));
  EXPECT_EQ(source_.calls, std::vector<std::string>{"*"});
  source_.items.push_back({"Oslo", "Kindle", 1, {}});
  clock_.Advance(std::chrono::seconds(6));
  nlohmann::json page = Body(api.Handle(Event("GET", "/api/v1/inventory")));
  EXPECT_EQ(source_.calls.size(), 2u);
  EXPECT_EQ(page["total"], 6);
}

TEST_F(DashboardApiTest, StoresSummariseTheTableWithTheLowStockThreshold) {
  DashboardApi api = MakeApi(/*low=*/5);
  nlohmann::json response = api.Handle(Event("GET", "/api/v1/stores"));
  ASSERT_EQ(response["statusCode"], 200) << response;
  nlohmann::json stores = Body(response)["stores"];
  ASSERT_EQ(stores.size(), 2u);
  EXPECT_EQ(stores[0]["store"], "Berlin");
  EXPECT_EQ(stores[0]["items"], 3);
  EXPECT_EQ(stores[0]["out_of_stock"], 1);
  EXPECT_EQ(stores[0]["low"], 1);  // Echo Dot at 3
  EXPECT_TRUE(stores[0]["last_upload"].is_null());
  EXPECT_EQ(stores[1]["store"], "Paris");
  EXPECT_EQ(stores[1]["low"], 0);
}

TEST_F(DashboardApiTest, AManagerSeesOnlyTheirStores) {
  DashboardApi api = MakeApi();
  nlohmann::json page = Body(api.Handle(Event("GET", "/api/v1/inventory", "", "manager")));
  EXPECT_EQ(page["total"], 3);
  for (const nlohmann::json& item : page["items"]) EXPECT_EQ(item["store"], "Berlin");
  nlohmann::json stores = Body(api.Handle(Event("GET", "/api/v1/stores", "", "manager")));
  EXPECT_EQ(stores["stores"].size(), 1u);
  nlohmann::json other = api.Handle(Event("GET", "/api/v1/inventory", "store=Paris", "manager"));
  EXPECT_EQ(other["statusCode"], 403);
}

TEST_F(DashboardApiTest, OnlyGetIsServedAndFormat10EventsAreRead) {
  DashboardApi api = MakeApi();
  nlohmann::json post = api.Handle(Event("POST", "/api/v1/inventory"));
  EXPECT_EQ(post["statusCode"], 405);
  EXPECT_EQ(post["headers"]["allow"], "GET");

  // API Gateway's payload format 1.0: decoded query parameters, header names as sent.
  nlohmann::json v1 = {{"httpMethod", "GET"},
                       {"path", "/api/v1/inventory"},
                       {"headers", {{"Authorization", "bearer alice"}}},
                       {"queryStringParameters", {{"store", "Paris"}, {"item_prefix", "Echo P"}}}};
  nlohmann::json page = Body(api.Handle(v1));
  ASSERT_EQ(page["items"].size(), 1u) << page;
  EXPECT_EQ(page["items"][0]["item"], "Echo Plus");
  EXPECT_EQ(page["items"][0]["store"], "Paris");
}

TEST_F(DashboardApiTest, AMalformedBase64FlagIsReadAsFalseNotThrown) {
  DashboardApi api = MakeApi();
  nlohmann::json event = Event("GET", "/healthz", "", "");
  event["isBase64Encoded"] = "yes";
  EXPECT_EQ(api.Handle(event)["statusCode"], 200);
}

TEST_F(DashboardApiTest, ATableThatCannotBeReadIsUnavailableAndNotCached) {
  DashboardApi api = MakeApi();
  source_.status = absl::UnavailableError("dynamodb: throttled");
  nlohmann::json failed = api.Handle(Event("GET", "/api/v1/inventory"));
  EXPECT_EQ(failed["statusCode"], 503);
  EXPECT_THAT(Body(failed)["error"]["message"].get<std::string>(), HasSubstr("throttled"));
  source_.status = absl::OkStatus();
  EXPECT_EQ(api.Handle(Event("GET", "/api/v1/inventory"))["statusCode"], 200);
  EXPECT_EQ(source_.calls.size(), 2u);
}

// The pool's hosted UI and token endpoint: Redeem() checks the PKCE verifier against the
// challenge of the authorization URL the function made, as Cognito does.
class FakeProvider final : public core::IdentityProvider {
 public:
  absl::StatusOr<std::string> AuthorizationEndpoint() override {
    return std::string("https://pool.auth.eu-west-1.amazoncognito.com/oauth2/authorize");
  }
  absl::StatusOr<nlohmann::json> Redeem(std::string_view code, std::string_view code_verifier,
                                        std::string_view redirect_uri,
                                        std::string_view nonce) override {
    redeemed.push_back({std::string(code), std::string(redirect_uri), std::string(nonce)});
    if (core::PkceChallenge(code_verifier) != challenge) {
      return absl::UnauthenticatedError("token endpoint: invalid_grant");
    }
    if (code == "manager-code") {
      return nlohmann::json{{"cognito:username", "bob"},
                            {"cognito:groups", {"managers"}},
                            {"custom:stores", "Berlin"}};
    }
    return nlohmann::json{{"cognito:username", "carol"}, {"cognito:groups", {"admins"}}};
  }
  std::string challenge;  // of the last authorization URL
  struct Redeemed {
    std::string code, redirect_uri, nonce;
  };
  std::vector<Redeemed> redeemed;
};

// The value of `name` in a URL's query.
std::string QueryValue(const std::string& url, const std::string& name) {
  absl::StatusOr<server::QueryParams> params =
      server::QueryParams::Parse(url.substr(url.find('?') + 1));
  return params.ok() ? params->Get(name).value_or("") : "";
}

// "name=value" of the Set-Cookie for `name` in a response's `cookies`, "" when none.
std::string CookiePair(const nlohmann::json& response, const std::string& name) {
  for (const nlohmann::json& cookie : response.value("cookies", nlohmann::json::array())) {
    const std::string text = cookie.get<std::string>();
    if (text.starts_with(name + "=")) return text.substr(0, text.find(';'));
  }
  return "";
}

std::string SetCookieFor(const nlohmann::json& response, const std::string& name) {
  for (const nlohmann::json& cookie : response.value("cookies", nlohmann::json::array())) {
    if (cookie.get<std::string>().starts_with(name + "=")) return cookie.get<std::string>();
  }
  return "";
}

nlohmann::json BrowserEvent(const std::string& method, const std::string& path,
                            const std::string& query, std::vector<std::string> cookies,
                            bool html = false) {
  nlohmann::json event = Event(method, path, query, "");
  event["headers"]["x-forwarded-proto"] = "https";
  if (html) event["headers"]["accept"] = "text/html,application/xhtml+xml";
  if (!cookies.empty()) event["cookies"] = cookies;
  return event;
}

class BrowserSignInTest : public DashboardApiTest {
 protected:
  DashboardApi MakeBrowserApi(std::string secret = std::string(48, 'k'), int64_t generation = 1) {
    DashboardApiOptions options;
    options.roles.admin_groups = {"admins"};
    options.roles.manager_groups = {"managers"};
    BrowserSignInOptions browser;
    browser.session_secret = std::move(secret);
    browser.provider = &provider_;
    browser.client_id = "client-1";
    browser.session_ttl = std::chrono::hours(8);
    browser.session_generation = generation;
    options.browser = browser;
    return DashboardApi(source_, Verify, clock_, options);
  }

  // Login, then the pool's redirect back with `code`: the callback's response.
  nlohmann::json SignIn(DashboardApi& api, const std::string& code = "admin-code") {
    nlohmann::json login = api.Handle(BrowserEvent("GET", "/api/v1/oidc/login", "", {}, true));
    const std::string location = login["headers"]["location"];
    provider_.challenge = QueryValue(location, "code_challenge");
    return api.Handle(BrowserEvent("GET", "/api/v1/oidc/callback",
                                   "code=" + code + "&state=" + QueryValue(location, "state"),
                                   {CookiePair(login, "sw_oidc")}, true));
  }

  FakeProvider provider_;
};

TEST_F(BrowserSignInTest, TheWebAppIsServedOpenWithTheSecurityHeaders) {
  DashboardApi api = MakeApi();
  nlohmann::json index = api.Handle(Event("GET", "/", "", ""));
  ASSERT_EQ(index["statusCode"], 200) << index;
  EXPECT_THAT(index["headers"]["content-type"].get<std::string>(), HasSubstr("text/html"));
  EXPECT_THAT(index["headers"]["content-security-policy"].get<std::string>(),
              HasSubstr("default-src 'self'"));
  EXPECT_EQ(index["headers"]["x-frame-options"], "DENY");
  EXPECT_EQ(index["headers"]["strict-transport-security"], "max-age=31536000");
  EXPECT_EQ(index["isBase64Encoded"], false);
  EXPECT_EQ(index["body"], std::string(server::WebAssets()[0].body));
  // HEAD: no body, the GET's length.
  nlohmann::json head = api.Handle(Event("HEAD", "/", "", ""));
  ASSERT_EQ(head["statusCode"], 200) << head;
  EXPECT_EQ(head["body"], "");
  EXPECT_EQ(head["headers"]["content-length"], std::to_string(server::WebAssets()[0].body.size()));

  // A hashed file, gzipped for a client that takes gzip: base64 in the Lambda answer.
  const server::WebAsset* zipped = nullptr;
  for (const server::WebAsset& asset : server::WebAssets()) {
    if (asset.immutable && !asset.gzip.empty()) zipped = &asset;
  }
  ASSERT_NE(zipped, nullptr);
  nlohmann::json event = Event("GET", std::string(zipped->path), "", "");
  event["headers"]["accept-encoding"] = "gzip, br";
  nlohmann::json file = api.Handle(event);
  ASSERT_EQ(file["statusCode"], 200);
  EXPECT_EQ(file["isBase64Encoded"], true);
  EXPECT_EQ(file["headers"]["content-encoding"], "gzip");
  EXPECT_EQ(file["headers"]["cache-control"], "public, max-age=31536000, immutable");
  const std::string encoded = file["body"];
  std::string decoded(encoded.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                reinterpret_cast<const unsigned char*>(encoded.data()),
                                static_cast<int>(encoded.size()));
  ASSERT_GT(n, 0);
  // EVP_DecodeBlock counts the bytes "=" padding stands for: drop them.
  const size_t padding = encoded.size() - encoded.find_last_not_of('=') - 1;
  decoded.resize(static_cast<size_t>(n) - padding);
  EXPECT_EQ(decoded, std::string(zipped->gzip));

  EXPECT_EQ(api.Handle(Event("GET", "/assets/nope.js", "", ""))["statusCode"], 404);
}

TEST_F(BrowserSignInTest, WithoutASecretOnlyBearerTokensWork) {
  DashboardApi api = MakeApi();
  nlohmann::json config = Body(api.Handle(Event("GET", "/api/v1/oidc/config", "", "")));
  EXPECT_EQ(config["enabled"], false);
  EXPECT_EQ(config["password_login"], false);
  nlohmann::json login = api.Handle(Event("GET", "/api/v1/oidc/login", "", ""));
  EXPECT_EQ(login["statusCode"], 404);
  EXPECT_THAT(Body(login)["error"]["message"].get<std::string>(), HasSubstr("SESSION_SECRET"));
}

TEST_F(BrowserSignInTest, SignInWithTheHostedUiGivesASealedSessionCookie) {
  DashboardApi api = MakeBrowserApi();
  EXPECT_EQ(Body(api.Handle(Event("GET", "/api/v1/oidc/config", "", "")))["enabled"], true);

  nlohmann::json login = api.Handle(BrowserEvent("GET", "/api/v1/oidc/login", "", {}, true));
  ASSERT_EQ(login["statusCode"], 302) << login;
  const std::string location = login["headers"]["location"];
  EXPECT_TRUE(
      location.starts_with("https://pool.auth.eu-west-1.amazoncognito.com/oauth2/authorize?"))
      << location;
  EXPECT_EQ(QueryValue(location, "client_id"), "client-1");
  EXPECT_EQ(QueryValue(location, "redirect_uri"),
            "https://abc.lambda-url.eu-west-1.on.aws/api/v1/oidc/callback");
  EXPECT_EQ(QueryValue(location, "code_challenge_method"), "S256");
  const std::string attempt = SetCookieFor(login, "sw_oidc");
  EXPECT_THAT(attempt, HasSubstr("HttpOnly"));
  EXPECT_THAT(attempt, HasSubstr("Secure"));
  EXPECT_THAT(attempt, HasSubstr("Path=/api/v1/oidc"));
  // The attempt's secrets are sealed: neither state nor nonce shows in the cookie.
  EXPECT_EQ(attempt.find(QueryValue(location, "state")), std::string::npos);

  provider_.challenge = QueryValue(location, "code_challenge");
  nlohmann::json callback = api.Handle(BrowserEvent(
      "GET", "/api/v1/oidc/callback", "code=admin-code&state=" + QueryValue(location, "state"),
      {CookiePair(login, "sw_oidc")}, true));
  ASSERT_EQ(callback["statusCode"], 302) << callback;
  EXPECT_EQ(callback["headers"]["location"], "/");
  ASSERT_EQ(provider_.redeemed.size(), 1u);
  EXPECT_EQ(provider_.redeemed[0].nonce, QueryValue(location, "nonce"));
  EXPECT_EQ(provider_.redeemed[0].redirect_uri, QueryValue(location, "redirect_uri"));
  const std::string session_cookie = SetCookieFor(callback, "__Host-sw_session");
  EXPECT_THAT(session_cookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(session_cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(session_cookie, HasSubstr("Secure"));
  EXPECT_THAT(session_cookie, HasSubstr("Max-Age=28800"));
  EXPECT_THAT(SetCookieFor(callback, "sw_oidc"), HasSubstr("Max-Age=0"));

  const std::string session = CookiePair(callback, "__Host-sw_session");
  nlohmann::json me = Body(api.Handle(BrowserEvent("GET", "/api/v1/me", "", {session})));
  EXPECT_EQ(me["user"]["name"], "carol");
  EXPECT_EQ(me["user"]["role"], "admin");
  EXPECT_EQ(me["features"], nlohmann::json({"inventory"}));
  EXPECT_FALSE(me["csrf_token"].get<std::string>().empty());
  nlohmann::json page = Body(api.Handle(BrowserEvent("GET", "/api/v1/inventory", "", {session})));
  EXPECT_EQ(page["total"], 5);
}

TEST_F(BrowserSignInTest, AManagersSessionKeepsTheirStores) {
  DashboardApi api = MakeBrowserApi();
  const std::string session = CookiePair(SignIn(api, "manager-code"), "__Host-sw_session");
  ASSERT_FALSE(session.empty());
  nlohmann::json page = Body(api.Handle(BrowserEvent("GET", "/api/v1/inventory", "", {session})));
  EXPECT_EQ(page["total"], 3);
  EXPECT_EQ(
      api.Handle(BrowserEvent("GET", "/api/v1/inventory", "store=Paris", {session}))["statusCode"],
      403);
}

TEST_F(BrowserSignInTest, AChangedExpiredOrForeignSessionIsRefused) {
  DashboardApi api = MakeBrowserApi();
  const std::string session = CookiePair(SignIn(api), "__Host-sw_session");
  ASSERT_FALSE(session.empty());
  // One character in the middle of the sealed text (the last one may only carry padding
  // bits, which a decoder can ignore).
  std::string changed = session;
  char& middle = changed[changed.find('=') + (changed.size() - changed.find('=')) / 2];
  middle = middle == 'A' ? 'B' : 'A';
  EXPECT_EQ(api.Handle(BrowserEvent("GET", "/api/v1/me", "", {changed}))["statusCode"], 401);
  // Another deployment's secret.
  DashboardApi other = MakeBrowserApi(std::string(48, 'z'));
  EXPECT_EQ(other.Handle(BrowserEvent("GET", "/api/v1/me", "", {session}))["statusCode"], 401);
  // The attempt cookie is not a session.
  nlohmann::json login = api.Handle(BrowserEvent("GET", "/api/v1/oidc/login", "", {}, true));
  const std::string attempt = CookiePair(login, "sw_oidc");
  EXPECT_EQ(api.Handle(BrowserEvent("GET", "/api/v1/me", "",
                                    {"__Host-sw_session=" + attempt.substr(8)}))["statusCode"],
            401);
  // Past its eight hours.
  EXPECT_EQ(api.Handle(BrowserEvent("GET", "/api/v1/me", "", {session}))["statusCode"], 200);
  clock_.Advance(std::chrono::hours(8));
  nlohmann::json expired = api.Handle(BrowserEvent("GET", "/api/v1/me", "", {session}));
  EXPECT_EQ(expired["statusCode"], 401);
  EXPECT_THAT(Body(expired)["error"]["message"].get<std::string>(), HasSubstr("expired"));
}

TEST_F(BrowserSignInTest, RaisingTheGenerationEndsEverySession) {
  DashboardApi api = MakeBrowserApi();
  const std::string session = CookiePair(SignIn(api), "__Host-sw_session");
  ASSERT_FALSE(session.empty());
  EXPECT_EQ(api.Handle(BrowserEvent("GET", "/api/v1/me", "", {session}))["statusCode"], 200);
  // The same secret, the next generation (SESSION_GENERATION=2): the old session is over.
  DashboardApi next = MakeBrowserApi(std::string(48, 'k'), 2);
  nlohmann::json ended = next.Handle(BrowserEvent("GET", "/api/v1/me", "", {session}));
  EXPECT_EQ(ended["statusCode"], 401);
  EXPECT_THAT(Body(ended)["error"]["message"].get<std::string>(), HasSubstr("ended for everyone"));
  // A new sign-in there works.
  const std::string fresh = CookiePair(SignIn(next), "__Host-sw_session");
  EXPECT_EQ(next.Handle(BrowserEvent("GET", "/api/v1/me", "", {fresh}))["statusCode"], 200);
}

TEST_F(BrowserSignInTest, ACallbackThatDoesNotMatchTheBrowsersAttemptIsRefused) {
  DashboardApi api = MakeBrowserApi();
  nlohmann::json login = api.Handle(BrowserEvent("GET", "/api/v1/oidc/login", "", {}, true));
  const std::string location = login["headers"]["location"];
  provider_.challenge = QueryValue(location, "code_challenge");
  // Another state: a browser gets the login page with the code, a script the JSON error.
  nlohmann::json page =
      api.Handle(BrowserEvent("GET", "/api/v1/oidc/callback", "code=admin-code&state=forged",
                              {CookiePair(login, "sw_oidc")}, true));
  EXPECT_EQ(page["statusCode"], 302);
  EXPECT_EQ(page["headers"]["location"], "/#/login?error=unauthenticated");
  EXPECT_TRUE(CookiePair(page, "__Host-sw_session").empty());
  nlohmann::json json =
      api.Handle(BrowserEvent("GET", "/api/v1/oidc/callback", "code=admin-code&state=forged",
                              {CookiePair(login, "sw_oidc")}));
  EXPECT_EQ(json["statusCode"], 401);
  EXPECT_THAT(Body(json)["error"]["message"].get<std::string>(), HasSubstr("state"));
  // No attempt cookie at all (another browser), and the provider's own refusal.
  EXPECT_EQ(api.Handle(BrowserEvent("GET", "/api/v1/oidc/callback",
                                    "code=admin-code&state=" + QueryValue(location, "state"),
                                    {}))["statusCode"],
            401);
  nlohmann::json refused =
      api.Handle(BrowserEvent("GET", "/api/v1/oidc/callback", "error=access_denied", {}, false));
  EXPECT_THAT(Body(refused)["error"]["message"].get<std::string>(), HasSubstr("access_denied"));
  EXPECT_TRUE(provider_.redeemed.empty()) << "no code is redeemed for a mismatched callback";
}

TEST_F(BrowserSignInTest, LogoutNeedsTheCsrfTokenAndClearsTheCookie) {
  DashboardApi api = MakeBrowserApi();
  const std::string session = CookiePair(SignIn(api), "__Host-sw_session");
  const std::string csrf =
      Body(api.Handle(BrowserEvent("GET", "/api/v1/me", "", {session})))["csrf_token"];
  EXPECT_EQ(api.Handle(BrowserEvent("POST", "/api/v1/logout", "", {session}))["statusCode"], 403);
  nlohmann::json event = BrowserEvent("POST", "/api/v1/logout", "", {session});
  event["headers"]["x-csrf-token"] = csrf;
  nlohmann::json out = api.Handle(event);
  EXPECT_EQ(out["statusCode"], 204);
  EXPECT_THAT(SetCookieFor(out, "__Host-sw_session"), HasSubstr("Max-Age=0"));
}

TEST_F(BrowserSignInTest, Format10AnswersCookiesInMultiValueHeaders) {
  DashboardApi api = MakeBrowserApi();
  nlohmann::json v1 = {{"httpMethod", "GET"},
                       {"path", "/api/v1/oidc/login"},
                       {"headers", {{"Host", "api.example.com"}}}};
  nlohmann::json login = api.Handle(v1);
  ASSERT_EQ(login["statusCode"], 302);
  EXPECT_FALSE(login.contains("cookies"));
  ASSERT_EQ(login["multiValueHeaders"]["set-cookie"].size(), 1u);
  EXPECT_EQ(QueryValue(login["headers"]["location"], "redirect_uri"),
            "https://api.example.com/api/v1/oidc/callback");
}

class FakeSubscriptions final : public AlertSubscriptions {
 public:
  std::vector<std::string> Topics() override { return {"NoStock", "LowStock", "BackInStock"}; }
  absl::StatusOr<std::vector<AlertSubscription>> List() override { return subscriptions; }
  absl::StatusOr<std::string> Subscribe(const AlertSubscription& subscription) override {
    AlertSubscription added = subscription;
    added.id = "arn:aws:sns:eu-west-1:1:" + subscription.topic + ":" +
               std::to_string(subscriptions.size() + 1);
    subscriptions.push_back(added);
    return added.id;
  }
  absl::Status Unsubscribe(const std::string& id) override {
    removed.push_back(id);
    std::erase_if(subscriptions, [&](const AlertSubscription& s) { return s.id == id; });
    return absl::OkStatus();
  }
  std::vector<AlertSubscription> subscriptions = {
      {"arn:aws:sns:eu-west-1:1:NoStock:a", "NoStock", "email", "ops@example.com", {}, "", ""},
      {"arn:aws:sns:eu-west-1:1:NoStock:b", "NoStock", "sms", "+4915155550100", {"Berlin"}, "", ""},
      {"PendingConfirmation",
       "LowStock",
       "https",
       "https://hooks.example.com/x",
       {"Paris"},
       "",
       ""}};
  std::vector<std::string> removed;
};

nlohmann::json WithBody(nlohmann::json event, const nlohmann::json& body) {
  event["body"] = body.dump();
  return event;
}

class SubscriptionRoutesTest : public DashboardApiTest {
 protected:
  DashboardApi MakeSubscriptionApi(bool with_topics = true) {
    DashboardApiOptions options;
    options.roles.admin_groups = {"admins"};
    options.roles.manager_groups = {"managers"};
    if (with_topics) options.subscriptions = &subscriptions_;
    return DashboardApi(source_, VerifyWithAdmin, clock_, options);
  }
  // "admin" is in the admins group; the others as Verify().
  static absl::StatusOr<nlohmann::json> VerifyWithAdmin(std::string_view token) {
    if (token == "admin") {
      return nlohmann::json{{"cognito:username", "root"}, {"cognito:groups", {"admins"}}};
    }
    return Verify(token);
  }
  FakeSubscriptions subscriptions_;
};

TEST_F(SubscriptionRoutesTest, OnlyServedWhenTheTopicsAreConfigured) {
  DashboardApi without = MakeSubscriptionApi(false);
  EXPECT_EQ(without.Handle(Event("GET", "/api/v1/subscriptions"))["statusCode"], 404);
  EXPECT_EQ(Body(without.Handle(Event("GET", "/api/v1/me")))["features"],
            nlohmann::json({"inventory"}));
  DashboardApi with = MakeSubscriptionApi();
  EXPECT_EQ(Body(with.Handle(Event("GET", "/api/v1/me")))["features"],
            nlohmann::json({"inventory", "subscriptions"}));
  EXPECT_EQ(Body(with.Handle(Event("GET", "/api/v1/topics")))["topics"],
            nlohmann::json({"NoStock", "LowStock", "BackInStock"}));
  EXPECT_EQ(with.Handle(Event("GET", "/api/v1/subscriptions", "", ""))["statusCode"], 401);
}

TEST_F(SubscriptionRoutesTest, ListShowsStatusAndStoresAndAManagerOnlyTheirs) {
  DashboardApi api = MakeSubscriptionApi();
  nlohmann::json all = Body(api.Handle(Event("GET", "/api/v1/subscriptions")));
  ASSERT_EQ(all["subscriptions"].size(), 3u) << all;
  EXPECT_EQ(all["subscriptions"][0]["status"], "confirmed");
  EXPECT_TRUE(all["subscriptions"][0]["filter_policy"].is_null());
  EXPECT_EQ(all["subscriptions"][1]["filter_policy"], nlohmann::json({{"store", {"Berlin"}}}));
  EXPECT_EQ(all["subscriptions"][2]["status"], "pending_confirmation");
  // The manager of Berlin sees the Berlin one only: not the all-stores one, not Paris's.
  nlohmann::json mine =
      Body(api.Handle(Event("GET", "/api/v1/subscriptions", "", "manager")))["subscriptions"];
  ASSERT_EQ(mine.size(), 1u) << mine;
  EXPECT_EQ(mine[0]["endpoint"], "+4915155550100");
}

TEST_F(SubscriptionRoutesTest, AFilterPolicyTheDashboardDidNotWriteIsShownRawNeverToAManager) {
  AlertSubscription prefix;
  prefix.id = "arn:aws:sns:eu-west-1:1:NoStock:c";
  prefix.topic = "NoStock";
  prefix.protocol = "email";
  prefix.endpoint = "berlin-all@example.com";
  prefix.other_filter = R"({"store":[{"prefix":"Ber"}]})";
  prefix.other_filter_scope = "MessageAttributes";
  subscriptions_.subscriptions.push_back(prefix);
  DashboardApi api = MakeSubscriptionApi();
  nlohmann::json all = Body(api.Handle(Event("GET", "/api/v1/subscriptions")))["subscriptions"];
  ASSERT_EQ(all.size(), 4u) << all;
  EXPECT_EQ(all[3]["filter_policy"], nlohmann::json::parse(prefix.other_filter));
  EXPECT_EQ(all[3]["filter_policy_scope"], "MessageAttributes");
  // "Ber" covers Berlin, but a prefix is not a list of stores: the manager of Berlin can
  // neither see it nor remove it.
  nlohmann::json mine =
      Body(api.Handle(Event("GET", "/api/v1/subscriptions", "", "manager")))["subscriptions"];
  ASSERT_EQ(mine.size(), 1u) << mine;
  EXPECT_EQ(mine[0]["endpoint"], "+4915155550100");
  const std::string path = "/api/v1/subscriptions/" + core::PercentEncode(prefix.id);
  EXPECT_EQ(api.Handle(Event("DELETE", path, "", "manager"))["statusCode"], 404);
  EXPECT_TRUE(subscriptions_.removed.empty());
}

TEST_F(SubscriptionRoutesTest, SubscribeMapsTheEndpointToItsProtocolAndChecksTheScope) {
  DashboardApi api = MakeSubscriptionApi();
  nlohmann::json created =
      api.Handle(WithBody(Event("POST", "/api/v1/subscriptions", "", "admin"),
                          {{"topic", "LowStock"}, {"endpoint", "mailto:buyer@example.com"}}));
  ASSERT_EQ(created["statusCode"], 201) << created;
  EXPECT_EQ(Body(created)["protocol"], "email");
  EXPECT_EQ(Body(created)["endpoint"], "buyer@example.com");
  EXPECT_EQ(Body(created)["status"], "pending_confirmation");
  EXPECT_EQ(subscriptions_.subscriptions.back().topic, "LowStock");

  nlohmann::json sms =
      Body(api.Handle(WithBody(Event("POST", "/api/v1/subscriptions", "", "manager"),
                               {{"topic", "NoStock"},
                                {"endpoint", "+4915155550199"},
                                {"filter_policy", {{"store", {"Berlin"}}}}})));
  EXPECT_EQ(sms["protocol"], "sms");
  EXPECT_EQ(sms["status"], "confirmed");
  EXPECT_EQ(subscriptions_.subscriptions.back().stores, std::vector<std::string>{"Berlin"});

  // A manager must limit it to their stores; a viewer may not subscribe at all.
  EXPECT_EQ(
      api.Handle(WithBody(Event("POST", "/api/v1/subscriptions", "", "manager"),
                          {{"topic", "NoStock"}, {"endpoint", "+4915155550199"}}))["statusCode"],
      403);
  EXPECT_EQ(
      api.Handle(WithBody(Event("POST", "/api/v1/subscriptions", "", "manager"),
                          {{"topic", "NoStock"},
                           {"endpoint", "+4915155550199"},
                           {"filter_policy", {{"store", {"Berlin", "Paris"}}}}}))["statusCode"],
      403);
  EXPECT_EQ(
      api.Handle(WithBody(Event("POST", "/api/v1/subscriptions", "", "alice"),
                          {{"topic", "NoStock"}, {"endpoint", "+4915155550199"}}))["statusCode"],
      403);
  const size_t before = subscriptions_.subscriptions.size();
  for (const char* endpoint : {"ops@example.com", "http://plain.example.com/", "+0123",
                               "mailto:", "mailto:a@b, c@d", "+12ab5678901"}) {
    nlohmann::json bad = api.Handle(WithBody(Event("POST", "/api/v1/subscriptions", "", "admin"),
                                             {{"topic", "NoStock"}, {"endpoint", endpoint}}));
    EXPECT_EQ(bad["statusCode"], 400) << endpoint;
    EXPECT_THAT(Body(bad)["error"]["message"].get<std::string>(), HasSubstr("endpoint"));
  }
  EXPECT_EQ(
      api.Handle(WithBody(Event("POST", "/api/v1/subscriptions", "", "admin"),
                          {{"topic", "Everything"}, {"endpoint", "+4915155550199"}}))["statusCode"],
      400);
  nlohmann::json not_json = Event("POST", "/api/v1/subscriptions", "", "admin");
  not_json["body"] = "{not json";
  EXPECT_EQ(api.Handle(not_json)["statusCode"], 400);
  EXPECT_EQ(subscriptions_.subscriptions.size(), before) << "nothing was subscribed";
}

TEST_F(SubscriptionRoutesTest, UnsubscribeOnlyWithinScopeAndNeverAPendingOne) {
  DashboardApi api = MakeSubscriptionApi();
  const std::string berlin =
      "/api/v1/subscriptions/" + core::PercentEncode("arn:aws:sns:eu-west-1:1:NoStock:b");
  const std::string all_stores =
      "/api/v1/subscriptions/" + core::PercentEncode("arn:aws:sns:eu-west-1:1:NoStock:a");
  EXPECT_EQ(api.Handle(Event("DELETE", berlin, "", "alice"))["statusCode"], 403);  // viewer
  EXPECT_EQ(api.Handle(Event("DELETE", all_stores, "", "manager"))["statusCode"], 404);
  EXPECT_EQ(api.Handle(Event("DELETE", "/api/v1/subscriptions/PendingConfirmation", "",
                             "admin"))["statusCode"],
            412);
  EXPECT_TRUE(subscriptions_.removed.empty());
  EXPECT_EQ(api.Handle(Event("DELETE", berlin, "", "manager"))["statusCode"], 204);
  EXPECT_EQ(subscriptions_.removed, std::vector<std::string>{"arn:aws:sns:eu-west-1:1:NoStock:b"});
  EXPECT_EQ(api.Handle(Event("DELETE", berlin, "", "manager"))["statusCode"], 404);
}

TEST_F(SubscriptionRoutesTest, ASessionsWritesNeedItsCsrfToken) {
  FakeProvider provider;
  DashboardApiOptions options;
  options.roles.admin_groups = {"admins"};
  options.subscriptions = &subscriptions_;
  BrowserSignInOptions browser;
  browser.session_secret = std::string(48, 'k');
  browser.provider = &provider;
  browser.client_id = "client-1";
  options.browser = browser;
  DashboardApi api(source_, Verify, clock_, options);
  nlohmann::json login = api.Handle(BrowserEvent("GET", "/api/v1/oidc/login", "", {}, true));
  const std::string location = login["headers"]["location"];
  provider.challenge = QueryValue(location, "code_challenge");
  nlohmann::json callback = api.Handle(BrowserEvent(
      "GET", "/api/v1/oidc/callback", "code=admin-code&state=" + QueryValue(location, "state"),
      {CookiePair(login, "sw_oidc")}, true));
  const std::string session = CookiePair(callback, "__Host-sw_session");
  const std::string csrf =
      Body(api.Handle(BrowserEvent("GET", "/api/v1/me", "", {session})))["csrf_token"];
  const nlohmann::json body = {{"topic", "NoStock"}, {"endpoint", "+4915155550199"}};
  EXPECT_EQ(api.Handle(WithBody(BrowserEvent("POST", "/api/v1/subscriptions", "", {session}),
                                body))["statusCode"],
            403);
  nlohmann::json event =
      WithBody(BrowserEvent("POST", "/api/v1/subscriptions", "", {session}), body);
  event["headers"]["x-csrf-token"] = csrf;
  EXPECT_EQ(api.Handle(event)["statusCode"], 201);
}

class FakeThresholds final : public ThresholdStore {
 public:
  absl::StatusOr<std::vector<core::Threshold>> List() override {
    ++lists;
    return thresholds;
  }
  absl::Status Set(const core::Threshold& scope, std::optional<int64_t> value) override {
    std::erase_if(thresholds, [&](const core::Threshold& t) {
      return t.store == scope.store && t.item == scope.item;
    });
    if (value) thresholds.push_back({scope.store, scope.item, *value});
    return absl::OkStatus();
  }
  std::vector<core::Threshold> thresholds = {{std::nullopt, std::nullopt, 2},
                                             {std::string("Paris"), std::nullopt, 20}};
  int lists = 0;
};

class ThresholdRoutesTest : public SubscriptionRoutesTest {
 protected:
  DashboardApi MakeThresholdApi(bool with_store = true) {
    DashboardApiOptions options;
    options.low_stock_threshold = 5;
    options.roles.admin_groups = {"admins"};
    options.roles.manager_groups = {"managers"};
    if (with_store) options.thresholds = &thresholds_;
    return DashboardApi(source_, VerifyWithAdmin, clock_, options);
  }
  nlohmann::json Put(DashboardApi& api, const std::string& token, const nlohmann::json& body) {
    return api.Handle(WithBody(Event("PUT", "/api/v1/thresholds", "", token), body));
  }
  FakeThresholds thresholds_;
};

TEST_F(ThresholdRoutesTest, OnlyServedWithAThresholdStore) {
  DashboardApi without = MakeThresholdApi(false);
  EXPECT_EQ(without.Handle(Event("GET", "/api/v1/thresholds"))["statusCode"], 404);
  EXPECT_EQ(Body(without.Handle(Event("GET", "/api/v1/me")))["features"],
            nlohmann::json({"inventory"}));
  DashboardApi with = MakeThresholdApi();
  EXPECT_EQ(Body(with.Handle(Event("GET", "/api/v1/me")))["features"],
            nlohmann::json({"inventory", "thresholds"}));
  EXPECT_EQ(with.Handle(Event("GET", "/api/v1/thresholds", "", ""))["statusCode"], 401);
  EXPECT_EQ(with.Handle(Event("DELETE", "/api/v1/thresholds", "", "admin"))["statusCode"], 405);
}

TEST_F(ThresholdRoutesTest, TheSetThresholdsDecideLowOverTheDefault) {
  DashboardApi api = MakeThresholdApi();
  // The global 2 set in the dashboard replaces the default 5: Berlin's Echo Dot at 3 is
  // not low; Paris's 20 makes its Echo Plus at 12 low.
  nlohmann::json stores = Body(api.Handle(Event("GET", "/api/v1/stores")))["stores"];
  EXPECT_EQ(stores[0]["low"], 0);
  EXPECT_EQ(stores[1]["low"], 1);
  nlohmann::json page = Body(api.Handle(Event("GET", "/api/v1/inventory", "store=Paris")));
  EXPECT_EQ(page["items"][0]["threshold"], 20);
  EXPECT_EQ(thresholds_.lists, 1) << "read once for both requests, within the table cache";

  // Setting one shows at once, though the table snapshot is cached.
  nlohmann::json set = Put(api, "admin", {{"store", "Berlin"}, {"item", "Echo Dot"}, {"value", 3}});
  ASSERT_EQ(set["statusCode"], 200) << set;
  EXPECT_EQ(Body(set), nlohmann::json({{"store", "Berlin"}, {"item", "Echo Dot"}, {"value", 3}}));
  stores = Body(api.Handle(Event("GET", "/api/v1/stores")))["stores"];
  EXPECT_EQ(stores[0]["low"], 1);
  EXPECT_EQ(thresholds_.lists, 2) << "read again after the write";
  // Removing it.
  nlohmann::json removed =
      Put(api, "admin", {{"store", "Berlin"}, {"item", "Echo Dot"}, {"value", nullptr}});
  EXPECT_TRUE(Body(removed)["value"].is_null());
  EXPECT_EQ(thresholds_.thresholds.size(), 2u);
}

TEST_F(ThresholdRoutesTest, AManagerSeesAndSetsOnlyItsStoresAndAViewerNone) {
  DashboardApi api = MakeThresholdApi();
  nlohmann::json all = Body(api.Handle(Event("GET", "/api/v1/thresholds", "", "admin")));
  EXPECT_EQ(all["thresholds"].size(), 2u);
  // The manager of Berlin: the global one applies to Berlin too; Paris's is not shown.
  nlohmann::json mine = Body(api.Handle(Event("GET", "/api/v1/thresholds", "", "manager")));
  EXPECT_EQ(mine,
            nlohmann::json::parse(R"({"thresholds":[{"store":null,"item":null,"value":2}]})"));
  EXPECT_EQ(Put(api, "manager", {{"store", "Berlin"}, {"value", 4}})["statusCode"], 200);
  EXPECT_EQ(Put(api, "manager", {{"store", "Paris"}, {"value", 4}})["statusCode"], 403);
  EXPECT_EQ(Put(api, "manager", {{"store", nullptr}, {"value", 4}})["statusCode"], 403);
  EXPECT_EQ(Put(api, "alice", {{"store", "Berlin"}, {"value", 4}})["statusCode"], 403);
  // Bad bodies.
  for (const nlohmann::json& bad :
       {nlohmann::json{{"store", "Berlin"}}, nlohmann::json{{"store", "Berlin"}, {"value", -1}},
        nlohmann::json{{"store", " Berlin"}, {"value", 1}},
        nlohmann::json{{"store", "Berlin"}, {"value", "1"}}, nlohmann::json::array()}) {
    EXPECT_EQ(Put(api, "admin", bad)["statusCode"], 400) << bad;
  }
  EXPECT_EQ(thresholds_.thresholds.size(), 3u) << "only the Berlin one was added";
}

}  // namespace
}  // namespace stockwatch::lambda
