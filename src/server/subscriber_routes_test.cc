// The subscriber routes through ApiRouter::Handle, over the in-memory adapters.
#include <algorithm>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/api_router_test_support.h"
#include "server/router.h"
#include "server/subscriber_tokens.h"

namespace stockwatch::server {
namespace {

using ::testing::HasSubstr;
constexpr const char* kAdminToken = kTestAdminToken;

class SubscriberRoutesTest : public ApiRouterTest {
 protected:
  SubscriberRoutesTest() {
    options_.links.base_url = [] { return std::string("https://stock.example.com"); };
    options_.link_key = std::string(32, 'k');
  }

  // Exactly `headers`: the subscriber routes are reached without a token.
  HttpResponse Call(std::string method, std::string target, std::string body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Send(std::move(method), std::move(target), std::move(body), std::move(headers));
  }

  std::string PendingToken(int64_t subscription_id) {
    const std::vector<core::Delivery> all = *notifier_.Deliveries(std::nullopt, 100);
    for (const core::Delivery& d : all) {
      if (d.subscription.id == subscription_id &&
          d.message.kind == core::MessageKind::kSubscriptionConfirmation) {
        return d.message.body;
      }
    }
    return "";
  }
};

TEST_F(SubscriberRoutesTest, CreateStartsEmailAndWebhookPendingUnlessConfirmed) {
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"authorization", std::string("Bearer ") + kAdminToken}};
  for (const auto& [body, status] : std::vector<std::pair<std::string, std::string>>{
           {R"({"topic":"NoStock","endpoint":"mailto:a@example.com"})", "pending_confirmation"},
           {R"({"topic":"NoStock","endpoint":"https://h.example.com/"})", "pending_confirmation"},
           {R"({"topic":"NoStock","endpoint":"https://h.example.com/2","confirmed":true})",
            "confirmed"},
           {R"({"topic":"NoStock","endpoint":"+4930123456"})", "confirmed"}}) {
    HttpResponse created = Call("POST", "/api/v1/subscriptions", body, auth);
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(nlohmann::json::parse(created.body)["status"], status) << body;
  }
  EXPECT_EQ(notifier_.Deliveries(std::nullopt, 100)->size(), 2u);  // two confirmations
  EXPECT_EQ(Call("POST", "/api/v1/subscriptions",
                 R"({"topic":"NoStock","endpoint":"https://h.example.com/3","confirmed":1})", auth)
                .status,
            400);
}

TEST_F(SubscriberRoutesTest, ConfirmNeedsNoCredentialsAndWorksOnce) {
  auto s = notifier_.Subscribe("NoStock", core::Protocol::kWebhook, "https://h.example.com/",
                               clock_.Now(), {}, core::Confirmation::kRequired);
  ASSERT_TRUE(s.ok());
  const std::string token = PendingToken(s->id);
  ASSERT_EQ(token.size(), 64u);
  HttpResponse json = Call("GET", "/api/v1/subscriptions/confirm?token=" + token);
  ASSERT_EQ(json.status, 200) << json.body;
  EXPECT_EQ(nlohmann::json::parse(json.body)["subscription"]["status"], "confirmed");
  HttpResponse again = Call("GET", "/confirm?token=" + token);
  EXPECT_EQ(again.status, 404);
  EXPECT_THAT(again.content_type, HasSubstr("text/html"));
  EXPECT_THAT(again.body, HasSubstr("unknown, already used or expired"));
  EXPECT_EQ(Call("GET", "/confirm").status, 400);
  EXPECT_EQ(Call("GET", "/confirm?token=" + std::string(500, 'a')).status, 404);
  EXPECT_EQ(Call("POST", "/confirm?token=" + token).status, 405);
}

TEST_F(SubscriberRoutesTest, UnsubscribeAsksOnGetAndActsOnPost) {
  auto s = notifier_.Subscribe("NoStock", core::Protocol::kEmail, "a@example.com", clock_.Now());
  ASSERT_TRUE(s.ok());
  const std::string token = UnsubscribeToken(options_.link_key, s->id);
  HttpResponse page = Call("GET", "/unsubscribe?token=" + token);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.body, HasSubstr("<form method=\"post\" action=\"/unsubscribe\">"));
  EXPECT_EQ(notifier_.Subscriptions()->size(), 1u);
  EXPECT_EQ(Call("POST", "/unsubscribe?token=" + token + "0", "List-Unsubscribe=One-Click").status,
            404);
  EXPECT_EQ(notifier_.Subscriptions()->size(), 1u);
  HttpResponse done = Call("POST", "/unsubscribe", "token=" + token);
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(notifier_.Subscriptions()->empty());
  // Without a link key, no token is accepted.
  options_.link_key.clear();
  EXPECT_EQ(Call("GET", "/unsubscribe?token=" + token).status, 404);
}

TEST_F(SubscriberRoutesTest, InboundSmsNeedsAValidSignature) {
  EXPECT_EQ(Call("POST", "/sms/inbound", "From=%2B4930123456&Body=STOP").status, 403);
  std::string signed_url;
  options_.verify_sms_signature = [&](std::string_view url, const auto& form,
                                      std::string_view signature) {
    signed_url = std::string(url);
    return signature == "good" && form.size() == 2;
  };
  options_.parse_sms_keyword = [](std::string_view body) -> std::optional<bool> {
    if (body == "STOP") return true;
    if (body == "START") return false;
    return std::nullopt;
  };
  EXPECT_EQ(Call("POST", "/sms/inbound", "From=%2B4930123456&Body=STOP").status, 403);
  EXPECT_EQ(
      Call("POST", "/sms/inbound", "From=%2B4930123456&Body=STOP", {{"x-twilio-signature", "bad"}})
          .status,
      403);
  HttpResponse ok = Call("POST", "/sms/inbound", "From=%2B4930123456&Body=STOP",
                         {{"x-twilio-signature", "good"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(signed_url, "https://stock.example.com/sms/inbound");
  EXPECT_THAT(ok.body, HasSubstr("<Response></Response>"));
  ASSERT_EQ(notifier_.SmsOptOuts()->size(), 1u);
  EXPECT_EQ((*notifier_.SmsOptOuts())[0].number, "+4930123456");
  EXPECT_EQ(Call("POST", "/sms/inbound", "From=%2B4930123456&Body=START",
                 {{"x-twilio-signature", "good"}})
                .status,
            200);
  EXPECT_TRUE(notifier_.SmsOptOuts()->empty());
  // The opt-out API itself needs credentials.
  EXPECT_EQ(Call("PUT", "/api/v1/sms/opt-outs/%2B4930123456").status, 401);
}

}  // namespace
}  // namespace stockwatch::server
