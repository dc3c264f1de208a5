// SnsChannel: delivers each message by publishing it to the Amazon SNS topic that is the
// subscription's endpoint (`arn:aws:sns:<region>:<account>:<name>`), with the AWS SNS client
// (aws/sns_client.h) and the credentials of the environment (aws/aws_config.h). This is how
// stockwatch's alerts reach an existing SNS fan-out (email, SMS, SQS, Lambda subscribers).
//
// The request (SNS Publish):
//   TopicArn   the endpoint; the call goes to the ARN's region
//   Subject    the message's subject made SNS-safe (SnsSubject: ASCII, < 100 characters)
//   Message    the message's text
//   MessageAttributes  store, item, topic (String), new_count and old_count (Number; old_count
//              absent for a new item): the same as the Lambda check-stock function's, so SNS
//              subscription filter policies work on either
//   FIFO topics: MessageGroupId = the store, MessageDeduplicationId = the delivery id
//
// Outcome, as core::SendResult:
//   published                                             kDelivered
//   throttled, 5xx, connection error or timeout (after
//   the client's own retries)                             kRetryable
//   unknown topic, access denied, bad credentials, invalid
//   parameter, an endpoint that is not an SNS topic ARN   kPermanent
// Error texts look like "sns: publish to arn:aws:sns:...:NoStock: sns: NotFound: Topic does
// not exist (HTTP 404, request id ...)". They never hold credentials.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "aws/aws_config.h"
#include "aws/sns_client.h"
#include "core/model/types.h"
#include "core/ports/channel.h"

namespace stockwatch::adapters {

// The Publish request of `message` to `topic_arn` with the attributes above; shared with the
// Lambda check-stock function (lambda/aws_adapters.cc), so both publish the same way.
// `deduplication_id` is used for FIFO topics only.
aws::SnsPublishRequest SnsAlertRequest(const core::Message& message, std::string topic_arn,
                                       std::string_view deduplication_id);

class SnsChannel final : public core::Channel {
 public:
  // `config` holds the credentials and the default region (LoadAwsConfig); a topic of another
  // region is published to in its own region.
  explicit SnsChannel(aws::AwsConfig config);
  ~SnsChannel() override;

  core::SendResult Send(const core::Delivery& delivery) override;

 private:
  // The client of `region`, created on first use. Thread-safe.
  const aws::SnsClient& ClientFor(const std::string& region);

  const aws::AwsConfig config_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<aws::SnsClient>> clients_;  // by region
};

}  // namespace stockwatch::adapters
