#include "adapters/oidc/oidc_identity_provider.h"

#include <map>
#include <string>

#include "adapters/notify/test_util.h"
#include "core/auth/jwt_test_util.h"
#include "core/auth/oidc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

using core::jwt_test::KeyA;
using core::jwt_test::KeyB;
using core::jwt_test::MakeToken;
using notify_test::HttpRequest;
using notify_test::Reply;
using notify_test::ScriptedHttpServer;
using notify_test::ScriptedReply;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1795680000;
constexpr char kClient[] = "client123";
constexpr char kNonce[] = "nonce-xyz";

class FakeClock final : public core::Clock {
 public:
  core::TimePoint Now() override { return core::TimePoint(std::chrono::seconds(kNow)); }
  std::chrono::steady_clock::time_point Monotonic() override { return monotonic_; }
  void Advance(std::chrono::seconds by) { monotonic_ += by; }

 private:
  std::chrono::steady_clock::time_point monotonic_{std::chrono::hours(1000)};
};

// The form fields of an x-www-form-urlencoded body (values without escapes in these tests).
std::map<std::string, std::string> Form(const std::string& body) {
  std::map<std::string, std::string> out;
  for (const std::string& pair : core::SplitCommaList([&] {
         std::string commas = body;
         for (char& c : commas) c = c == '&' ? ',' : c;
         return commas;
       }())) {
    const size_t eq = pair.find('=');
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

nlohmann::json Claims(const std::string& issuer) {
  return {{"iss", issuer},     {"aud", kClient},   {"sub", "ef06d73e"},
          {"token_use", "id"}, {"iat", kNow - 10}, {"exp", kNow + 60},
          {"nonce", kNonce},   {"email", "a@b.c"}, {"email_verified", true}};
}

std::string Jwks(
    std::initializer_list<std::pair<const core::jwt_test::TestKey*, const char*>> keys) {
  nlohmann::json doc = {{"keys", nlohmann::json::array()}};
  for (const auto& [key, kid] : keys) doc["keys"].push_back(key->Jwk(kid));
  return doc.dump();
}

ScriptedReply Json(const std::string& body, int status = 200) {
  return Reply(status, "Content-Type: application/json\r\n", body);
}

TEST(OidcIdentityProviderTest, DiscoversEndpointsThenRedeemsACodeWithPkceAndBasicAuth) {
  std::string issuer;  // the server's own URL, set once it listens
  std::string id_token;
  ScriptedHttpServer server(3, [&](const HttpRequest& request) {
    if (request.target == "/.well-known/openid-configuration") {
      return Json(nlohmann::json{{"issuer", issuer},
                                 {"authorization_endpoint", issuer + "/authorize"},
                                 {"token_endpoint", issuer + "/token"},
                                 {"jwks_uri", issuer + "/jwks"}}
                      .dump());
    }
    if (request.target == "/token") return Json(nlohmann::json{{"id_token", id_token}}.dump());
    if (request.target == "/jwks") return Json(Jwks({{&KeyA(), "k1"}}));
    return Reply(404);
  });
  issuer = server.Url("");
  id_token = MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, Claims(issuer));
  FakeClock clock;
  OidcProviderOptions options;
  options.issuer = issuer;
  options.client_id = kClient;
  options.client_secret = "s3cret";
  OidcIdentityProvider provider(options, clock);

  EXPECT_EQ(provider.AuthorizationEndpoint().value(), issuer + "/authorize");
  absl::StatusOr<nlohmann::json> claims =
      provider.Redeem("the-code", std::string(43, 'v'), "https://sw.example/cb", kNonce);
  server.Join();
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ((*claims)["email"], "a@b.c");

  ASSERT_EQ(server.Requests().size(), 3u);
  const HttpRequest& token = server.Requests()[1];
  EXPECT_EQ(token.method, "POST");
  EXPECT_EQ(token.target, "/token");
  EXPECT_EQ(token.headers.at("content-type"), "application/x-www-form-urlencoded");
  // "client123:s3cret" in base64.
  EXPECT_EQ(token.headers.at("authorization"), "Basic Y2xpZW50MTIzOnMzY3JldA==");
  std::map<std::string, std::string> form = Form(token.body);
  EXPECT_EQ(form["grant_type"], "authorization_code");
  EXPECT_EQ(form["code"], "the-code");
  EXPECT_EQ(form["redirect_uri"], "https%3A%2F%2Fsw.example%2Fcb");
  EXPECT_EQ(form["client_id"], kClient);
  EXPECT_EQ(form["code_verifier"], std::string(43, 'v'));
  EXPECT_EQ(server.Requests()[2].method, "GET");
}

TEST(OidcIdentityProviderTest, ExplicitEndpointsNeedNoDiscoveryAndTokensAreVerified) {
  const std::string issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool";
  std::vector<std::string> tokens;
  ScriptedHttpServer server(4, [&](const HttpRequest& request) {
    if (request.target == "/token") {
      const std::string next = tokens.front();
      tokens.erase(tokens.begin());
      return Json(nlohmann::json{{"id_token", next}}.dump());
    }
    return Json(Jwks({{&KeyA(), "k1"}}));
  });
  nlohmann::json wrong_audience = Claims(issuer);
  wrong_audience["aud"] = "another-client";
  tokens = {MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, Claims(issuer)),
            MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, wrong_audience),
            MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, Claims(issuer), KeyB())};
  FakeClock clock;
  OidcProviderOptions options;
  options.issuer = issuer;
  options.client_id = kClient;
  options.authorization_endpoint = "https://auth.example/authorize";
  options.token_endpoint = server.Url("/token");
  options.jwks_uri = server.Url("/jwks");
  OidcIdentityProvider provider(options, clock);

  EXPECT_EQ(provider.AuthorizationEndpoint().value(), "https://auth.example/authorize");
  // Token, key set (once, then cached), token, token.
  EXPECT_TRUE(provider.Redeem("c", std::string(43, 'v'), "r", kNonce).ok());
  absl::StatusOr<nlohmann::json> refused = provider.Redeem("c", std::string(43, 'v'), "r", kNonce);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.status().message(), HasSubstr("\"aud\""));
  refused = provider.Redeem("c", std::string(43, 'v'), "r", kNonce);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(refused.status().message(), HasSubstr("signature"));
  server.Join();
  // No client secret: no Authorization header.
  EXPECT_EQ(server.Requests()[0].headers.count("authorization"), 0u);
}

TEST(OidcIdentityProviderTest, BearerTokensAreVerifiedWithoutANonceAgainstTheKeySet) {
  const std::string issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool";
  // Only the key set is fetched (once): a bearer check needs no discovery and no token call.
  ScriptedHttpServer server(1, [&](const HttpRequest&) { return Json(Jwks({{&KeyA(), "k1"}})); });
  FakeClock clock;
  OidcProviderOptions options;
  options.issuer = issuer;
  options.client_id = kClient;
  options.jwks_uri = server.Url("/jwks");
  OidcIdentityProvider provider(options, clock);

  nlohmann::json claims = Claims(issuer);
  claims.erase("nonce");
  absl::StatusOr<nlohmann::json> ok =
      provider.VerifyBearer(MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, claims));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)["sub"], "ef06d73e");

  nlohmann::json access = claims;  // Cognito signs access tokens with the same keys
  access["token_use"] = "access";
  nlohmann::json expired = claims;
  expired["exp"] = kNow - 3600;
  nlohmann::json other_pool = Claims(issuer + "x");
  for (const std::string& token :
       {MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, access),
        MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, expired),
        MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, other_pool),
        MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, claims, KeyB()), std::string("not.a.jwt")}) {
    absl::StatusOr<nlohmann::json> refused = provider.VerifyBearer(token);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << token;
  }
  server.Join();
}

TEST(OidcIdentityProviderTest, ARefusedCodeIsUnauthenticated) {
  ScriptedHttpServer server({Json(R"({"error":"invalid_grant"})", 400)});
  FakeClock clock;
  OidcProviderOptions options;
  options.issuer = "https://issuer.example";
  options.client_id = kClient;
  options.authorization_endpoint = "https://issuer.example/authorize";
  options.token_endpoint = server.Url("/token");
  options.jwks_uri = server.Url("/jwks");
  OidcIdentityProvider provider(options, clock);
  absl::StatusOr<nlohmann::json> claims = provider.Redeem("c", std::string(43, 'v'), "r", kNonce);
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(claims.status().message(), HasSubstr("invalid_grant"));
}

TEST(OidcIdentityProviderTest, FetchesTheKeySetAgainForANewKeyIdAtMostOncePerInterval) {
  const std::string issuer = "https://issuer.example";
  int jwks_fetches = 0;
  std::string token;
  ScriptedHttpServer server(6, [&](const HttpRequest& request) {
    if (request.target == "/token") return Json(nlohmann::json{{"id_token", token}}.dump());
    // The provider rotates: first only k2, then k1 as well.
    ++jwks_fetches;
    return jwks_fetches == 1 ? Json(Jwks({{&KeyB(), "k2"}}))
                             : Json(Jwks({{&KeyB(), "k2"}, {&KeyA(), "k1"}}));
  });
  FakeClock clock;
  OidcProviderOptions options;
  options.issuer = issuer;
  options.client_id = kClient;
  options.authorization_endpoint = issuer + "/authorize";
  options.token_endpoint = server.Url("/token");
  options.jwks_uri = server.Url("/jwks");
  OidcIdentityProvider provider(options, clock);
  const std::string verifier(43, 'v');

  token = MakeToken({{"alg", "RS256"}, {"kid", "k1"}}, Claims(issuer));
  // Token + first key set: k1 is unknown, and the set was fetched just now.
  EXPECT_THAT(provider.Redeem("c", verifier, "r", kNonce).status().message(),
              HasSubstr("unknown key id"));
  // Token only: within the interval the set is not fetched again.
  EXPECT_THAT(provider.Redeem("c", verifier, "r", kNonce).status().message(),
              HasSubstr("unknown key id"));
  clock.Advance(std::chrono::seconds(61));
  // Token + second key set, which has k1.
  EXPECT_TRUE(provider.Redeem("c", verifier, "r", kNonce).ok());
  // Token only: a forged key id right after does not fetch again.
  token = MakeToken({{"alg", "RS256"}, {"kid", "k9"}}, Claims(issuer));
  EXPECT_THAT(provider.Redeem("c", verifier, "r", kNonce).status().message(),
              HasSubstr("unknown key id"));
  server.Join();
  EXPECT_EQ(jwks_fetches, 2);
}

TEST(OidcIdentityProviderTest, RefusesOversizeAnswersAndForeignDiscoveryDocuments) {
  ScriptedHttpServer server({Json(std::string(4096, ' ') + "{}"),
                             Json(R"({"issuer":"https://evil.example","authorization_endpoint":"a",
                                     "token_endpoint":"t","jwks_uri":"j"})")});
  FakeClock clock;
  OidcProviderOptions options;
  options.issuer = server.Url("");
  options.client_id = kClient;
  options.max_response_bytes = 1024;
  OidcIdentityProvider provider(options, clock);
  absl::StatusOr<std::string> endpoint = provider.AuthorizationEndpoint();
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(endpoint.status().message(), HasSubstr("more than 1024 bytes"));
  endpoint = provider.AuthorizationEndpoint();
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(endpoint.status().message(), HasSubstr("another issuer"));
}

}  // namespace
}  // namespace stockwatch::adapters
