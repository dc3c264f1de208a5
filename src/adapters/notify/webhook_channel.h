// WebhookChannel: delivers each message as a JSON document POSTed over HTTP(S) to the
// subscription's endpoint URL, with libcurl.
//
// The request:
//   POST <endpoint>
//   Content-Type: application/json
//   User-Agent: stockwatch/0.1
//   X-Stockwatch-Delivery: <delivery id>      idempotency key of this (message, subscription)
//   X-Stockwatch-Message-Id: <message id>     the same for every subscription of a message
//   X-Stockwatch-Topic: <topic>
//   X-Stockwatch-Timestamp: <unix seconds>    when this attempt was made
//   X-Stockwatch-Message-Type: SubscriptionConfirmation   only on confirmation requests,
//                                             whose body is SubscriptionConfirmationPayload
//                                             (subscription_messages.h), signed the same way
//   X-Stockwatch-Signature: v1=<hex>          lower-case hex HMAC-SHA256, see below; left out
//                                             when the subscription has no secret (old rows)
//
//   {"Type": "Notification", "MessageId": "<message id>",
//    "TopicArn": "arn:stockwatch:sns:local:0:NoStock", "Subject": "...", "Message": "<body>",
//    "Timestamp": "2024-05-01T12:34:56.789Z",
//    "topic": "NoStock", "subject": "...", "message": "<body>", "store": "Berlin",
//    "item": "Echo Plus", "old_count": 3, "new_count": 0, "message_id": "...",
//    "timestamp": "2024-05-01T12:34:56.789Z", "delivery_id": 42}
//
// The first six fields are shaped like an Amazon SNS HTTP notification, so receivers written
// for SNS can read it; the others are stockwatch's own. `old_count` is null when the item was
// new; `Timestamp` and `timestamp` are Message::at in RFC 3339 UTC with milliseconds;
// `delivery_id` is a number. The same delivery always produces the same body bytes; only the
// timestamp header and the signature change between attempts.
//
// Signature: key = the subscription's secret (core::Subscription::secret, shown once as
// `signing_secret` when the subscription is created) as its ASCII bytes; data = the
// X-Stockwatch-Timestamp value, ".", and the raw request body:
//   X-Stockwatch-Signature: v1=hex(HMAC-SHA256(secret, timestamp + "." + body))
// To verify: compute the same over the body bytes as received (before any JSON parsing),
// compare with the header's v1= value in constant time (e.g. Python's hmac.compare_digest),
// and reject requests whose timestamp is more than 5 minutes from the receiver's clock
// (replays); drop duplicates by X-Stockwatch-Delivery. The "v1=" prefix names the scheme, so
// a later one can be sent alongside.
//
// Outcome, as core::SendResult:
//   2xx                                        kDelivered
//   408, 429, 5xx                              kRetryable, retry_after from Retry-After
//   timeout, DNS, connect, TLS handshake,
//   connection reset or closed early           kRetryable
//   other 3xx and 4xx (redirects are not
//   followed unless max_redirects > 0)         kPermanent
//   bad URL, scheme other than http/https,
//   certificate rejected                       kPermanent
//   address loopback, private or link-local
//   (unless allow_private_targets)             kPermanent, "refusing to connect to private
//                                              address 127.0.0.1 (set
//                                              notify.allow_private_targets to allow)"
// Error texts look like "http 503 from https://host/path" or curl's error text followed by the
// URL; URLs in them never carry user info, query or fragment.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/delivery/subscriber_links.h"
#include "core/model/types.h"
#include "core/ports/channel.h"
#include "core/ports/clock.h"

namespace stockwatch::adapters {

namespace notify_internal {
class CurlHandlePool;
}  // namespace notify_internal

struct WebhookChannelOptions {
  // Bound on a whole attempt: resolve, connect, send, and receive the response. Default 15 s.
  std::chrono::milliseconds timeout = std::chrono::seconds(15);
  // Bound on resolving and connecting, TLS handshake included. Default 5 s.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // Redirects followed (http and https only, POST kept on 301/302/303). With 0 a 3xx response
  // is a permanent failure. Default 0.
  int max_redirects = 0;
  // Idle easy handles kept for reuse; each holds open connections, so this bounds the idle
  // connections kept per receiver. Concurrent sends beyond it open extra handles, which are
  // closed afterwards. Default 8.
  size_t max_idle_handles = 8;
  // How long a resolved host name is reused before it is looked up again. Default 60 s.
  std::chrono::seconds dns_cache_ttl = std::chrono::seconds(60);
  // A kept-alive connection older than this is not reused, so a receiver whose name now
  // resolves elsewhere is reached at its new address soon. Default 300 s.
  std::chrono::seconds max_connection_age = std::chrono::seconds(300);
  // Whether endpoints may resolve to loopback, private, link-local or CGNAT addresses (see
  // notify_internal::IsPrivateAddress; the setting notify.allow_private_targets). Checked on
  // the address each connection is made to, so a name that resolves elsewhere later is
  // caught too. Default false: refused, kPermanent.
  bool allow_private_targets = false;
  // Where X-Stockwatch-Timestamp comes from. Not owned; must outlive the channel. Default
  // nullptr: the system clock.
  core::Clock* clock = nullptr;
  // Builds the SubscribeURL of confirmation requests (subscription_messages.h). Default: no
  // base URL.
  core::SubscriberLinks links = {};
};

// The TopicArn of `topic` in webhook bodies: "arn:stockwatch:sns:local:0:<topic>".
std::string WebhookTopicArn(std::string_view topic);

// The X-Stockwatch-Signature value: "v1=" + lower-case hex HMAC-SHA256 with key `secret` (its
// bytes) over `timestamp` + "." + `body`; just "v1=" if the MAC could not be computed.
std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body);

// The JSON document sent for `delivery`, as described above. Invalid UTF-8 in strings is
// replaced by U+FFFD.
std::string WebhookPayload(const core::Delivery& delivery);

// Parses a Retry-After header value: delay-seconds ("120") or an HTTP-date
// ("Wed, 01 May 2024 12:36:56 GMT", made relative to `now`, at least 0 s). Returns nullopt if
// the value is neither.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, core::TimePoint now);

// Thread-safe: Send may be called from many threads at once. Connections are kept alive and
// reused between sends (to the same receiver) through a small pool of libcurl handles.
class WebhookChannel final : public core::Channel {
 public:
  explicit WebhookChannel(WebhookChannelOptions options = {});
  ~WebhookChannel() override;
  WebhookChannel(const WebhookChannel&) = delete;
  WebhookChannel& operator=(const WebhookChannel&) = delete;

  // POSTs WebhookPayload(delivery) to delivery.subscription.endpoint and classifies the
  // outcome as in the table above. Never throws.
  core::SendResult Send(const core::Delivery& delivery) override;

 private:
  const WebhookChannelOptions options_;
  std::unique_ptr<notify_internal::CurlHandlePool> pool_;
};

}  // namespace stockwatch::adapters
