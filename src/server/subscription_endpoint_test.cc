#include "server/subscription_endpoint.h"

#include <gtest/gtest.h>

#include <string>

namespace stockwatch::server {
namespace {

TEST(SubscriptionEndpointTest, InfersWebhookFromHttpUrls) {
  for (std::string_view url :
       {"https://hooks.example.com/x?y=1", "http://127.0.0.1:9000/hook", "HTTPS://Example.COM"}) {
    absl::StatusOr<SubscriptionEndpoint> endpoint = ParseSubscriptionEndpoint(url);
    ASSERT_TRUE(endpoint.ok()) << url << ": " << endpoint.status();
    EXPECT_EQ(endpoint->protocol, core::Protocol::kWebhook);
    EXPECT_EQ(endpoint->endpoint, url);
  }
}

TEST(SubscriptionEndpointTest, InfersEmailFromMailtoOrBareAddress) {
  absl::StatusOr<SubscriptionEndpoint> mailto = ParseSubscriptionEndpoint("mailto:ops@example.com");
  ASSERT_TRUE(mailto.ok());
  EXPECT_EQ(mailto->protocol, core::Protocol::kEmail);
  EXPECT_EQ(mailto->endpoint, "ops@example.com");
  absl::StatusOr<SubscriptionEndpoint> bare = ParseSubscriptionEndpoint("a.b+c@mail.example");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->endpoint, "a.b+c@mail.example");
}

TEST(SubscriptionEndpointTest, RejectsOtherSchemesAndMalformedAddresses) {
  for (std::string_view bad : {"", "ftp://example.com", "javascript:alert(1)", "example.com",
                               "http://", "https:///x", "mailto:", "mailto:@x", "a@", "a@b@c",
                               "a@exa mple.com", "<a@b.c>", "mailto:a@b.c?cc=d", "a@.example"}) {
    EXPECT_EQ(ParseSubscriptionEndpoint(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(SubscriptionEndpointTest, RefusesCrLfAndOverlongEndpoints) {
  EXPECT_FALSE(ParseSubscriptionEndpoint("ops@example.com\r\nBcc: all@example.com").ok());
  EXPECT_FALSE(ParseSubscriptionEndpoint("https://example.com/\nx").ok());
  std::string url = "https://example.com/";
  url.resize(kMaxEndpointBytes, 'a');
  EXPECT_TRUE(ParseSubscriptionEndpoint(url).ok());
  url.push_back('a');
  EXPECT_FALSE(ParseSubscriptionEndpoint(url).ok());
}

TEST(SubscriptionEndpointTest, SmsNumbersSlackTeamsAndSnsTopics) {
  auto sms = ParseSubscriptionEndpoint("+4930123456");
  ASSERT_TRUE(sms.ok()) << sms.status();
  EXPECT_EQ(sms->protocol, core::Protocol::kSms);
  EXPECT_EQ(sms->endpoint, "+4930123456");
  auto prefixed = ParseSubscriptionEndpoint("sms:+4930123456", "sms");
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(prefixed->endpoint, "+4930123456");
  for (std::string_view bad : {"+49", "+0301234567", "sms:030123456", "+49 30 123456",
                               "+4930123456789012", "+49301234x6"}) {
    EXPECT_FALSE(ParseSubscriptionEndpoint(bad).ok()) << bad;
  }
  auto slack = ParseSubscriptionEndpoint("https://hooks.slack.com/services/T/B/x", "slack");
  ASSERT_TRUE(slack.ok());
  EXPECT_EQ(slack->protocol, core::Protocol::kSlack);
  auto teams = ParseSubscriptionEndpoint("https://example.webhook.office.com/x", "teams");
  ASSERT_TRUE(teams.ok());
  EXPECT_EQ(teams->protocol, core::Protocol::kTeams);
  auto sns = ParseSubscriptionEndpoint("arn:aws:sns:eu-central-1:123456789012:NoStock");
  ASSERT_TRUE(sns.ok());
  EXPECT_EQ(sns->protocol, core::Protocol::kSns);
  // A named protocol must fit the endpoint.
  EXPECT_FALSE(ParseSubscriptionEndpoint("ops@example.com", "slack").ok());
  EXPECT_FALSE(ParseSubscriptionEndpoint("https://example.com/", "sms").ok());
  EXPECT_FALSE(ParseSubscriptionEndpoint("https://example.com/", "carrier-pigeon").ok());
  EXPECT_TRUE(ParseSubscriptionEndpoint("https://example.com/", "webhook").ok());
}

}  // namespace
}  // namespace stockwatch::server
