#include "adapters/notify/subscription_messages.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/notify/smtp_channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kToken(64, 'a');

core::SubscriberLinks Links() {
  core::SubscriberLinks links;
  links.base_url = [] { return std::string("https://stock.example.com"); };
  links.unsubscribe_token = [](int64_t id) { return std::to_string(id) + ".0123abcd"; };
  return links;
}

core::Delivery Confirmation(core::Protocol protocol, std::string endpoint) {
  using namespace std::chrono;
  core::Delivery d;
  d.id = 9;
  d.message.id = "confirm-3-1714566896789000000";
  d.message.topic = "NoStock";
  d.message.subject = "Confirm your subscription to NoStock";
  d.message.body = kToken;
  d.message.at = core::TimePoint(sys_days(2024y / May / 1)) + 12h + 34min + 56s + 789ms;
  d.message.kind = core::MessageKind::kSubscriptionConfirmation;
  d.subscription.id = 3;
  d.subscription.topic = "NoStock";
  d.subscription.protocol = protocol;
  d.subscription.endpoint = std::move(endpoint);
  d.subscription.status = core::SubscriptionStatus::kPendingConfirmation;
  return d;
}

TEST(SubscriptionMessagesTest, WebhookConfirmationIsShapedLikeSns) {
  const core::Delivery d = Confirmation(core::Protocol::kWebhook, "https://hooks.example.com/a");
  const std::string body = SubscriptionConfirmationPayload(d, Links());
  EXPECT_EQ(body, SubscriptionConfirmationPayload(d, Links()));  // same bytes on a retry
  const nlohmann::json doc = nlohmann::json::parse(body);
  EXPECT_EQ(doc["Type"], "SubscriptionConfirmation");
  EXPECT_EQ(doc["MessageId"], "confirm-3-1714566896789000000");
  EXPECT_EQ(doc["Token"], kToken);
  EXPECT_EQ(doc["TopicArn"], "arn:stockwatch:sns:local:0:NoStock");
  EXPECT_EQ(doc["Message"],
            "You have chosen to subscribe to the topic arn:stockwatch:sns:local:0:NoStock.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message.");
  EXPECT_EQ(doc["SubscribeURL"], "https://stock.example.com/confirm?token=" + kToken);
  EXPECT_EQ(doc["Timestamp"], "2024-05-01T12:34:56.789Z");
}

TEST(SubscriptionMessagesTest, ConfirmationEmailCarriesTheLink) {
  const core::Delivery d = Confirmation(core::Protocol::kEmail, "ops@example.com");
  auto email = ComposeEmail(d, "alerts@example.com", Links());
  ASSERT_TRUE(email.ok()) << email.status();
  EXPECT_THAT(*email, HasSubstr("Subject: Confirm your subscription to NoStock\r\n"));
  EXPECT_THAT(*email, HasSubstr("https://stock.example.com/confirm?token=" + kToken + "\r\n"));
  EXPECT_THAT(*email, Not(HasSubstr("Store: ")));
}

TEST(SubscriptionMessagesTest, EveryEmailWithLinksOffersOneClickUnsubscribe) {
  core::Delivery d = Confirmation(core::Protocol::kEmail, "ops@example.com");
  d.message.kind = core::MessageKind::kAlert;
  d.message.subject = "Inventory Alert!";
  d.message.body = "Berlin is out of stock of Echo Plus";
  d.message.store = "Berlin";
  d.message.item = "Echo Plus";
  auto email = ComposeEmail(d, "alerts@example.com", Links());
  ASSERT_TRUE(email.ok()) << email.status();
  const std::string url = "https://stock.example.com/unsubscribe?token=3.0123abcd";
  EXPECT_THAT(*email, HasSubstr("\r\nList-Unsubscribe: <" + url + ">\r\n"));
  EXPECT_THAT(*email, HasSubstr("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
  EXPECT_THAT(*email,
              HasSubstr("Content-Type: multipart/alternative; boundary=\"=_stockwatch_9\"\r\n"));
  // The text part, then the HTML part (quoted-printable: "=3D" is "="), then the end.
  const size_t text = email->find("Content-Type: text/plain; charset=utf-8");
  const size_t html = email->find("Content-Type: text/html; charset=utf-8");
  ASSERT_NE(text, std::string::npos);
  ASSERT_NE(html, std::string::npos);
  EXPECT_LT(text, html);
  EXPECT_THAT(email->substr(text, html - text), HasSubstr("unsubscribe: " + url + "\r\n"));
  EXPECT_THAT(email->substr(html),
              HasSubstr("href=3D\"https://stock.example.com/unsubscribe?token=3D3.0123abcd\""));
  EXPECT_TRUE(email->ends_with("\r\n--=_stockwatch_9--\r\n"));
  // Without links, the plain single-part email of before.
  auto plain = ComposeEmail(d, "alerts@example.com");
  ASSERT_TRUE(plain.ok());
  EXPECT_THAT(*plain, Not(HasSubstr("List-Unsubscribe")));
  EXPECT_THAT(*plain, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
}

}  // namespace
}  // namespace stockwatch::adapters
