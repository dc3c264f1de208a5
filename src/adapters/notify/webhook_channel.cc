#include "adapters/notify/webhook_channel.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <exception>
#include <new>
#include <nlohmann/json.hpp>
#include <utility>

#include "adapters/notify/curl_support.h"
#include "adapters/notify/subscription_messages.h"
#include "core/model/json.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using notify_internal::CurlHandlePool;
using notify_internal::HasLineBreak;
using notify_internal::HttpPost;
using notify_internal::HttpPostResult;
using notify_internal::ParsedUrl;
using notify_internal::Permanent;
using notify_internal::Retryable;
using notify_internal::Trim;

SendResult DoSend(const core::Delivery& delivery, const WebhookChannelOptions& options,
                  core::Clock& clock, CurlHandlePool& pool) {
  const core::Message& message = delivery.message;
  absl::StatusOr<ParsedUrl> url = notify_internal::ParseUrl(
      delivery.subscription.endpoint, std::vector<std::string_view>{"http", "https"});
  if (!url.ok()) return Permanent("webhook " + std::string(url.status().message()));
  // The message id and topic go into header values; a line break would start a new header.
  if (HasLineBreak(message.id) || HasLineBreak(message.topic)) {
    return Permanent("refusing to send: CR or LF in a header value (message id or topic)");
  }

  HttpPost post;
  post.url = delivery.subscription.endpoint;
  post.parsed = *std::move(url);
  post.headers = {
      "Content-Type: application/json",
      "X-Stockwatch-Delivery: " + std::to_string(delivery.id),
      "X-Stockwatch-Message-Id: " + message.id,
      "X-Stockwatch-Topic: " + message.topic,
  };
  if (message.kind == core::MessageKind::kSubscriptionConfirmation) {
    post.headers.push_back(std::string("X-Stockwatch-Message-Type: ") + kConfirmationMessageType);
    post.body = SubscriptionConfirmationPayload(delivery, options.links);
  } else {
    if (message.kind == core::MessageKind::kTest) {
      post.headers.push_back(std::string("X-Stockwatch-Message-Type: ") + kTestMessageType);
    }
    post.body = WebhookPayload(delivery);
  }
  // The attempt's time, signed with the body, lets receivers refuse replayed requests.
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count());
  post.headers.push_back("X-Stockwatch-Timestamp: " + timestamp);
  if (!delivery.subscription.secret.empty()) {
    const std::string signature =
        WebhookSignature(delivery.subscription.secret, timestamp, post.body);
    if (signature.size() <= 3) return Retryable("webhook: could not compute the signature");
    post.headers.push_back("X-Stockwatch-Signature: " + signature);
  }
  notify_internal::ApplyWebhookOptions(options, &post);
  const HttpPostResult result = notify_internal::PerformHttpPost(pool, post);
  if (result.failure) return *result.failure;
  return notify_internal::ClassifyHttpStatus(
      result.status, "http " + std::to_string(result.status) + " from " + post.parsed.redacted,
      result.retry_after);
}

}  // namespace

std::string WebhookPayload(const core::Delivery& delivery) {
  const core::Message& message = delivery.message;
  // ordered_json keeps the fields in the documented order, which makes the document easy to
  // read in logs; receivers must not depend on it.
  nlohmann::ordered_json doc;
  doc["Type"] = "Notification";
  doc["MessageId"] = message.id;
  doc["TopicArn"] = WebhookTopicArn(message.topic);
  doc["Subject"] = message.subject;
  doc["Message"] = message.body;
  doc["Timestamp"] = core::FormatTime(message.at);
  doc["topic"] = message.topic;
  doc["subject"] = message.subject;
  doc["message"] = message.body;
  doc["store"] = message.store;
  doc["item"] = message.item;
  doc["old_count"] = message.old_count ? nlohmann::ordered_json(*message.old_count) : nullptr;
  doc["new_count"] = message.new_count;
  // A reminder says since when the item has been out of stock; other alerts leave it out.
  if (message.since) doc["since"] = core::FormatTime(*message.since);
  doc["message_id"] = message.id;
  doc["timestamp"] = core::FormatTime(message.at);
  doc["delivery_id"] = delivery.id;
  // A test message says so, so receivers can tell it from an alert.
  if (message.kind == core::MessageKind::kTest) doc["kind"] = "test";
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string WebhookTopicArn(std::string_view topic) {
  return "arn:stockwatch:sns:local:0:" + std::string(topic);
}

std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body) {
  std::string data;
  data.reserve(timestamp.size() + 1 + body.size());
  data.append(timestamp).append(".").append(body);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  // HMAC() fails only when out of memory; the caller retries rather than send "v1=".
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
           &mac_size) == nullptr) {
    return "v1=";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string signature = "v1=";
  for (unsigned int i = 0; i < mac_size; ++i) {
    signature += kHex[mac[i] >> 4];
    signature += kHex[mac[i] & 0xf];
  }
  return signature;
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, core::TimePoint now) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // An HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms curl also reads).
  const std::string date(value);
  const time_t when = curl_getdate(date.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  const auto now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return std::chrono::seconds(std::max<int64_t>(0, static_cast<int64_t>(when) - now_seconds));
}

WebhookChannel::WebhookChannel(WebhookChannelOptions options)
    : options_(options), pool_(std::make_unique<CurlHandlePool>(options_.max_idle_handles)) {}

WebhookChannel::~WebhookChannel() = default;

SendResult WebhookChannel::Send(const core::Delivery& delivery) {
  // Exceptions stop here: the port never throws.
  try {
    core::SystemClock system_clock;
    return DoSend(delivery, options_, options_.clock != nullptr ? *options_.clock : system_clock,
                  *pool_);
  } catch (const std::bad_alloc&) {
    return Retryable("out of memory sending webhook");
  } catch (const std::exception& e) {
    return Permanent(std::string("webhook: ") + e.what());
  }
}

}  // namespace stockwatch::adapters
