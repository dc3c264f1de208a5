// PATCH /api/v1/subscriptions/{id} through ApiRouter::Handle, over the in-memory adapters.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/api_router_test_support.h"
#include "server/router.h"

namespace stockwatch::server {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class SubscriptionRoutesTest : public ApiRouterTest {
 protected:
  // A confirmed webhook subscription to NoStock; its id.
  int64_t Create(const std::string& extra = "",
                 const std::string& endpoint = "https://h.example.com/") {
    HttpResponse created = Call(
        "POST", "/api/v1/subscriptions",
        R"({"topic":"NoStock","endpoint":")" + endpoint + R"(","confirmed":true)" + extra + "}");
    EXPECT_EQ(created.status, 201) << created.body;
    return json::parse(created.body)["id"].get<int64_t>();
  }
  std::string Path(int64_t id) { return "/api/v1/subscriptions/" + std::to_string(id); }
  std::string ErrorMessage(const HttpResponse& response) {
    return json::parse(response.body)["error"]["message"].get<std::string>();
  }
};

TEST_F(SubscriptionRoutesTest, PatchChangesOnlyTheFieldsGiven) {
  const int64_t id =
      Create(R"(,"digest":"5m","quiet_hours":"22:00-07:00","timezone":"Europe/Berlin")");
  HttpResponse patched = Call("PATCH", Path(id), R"({"digest":"120m"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  json sub = json::parse(patched.body);
  EXPECT_EQ(sub["id"], id);
  EXPECT_EQ(sub["digest"], "2h");
  EXPECT_EQ(sub["quiet_hours"], "22:00-07:00");
  EXPECT_EQ(sub["timezone"], "Europe/Berlin");
  EXPECT_EQ(sub["filter_policy"], nullptr);
  EXPECT_EQ(sub["status"], "confirmed");
  EXPECT_FALSE(sub.contains("signing_secret"));

  patched = Call("PATCH", Path(id),
                 R"({"filter_policy":{"store":["Berlin"]},"quiet_hours":null,"timezone":"UTC"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  sub = json::parse(patched.body);
  EXPECT_EQ(sub["filter_policy"], json::parse(R"({"store":["Berlin"]})"));
  EXPECT_EQ(sub["quiet_hours"], nullptr);
  EXPECT_EQ(sub["digest"], "2h");

  // A string holding a policy works as on create; null removes it.
  patched = Call("PATCH", Path(id), R"({"filter_policy":"{\"item\":[\"Echo Dot\"]}"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json::parse(patched.body)["filter_policy"], json::parse(R"({"item":["Echo Dot"]})"));
  patched = Call("PATCH", Path(id), R"({"filter_policy":null,"digest":"immediate"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json::parse(patched.body)["filter_policy"], nullptr);
  EXPECT_EQ(json::parse(patched.body)["digest"], "immediate");

  // The listing shows the change.
  const json listed = json::parse(Call("GET", "/api/v1/subscriptions").body)["subscriptions"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0], json::parse(patched.body));
}

TEST_F(SubscriptionRoutesTest, PatchRefusesBadValuesNamingTheField) {
  const int64_t id = Create(R"(,"digest":"5m")");
  struct Case {
    std::string body;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"digest":"7x"})", "digest \"7x\""},
           {R"({"quiet_hours":"22:00"})", "quiet_hours"},
           {R"({"timezone":"Nowhere/Land"})", "timezone"},
           {R"({"filter_policy":{"store":"Berlin"}})", "filter policy"},
           {R"({"filter_policy":7})", "filter_policy must be"},
           {R"({"digest":null})", "digest must be a string"},
           {R"({"timezone":3})", "timezone must be a string"},
           {R"({"endpoint":"https://other.example.com/"})", "endpoint cannot be changed"},
           {R"({})", "nothing to change"},
           {R"([])", "JSON object"}}) {
    HttpResponse response = Call("PATCH", Path(id), c.body);
    EXPECT_EQ(response.status, 400) << c.body << " " << response.body;
    EXPECT_THAT(ErrorMessage(response), HasSubstr(c.message)) << c.body;
  }
  // Nothing changed.
  const json listed = json::parse(Call("GET", "/api/v1/subscriptions").body)["subscriptions"];
  EXPECT_EQ(listed[0]["digest"], "5m");
}

TEST_F(SubscriptionRoutesTest, PatchNeedsAnAdminAndALiveSubscription) {
  const int64_t id = Create();
  HttpResponse viewer = Call("PATCH", Path(id), R"({"digest":"5m"})", kTestViewerToken);
  EXPECT_EQ(viewer.status, 403) << viewer.body;
  EXPECT_THAT(ErrorMessage(viewer), HasSubstr("only an admin"));
  EXPECT_EQ(Call("PATCH", Path(id + 1), R"({"digest":"5m"})").status, 404);
  EXPECT_EQ(Call("PATCH", "/api/v1/subscriptions/x", R"({"digest":"5m"})").status, 400);
  ASSERT_EQ(Call("DELETE", Path(id)).status, 204);
  EXPECT_EQ(Call("PATCH", Path(id), R"({"digest":"5m"})").status, 404);

  HttpResponse put = Call("PUT", Path(id), R"({"digest":"5m"})");
  EXPECT_EQ(put.status, 405);
  EXPECT_THAT(put.headers,
              ::testing::Contains(std::pair<std::string, std::string>("Allow", "PATCH, DELETE")));
}

TEST_F(SubscriptionRoutesTest, TestMessageGoesToThatSubscriptionOnly) {
  const int64_t id = Create();
  const int64_t other = Create("", "https://other.example.com/");
  ASSERT_NE(id, other);
  HttpResponse sent = Call("POST", Path(id) + "/test");
  ASSERT_EQ(sent.status, 202) << sent.body;
  const json delivery = json::parse(sent.body);
  EXPECT_EQ(delivery["subscription_id"], id);
  EXPECT_EQ(delivery["kind"], "test");
  EXPECT_EQ(delivery["state"], "pending");
  EXPECT_EQ(delivery["topic"], "NoStock");
  EXPECT_EQ(delivery["store"], "");
  const int64_t delivery_id = delivery["id"].get<int64_t>();
  bool located = false;
  for (const auto& [name, value] : sent.headers) {
    located |= name == "Location" && value == "/api/v1/deliveries/" + std::to_string(delivery_id);
  }
  EXPECT_TRUE(located);
  // Its delivery status is a delivery's; the topic's other subscriber gets nothing, and it is
  // no alert.
  HttpResponse got = Call("GET", "/api/v1/deliveries/" + std::to_string(delivery_id));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body)["kind"], "test");
  const json all = json::parse(Call("GET", "/api/v1/deliveries").body)["deliveries"];
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["subscription_id"], id);
  EXPECT_TRUE(json::parse(Call("GET", "/api/v1/alerts").body)["alerts"].empty());

  EXPECT_EQ(Call("POST", Path(9999) + "/test").status, 404);
  EXPECT_EQ(Call("GET", Path(id) + "/test").status, 405);
  EXPECT_EQ(Call("POST", Path(id) + "/test", "", kTestViewerToken).status, 403);
}

TEST_F(SubscriptionRoutesTest, TestMessageToAPendingSubscriptionIs412) {
  HttpResponse created = Call("POST", "/api/v1/subscriptions",
                              R"({"topic":"NoStock","endpoint":"https://h.example.com/"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const int64_t id = json::parse(created.body)["id"].get<int64_t>();
  HttpResponse refused = Call("POST", Path(id) + "/test");
  EXPECT_EQ(refused.status, 412) << refused.body;
  EXPECT_THAT(ErrorMessage(refused), HasSubstr("not confirmed"));
}

TEST_F(SubscriptionRoutesTest, AManagerTestsOnlyItsStoresSubscriptionsAndSeesTheirDeliveries) {
  AddUser("paris", core::Role::kManager, {"Paris"});
  const TestSession manager = Login("paris");
  const int64_t paris = Create(R"(,"filter_policy":{"store":["Paris"]})");
  const int64_t berlin =
      Create(R"(,"filter_policy":{"store":["Berlin"]})", "https://b.example.com/");
  EXPECT_EQ(CookieCall("POST", Path(berlin) + "/test", manager).status, 403);
  HttpResponse sent = CookieCall("POST", Path(paris) + "/test", manager);
  ASSERT_EQ(sent.status, 202) << sent.body;
  const int64_t delivery_id = json::parse(sent.body)["id"].get<int64_t>();
  // The admin's test of Berlin's subscription stays out of its sight.
  ASSERT_EQ(Call("POST", Path(berlin) + "/test").status, 202);
  const json seen =
      json::parse(CookieCall("GET", "/api/v1/deliveries", manager).body)["deliveries"];
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["id"], delivery_id);
  EXPECT_EQ(CookieCall("GET", "/api/v1/deliveries/" + std::to_string(delivery_id), manager).status,
            200);
  EXPECT_EQ(
      CookieCall("GET", "/api/v1/deliveries/" + std::to_string(delivery_id + 1), manager).status,
      403);
}

}  // namespace
}  // namespace stockwatch::server
