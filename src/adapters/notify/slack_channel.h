// SlackChannel: posts each message to a Slack incoming webhook (the subscription's endpoint,
// e.g. https://hooks.slack.com/services/T000/B000/XXXX), with libcurl.
//
// The request:
//   POST <endpoint>
//   Content-Type: application/json; charset=utf-8
//   User-Agent: stockwatch/0.1
//   X-Stockwatch-Delivery: <delivery id>      idempotency hint (Slack ignores it)
//
//   {"text": "<subject>\n<body>",
//    "blocks": [{"type": "section",
//                "text": {"type": "mrkdwn", "text": "*<subject>*\n<body>"},
//                "fields": [{"type": "mrkdwn", "text": "*Store*\n<store>"},
//                           {"type": "mrkdwn", "text": "*Item*\n<item>"},
//                           {"type": "mrkdwn", "text": "*Old count*\n3"},   ("new" for a new item)
//                           {"type": "mrkdwn", "text": "*New count*\n0"}]}]}
//
// Both texts (`text` and the section's) are cut to 3,000 characters (code points), ending with
// "…" when cut, since Slack refuses a longer section text.
// Every text has `&`, `<` and `>` escaped as `&amp;`, `&lt;` and `&gt;`, as Slack requires:
// store and item names come from uploaded files, and an unescaped `<!channel>` or
// `<https://evil|link>` would notify everyone or render a link. `text` is what notifications
// show; `blocks` is what the channel shows.
//
// Outcome, as core::SendResult (the webhook channel's table):
//   2xx (Slack answers 200 "ok")                       kDelivered
//   408, 429 (rate limited), 5xx                       kRetryable, retry_after from Retry-After
//   timeout, DNS, connect, TLS, connection reset       kRetryable
//   other 3xx and 4xx: 400 invalid_payload, 403 action_prohibited, 404 no_service,
//   410 channel_is_archived, ...                       kPermanent
//   bad URL, scheme other than http/https              kPermanent
// Error texts look like "slack: http 404 no_service from https://hooks.slack.com/services/***":
// Slack's error code, and the URL without the part after the first path segment (the webhook
// URL is the credential).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/notify/webhook_channel.h"
#include "core/model/types.h"
#include "core/ports/channel.h"

namespace stockwatch::adapters {

// The same knobs as a webhook: timeouts, idle handles kept, DNS cache, connection age.
// max_redirects should stay 0: Slack does not redirect webhook posts.
using SlackChannelOptions = WebhookChannelOptions;

// `text` with `&`, `<` and `>` replaced by `&amp;`, `&lt;` and `&gt;` (Slack's escaping).
std::string SlackEscape(std::string_view text);

// Slack refuses a section text longer than this many characters.
inline constexpr size_t kMaxSlackTextChars = 3000;

// `escaped` (SlackEscape's output) cut to at most kMaxSlackTextChars code points on a UTF-8
// boundary, ending with "…" (U+2026) when cut, and never inside an `&amp;`-style entity.
// Invalid UTF-8 is replaced by U+FFFD.
std::string SlackTruncate(std::string_view escaped);

// The JSON document sent for `delivery`, as above. Invalid UTF-8 is replaced by U+FFFD.
std::string SlackPayload(const core::Delivery& delivery);

// Thread-safe: Send may be called from many threads at once. Connections are reused through
// a pool of libcurl handles.
class SlackChannel final : public core::Channel {
 public:
  explicit SlackChannel(SlackChannelOptions options = {});
  ~SlackChannel() override;
  SlackChannel(const SlackChannel&) = delete;
  SlackChannel& operator=(const SlackChannel&) = delete;

  // POSTs SlackPayload(delivery) to delivery.subscription.endpoint and classifies the outcome
  // as in the table above. Never throws.
  core::SendResult Send(const core::Delivery& delivery) override;

 private:
  const SlackChannelOptions options_;
  std::unique_ptr<notify_internal::CurlHandlePool> pool_;
};

}  // namespace stockwatch::adapters
