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
//
//   {"topic": "NoStock", "subject": "...", "message": "<body>", "store": "Berlin",
//    "item": "Echo Plus", "old_count": 3, "new_count": 0, "message_id": "...",
//    "timestamp": "2024-05-01T12:34:56.789Z", "delivery_id": 42}
//
// `old_count` is null when the item was new; `timestamp` is Message::at in RFC 3339 UTC with
// milliseconds; `delivery_id` is a number. The same delivery always produces the same bytes.
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
// Error texts look like "http 503 from https://host/path" or curl's error text followed by the
// URL; URLs in them never carry user info, query or fragment.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/types.h"
#include "core/ports/channel.h"

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
};

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
