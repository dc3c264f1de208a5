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
  int64_t Create(const std::string& extra = "") {
    HttpResponse created = Call(
        "POST", "/api/v1/subscriptions",
        R"({"topic":"NoStock","endpoint":"https://h.example.com/","confirmed":true)" + extra + "}");
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

}  // namespace
}  // namespace stockwatch::server
