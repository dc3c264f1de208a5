// A thin SNS client (query protocol, API version 2010-03-31) over AwsHttpClient.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "aws/aws_config.h"
#include "aws/aws_http.h"

namespace stockwatch::aws {

struct SnsMessageAttribute {
  enum class Type { kString, kNumber };  // DataType String / Number
  Type type = Type::kString;
  std::string value;

  static SnsMessageAttribute String(std::string value);
  static SnsMessageAttribute Number(std::string value);
  static SnsMessageAttribute Number(int64_t value);
};

struct SnsPublishRequest {
  std::string topic_arn;
  std::string subject;  // empty: none (email subjects then default to SNS's)
  std::string message;
  std::map<std::string, SnsMessageAttribute> attributes;
  // FIFO topics (ARN ending ".fifo") only: MessageGroupId and MessageDeduplicationId. Empty:
  // not sent.
  std::string message_group_id;
  std::string deduplication_id;
};

// Whether `topic_arn` names a FIFO topic (its name ends with ".fifo").
bool IsFifoTopic(std::string_view topic_arn);

// `subject` made acceptable as SNS's Subject, which must be ASCII without line breaks or
// control characters, start with a letter, digit or punctuation and be under 100 characters:
// each non-ASCII UTF-8 sequence becomes '?', each control character a space, leading spaces
// are dropped, and a longer text is cut to 96 characters plus "...". Store and item names come
// from uploaded files, so an alert's subject may need this.
std::string SnsSubject(std::string_view subject);

// One subscription as ListSubscriptionsByTopic lists it.
struct SnsSubscription {
  std::string arn;  // "PendingConfirmation" until the endpoint confirms
  std::string protocol;
  std::string endpoint;
};

// Thread-safe.
class SnsClient {
 public:
  explicit SnsClient(AwsConfig config);

  // Publish; returns the MessageId. kNotFound (NotFound) for an unknown topic,
  // kInvalidArgument (InvalidParameter) for a bad subject or attribute.
  absl::StatusOr<std::string> Publish(const SnsPublishRequest& request) const;

  // CreateTopic (idempotent: the existing topic's ARN for a name that exists).
  absl::StatusOr<std::string> CreateTopic(std::string_view name) const;

  // Subscribe; returns the SubscriptionArn ("pending confirmation" for protocols that must
  // confirm, as SNS answers).
  absl::StatusOr<std::string> Subscribe(std::string_view topic_arn, std::string_view protocol,
                                        std::string_view endpoint) const;
  // Subscribe with subscription attributes (e.g. FilterPolicy); ReturnSubscriptionArn is
  // set, so the ARN comes back for a pending subscription too.
  absl::StatusOr<std::string> Subscribe(std::string_view topic_arn, std::string_view protocol,
                                        std::string_view endpoint,
                                        const std::map<std::string, std::string>& attributes) const;

  // Every subscription of the topic, all pages of ListSubscriptionsByTopic read.
  absl::StatusOr<std::vector<SnsSubscription>> ListSubscriptionsByTopic(
      std::string_view topic_arn) const;

  // GetSubscriptionAttributes: every attribute (FilterPolicy, PendingConfirmation, ...).
  absl::StatusOr<std::map<std::string, std::string>> GetSubscriptionAttributes(
      std::string_view subscription_arn) const;

  // Unsubscribe. kNotFound for an unknown subscription.
  absl::Status Unsubscribe(std::string_view subscription_arn) const;

  // Every topic ARN, all pages of ListTopics read (NextToken).
  absl::StatusOr<std::vector<std::string>> ListTopics() const;

  // The ARN of the topic named `name` (the ARN's last ':' part), compared ignoring case,
  // across all pages of ListTopics. kNotFound when there is none.
  absl::StatusOr<std::string> FindTopicArn(std::string_view name) const;

  const AwsHttpClient& http() const { return http_; }

 private:
  // POSTs Action=<action>&Version=2010-03-31&<params> and returns the XML body.
  absl::StatusOr<std::string> CallAction(
      std::string_view action,
      const std::vector<std::pair<std::string, std::string>>& params) const;
  AwsHttpClient http_;
};

}  // namespace stockwatch::aws
