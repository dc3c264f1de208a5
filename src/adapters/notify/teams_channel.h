// TeamsChannel: posts each message to a Microsoft Teams incoming webhook (the subscription's
// endpoint: a Workflows "When a Teams webhook request is received" URL, or a legacy Microsoft
// 365 connector URL on *.webhook.office.com), with libcurl.
//
// The request:
//   POST <endpoint>
//   Content-Type: application/json; charset=utf-8
//   User-Agent: stockwatch/0.1
//   X-Stockwatch-Delivery: <delivery id>      idempotency hint (Teams ignores it)
//
//   {"type": "message",
//    "attachments": [{
//      "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
//      "content": {
//        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
//        "type": "AdaptiveCard", "version": "1.4",
//        "body": [
//          {"type": "TextBlock", "text": "<subject>", "size": "Medium", "weight": "Bolder",
//           "wrap": true},
//          {"type": "TextBlock", "text": "<body>", "wrap": true},
//          {"type": "FactSet", "facts": [{"title": "Store", "value": "<store>"},
//                                        {"title": "Item", "value": "<item>"},
//                                        {"title": "Old count", "value": "3"},  ("new" if new)
//                                        {"title": "New count", "value": "0"}]}]}}]}
//
// Both kinds of webhook accept this Adaptive Card message (Workflows accept nothing else).
// Adaptive Cards render no HTML but do render a subset of Markdown in TextBlock texts and
// FactSet values, so the subject, the body, the store and the item are sent through
// TeamsMarkdownEscape: a store named "**[Berlin](https://evil.example)**" shows as typed, not
// as a bold link.
//
// Outcome, as core::SendResult (the webhook channel's table):
//   2xx (Workflows answer 202, connectors 200 "1")     kDelivered, except:
//   2xx whose body says "Webhook message delivery failed with error: Microsoft Teams endpoint
//   returned HTTP error <N>" (how connectors report throttling and errors)
//                                                      classified as status N (429: retryable)
//   408, 429, 5xx                                      kRetryable, retry_after from Retry-After
//   timeout, DNS, connect, TLS, connection reset       kRetryable
//   other 3xx and 4xx                                  kPermanent
//   bad URL, scheme other than http/https              kPermanent
// Error texts look like "teams: http 404 from https://x.webhook.office.com/webhookb2/***",
// followed by the start of the response body when there is one; the URL's path after its
// first segment is hidden (the webhook URL is the credential), as are its query and user info.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "adapters/notify/webhook_channel.h"
#include "core/model/types.h"
#include "core/ports/channel.h"

namespace stockwatch::adapters {

// The same knobs as a webhook: timeouts, idle handles kept, DNS cache, connection age.
using TeamsChannelOptions = WebhookChannelOptions;

// `text` with a backslash before every character that Markdown could read as formatting:
// \ ` * _ ~ [ ] ( ) < > # | everywhere, and at the start of a line the list markers "-", "+"
// and the "." or ")" after a number ("1." would start a numbered list).
std::string TeamsMarkdownEscape(std::string_view text);

// The JSON document sent for `delivery`, as above. Invalid UTF-8 is replaced by U+FFFD.
std::string TeamsPayload(const core::Delivery& delivery);

// Thread-safe: Send may be called from many threads at once. Connections are reused through
// a pool of libcurl handles.
class TeamsChannel final : public core::Channel {
 public:
  explicit TeamsChannel(TeamsChannelOptions options = {});
  ~TeamsChannel() override;
  TeamsChannel(const TeamsChannel&) = delete;
  TeamsChannel& operator=(const TeamsChannel&) = delete;

  // POSTs TeamsPayload(delivery) to delivery.subscription.endpoint and classifies the outcome
  // as in the table above. Never throws.
  core::SendResult Send(const core::Delivery& delivery) override;

 private:
  const TeamsChannelOptions options_;
  std::unique_ptr<notify_internal::CurlHandlePool> pool_;
};

}  // namespace stockwatch::adapters
