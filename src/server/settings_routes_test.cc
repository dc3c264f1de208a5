// GET /api/v1/settings through ApiRouter::Handle: admin only, every setting with its value,
// default and source, secrets never in the body.
#include <string>

#include "base/config.h"
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

constexpr char kSmtpPassword[] = "hunter2-smtp-password";
constexpr char kSmsToken[] = "twilio-auth-token-value";
constexpr char kOidcSecret[] = "oidc-client-secret-value";
constexpr char kAdminToken[] = "sw_configured_admin_token";

class SettingsRoutesTest : public ApiRouterTest {
 protected:
  SettingsRoutesTest() {
    absl::StatusOr<base::Config> loaded =
        base::Config::Load("",
                           {{"STOCKWATCH_SMTP_PASSWORD", kSmtpPassword},
                            {"STOCKWATCH_SMS_AUTH_TOKEN", kSmsToken},
                            {"STOCKWATCH_OIDC_CLIENT_SECRET", kOidcSecret},
                            {"STOCKWATCH_SERVER_ADMIN_TOKEN", kAdminToken},
                            {"STOCKWATCH_SMTP_URL", "smtp://mail.example.com:25"}},
                           {{"server.listen", "127.0.0.1:0"}});
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    config_ = *std::move(loaded);
    options_.settings = &config_;
  }
  // The listed setting named `name`.
  json Setting(const json& body, const std::string& name) {
    for (const json& entry : body["settings"]) {
      if (entry["name"] == name) return entry;
    }
    ADD_FAILURE() << name << " not listed";
    return json::object();
  }
  base::Config config_;
};

TEST_F(SettingsRoutesTest, AnAdminSeesEverySettingWithItsSource) {
  HttpResponse response = Call("GET", "/api/v1/settings");
  ASSERT_EQ(response.status, 200) << response.body;
  const json body = json::parse(response.body);
  EXPECT_EQ(body["settings"].size(), base::Settings().size());
  EXPECT_EQ(Setting(body, "smtp.url"), json({{"name", "smtp.url"},
                                             {"type", "string"},
                                             {"value", "smtp://mail.example.com:25"},
                                             {"default", ""},
                                             {"source", "env"},
                                             {"env", "STOCKWATCH_SMTP_URL"},
                                             {"secret", false}}));
  EXPECT_EQ(Setting(body, "server.listen")["source"], "flag");
  EXPECT_EQ(Setting(body, "server.listen")["default"], "127.0.0.1:8080");
  const json ttl = Setting(body, "notify.confirmation_ttl_seconds");
  EXPECT_EQ(ttl["value"], "172800");
  EXPECT_EQ(ttl["source"], "default");
  EXPECT_EQ(ttl["type"], "int");
  // A secret that is set says so, without its value; one that is not stays empty.
  const json password = Setting(body, "smtp.password");
  EXPECT_EQ(password["secret"], true);
  EXPECT_EQ(password["value"], "<redacted>");
  EXPECT_EQ(password["source"], "env");
  EXPECT_EQ(Setting(body, "oidc.client_secret")["value"], "<redacted>");
  bool found = false;
  for (const base::SettingSpec& spec : base::Settings()) found |= spec.secret;
  EXPECT_TRUE(found);
  for (const char* secret : {kSmtpPassword, kSmsToken, kOidcSecret, kAdminToken}) {
    EXPECT_THAT(response.body, Not(HasSubstr(secret)));
  }
  bool no_store = false;
  for (const auto& [name, value] : response.headers) {
    no_store |= name == "Cache-Control" && value == "no-store";
  }
  EXPECT_TRUE(no_store);
}

TEST_F(SettingsRoutesTest, OnlyAnAdminMayReadThem) {
  AddUser("paris", core::Role::kManager, {"Paris"});
  const TestSession manager = Login("paris");
  HttpResponse refused = CookieCall("GET", "/api/v1/settings", manager);
  EXPECT_EQ(refused.status, 403);
  EXPECT_THAT(refused.body, Not(HasSubstr(kSmtpPassword)));
  EXPECT_EQ(Call("GET", "/api/v1/settings", "", kTestViewerToken).status, 403);
  EXPECT_EQ(Send("GET", "/api/v1/settings", "", {}).status, 401);
  EXPECT_EQ(Call("PUT", "/api/v1/settings", "{}").status, 405);
}

}  // namespace
}  // namespace stockwatch::server
