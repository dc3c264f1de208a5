// The topic routes (GET, POST /api/v1/topics; PUT, DELETE /api/v1/topics/{name}) through
// ApiRouter::Handle, over the in-memory adapters.
#include <algorithm>
#include <string>
#include <utility>
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
constexpr const char* kViewerToken = kTestViewerToken;

class TopicRoutesTest : public ApiRouterTest {
 protected:
  std::string ErrorMessage(const HttpResponse& response) {
    return json::parse(response.body)["error"]["message"].get<std::string>();
  }
};

TEST_F(TopicRoutesTest, CreateListAndDeleteAUserTopic) {
  HttpResponse created =
      Call("POST", "/api/v1/topics",
           R"({"name":"BerlinOutages","rules":["NoStock"],"filter_policy":{"store":["Berlin"]}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const json topic = json::parse(created.body);
  EXPECT_EQ(topic["name"], "BerlinOutages");
  EXPECT_EQ(topic["builtin"], false);
  EXPECT_EQ(topic["urgent"], false);
  EXPECT_EQ(topic["rules"], json::array({"NoStock"}));
  EXPECT_EQ(topic["filter_policy"], json::parse(R"({"store":["Berlin"]})"));
  EXPECT_THAT(created.headers, ::testing::Contains(std::pair<std::string, std::string>(
                                   "Location", "/api/v1/topics/BerlinOutages")));

  HttpResponse listed = Call("GET", "/api/v1/topics");
  ASSERT_EQ(listed.status, 200);
  const json doc = json::parse(listed.body);
  EXPECT_EQ(doc["topics"], json::array({"BackInStock", "BerlinOutages", "LowStock", "NoStock"}));
  EXPECT_EQ(doc["urgent"], json::array());
  ASSERT_EQ(doc["details"].size(), 4u);
  EXPECT_EQ(doc["details"][1], topic);
  EXPECT_EQ(doc["details"][0]["builtin"], true);
  EXPECT_EQ(doc["details"][0]["rules"], json::array({"BackInStock"}));
  EXPECT_EQ(doc["details"][0]["filter_policy"], nullptr);

  // Subscribable and markable urgent like a built-in topic.
  EXPECT_EQ(
      Call("POST", "/api/v1/subscriptions",
           R"({"topic":"BerlinOutages","endpoint":"https://h.example.com/","confirmed":true})")
          .status,
      201);
  EXPECT_EQ(Call("PUT", "/api/v1/topics/BerlinOutages", R"({"urgent":true})").status, 200);

  HttpResponse deleted = Call("DELETE", "/api/v1/topics/BerlinOutages");
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_TRUE(notifier_.Subscriptions()->empty());
  EXPECT_EQ(json::parse(Call("GET", "/api/v1/topics").body)["topics"].size(), 3u);
  EXPECT_EQ(Call("DELETE", "/api/v1/topics/BerlinOutages").status, 404);
}

TEST_F(TopicRoutesTest, RefusesBadTopicsWithClearMessages) {
  struct Case {
    std::string body;
    int status;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"rules":["NoStock"]})", 400, "name is required"},
           {R"({"name":"Berlin Outages","rules":["NoStock"]})", 400, "topic name"},
           {R"({"name":"T"})", 400, "rules is required"},
           {R"({"name":"T","rules":[]})", 400, "rules is empty"},
           {R"({"name":"T","rules":[1]})", 400, "rules must be an array of strings"},
           {R"({"name":"T","rules":["OutOfStock"]})", 400, "rule \"OutOfStock\""},
           {R"({"name":"T","rules":["NoStock"],"filter_policy":{"store":"Berlin"}})", 400,
            "filter policy"},
           {R"({"name":"T","rules":["NoStock"],"filter_policy":5})", 400, "filter_policy"},
           {R"({"name":"nostock","rules":["NoStock"]})", 409, "already exists"},
       }) {
    HttpResponse response = Call("POST", "/api/v1/topics", c.body);
    EXPECT_EQ(response.status, c.status) << c.body << ": " << response.body;
    EXPECT_THAT(ErrorMessage(response), HasSubstr(c.message)) << c.body;
  }
  HttpResponse builtin = Call("DELETE", "/api/v1/topics/NoStock");
  EXPECT_EQ(builtin.status, 409);
  EXPECT_THAT(ErrorMessage(builtin), HasSubstr("built-in"));
  EXPECT_EQ(Call("DELETE", "/api/v1/topics/Nope").status, 404);
  EXPECT_EQ(Call("PATCH", "/api/v1/topics").status, 405);
  EXPECT_EQ(Call("POST", "/api/v1/topics/NoStock").status, 405);
}

TEST_F(TopicRoutesTest, OnlyAnAdminMarksATopicUrgent) {
  EXPECT_EQ(Call("PUT", "/api/v1/topics/NoStock", R"({"urgent":true})", kViewerToken).status, 403);
  EXPECT_TRUE(notifier_.UrgentTopics()->empty());
  EXPECT_EQ(Call("PUT", "/api/v1/topics/NoStock", R"({"urgent":true})").status, 200);
  EXPECT_EQ(*notifier_.UrgentTopics(), std::vector<std::string>{"NoStock"});
}

TEST_F(TopicRoutesTest, OnlyAnAdminCreatesOrDeletesTopics) {
  EXPECT_EQ(Call("GET", "/api/v1/topics", "", kViewerToken).status, 200);
  HttpResponse create =
      Call("POST", "/api/v1/topics", R"({"name":"T","rules":["NoStock"]})", kViewerToken);
  EXPECT_EQ(create.status, 403);
  ASSERT_EQ(Call("POST", "/api/v1/topics", R"({"name":"T","rules":["NoStock"]})").status, 201);
  EXPECT_EQ(Call("DELETE", "/api/v1/topics/T", "", kViewerToken).status, 403);
  EXPECT_EQ(notifier_.Topics()->size(), 4u);
}

}  // namespace
}  // namespace stockwatch::server
