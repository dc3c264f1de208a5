// The /api/v1/templates routes through ApiRouter::Handle, over the in-memory adapters.
#include <algorithm>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/api_router_test_support.h"
#include "server/router.h"

namespace stockwatch::server {
namespace {

using ::testing::StartsWith;
constexpr const char* kViewerToken = kTestViewerToken;

class TemplateRoutesTest : public ApiRouterTest {
 protected:
};

TEST_F(TemplateRoutesTest, AdminSetsListsAndResets) {
  HttpResponse put = Call("PUT", "/api/v1/templates/NoStock",
                          R"({"protocol":"email","subject":"{item}","body":"{store}"})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(nlohmann::json::parse(put.body),
            nlohmann::json::parse(
                R"({"topic":"NoStock","protocol":"email","subject":"{item}","body":"{store}"})"));
  HttpResponse list = Call("GET", "/api/v1/templates", "", kViewerToken);
  ASSERT_EQ(list.status, 200) << list.body;
  const nlohmann::json doc = nlohmann::json::parse(list.body);
  ASSERT_EQ(doc["templates"].size(), 1u);
  EXPECT_EQ(doc["templates"][0]["protocol"], "email");
  EXPECT_EQ(doc["defaults"].size(), 3u);
  EXPECT_EQ(doc["defaults"][0]["body"], "{store} is out of stock of {item}");

  EXPECT_EQ(Call("DELETE", "/api/v1/templates/NoStock").status, 204);  // any protocol: none
  EXPECT_EQ(notifier_.Templates()->size(), 1u);
  EXPECT_EQ(Call("DELETE", "/api/v1/templates/NoStock?protocol=email").status, 204);
  EXPECT_TRUE(notifier_.Templates()->empty());
}

TEST_F(TemplateRoutesTest, OnlyAnAdminChangesTemplates) {
  HttpResponse put = Call("PUT", "/api/v1/templates/NoStock",
                          R"({"protocol":null,"subject":"a","body":"b"})", kViewerToken);
  EXPECT_EQ(put.status, 403) << put.body;
  ASSERT_TRUE(notifier_.SetTemplate("NoStock", std::nullopt, "a", "b").ok());
  EXPECT_EQ(Call("DELETE", "/api/v1/templates/NoStock", "", kViewerToken).status, 403);
  EXPECT_EQ(notifier_.Templates()->size(), 1u);
  // Reading and previewing change nothing: any principal.
  EXPECT_EQ(
      Call("POST", "/api/v1/templates/preview", R"({"topic":"NoStock"})", kViewerToken).status,
      200);
}

TEST_F(TemplateRoutesTest, RefusesBadInput) {
  HttpResponse bad = Call("PUT", "/api/v1/templates/NoStock", R"({"subject":"{x}","body":""})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(nlohmann::json::parse(bad.body)["error"]["message"].get<std::string>(),
              StartsWith("subject: line 1, column 1: unknown placeholder \"{x}\""));
  EXPECT_EQ(Call("PUT", "/api/v1/templates/NoStock", R"({"subject":"a"})").status, 400);
  EXPECT_EQ(Call("PUT", "/api/v1/templates/Nope", R"({"subject":"a","body":"b"})").status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/templates/NoStock?protocol=fax").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/templates/NoStock").status, 405);
}

TEST_F(TemplateRoutesTest, PreviewRendersTheTemplateThatWouldApply) {
  ASSERT_TRUE(notifier_.SetTemplate("NoStock", core::Protocol::kSms, "SMS", "{store}!").ok());
  HttpResponse sms =
      Call("POST", "/api/v1/templates/preview", R"({"topic":"NoStock","protocol":"sms"})");
  ASSERT_EQ(sms.status, 200) << sms.body;
  EXPECT_EQ(nlohmann::json::parse(sms.body)["body"], "Berlin!");
  HttpResponse email =
      Call("POST", "/api/v1/templates/preview", R"({"topic":"NoStock","protocol":"email"})");
  ASSERT_EQ(email.status, 200) << email.body;
  EXPECT_EQ(nlohmann::json::parse(email.body)["subject"], "Inventory Alert!");
  EXPECT_EQ(nlohmann::json::parse(email.body)["body"], "Berlin is out of stock of Echo Plus");
}

}  // namespace
}  // namespace stockwatch::server
