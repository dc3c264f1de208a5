#include "core/auth/sealed_token.h"

#include <chrono>
#include <string>

#include "core/auth/jwt.h"
#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const std::string kSecret(40, 's');
const TimePoint kNow = TimePoint{} + seconds(1'795'700'000);

TEST(SealedToken, OpensWhatItSealedWithTheExpiryAdded) {
  TokenSealer sealer(kSecret);
  const std::string token =
      sealer.Seal("session", {{"name", "ana"}, {"role", "admin"}}, kNow + hours(8));
  absl::StatusOr<nlohmann::json> claims = sealer.Open("session", token, kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->at("name"), "ana");
  EXPECT_EQ(claims->at("role"), "admin");
  EXPECT_EQ(claims->at("exp"), 1'795'700'000 + 8 * 3600);
  // Only base64url characters: safe in a cookie.
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  // The browser cannot read it.
  EXPECT_EQ(Base64UrlDecode(token)->find("ana"), std::string::npos);
}

TEST(SealedToken, EachSealIsDifferent) {
  TokenSealer sealer(kSecret);
  EXPECT_NE(sealer.Seal("session", {{"a", 1}}, kNow + hours(1)),
            sealer.Seal("session", {{"a", 1}}, kNow + hours(1)));
}

TEST(SealedToken, RefusesAnotherPurposeSecretOrAnyChange) {
  TokenSealer sealer(kSecret);
  const std::string token = sealer.Seal("oidc-attempt", {{"state", "x"}}, kNow + hours(1));
  EXPECT_TRUE(absl::IsUnauthenticated(sealer.Open("session", token, kNow).status()));
  TokenSealer other(std::string(40, 't'));
  EXPECT_TRUE(absl::IsUnauthenticated(other.Open("oidc-attempt", token, kNow).status()));
  for (size_t i = 0; i < token.size(); i += 7) {
    std::string changed = token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    EXPECT_TRUE(absl::IsUnauthenticated(sealer.Open("oidc-attempt", changed, kNow).status()))
        << "byte " << i;
  }
  EXPECT_TRUE(absl::IsUnauthenticated(sealer.Open("oidc-attempt", "", kNow).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(sealer.Open("oidc-attempt", "!!!", kNow).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(
      sealer.Open("oidc-attempt", std::string(kMaxSealedTokenBytes + 1, 'A'), kNow).status()));
}

TEST(SealedToken, RefusesAnExpiredToken) {
  TokenSealer sealer(kSecret);
  const std::string token = sealer.Seal("session", {{"name", "ana"}}, kNow + seconds(10));
  EXPECT_TRUE(sealer.Open("session", token, kNow + seconds(9)).ok());
  absl::Status expired = sealer.Open("session", token, kNow + seconds(10)).status();
  EXPECT_TRUE(absl::IsUnauthenticated(expired));
  EXPECT_NE(expired.message().find("expired"), std::string::npos) << expired;
}

TEST(SealedToken, LongSecretsWork) {
  TokenSealer sealer(std::string(200, 'k'));
  const std::string token = sealer.Seal("session", {{"n", 1}}, kNow + hours(1));
  EXPECT_TRUE(sealer.Open("session", token, kNow).ok());
  // A secret that only shares the first 64 bytes is another secret.
  TokenSealer other(std::string(64, 'k') + std::string(136, 'j'));
  EXPECT_FALSE(other.Open("session", token, kNow).ok());
}

TEST(SealedToken, SecretMustBeLongEnough) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSealSecret(std::string(31, 'x'), "SESSION_SECRET")));
  EXPECT_NE(CheckSealSecret("short", "SESSION_SECRET").message().find("SESSION_SECRET"),
            std::string::npos);
  EXPECT_TRUE(CheckSealSecret(std::string(32, 'x'), "SESSION_SECRET").ok());
}

}  // namespace
}  // namespace stockwatch::core
