#include "lambda/dashboard_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace stockwatch::lambda {
namespace {

using ::testing::HasSubstr;

class FakeClock final : public core::Clock {
 public:
  core::TimePoint Now() override { return core::TimePoint(std::chrono::seconds(1795680000)); }
  std::chrono::steady_clock::time_point Monotonic() override { return monotonic_; }
  void Advance(std::chrono::milliseconds by) { monotonic_ += by; }

 private:
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

  for (const char* path : {"/api/v1/inventory", "/api/v1/no-such-route", "/"}) {
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

}  // namespace
}  // namespace stockwatch::lambda
