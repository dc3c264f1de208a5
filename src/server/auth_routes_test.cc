// Accounts on the API through ApiRouter::Handle, over the in-memory adapters: login and the
// session cookie, CSRF and Origin checks, personal tokens, the users routes, and the role
// matrix of docs/API.md run against every route.
#include <optional>
#include <set>
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
using ::testing::Not;
using json = nlohmann::json;

constexpr char kBerlinCsv[] = "store,item,count\nBerlin,Echo Plus,0\nBerlin,Echo Dot,7\n";
constexpr char kParisCsv[] = "store,item,count\nParis,Kindle,3\n";

std::optional<std::string> HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [field, value] : response.headers) {
    if (field == name) return value;
  }
  return std::nullopt;
}

class AuthRoutesTest : public ApiRouterTest {
 protected:
  // Applies upload `id` as the loader would, with `rows` of (store, item, count).
  void Load(int64_t id, const std::vector<std::tuple<std::string, std::string, int64_t>>& rows) {
    auto writer = inventory_.BeginUpload(id, clock_.Now());
    ASSERT_TRUE(writer.ok()) << writer.status();
    int64_t line = 1;
    for (const auto& [store, item, count] : rows) (*writer)->Upsert(store, item, count, ++line);
    core::LoadReport report;
    report.upload_id = id;
    report.status = core::LoadStatus::kLoaded;
    ASSERT_TRUE((*writer)->Commit(report).ok());
  }
  int64_t Upload(const std::string& csv, const char* token = kTestAdminToken) {
    HttpResponse put = Call("PUT", "/api/v1/uploads/f.csv", csv, token);
    EXPECT_EQ(put.status, 201) << put.body;
    return put.status == 201 ? json::parse(put.body)["id"].get<int64_t>() : 0;
  }
  json Body(const HttpResponse& response) {
    return json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  }
};

// Every /api/v1 route against anonymous, a viewer, a manager of another store (Paris; the data
// is Berlin's) and an admin, each but the anonymous one logged in with a session cookie and
// sending its CSRF token.
TEST_F(AuthRoutesTest, EveryRouteAnswersEachRoleAsTheMatrixSays) {
  AddUser("paris", core::Role::kManager, {"Paris"});
  AddUser("temp", core::Role::kViewer);
  const TestSession viewer = Login("viewer");
  const TestSession manager = Login("paris");
  const TestSession admin = Login("admin");

  // Berlin's data: an upload, its items, a subscription and a delivery.
  ASSERT_EQ(Upload(kBerlinCsv), 1);
  Load(1, {{"Berlin", "Echo Plus", 0}, {"Berlin", "Echo Dot", 7}});
  HttpResponse sub = Call("POST", "/api/v1/subscriptions",
                          R"({"topic":"NoStock","endpoint":"+4930123456",)"
                          R"("filter_policy":{"store":["Berlin"]}})");
  ASSERT_EQ(sub.status, 201) << sub.body;
  sub =
      Call("POST", "/api/v1/subscriptions",
           R"({"topic":"LowStock","endpoint":"+4930123457","filter_policy":{"store":["Berlin"]}})");
  ASSERT_EQ(sub.status, 201) << sub.body;  // id 2, deleted below
  core::Message alert;
  alert.id = "1-NoStock";
  alert.topic = alert.rule = "NoStock";
  alert.subject = "Inventory Alert!";
  alert.body = "Berlin is out of stock of Echo Plus";
  alert.store = "Berlin";
  alert.item = "Echo Plus";
  alert.change_sequence = 1;
  alert.at = clock_.Now();
  ASSERT_TRUE(notifier_.Publish({alert}, 0, 1).ok());
  HttpResponse key = Call("POST", "/api/v1/keys", R"({"all_stores":true})");
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string key_id = Body(key)["access_key_id"];
  ASSERT_EQ(Call("POST", "/api/v1/topics", R"({"name":"Temp","rules":["NoStock"]})").status, 201);
  HttpResponse token = Call("POST", "/api/v1/tokens", R"({"name":"doomed"})");
  ASSERT_EQ(token.status, 201) << token.body;
  const std::string token_id = std::to_string(Body(token)["id"].get<int64_t>());

  struct Row {
    std::string method;
    std::string target;
    std::string body;
    int anonymous, viewer, manager, admin;
  };
  const std::vector<Row> rows = {
      {"GET", "/metrics", "", 401, 403, 403, 200},
      {"GET", "/api/v1/me", "", 401, 200, 200, 200},
      {"GET", "/api/v1/inventory", "", 401, 200, 200, 200},
      {"GET", "/api/v1/inventory?store=Berlin", "", 401, 200, 403, 200},
      {"GET", "/api/v1/inventory/Berlin/Echo%20Plus", "", 401, 200, 403, 200},
      {"GET", "/api/v1/stores", "", 401, 200, 200, 200},
      {"GET", "/api/v1/changes", "", 401, 200, 200, 200},
      {"GET", "/api/v1/alerts", "", 401, 200, 200, 200},
      {"GET", "/api/v1/uploads", "", 401, 200, 200, 200},
      {"GET", "/api/v1/uploads/1", "", 401, 200, 403, 200},
      {"GET", "/api/v1/uploads/1/content", "", 401, 200, 403, 200},
      {"GET", "/api/v1/uploads/1/event", "", 401, 200, 403, 200},
      {"PUT", "/api/v1/uploads/more.csv", kBerlinCsv, 401, 403, 403, 201},
      {"GET", "/api/v1/topics", "", 401, 200, 200, 200},
      {"POST", "/api/v1/topics", R"({"name":"Outages","rules":["NoStock"]})", 401, 403, 403, 201},
      {"PUT", "/api/v1/topics/NoStock", R"({"urgent":true})", 401, 403, 403, 200},
      {"DELETE", "/api/v1/topics/Temp", "", 401, 403, 403, 204},
      {"GET", "/api/v1/subscriptions", "", 401, 200, 200, 200},
      {"POST", "/api/v1/subscriptions",
       R"({"topic":"NoStock","endpoint":"+4930123458","filter_policy":{"store":["Berlin"]}})", 401,
       403, 403, 201},
      {"POST", "/api/v1/subscriptions/1/test", "", 401, 403, 403, 202},
      {"PATCH", "/api/v1/subscriptions/1", R"({"digest":"5m"})", 401, 403, 403, 200},
      {"DELETE", "/api/v1/subscriptions/2", "", 401, 403, 403, 204},
      {"GET", "/api/v1/deliveries", "", 401, 200, 200, 200},
      {"GET", "/api/v1/deliveries/1", "", 401, 200, 403, 200},
      {"POST", "/api/v1/deliveries/redrive", "", 401, 403, 403, 200},
      {"GET", "/api/v1/sms/opt-outs", "", 401, 403, 403, 200},
      {"PUT", "/api/v1/sms/opt-outs/%2B4930999999", "", 401, 403, 403, 200},
      {"DELETE", "/api/v1/sms/opt-outs/%2B4930999999", "", 401, 403, 403, 204},
      {"GET", "/api/v1/templates", "", 401, 200, 200, 200},
      {"PUT", "/api/v1/templates/NoStock", R"({"subject":"Out","body":"{store} {item}"})", 401, 403,
       403, 200},
      {"DELETE", "/api/v1/templates/NoStock", "", 401, 403, 403, 204},
      {"POST", "/api/v1/templates/preview", R"({"topic":"NoStock"})", 401, 200, 200, 200},
      {"GET", "/api/v1/thresholds", "", 401, 200, 200, 200},
      {"PUT", "/api/v1/thresholds", R"({"store":"Berlin","value":5})", 401, 403, 403, 200},
      {"GET", "/api/v1/settings", "", 401, 403, 403, 200},
      {"GET", "/api/v1/keys", "", 401, 403, 403, 200},
      {"POST", "/api/v1/keys", R"({"stores":["Berlin"]})", 401, 403, 403, 201},
      {"DELETE", "/api/v1/keys/" + key_id, "", 401, 403, 403, 200},
      {"GET", "/api/v1/tokens", "", 401, 200, 200, 200},
      {"POST", "/api/v1/tokens", R"({"name":"script"})", 401, 201, 201, 201},
      // Another user's token is unknown to a non-admin (404), as a missing one.
      {"DELETE", "/api/v1/tokens/" + token_id, "", 401, 404, 404, 204},
      {"GET", "/api/v1/users", "", 401, 403, 403, 200},
      {"POST", "/api/v1/users",
       R"({"name":"newbie","role":"viewer","password":"a long enough password"})", 401, 403, 403,
       201},
      {"PATCH", "/api/v1/users/viewer", R"({"disabled":false})", 401, 403, 403, 200},
      {"DELETE", "/api/v1/users/temp", "", 401, 403, 403, 204},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.method + " " + row.target);
    EXPECT_EQ(Send(row.method, row.target, row.body, {{"host", "stock.test"}}).status,
              row.anonymous);
    HttpResponse response = CookieCall(row.method, row.target, viewer, row.body);
    EXPECT_EQ(response.status, row.viewer) << "viewer: " << response.body;
    response = CookieCall(row.method, row.target, manager, row.body);
    EXPECT_EQ(response.status, row.manager) << "manager: " << response.body;
    response = CookieCall(row.method, row.target, admin, row.body);
    EXPECT_EQ(response.status, row.admin) << "admin: " << response.body;
  }
  // Logging out works for everyone (and ends the session: LogoutEndsTheSession).
  for (const TestSession* session : {&viewer, &manager, &admin}) {
    EXPECT_EQ(CookieCall("POST", "/api/v1/logout", *session).status, 204);
  }
  EXPECT_EQ(Send("POST", "/api/v1/logout", "", {}).status, 401);
}

TEST_F(AuthRoutesTest, LoginSetsAStrictHttpOnlySessionCookie) {
  HttpResponse response =
      Send("POST", "/api/v1/login", R"({"name":"Admin","password":"correct horse battery"})", {});
  ASSERT_EQ(response.status, 200) << response.body;
  const std::string cookie = HeaderOf(response, "Set-Cookie").value_or("");
  EXPECT_THAT(cookie, ::testing::StartsWith("sw_session="));
  EXPECT_THAT(cookie, HasSubstr("; Path=/"));
  EXPECT_THAT(cookie, HasSubstr("; HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("; SameSite=Strict"));
  EXPECT_THAT(cookie, Not(HasSubstr("Secure")));
  EXPECT_EQ(HeaderOf(response, "Cache-Control"), "no-store");
  json body = Body(response);
  EXPECT_EQ(body["user"], json::parse(R"({"name":"admin","role":"admin","stores":null})"));
  EXPECT_TRUE(body["csrf_token"].is_string());

  // Under TLS: the __Host- prefix and Secure.
  options_.tls = true;
  response =
      Send("POST", "/api/v1/login", R"({"name":"admin","password":"correct horse battery"})", {});
  ASSERT_EQ(response.status, 200) << response.body;
  const std::string secure = HeaderOf(response, "Set-Cookie").value_or("");
  EXPECT_THAT(secure, ::testing::StartsWith("__Host-sw_session="));
  EXPECT_THAT(secure, HasSubstr("; Secure"));
  EXPECT_THAT(secure, HasSubstr("; Path=/"));
  const std::string id = secure.substr(18, secure.find(';') - 18);
  EXPECT_EQ(Send("GET", "/api/v1/me", "", {{"cookie", "__Host-sw_session=" + id}}).status, 200);
  // The plain name is not read under TLS.
  EXPECT_EQ(Send("GET", "/api/v1/me", "", {{"cookie", "sw_session=" + id}}).status, 401);
}

TEST_F(AuthRoutesTest, EachLoginStartsANewSessionAndEndsTheOldOne) {
  const TestSession first = Login("admin");
  HttpResponse again =
      Send("POST", "/api/v1/login", R"({"name":"admin","password":"correct horse battery"})",
           {{"cookie", "sw_session=" + first.id}});
  ASSERT_EQ(again.status, 200);
  const std::string cookie = HeaderOf(again, "Set-Cookie").value_or("");
  const std::string second_id = cookie.substr(11, cookie.find(';') - 11);
  EXPECT_NE(second_id, first.id);
  EXPECT_NE(Body(again)["csrf_token"], first.csrf);
  EXPECT_EQ(CookieCall("GET", "/api/v1/me", first).status, 401);
  HttpResponse me = CookieCall("GET", "/api/v1/me", TestSession{second_id, ""});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(Body(me)["csrf_token"], Body(again)["csrf_token"]);
  // A third login without the cookie leaves the second session alone.
  EXPECT_NE(Login("admin").id, second_id);
  EXPECT_EQ(CookieCall("GET", "/api/v1/me", TestSession{second_id, ""}).status, 200);
}

TEST_F(AuthRoutesTest, UnknownUserAndWrongPasswordGetTheSameAnswer) {
  HttpResponse wrong =
      Send("POST", "/api/v1/login", R"({"name":"admin","password":"not the password"})", {});
  HttpResponse unknown =
      Send("POST", "/api/v1/login", R"({"name":"nobody","password":"not the password"})", {});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(Body(wrong)["error"]["message"], "wrong user name or password");
  EXPECT_FALSE(HeaderOf(wrong, "Set-Cookie").has_value());
  // A disabled account with its right password too.
  ASSERT_EQ(Call("PATCH", "/api/v1/users/viewer", R"({"disabled":true})").status, 200);
  HttpResponse disabled =
      Send("POST", "/api/v1/login", R"({"name":"viewer","password":"correct horse battery"})", {});
  EXPECT_EQ(disabled.status, 401);
  EXPECT_EQ(disabled.body, wrong.body);
}

TEST_F(AuthRoutesTest, RepeatedFailuresAreThrottledWithRetryAfter) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        Send("POST", "/api/v1/login", R"({"name":"admin","password":"guess guess guess"})", {})
            .status,
        401);
  }
  HttpResponse locked =
      Send("POST", "/api/v1/login", R"({"name":"admin","password":"correct horse battery"})", {});
  EXPECT_EQ(locked.status, 429) << locked.body;
  const std::optional<std::string> retry_after = HeaderOf(locked, "Retry-After");
  ASSERT_TRUE(retry_after.has_value());
  EXPECT_GT(std::stoi(*retry_after), 0);
  // Another account is not locked by this one's failures.
  EXPECT_EQ(
      Send("POST", "/api/v1/login", R"({"name":"viewer","password":"correct horse battery"})", {})
          .status,
      200);
}

TEST_F(AuthRoutesTest, StateChangesWithTheCookieNeedTheCsrfTokenAndOurOrigin) {
  const TestSession session = Login("admin");
  const std::string body = R"({"name":"ci"})";
  HttpResponse missing = CookieCall("POST", "/api/v1/tokens", TestSession{session.id, ""}, body);
  EXPECT_EQ(missing.status, 403);
  EXPECT_THAT(Body(missing)["error"]["message"].get<std::string>(), HasSubstr("X-CSRF-Token"));
  EXPECT_EQ(CookieCall("POST", "/api/v1/tokens", session, body, std::string("wrong")).status, 403);
  EXPECT_EQ(CookieCall("POST", "/api/v1/tokens", session, body, std::nullopt,
                       {{"origin", "https://evil.example"}})
                .status,
            403);
  // Reads need no token; our own origin and the public URL are fine.
  EXPECT_EQ(CookieCall("GET", "/api/v1/tokens", TestSession{session.id, ""}).status, 200);
  EXPECT_EQ(CookieCall("POST", "/api/v1/tokens", session, body, std::nullopt,
                       {{"origin", "http://stock.test"}})
                .status,
            201);
  options_.links.base_url = [] { return std::string("https://stock.example.com/"); };
  EXPECT_EQ(CookieCall("POST", "/api/v1/tokens", session, R"({"name":"ci2"})", std::nullopt,
                       {{"origin", "https://stock.example.com"}})
                .status,
            201);
  // A bearer token needs none of this.
  EXPECT_EQ(Call("POST", "/api/v1/tokens", body).status, 409);  // "ci" is taken
  // A login form posted from another site is refused too.
  EXPECT_EQ(Send("POST", "/api/v1/login", R"({"name":"admin","password":"correct horse battery"})",
                 {{"host", "stock.test"}, {"origin", "https://evil.example"}})
                .status,
            403);
}

TEST_F(AuthRoutesTest, LogoutEndsTheSession) {
  const TestSession session = Login("viewer");
  ASSERT_EQ(CookieCall("GET", "/api/v1/me", session).status, 200);
  HttpResponse out = CookieCall("POST", "/api/v1/logout", session);
  EXPECT_EQ(out.status, 204);
  EXPECT_THAT(HeaderOf(out, "Set-Cookie").value_or(""),
              HasSubstr("sw_session=; Path=/; Max-Age=0"));
  EXPECT_EQ(CookieCall("GET", "/api/v1/me", session).status, 401);
}

TEST_F(AuthRoutesTest, PasswordChangeEndsTheOtherSessions) {
  const TestSession here = Login("viewer");
  const TestSession elsewhere = Login("viewer");
  EXPECT_EQ(CookieCall("POST", "/api/v1/me/password", here,
                       R"({"current_password":"wrong wrong wrong","new_password":"x"})")
                .status,
            403);
  EXPECT_EQ(CookieCall("POST", "/api/v1/me/password", here,
                       R"({"current_password":"correct horse battery","new_password":"short"})")
                .status,
            400);
  EXPECT_EQ(CookieCall("POST", "/api/v1/me/password", here,
                       R"({"current_password":"correct horse battery",)"
                       R"("new_password":"a brand new passphrase"})")
                .status,
            204);
  EXPECT_EQ(CookieCall("GET", "/api/v1/me", here).status, 200);
  EXPECT_EQ(CookieCall("GET", "/api/v1/me", elsewhere).status, 401);
  EXPECT_EQ(
      Send("POST", "/api/v1/login", R"({"name":"viewer","password":"correct horse battery"})", {})
          .status,
      401);
  Login("viewer", "a brand new passphrase");
}

TEST_F(AuthRoutesTest, ThrottledPasswordChangesGetRetryAfter) {
  const TestSession session = Login("viewer");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(CookieCall("POST", "/api/v1/me/password", session,
                         R"({"current_password":"wrong wrong wrong","new_password":"x"})")
                  .status,
              403);
  }
  HttpResponse locked = CookieCall("POST", "/api/v1/me/password", session,
                                   R"({"current_password":"correct horse battery",)"
                                   R"("new_password":"a brand new passphrase"})");
  EXPECT_EQ(locked.status, 429) << locked.body;
  const std::optional<std::string> retry_after = HeaderOf(locked, "Retry-After");
  ASSERT_TRUE(retry_after.has_value());
  EXPECT_GT(std::stoi(*retry_after), 0);
  EXPECT_EQ(Body(locked)["error"]["code"], "resource_exhausted");
}

// A manager of Paris, with 150 Berlin entries interleaved among its 150 Paris ones in every
// listing, gets full pages of Paris and cursors that lead through all of them.
TEST_F(AuthRoutesTest, AManagersListingsGiveFullPagesOfItsStores) {
  AddUser("paris", core::Role::kManager, {"Paris"});
  const TestSession manager = Login("paris");
  std::vector<core::Message> alerts;
  for (int i = 0; i < 150; ++i) {
    const std::string n = std::to_string(i);
    const int64_t berlin = Upload("store,item,count\nBerlin,B" + n + ",0\n");
    Load(berlin, {{"Berlin", "B" + n, 0}});
    HttpResponse put = CookieCall("PUT", "/api/v1/uploads/p.csv", manager,
                                  "store,item,count\nParis,P" + n + ",0\n");
    ASSERT_EQ(put.status, 201) << put.body;
    Load(Body(put)["id"].get<int64_t>(), {{"Paris", "P" + n, 0}});
    for (const char* store : {"Berlin", "Paris"}) {
      core::Message alert;
      alert.id = std::string(store) + n + "-NoStock";
      alert.topic = alert.rule = "NoStock";
      alert.subject = "Inventory Alert!";
      alert.body = "out";
      alert.store = store;
      alert.item = (store[0] == 'B' ? "B" : "P") + n;
      alert.change_sequence = alerts.size() + 1;
      alert.at = clock_.Now();
      alerts.push_back(alert);
    }
  }
  ASSERT_TRUE(notifier_.Publish(alerts, 0, alerts.size()).ok());

  // Uploads: newest first, by next_before.
  std::set<int64_t> uploads;
  std::string target = "/api/v1/uploads?limit=40";
  for (int page = 0; page < 10; ++page) {
    const json body = Body(CookieCall("GET", target, manager));
    const size_t expected = uploads.size() + 40 <= 150 ? 40 : 150 - uploads.size();
    ASSERT_EQ(body["uploads"].size(), expected) << target;
    for (const json& upload : body["uploads"]) {
      EXPECT_EQ(upload["uploader"], "paris");
      EXPECT_TRUE(uploads.insert(upload["id"].get<int64_t>()).second);
    }
    if (body["next_before"].is_null()) break;
    target =
        "/api/v1/uploads?limit=40&before=" + std::to_string(body["next_before"].get<int64_t>());
  }
  EXPECT_EQ(uploads.size(), 150u);

  // Changes: oldest first, by next_after.
  std::set<std::string> changed;
  target = "/api/v1/changes?limit=40";
  for (int page = 0; page < 10; ++page) {
    const json body = Body(CookieCall("GET", target, manager));
    const size_t expected = changed.size() + 40 <= 150 ? 40 : 150 - changed.size();
    ASSERT_EQ(body["changes"].size(), expected) << target;
    for (const json& change : body["changes"]) {
      EXPECT_EQ(change["store"], "Paris");
      EXPECT_TRUE(changed.insert(change["item"].get<std::string>()).second);
    }
    if (body["next_after"].is_null()) break;
    target = "/api/v1/changes?limit=40&after=" + std::to_string(body["next_after"].get<int64_t>());
  }
  EXPECT_EQ(changed.size(), 150u);

  // Inventory: by next_cursor.
  std::set<std::string> items;
  target = "/api/v1/inventory?limit=40";
  for (int page = 0; page < 10; ++page) {
    const json body = Body(CookieCall("GET", target, manager));
    ASSERT_EQ(body["total"], 150);
    for (const json& item : body["items"]) {
      EXPECT_EQ(item["store"], "Paris");
      EXPECT_TRUE(items.insert(item["item"].get<std::string>()).second);
    }
    if (body["next_cursor"].is_null()) break;
    ASSERT_EQ(body["items"].size(), 40u);
    target = "/api/v1/inventory?limit=40&cursor=" + body["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(items.size(), 150u);

  // Alerts: the newest 40 of Paris.
  const json listed = Body(CookieCall("GET", "/api/v1/alerts?limit=40", manager))["alerts"];
  ASSERT_EQ(listed.size(), 40u);
  for (const json& alert : listed) EXPECT_EQ(alert["store"], "Paris");
  EXPECT_EQ(listed[0]["item"], "P149");
}

TEST_F(AuthRoutesTest, AManagerSeesAndChangesOnlyItsStores) {
  AddUser("paris", core::Role::kManager, {"Paris"});
  const TestSession manager = Login("paris");
  ASSERT_EQ(Upload(kBerlinCsv), 1);
  Load(1, {{"Berlin", "Echo Plus", 0}});
  HttpResponse put = CookieCall("PUT", "/api/v1/uploads/paris.csv", manager, kParisCsv);
  ASSERT_EQ(put.status, 201) << put.body;
  ASSERT_EQ(Body(put)["id"], 2);
  Load(2, {{"Paris", "Kindle", 3}});
  HttpResponse refused = CookieCall("PUT", "/api/v1/uploads/mixed.csv", manager,
                                    "store,item,count\nParis,A,1\nBerlin,B,2\n");
  EXPECT_EQ(refused.status, 403);
  EXPECT_THAT(Body(refused)["error"]["message"].get<std::string>(),
              HasSubstr("mixed.csv:3: store \"Berlin\" is outside your stores"));

  json items = Body(CookieCall("GET", "/api/v1/inventory", manager))["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["store"], "Paris");
  json stores = Body(CookieCall("GET", "/api/v1/stores", manager))["stores"];
  ASSERT_EQ(stores.size(), 1u);
  EXPECT_EQ(stores[0]["store"], "Paris");
  json changes = Body(CookieCall("GET", "/api/v1/changes", manager))["changes"];
  ASSERT_EQ(changes.size(), 1u);
  json uploads = Body(CookieCall("GET", "/api/v1/uploads", manager))["uploads"];
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0]["id"], 2);
  EXPECT_EQ(CookieCall("GET", "/api/v1/uploads/2/content", manager).status, 200);
  // The admin sees both.
  EXPECT_EQ(Body(Call("GET", "/api/v1/inventory"))["items"].size(), 2u);

  // Thresholds and subscriptions of its own stores only.
  EXPECT_EQ(
      CookieCall("PUT", "/api/v1/thresholds", manager, R"({"store":"Paris","value":2})").status,
      200);
  EXPECT_EQ(CookieCall("PUT", "/api/v1/thresholds", manager, R"({"store":null,"value":2})").status,
            403);
  EXPECT_EQ(CookieCall("POST", "/api/v1/subscriptions", manager,
                       R"({"topic":"NoStock","endpoint":"+4930111111"})")
                .status,
            403);
  HttpResponse own = CookieCall(
      "POST", "/api/v1/subscriptions", manager,
      R"({"topic":"NoStock","endpoint":"+4930111111","filter_policy":{"store":["Paris"]}})");
  ASSERT_EQ(own.status, 201) << own.body;
  ASSERT_EQ(Call("POST", "/api/v1/subscriptions", R"({"topic":"NoStock","endpoint":"+4930222222"})")
                .status,
            201);
  json subscriptions = Body(CookieCall("GET", "/api/v1/subscriptions", manager))["subscriptions"];
  ASSERT_EQ(subscriptions.size(), 1u);
  EXPECT_EQ(subscriptions[0]["id"], Body(own)["id"]);
  EXPECT_EQ(CookieCall("DELETE", "/api/v1/subscriptions/2", manager).status, 403);
  EXPECT_EQ(
      CookieCall("DELETE",
                 "/api/v1/subscriptions/" + std::to_string(Body(own)["id"].get<int64_t>()), manager)
          .status,
      204);
}

TEST_F(AuthRoutesTest, APersonalTokenActsAsItsUserNow) {
  const int64_t id = AddUser("ops", core::Role::kManager, {"Paris"});
  ASSERT_GT(id, 0);
  const TestSession ops = Login("ops");
  HttpResponse created = CookieCall("POST", "/api/v1/tokens", ops, R"({"name":"cron"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(HeaderOf(created, "Cache-Control"), "no-store");
  const std::string token = Body(created)["token"];
  EXPECT_THAT(token, ::testing::StartsWith("sw_"));
  HttpResponse me = Call("GET", "/api/v1/me", "", token.c_str());
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(Body(me)["user"], json::parse(R"({"name":"ops","role":"manager","stores":["Paris"]})"));
  EXPECT_EQ(Body(me)["csrf_token"], nullptr);
  // Listed for its owner (never the secret), and with every token for an admin.
  json own = Body(Call("GET", "/api/v1/tokens", "", token.c_str()))["tokens"];
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(own[0]["user"], "ops");
  EXPECT_FALSE(own[0].contains("token"));
  EXPECT_EQ(Body(Call("GET", "/api/v1/tokens"))["tokens"].size(), 3u);

  // A role change applies at the next request; a disabled user's tokens stop working.
  ASSERT_EQ(Call("PATCH", "/api/v1/users/ops", R"({"role":"viewer"})").status, 200);
  EXPECT_EQ(Body(Call("GET", "/api/v1/me", "", token.c_str()))["user"]["role"], "viewer");
  ASSERT_EQ(Call("PATCH", "/api/v1/users/ops", R"({"disabled":true})").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/me", "", token.c_str()).status, 401);
  ASSERT_EQ(Call("PATCH", "/api/v1/users/ops", R"({"disabled":false})").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/me", "", token.c_str()).status, 200);
  ASSERT_EQ(Call("DELETE", "/api/v1/users/ops").status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/me", "", token.c_str()).status, 401);
}

TEST_F(AuthRoutesTest, UsersRoutesKeepAnEnabledAdmin) {
  HttpResponse created = Call(
      "POST", "/api/v1/users",
      R"({"name":"lyon","role":"manager","stores":["Lyon"],"password":"a long enough password"})");
  ASSERT_EQ(created.status, 201) << created.body;
  json user = Body(created);
  EXPECT_EQ(user["stores"], json::parse(R"(["Lyon"])"));
  EXPECT_FALSE(user.contains("password"));
  EXPECT_FALSE(user.contains("password_hash"));
  EXPECT_EQ(Call("POST", "/api/v1/users",
                 R"({"name":"x","role":"manager","password":"a long enough password"})")
                .status,
            400);  // a manager needs stores
  EXPECT_EQ(
      Call("POST", "/api/v1/users", R"({"name":"y","role":"viewer","password":"short"})").status,
      400);
  EXPECT_EQ(Call("POST", "/api/v1/users",
                 R"({"name":"LYON","role":"viewer","password":"a long enough password"})")
                .status,
            409);
  for (const std::string& users : {Call("GET", "/api/v1/users").body}) {
    EXPECT_THAT(users, Not(HasSubstr("argon2")));
  }

  // The only admin cannot be deleted, disabled or demoted...
  EXPECT_EQ(Call("DELETE", "/api/v1/users/admin").status, 412);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/admin", R"({"disabled":true})").status, 412);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/admin", R"({"role":"viewer"})").status, 412);
  // ...until there is another.
  ASSERT_EQ(Call("PATCH", "/api/v1/users/lyon", R"({"role":"admin"})").status, 200);
  EXPECT_EQ(Call("PATCH", "/api/v1/users/admin", R"({"role":"viewer"})").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/users", "").status, 403);  // the admin token's user is a viewer
  HttpResponse patch = Call("PATCH", "/api/v1/users/nobody", R"({"disabled":true})");
  EXPECT_EQ(patch.status, 403);
}

}  // namespace
}  // namespace stockwatch::server
