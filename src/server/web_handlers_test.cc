// The dashboard's static routes and the security headers, through ApiRouter::Handle.
#include <optional>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/api_router_test_support.h"
#include "server/router.h"
#include "server/web_assets.h"

namespace stockwatch::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::optional<std::string> HeaderOf(const HttpResponse& response, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      EXPECT_FALSE(found.has_value()) << name << " sent twice";
      found = value;
    }
  }
  return found;
}

const WebAsset& AssetEndingIn(std::string_view suffix) {
  for (const WebAsset& asset : WebAssets()) {
    if (asset.path.size() >= suffix.size() &&
        asset.path.substr(asset.path.size() - suffix.size()) == suffix) {
      return asset;
    }
  }
  ADD_FAILURE() << "no asset ending in " << suffix;
  return WebAssets()[0];
}

class WebRoutesTest : public ApiRouterTest {
 protected:
  // Exactly `headers`: the dashboard's files are served without credentials.
  HttpResponse Get(std::string target,
                   std::vector<std::pair<std::string, std::string>> headers = {},
                   std::string method = "GET") {
    return Send(std::move(method), std::move(target), "", std::move(headers));
  }
};

TEST_F(WebRoutesTest, ServesIndexWithoutCredentialsAndRevalidatesIt) {
  HttpResponse index = Get("/");
  ASSERT_EQ(index.status, 200) << index.body;
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(index.body, HasSubstr("<div id=\"app\">"));
  EXPECT_EQ(HeaderOf(index, "Cache-Control"), "no-cache");
  EXPECT_EQ(HeaderOf(index, "ETag"), std::string(WebAssets()[0].etag));
  EXPECT_EQ(HeaderOf(index, "Content-Encoding"), std::nullopt);
}

TEST_F(WebRoutesTest, IndexNamesTheHashedBundlesAndHasNoInlineScriptOrStyle) {
  const std::string body = Get("/").body;
  const WebAsset& js = AssetEndingIn(".js");
  const WebAsset& css = AssetEndingIn(".css");
  EXPECT_THAT(body, HasSubstr("src=\"" + std::string(js.path) + "\""));
  EXPECT_THAT(body, HasSubstr("href=\"" + std::string(css.path) + "\""));
  EXPECT_THAT(body, Not(HasSubstr("<style")));
  EXPECT_THAT(body, Not(HasSubstr("<script>")));
  EXPECT_THAT(body, Not(HasSubstr("onload=")));
}

TEST_F(WebRoutesTest, ServesHashedAssetsImmutableWithTheirContentType) {
  const WebAsset& js = AssetEndingIn(".js");
  HttpResponse script = Get(std::string(js.path));
  ASSERT_EQ(script.status, 200) << script.body;
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(script.body, js.body);
  EXPECT_EQ(HeaderOf(script, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(HeaderOf(script, "ETag"), std::string(js.etag));

  HttpResponse style = Get(std::string(AssetEndingIn(".css").path));
  ASSERT_EQ(style.status, 200);
  EXPECT_EQ(style.content_type, "text/css; charset=utf-8");
}

TEST_F(WebRoutesTest, AnswersAMatchingIfNoneMatchWith304) {
  const WebAsset& js = AssetEndingIn(".js");
  const std::string etag(js.etag);
  for (const std::string& if_none_match :
       {etag, "\"other\", " + etag, "W/" + etag, std::string("*")}) {
    HttpResponse response = Get(std::string(js.path), {{"if-none-match", if_none_match}});
    EXPECT_EQ(response.status, 304) << if_none_match;
    EXPECT_TRUE(response.body.empty());
    EXPECT_EQ(HeaderOf(response, "ETag"), etag);
  }
  EXPECT_EQ(Get(std::string(js.path), {{"if-none-match", "\"other\""}}).status, 200);
}

TEST_F(WebRoutesTest, SendsGzipOnlyWhenAcceptEncodingAllowsIt) {
  const WebAsset& js = AssetEndingIn(".js");
  ASSERT_FALSE(js.gzip.empty());
  ASSERT_LT(js.gzip.size(), js.body.size());
  for (const char* accepted : {"gzip", "gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "*"}) {
    HttpResponse response = Get(std::string(js.path), {{"accept-encoding", accepted}});
    EXPECT_EQ(HeaderOf(response, "Content-Encoding"), "gzip") << accepted;
    EXPECT_EQ(response.body, js.gzip) << accepted;
    EXPECT_EQ(HeaderOf(response, "Vary"), "Accept-Encoding");
  }
  for (const char* refused : {"br", "gzip;q=0", "gzip; q=0.000", "identity"}) {
    HttpResponse response = Get(std::string(js.path), {{"accept-encoding", refused}});
    EXPECT_EQ(HeaderOf(response, "Content-Encoding"), std::nullopt) << refused;
    EXPECT_EQ(response.body, js.body) << refused;
  }
}

TEST_F(WebRoutesTest, HeadSendsTheLengthWithoutABody) {
  const WebAsset& js = AssetEndingIn(".js");
  HttpResponse head = Get(std::string(js.path), {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.head_content_length, js.body.size());
}

TEST_F(WebRoutesTest, RefusesOtherMethodsAndUnknownAssets) {
  HttpResponse post = Get("/", {}, "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(HeaderOf(post, "Allow"), "GET, HEAD");
  HttpResponse missing = Get("/assets/app-NOPE.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/json");
  // Only `/` serves HTML: the app routes with the URL's fragment.
  EXPECT_EQ(Get("/inventory").status, 401);
}

TEST_F(WebRoutesTest, EveryResponseCarriesTheSecurityHeaders) {
  std::vector<HttpResponse> responses;
  responses.push_back(Get("/"));
  responses.push_back(Get(std::string(AssetEndingIn(".css").path)));
  responses.push_back(Get("/healthz"));
  responses.push_back(Get("/api/v1/stores"));  // 401: no credentials
  responses.push_back(Call("GET", "/api/v1/stores"));
  responses.push_back(Get("/unsubscribe?token=1.00"));
  responses.push_back(Get("/assets/missing.js"));

  for (const HttpResponse& response : responses) {
    SCOPED_TRACE(response.status);
    EXPECT_EQ(HeaderOf(response, "Content-Security-Policy"),
              "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    EXPECT_EQ(HeaderOf(response, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(response, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(HeaderOf(response, "X-Frame-Options"), "DENY");
    EXPECT_EQ(HeaderOf(response, "Strict-Transport-Security"), std::nullopt);
  }
}

TEST_F(WebRoutesTest, SendsHstsUnderTls) {
  options_.tls = true;
  EXPECT_EQ(HeaderOf(Get("/"), "Strict-Transport-Security"), "max-age=31536000");
  EXPECT_EQ(HeaderOf(Get("/api/v1/stores"), "Strict-Transport-Security"), "max-age=31536000");
}

}  // namespace
}  // namespace stockwatch::server
