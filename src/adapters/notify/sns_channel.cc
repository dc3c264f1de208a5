#include "adapters/notify/sns_channel.h"

#include <optional>
#include <utility>
#include <vector>

#include "fmt/format.h"

namespace stockwatch::adapters {
namespace {

// The parts of "arn:aws:sns:<region>:<account>:<name>" (or another partition such as
// aws-cn) that matter here; nullopt for anything else.
struct TopicArn {
  std::string region;
};

std::optional<TopicArn> ParseTopicArn(std::string_view arn) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t colon = arn.find(':', start);
    parts.push_back(arn.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 6 || parts[0] != "arn" || parts[1].empty() || parts[2] != "sns" ||
      parts[3].empty() || parts[5].empty()) {
    return std::nullopt;
  }
  return TopicArn{std::string(parts[3])};
}

// Throttling, 5xx and network failures are worth another attempt later (the client has
// already retried them a few times); everything else AWS answers will not change by itself.
bool Retryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

}  // namespace

aws::SnsPublishRequest SnsAlertRequest(const core::Message& message, std::string topic_arn,
                                       std::string_view deduplication_id) {
  aws::SnsPublishRequest request;
  request.subject = aws::SnsSubject(message.subject);
  request.message = message.body;
  if (!message.store.empty()) {
    request.attributes["store"] = aws::SnsMessageAttribute::String(message.store);
  }
  if (!message.item.empty()) {
    request.attributes["item"] = aws::SnsMessageAttribute::String(message.item);
  }
  request.attributes["topic"] = aws::SnsMessageAttribute::String(message.topic);
  request.attributes["new_count"] = aws::SnsMessageAttribute::Number(message.new_count);
  if (message.old_count) {
    request.attributes["old_count"] = aws::SnsMessageAttribute::Number(*message.old_count);
  }
  if (aws::IsFifoTopic(topic_arn)) {
    // One group per store keeps a store's alerts in order; SNS drops a redelivery of the same
    // delivery id within its five-minute deduplication window.
    request.message_group_id = message.store.empty() ? message.topic : message.store;
    request.deduplication_id = std::string(deduplication_id);
  }
  request.topic_arn = std::move(topic_arn);
  return request;
}

SnsChannel::SnsChannel(aws::AwsConfig config) : config_(std::move(config)) {}

SnsChannel::~SnsChannel() = default;

const aws::SnsClient& SnsChannel::ClientFor(const std::string& region) {
  std::lock_guard lock(mu_);
  std::unique_ptr<aws::SnsClient>& client = clients_[region];
  if (client == nullptr) {
    aws::AwsConfig config = config_;
    config.region = region;
    client = std::make_unique<aws::SnsClient>(std::move(config));
  }
  return *client;
}

core::SendResult SnsChannel::Send(const core::Delivery& delivery) {
  const std::string& arn = delivery.subscription.endpoint;
  std::optional<TopicArn> parsed = ParseTopicArn(arn);
  if (!parsed) {
    return {core::SendResult::Kind::kPermanent,
            fmt::format("sns: endpoint {} is not an SNS topic ARN", arn), std::nullopt};
  }
  aws::SnsPublishRequest request =
      SnsAlertRequest(delivery.message, arn, std::to_string(delivery.id));
  absl::StatusOr<std::string> message_id = ClientFor(parsed->region).Publish(request);
  if (message_id.ok()) return {core::SendResult::Kind::kDelivered, "", std::nullopt};
  const absl::Status& status = message_id.status();
  // The client's message names the AWS error code and the request id already.
  std::string error = fmt::format("sns: publish to {}: {}", arn, std::string(status.message()));
  return {
      Retryable(status) ? core::SendResult::Kind::kRetryable : core::SendResult::Kind::kPermanent,
      std::move(error), std::nullopt};
}

}  // namespace stockwatch::adapters
