#include "core/auth/oidc.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PkceTest, ChallengeMatchesRfc7636AppendixB) {
  EXPECT_EQ(PkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(PkceTest, ValidatesVerifiers) {
  EXPECT_TRUE(IsValidPkceVerifier(std::string(43, 'a')));
  EXPECT_TRUE(IsValidPkceVerifier(std::string(128, '~')));
  EXPECT_FALSE(IsValidPkceVerifier(std::string(42, 'a')));
  EXPECT_FALSE(IsValidPkceVerifier(std::string(129, 'a')));
  EXPECT_FALSE(IsValidPkceVerifier(std::string(42, 'a') + "+"));
}

TEST(PkceTest, NewAttemptsAreFreshAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    const OidcAttempt attempt = NewOidcAttempt();
    EXPECT_TRUE(IsValidPkceVerifier(attempt.code_verifier)) << attempt.code_verifier;
    EXPECT_EQ(attempt.code_verifier.size(), 43u);
    EXPECT_EQ(attempt.state.size(), 43u);
    EXPECT_EQ(attempt.nonce.size(), 43u);
    EXPECT_TRUE(seen.insert(attempt.state).second);
    EXPECT_TRUE(seen.insert(attempt.nonce).second);
    EXPECT_TRUE(seen.insert(attempt.code_verifier).second);
  }
}

TEST(AuthorizationUrlTest, CarriesEveryParameterEncoded) {
  AuthorizationRequest request;
  request.endpoint = "https://auth.example.com/oauth2/authorize";
  request.client_id = "client 1";
  request.redirect_uri = "https://stock.example.com/api/v1/oidc/callback";
  request.scopes = "openid email";
  request.state = "st";
  request.nonce = "no";
  request.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  EXPECT_EQ(AuthorizationUrl(request),
            "https://auth.example.com/oauth2/authorize?response_type=code&client_id=client%201"
            "&redirect_uri=https%3A%2F%2Fstock.example.com%2Fapi%2Fv1%2Foidc%2Fcallback"
            "&scope=openid%20email&state=st&nonce=no"
            "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            "&code_challenge_method=S256");
}

TEST(AuthorizationUrlTest, KeepsTheEndpointsQueryAndAddsOpenid) {
  AuthorizationRequest request;
  request.endpoint = "https://login.example.com/authorize?p=B2C_1_signin";
  request.scopes = "email profile";
  const std::string url = AuthorizationUrl(request);
  EXPECT_THAT(url, HasSubstr("authorize?p=B2C_1_signin&response_type=code&"));
  EXPECT_THAT(url, HasSubstr("&scope=openid%20email%20profile&"));
  request.scopes = "";
  EXPECT_THAT(AuthorizationUrl(request), HasSubstr("&scope=openid&"));
  request.scopes = "email openid";
  EXPECT_THAT(AuthorizationUrl(request), HasSubstr("&scope=email%20openid&"));
}

TEST(SplitCommaListTest, TrimsAndDropsEmptyEntries) {
  EXPECT_THAT(SplitCommaList(" a, b ,,c ,"), ElementsAre("a", "b", "c"));
  EXPECT_TRUE(SplitCommaList("").empty());
  EXPECT_TRUE(SplitCommaList(" , ").empty());
}

OidcRoleMapping Mapping() {
  OidcRoleMapping mapping;
  mapping.admin_groups = {"stockwatch-admins"};
  mapping.manager_groups = {"stockwatch-managers"};
  mapping.viewer_groups = {"stockwatch-viewers"};
  return mapping;
}

TEST(MapOidcRoleTest, AdminGroupWinsOverTheOthers) {
  nlohmann::json claims = {{"cognito:groups", {"stockwatch-managers", "stockwatch-admins"}}};
  absl::StatusOr<MappedRole> mapped = MapOidcRole(claims, Mapping());
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->role, Role::kAdmin);
  EXPECT_TRUE(mapped->scope.all_stores);
}

TEST(MapOidcRoleTest, ManagerGetsTheStoresOfItsClaim) {
  nlohmann::json claims = {{"cognito:groups", {"stockwatch-managers"}},
                           {"custom:stores", "Paris, Berlin"}};
  absl::StatusOr<MappedRole> mapped = MapOidcRole(claims, Mapping());
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->role, Role::kManager);
  EXPECT_FALSE(mapped->scope.all_stores);
  EXPECT_THAT(mapped->scope.stores, ElementsAre("Berlin", "Paris"));

  claims["custom:stores"] = {"Rome"};
  EXPECT_THAT(MapOidcRole(claims, Mapping())->scope.stores, ElementsAre("Rome"));
}

TEST(MapOidcRoleTest, RefusesAManagerWithoutStores) {
  nlohmann::json claims = {{"cognito:groups", {"stockwatch-managers"}}};
  absl::StatusOr<MappedRole> mapped = MapOidcRole(claims, Mapping());
  EXPECT_EQ(mapped.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(mapped.status().message(), HasSubstr("custom:stores"));
  claims["custom:stores"] = " , ";
  EXPECT_EQ(MapOidcRole(claims, Mapping()).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(MapOidcRoleTest, OthersAreViewersUnlessAGroupIsRequired) {
  OidcRoleMapping mapping = Mapping();
  nlohmann::json nobody = {{"cognito:groups", {"marketing"}}};
  EXPECT_EQ(MapOidcRole(nobody, mapping)->role, Role::kViewer);
  EXPECT_EQ(MapOidcRole(nlohmann::json::object(), mapping)->role, Role::kViewer);

  mapping.require_group = true;
  absl::StatusOr<MappedRole> refused = MapOidcRole(nobody, mapping);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), HasSubstr("oidc.require_group"));
  nlohmann::json viewer = {{"cognito:groups", {"stockwatch-viewers"}}};
  EXPECT_EQ(MapOidcRole(viewer, mapping)->role, Role::kViewer);
}

TEST(MapOidcRoleTest, ReadsAConfiguredClaimAsArrayOrString) {
  OidcRoleMapping mapping = Mapping();
  mapping.groups_claim = "groups";
  mapping.require_group = true;
  EXPECT_EQ(MapOidcRole({{"groups", "x, stockwatch-admins"}}, mapping)->role, Role::kAdmin);
  EXPECT_EQ(MapOidcRole({{"groups", {"stockwatch-admins"}}}, mapping)->role, Role::kAdmin);
  // The default claim is not read any more; names compare exactly.
  EXPECT_FALSE(MapOidcRole({{"cognito:groups", {"stockwatch-admins"}}}, mapping).ok());
  EXPECT_FALSE(MapOidcRole({{"groups", {"Stockwatch-Admins"}}}, mapping).ok());
  EXPECT_FALSE(MapOidcRole({{"groups", {{"nested"}, 5}}}, mapping).ok());
}

TEST(OidcUserNameTest, PrefersAVerifiedEmail) {
  nlohmann::json claims = {{"email", "alice@example.com"},
                           {"email_verified", true},
                           {"cognito:username", "alice"},
                           {"sub", "ef06d73e"}};
  EXPECT_EQ(OidcUserName(claims).value(), "alice@example.com");
  claims["email_verified"] = "true";
  EXPECT_EQ(OidcUserName(claims).value(), "alice@example.com");
  claims["email_verified"] = false;
  EXPECT_EQ(OidcUserName(claims).value(), "alice");
  claims.erase("email_verified");
  EXPECT_EQ(OidcUserName(claims).value(), "alice");
}

TEST(OidcUserNameTest, FallsBackToSubjectAndNeverToChangeableNames) {
  nlohmann::json claims = {{"preferred_username", "admin"}, {"name", "admin"}, {"sub", "1234"}};
  EXPECT_EQ(OidcUserName(claims).value(), "1234");
  claims["cognito:username"] = "not valid!";
  EXPECT_EQ(OidcUserName(claims).value(), "1234");
  claims["sub"] = std::string(65, 'a');
  EXPECT_EQ(OidcUserName(claims).status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace stockwatch::core
