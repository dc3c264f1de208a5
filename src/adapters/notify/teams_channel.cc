#include "adapters/notify/teams_channel.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "adapters/notify/curl_support.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using notify_internal::CurlHandlePool;
using notify_internal::HttpPostResult;

// Legacy connectors answer 200 even when Teams refused the message, with a body such as
// "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429
// with ContextId ...". Returns the status named there (0 when the body says the delivery
// failed without naming one), or nullopt when the body does not report a failure.
std::optional<long> FailureInSuccessBody(std::string_view body) {
  if (body.find("Webhook message delivery failed") == std::string_view::npos) return std::nullopt;
  constexpr std::string_view kMarker = "HTTP error ";
  const size_t at = body.find(kMarker);
  long status = 0;
  if (at != std::string_view::npos) {
    const std::string_view digits = body.substr(at + kMarker.size());
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), status);
    if (ec != std::errc() || status < 100 || status > 599) status = 0;
  }
  return status;
}

SendResult DoSend(const core::Delivery& delivery, const TeamsChannelOptions& options,
                  CurlHandlePool& pool) {
  std::string shown_url;
  const HttpPostResult result = notify_internal::PostToChatWebhook(
      pool, options, "teams", delivery, TeamsPayload(delivery), &shown_url);
  if (result.failure) return *result.failure;
  std::string error = "teams: http " + std::to_string(result.status) + " from " + shown_url;
  if (const std::string snippet = notify_internal::ResponseSnippet(result.body); !snippet.empty()) {
    error += ": " + snippet;
  }
  long status = result.status;
  if (status >= 200 && status < 300) {
    const std::optional<long> inner = FailureInSuccessBody(result.body);
    if (!inner) return SendResult{};
    // Without a named status the failure is assumed transient: retrying is cheap, and the
    // delivery is kept as failed when it never succeeds.
    status = *inner == 0 ? 503 : *inner;
  }
  return notify_internal::ClassifyHttpStatus(status, std::move(error), result.retry_after);
}

}  // namespace

std::string TeamsMarkdownEscape(std::string_view text) {
  constexpr std::string_view kAlways = "\\`*_~[]()<>#|";
  std::string escaped;
  escaped.reserve(text.size() + text.size() / 8);
  bool line_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (kAlways.find(c) != std::string_view::npos) {
      escaped += '\\';
    } else if (line_start && (c == '-' || c == '+')) {
      escaped += '\\';
    } else if (line_start && c >= '0' && c <= '9') {
      // "12. " or "12) " at the start of a line would start a numbered list.
      size_t end = i;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
      escaped.append(text.substr(i, end - i));
      i = end - 1;
      if (end < text.size() && (text[end] == '.' || text[end] == ')')) {
        escaped += '\\';
        escaped += text[end];
        i = end;
      }
      line_start = false;
      continue;
    }
    escaped += c;
    line_start = c == '\n' || (line_start && (c == ' ' || c == '\t'));
  }
  return escaped;
}

std::string TeamsPayload(const core::Delivery& delivery) {
  const core::Message& message = delivery.message;
  const auto fact = [](std::string_view title, std::string_view value) {
    return nlohmann::ordered_json{{"title", title}, {"value", value}};
  };
  nlohmann::ordered_json card;
  card["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json";
  card["type"] = "AdaptiveCard";
  card["version"] = "1.4";
  card["body"] = nlohmann::ordered_json::array({
      {{"type", "TextBlock"},
       {"text", TeamsMarkdownEscape(message.subject)},
       {"size", "Medium"},
       {"weight", "Bolder"},
       {"wrap", true}},
      {{"type", "TextBlock"}, {"text", TeamsMarkdownEscape(message.body)}, {"wrap", true}},
  });
  // A test message is about no item: its card has the text only.
  if (message.kind != core::MessageKind::kTest) {
    card["body"].push_back(
        {{"type", "FactSet"},
         {"facts",
          nlohmann::ordered_json::array({
              fact("Store", TeamsMarkdownEscape(message.store)),
              fact("Item", TeamsMarkdownEscape(message.item)),
              fact("Old count", message.old_count ? std::to_string(*message.old_count) : "new"),
              fact("New count", std::to_string(message.new_count)),
          })}});
  }
  nlohmann::ordered_json attachment;
  attachment["contentType"] = "application/vnd.microsoft.card.adaptive";
  attachment["contentUrl"] = nullptr;
  attachment["content"] = std::move(card);
  nlohmann::ordered_json doc;
  doc["type"] = "message";
  doc["attachments"] = nlohmann::ordered_json::array({std::move(attachment)});
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

TeamsChannel::TeamsChannel(TeamsChannelOptions options)
    : options_(options), pool_(std::make_unique<CurlHandlePool>(options_.max_idle_handles)) {}

TeamsChannel::~TeamsChannel() = default;

SendResult TeamsChannel::Send(const core::Delivery& delivery) {
  return notify_internal::SendCatchingExceptions(
      "teams", [&] { return DoSend(delivery, options_, *pool_); });
}

}  // namespace stockwatch::adapters
