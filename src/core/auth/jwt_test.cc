#include "core/auth/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "core/auth/jwt_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

using ::testing::HasSubstr;

using jwt_test::KeyA;
using jwt_test::KeyB;
using jwt_test::MakeToken;
using jwt_test::TestKey;

constexpr int64_t kNow = 1795680000;  // 2026-11-26T03:20:00Z
constexpr char kIssuer[] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool";
constexpr char kClient[] = "client123";

std::string Encode(const nlohmann::json& doc) { return Base64UrlEncode(doc.dump()); }

nlohmann::json Header(const std::string& kid = "k1") {
  return {{"alg", "RS256"}, {"kid", kid}, {"typ", "JWT"}};
}

nlohmann::json Claims() {
  return {{"iss", kIssuer},         {"aud", kClient},
          {"sub", "ef06d73e-b0d0"}, {"token_use", "id"},
          {"iat", kNow - 10},       {"exp", kNow + 3600},
          {"nonce", "nonce-xyz"},   {"cognito:username", "alice"}};
}

IdTokenExpectations Expect() {
  IdTokenExpectations expect;
  expect.issuer = kIssuer;
  expect.audience = kClient;
  expect.nonce = "nonce-xyz";
  expect.now = TimePoint(std::chrono::seconds(kNow));
  return expect;
}

JwkSet Keys() {
  nlohmann::json doc = {{"keys", {KeyA().Jwk("k1"), KeyB().Jwk("k2")}}};
  absl::StatusOr<JwkSet> keys = JwkSet::Parse(doc.dump());
  EXPECT_TRUE(keys.ok()) << keys.status();
  return *keys;
}

// The refusal message of `token`, or "accepted".
std::string Outcome(const std::string& token, const IdTokenExpectations& expect = Expect()) {
  absl::StatusOr<nlohmann::json> claims = VerifyIdToken(token, Keys(), expect);
  if (claims.ok()) return "accepted";
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated) << claims.status();
  return std::string(claims.status().message());
}

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    const std::string encoded = Base64UrlEncode(bytes);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    absl::StatusOr<std::string> decoded = Base64UrlDecode(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, bytes);
    bytes += static_cast<char>(i * 37 + 250);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64UrlTest, AcceptsPaddingAndRefusesWhatIsNotBase64Url) {
  EXPECT_EQ(Base64UrlDecode("QQ==").value(), "A");
  EXPECT_EQ(Base64UrlDecode("QUI=").value(), "AB");
  EXPECT_FALSE(Base64UrlDecode("QQ+/").ok());   // standard base64's alphabet
  EXPECT_FALSE(Base64UrlDecode("QUJDR").ok());  // a length no encoding has
  EXPECT_FALSE(Base64UrlDecode("QR").ok());     // non-zero trailing bits
  EXPECT_FALSE(Base64UrlDecode("Q Q").ok());
  EXPECT_FALSE(Base64UrlDecode("QQ=").ok());
}

TEST(JwkSetTest, KeepsOnlyRs256SigningKeys) {
  const TestKey small(1024);
  nlohmann::json enc = KeyB().Jwk("enc");
  enc["use"] = "enc";
  nlohmann::json rs512 = KeyB().Jwk("rs512");
  rs512["alg"] = "RS512";
  nlohmann::json ec = {{"kty", "EC"}, {"kid", "ec"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}};
  nlohmann::json bad_n = KeyB().Jwk("bad");
  bad_n["n"] = "not base64!";
  nlohmann::json no_alg = KeyB().Jwk("plain");
  no_alg.erase("alg");
  no_alg.erase("use");
  nlohmann::json doc = {
      {"keys",
       {KeyA().Jwk("k1"), KeyB().Jwk("k1"), enc, rs512, ec, bad_n, small.Jwk("small"), no_alg}}};
  absl::StatusOr<JwkSet> keys = JwkSet::Parse(doc.dump());
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 2u);
  ASSERT_NE(keys->Find("k1"), nullptr);
  EXPECT_EQ(keys->Find("k1")->Bits(), 2048);
  EXPECT_NE(keys->Find("plain"), nullptr);
  for (const char* kid : {"enc", "rs512", "ec", "bad", "small", "nope", ""}) {
    EXPECT_EQ(keys->Find(kid), nullptr) << kid;
  }
  // The first key with an id wins: a token signed by key A verifies under "k1".
  EXPECT_EQ(VerifyIdToken(MakeToken(Header("k1"), Claims()), *keys, Expect()).status(),
            absl::OkStatus());
}

TEST(JwkSetTest, RefusesDocumentsWithoutUsableKeys) {
  EXPECT_FALSE(JwkSet::Parse("").ok());
  EXPECT_FALSE(JwkSet::Parse("[]").ok());
  EXPECT_FALSE(JwkSet::Parse(R"({"keys":{}})").ok());
  EXPECT_FALSE(JwkSet::Parse(R"({"keys":[]})").ok());
  EXPECT_FALSE(JwkSet::Parse(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})").ok());
}

TEST(JwkSetTest, TokenWithoutKidUsesTheOnlyKey) {
  nlohmann::json one = {{"keys", {KeyA().Jwk("k1")}}};
  JwkSet keys = JwkSet::Parse(one.dump()).value();
  nlohmann::json header = {{"alg", "RS256"}};
  EXPECT_TRUE(VerifyIdToken(MakeToken(header, Claims()), keys, Expect()).ok());
  // With two keys a token must say which.
  EXPECT_THAT(Outcome(MakeToken(header, Claims())), HasSubstr("no \"kid\""));
}

TEST(VerifyIdTokenTest, AcceptsAValidTokenAndReturnsItsClaims) {
  absl::StatusOr<nlohmann::json> claims =
      VerifyIdToken(MakeToken(Header(), Claims()), Keys(), Expect());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ((*claims)["cognito:username"], "alice");
  // Signed by the second key of the set.
  EXPECT_EQ(Outcome(MakeToken(Header("k2"), Claims(), KeyB())), "accepted");
}

TEST(VerifyIdTokenTest, RefusesEveryAlgorithmButRs256) {
  const std::string payload = Encode(Claims());
  // alg "none": no signature at all.
  nlohmann::json none = {{"alg", "none"}, {"kid", "k1"}};
  EXPECT_THAT(Outcome(Encode(none) + "." + payload + "."), HasSubstr("\"none\" is not RS256"));
  // HS256 keyed with the public modulus: the classic confusion attack.
  nlohmann::json hs = {{"alg", "HS256"}, {"kid", "k1"}};
  const std::string input = Encode(hs) + "." + payload;
  const std::string secret = KeyA().N();
  unsigned char mac[32];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_size);
  EXPECT_THAT(
      Outcome(input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), mac_size))),
      HasSubstr("\"HS256\" is not RS256"));
  for (const char* alg : {"RS512", "PS256", "ES256", "rs256"}) {
    nlohmann::json header = Header();
    header["alg"] = alg;
    EXPECT_THAT(Outcome(MakeToken(header, Claims())), HasSubstr("is not RS256")) << alg;
  }
  nlohmann::json no_alg = Header();
  no_alg.erase("alg");
  EXPECT_THAT(Outcome(MakeToken(no_alg, Claims())), HasSubstr("is not RS256"));
}

TEST(VerifyIdTokenTest, RefusesUnknownKeyIdsAndCriticalExtensions) {
  EXPECT_THAT(Outcome(MakeToken(Header("k9"), Claims())), HasSubstr("unknown key id \"k9\""));
  nlohmann::json header = Header();
  header["crit"] = {"exp"};
  EXPECT_THAT(Outcome(MakeToken(header, Claims())), HasSubstr("crit"));
}

TEST(VerifyIdTokenTest, RefusesBadSignatures) {
  const std::string good = MakeToken(Header(), Claims());
  // One flipped bit of the signature.
  std::string flipped = good;
  const size_t dot = flipped.rfind('.');
  std::string signature = Base64UrlDecode(flipped.substr(dot + 1)).value();
  signature[10] = static_cast<char>(signature[10] ^ 1);
  flipped = flipped.substr(0, dot + 1) + Base64UrlEncode(signature);
  EXPECT_THAT(Outcome(flipped), HasSubstr("signature does not verify"));
  // Signed by another key than the one its kid names.
  EXPECT_THAT(Outcome(MakeToken(Header("k1"), Claims(), KeyB())),
              HasSubstr("signature does not verify"));
  // A signature cut short, or none.
  EXPECT_THAT(Outcome(good.substr(0, good.size() - 4)), HasSubstr("signature"));
  EXPECT_THAT(Outcome(good.substr(0, dot + 1)), HasSubstr("signature does not verify"));
  // Claims changed after signing.
  nlohmann::json changed = Claims();
  changed["cognito:groups"] = {"stockwatch-admins"};
  const size_t first = good.find('.');
  EXPECT_THAT(Outcome(good.substr(0, first + 1) + Encode(changed) + good.substr(dot)),
              HasSubstr("signature does not verify"));
}

TEST(VerifyIdTokenTest, RefusesMalformedTokens) {
  const std::string good = MakeToken(Header(), Claims());
  EXPECT_THAT(Outcome(""), HasSubstr("three parts"));
  EXPECT_THAT(Outcome("a.b"), HasSubstr("three parts"));
  EXPECT_THAT(Outcome(good + ".x.y"), HasSubstr("three parts"));  // a JWE has five
  EXPECT_THAT(Outcome("%%%." + good.substr(good.find('.') + 1)), HasSubstr("header"));
  EXPECT_THAT(Outcome(Base64UrlEncode("[1]") + good.substr(good.find('.'))),
              HasSubstr("header is not a JSON object"));
  EXPECT_THAT(Outcome(std::string(kMaxJwtBytes + 1, 'a')), HasSubstr("longer than"));
  nlohmann::json header = Header();
  header["kid"] = 7;
  EXPECT_THAT(Outcome(MakeToken(header, Claims())), HasSubstr("\"kid\" is not a string"));
}

TEST(VerifyIdTokenTest, ChecksIssuerAndAudience) {
  nlohmann::json claims = Claims();
  claims["iss"] = std::string(kIssuer) + "/";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"iss\""));
  claims.erase("iss");
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"iss\""));

  claims = Claims();
  claims["aud"] = "another-client";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"aud\" is not this client"));
  claims.erase("aud");
  // Cognito's access tokens name the client in `client_id`, not `aud`.
  claims["client_id"] = kClient;
  claims["token_use"] = "id";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"aud\" is missing"));

  claims = Claims();
  claims["aud"] = {kClient};
  EXPECT_EQ(Outcome(MakeToken(Header(), claims)), "accepted");
  claims["aud"] = {"other", kClient};
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"azp\""));
  claims["azp"] = "other";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"azp\""));
  claims["azp"] = kClient;
  EXPECT_EQ(Outcome(MakeToken(Header(), claims)), "accepted");
  claims["aud"] = {"other"};
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"aud\" is not this client"));
  claims["aud"] = 5;
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"aud\""));
}

TEST(VerifyIdTokenTest, ChecksTimesWithLeeway) {
  nlohmann::json claims = Claims();
  claims["exp"] = kNow - 59;  // within the 60 s leeway
  EXPECT_EQ(Outcome(MakeToken(Header(), claims)), "accepted");
  claims["exp"] = kNow - 61;
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("expired"));
  claims["exp"] = std::to_string(kNow + 100);
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"exp\" is not a number"));
  claims.erase("exp");
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"exp\" is missing"));

  claims = Claims();
  claims["nbf"] = kNow + 59;
  EXPECT_EQ(Outcome(MakeToken(Header(), claims)), "accepted");
  claims["nbf"] = kNow + 61;
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"nbf\""));

  claims = Claims();
  claims["iat"] = kNow + 61;
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"iat\""));
  claims["iat"] = kNow + 0.5;  // NumericDate may have a fraction
  EXPECT_EQ(Outcome(MakeToken(Header(), claims)), "accepted");
  claims.erase("iat");
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"iat\" is missing"));

  IdTokenExpectations strict = Expect();
  strict.leeway = std::chrono::seconds(0);
  claims = Claims();
  claims["exp"] = kNow - 1;
  EXPECT_THAT(Outcome(MakeToken(Header(), claims), strict), HasSubstr("expired"));
}

TEST(VerifyIdTokenTest, RefusesAccessTokensAndTokensWithoutSubject) {
  nlohmann::json claims = Claims();
  claims["token_use"] = "access";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"token_use\" is not \"id\""));
  claims.erase("token_use");  // other providers have no token_use
  EXPECT_EQ(Outcome(MakeToken(Header(), claims)), "accepted");
  claims.erase("sub");
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"sub\" is missing"));
  claims["sub"] = "";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"sub\" is missing"));
}

TEST(VerifyIdTokenTest, ChecksTheNonce) {
  nlohmann::json claims = Claims();
  claims["nonce"] = "another";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"nonce\" does not match"));
  claims.erase("nonce");
  EXPECT_THAT(Outcome(MakeToken(Header(), claims)), HasSubstr("\"nonce\" is missing"));

  IdTokenExpectations lax = Expect();
  lax.require_nonce = false;
  EXPECT_EQ(Outcome(MakeToken(Header(), claims), lax), "accepted");
  // Not requiring a nonce never accepts a wrong one.
  claims["nonce"] = "another";
  EXPECT_THAT(Outcome(MakeToken(Header(), claims), lax), HasSubstr("\"nonce\" does not match"));
  claims["nonce"] = 5;
  EXPECT_THAT(Outcome(MakeToken(Header(), claims), lax), HasSubstr("\"nonce\" does not match"));
}

}  // namespace
}  // namespace stockwatch::core
