#include "adapters/notify/sns_channel.h"

#include <string>

#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

core::Message OutOfStock() {
  core::Message message;
  message.id = "17-NoStock";
  message.topic = "NoStock";
  message.subject = "M\xC3\xBCnchen is out of stock of Echo Plus";
  message.body = "M\xC3\xBCnchen is out of stock of Echo Plus.";
  message.store = "M\xC3\xBCnchen";
  message.item = "Echo Plus";
  message.old_count = 4;
  message.new_count = 0;
  return message;
}

TEST(SnsAlertRequestTest, CarriesTheTextAndTheFilterAttributes) {
  const aws::SnsPublishRequest request =
      SnsAlertRequest(OutOfStock(), "arn:aws:sns:eu-west-1:123456789012:NoStock", "42");
  EXPECT_EQ(request.topic_arn, "arn:aws:sns:eu-west-1:123456789012:NoStock");
  // The subject is made SNS-safe; the message and attributes keep their UTF-8.
  EXPECT_EQ(request.subject, "M?nchen is out of stock of Echo Plus");
  EXPECT_EQ(request.message, "M\xC3\xBCnchen is out of stock of Echo Plus.");
  EXPECT_EQ(request.attributes.at("store").value, "M\xC3\xBCnchen");
  EXPECT_EQ(request.attributes.at("item").value, "Echo Plus");
  EXPECT_EQ(request.attributes.at("topic").value, "NoStock");
  EXPECT_EQ(request.attributes.at("new_count").type, aws::SnsMessageAttribute::Type::kNumber);
  EXPECT_EQ(request.attributes.at("new_count").value, "0");
  EXPECT_EQ(request.attributes.at("old_count").value, "4");
  // A standard topic takes neither FIFO field.
  EXPECT_TRUE(request.message_group_id.empty());
  EXPECT_TRUE(request.deduplication_id.empty());
}

TEST(SnsAlertRequestTest, LeavesOutWhatAMessageDoesNotHave) {
  core::Message message = OutOfStock();
  message.old_count.reset();
  message.store.clear();
  message.item.clear();
  const aws::SnsPublishRequest request =
      SnsAlertRequest(message, "arn:aws:sns:eu-west-1:123456789012:NoStock", "42");
  // SNS refuses an empty String attribute, so a test message has no store or item.
  EXPECT_FALSE(request.attributes.contains("store"));
  EXPECT_FALSE(request.attributes.contains("item"));
  EXPECT_FALSE(request.attributes.contains("old_count"));
  EXPECT_EQ(request.attributes.at("new_count").value, "0");
}

TEST(SnsAlertRequestTest, GroupsAFifoTopicByStoreAndDeduplicatesOnTheGivenId) {
  const aws::SnsPublishRequest request =
      SnsAlertRequest(OutOfStock(), "arn:aws:sns:eu-west-1:123456789012:NoStock.fifo", "42");
  EXPECT_EQ(request.message_group_id, "M\xC3\xBCnchen");
  EXPECT_EQ(request.deduplication_id, "42");
}

TEST(SnsChannelTest, AnEndpointThatIsNotATopicArnFailsForGoodWithoutACall) {
  aws::AwsConfig config;
  config.credentials = {"AKIDEXAMPLE", "secret", ""};
  config.region = "eu-west-1";
  // Nothing listens here: a call would be a retryable connection error, not kPermanent.
  config.endpoint_url = "http://127.0.0.1:9";
  SnsChannel channel(config);
  core::Delivery delivery;
  delivery.id = 7;
  delivery.message = OutOfStock();
  delivery.subscription.protocol = core::Protocol::kSns;
  for (const char* endpoint : {"arn:aws:sns:eu-west-1:123456789012", "arn:aws:sqs:eu-west-1:1:q",
                               "https://sns.example.com/NoStock"}) {
    delivery.subscription.endpoint = endpoint;
    const core::SendResult result = channel.Send(delivery);
    EXPECT_EQ(result.kind, core::SendResult::Kind::kPermanent) << endpoint;
    EXPECT_NE(result.error.find("is not an SNS topic ARN"), std::string::npos) << result.error;
  }
}

TEST(SnsChannelTest, AnUnreachableEndpointIsRetryable) {
  aws::AwsConfig config;
  config.credentials = {"AKIDEXAMPLE", "secret", ""};
  config.region = "eu-west-1";
  config.endpoint_url = "http://127.0.0.1:9";
  config.max_attempts = 1;
  SnsChannel channel(config);
  core::Delivery delivery;
  delivery.id = 7;
  delivery.message = OutOfStock();
  delivery.subscription.protocol = core::Protocol::kSns;
  delivery.subscription.endpoint = "arn:aws:sns:eu-west-1:123456789012:NoStock";
  const core::SendResult result = channel.Send(delivery);
  EXPECT_EQ(result.kind, core::SendResult::Kind::kRetryable) << result.error;
  EXPECT_NE(result.error.find("sns: publish to arn:aws:sns:eu-west-1:123456789012:NoStock"),
            std::string::npos)
      << result.error;
}

}  // namespace
}  // namespace stockwatch::adapters
