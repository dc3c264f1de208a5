#include "adapters/notify/slack_channel.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "adapters/notify/curl_support.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using notify_internal::CurlHandlePool;
using notify_internal::HttpPostResult;

nlohmann::ordered_json Field(std::string_view label, std::string_view value) {
  return {{"type", "mrkdwn"}, {"text", "*" + std::string(label) + "*\n" + SlackEscape(value)}};
}

SendResult DoSend(const core::Delivery& delivery, const SlackChannelOptions& options,
                  CurlHandlePool& pool) {
  std::string shown_url;
  const HttpPostResult result = notify_internal::PostToChatWebhook(
      pool, options, "slack", delivery, SlackPayload(delivery), &shown_url);
  if (result.failure) return *result.failure;
  // Slack names the problem in a short plain-text body ("no_service", "invalid_payload").
  std::string error = "slack: http " + std::to_string(result.status);
  if (const std::string code = notify_internal::ResponseSnippet(result.body, 100); !code.empty()) {
    error += " " + code;
  }
  return notify_internal::ClassifyHttpStatus(result.status, error + " from " + shown_url,
                                             result.retry_after);
}

}  // namespace

std::string SlackTruncate(std::string_view escaped) {
  bool cut = false;
  std::string text = notify_internal::TruncateUtf8(escaped, kMaxSlackTextChars, &cut);
  if (!cut) return text;
  // Every '&' in escaped text starts an entity; one cut short would show as "&am".
  constexpr std::string_view kEllipsis = "\xe2\x80\xa6";
  const size_t kept = text.size() - kEllipsis.size();
  const size_t amp = text.rfind('&', kept);
  if (amp != std::string::npos && text.find(';', amp) >= kept) {
    text.erase(amp, kept - amp);
  }
  return text;
}

std::string SlackEscape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string SlackPayload(const core::Delivery& delivery) {
  const core::Message& message = delivery.message;
  const std::string subject = SlackEscape(message.subject);
  const std::string body = SlackEscape(message.body);
  nlohmann::ordered_json section;
  section["type"] = "section";
  section["text"] = {{"type", "mrkdwn"}, {"text", SlackTruncate("*" + subject + "*\n" + body)}};
  // A test message is about no item: its card has the text only.
  if (message.kind != core::MessageKind::kTest) {
    section["fields"] = nlohmann::ordered_json::array({
        Field("Store", message.store),
        Field("Item", message.item),
        Field("Old count", message.old_count ? std::to_string(*message.old_count) : "new"),
        Field("New count", std::to_string(message.new_count)),
    });
  }
  nlohmann::ordered_json doc;
  doc["text"] = SlackTruncate(subject + "\n" + body);
  doc["blocks"] = nlohmann::ordered_json::array({std::move(section)});
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

SlackChannel::SlackChannel(SlackChannelOptions options)
    : options_(options), pool_(std::make_unique<CurlHandlePool>(options_.max_idle_handles)) {}

SlackChannel::~SlackChannel() = default;

SendResult SlackChannel::Send(const core::Delivery& delivery) {
  return notify_internal::SendCatchingExceptions(
      "slack", [&] { return DoSend(delivery, options_, *pool_); });
}

}  // namespace stockwatch::adapters
