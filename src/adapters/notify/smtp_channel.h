// SmtpChannel: delivers each message as a plain-text email through one configured SMTP
// server, with libcurl.
//
// The subscription endpoint is the recipient: "ops@example.com" or
// "mailto:ops@example.com" (percent-encoding allowed, no "?query"). The email:
//   From: <options.from>
//   To: <recipient>
//   Subject: <message.subject>        RFC 2047 "=?UTF-8?B?...?=" words if not plain ASCII
//   Date: Wed, 01 May 2024 12:34:56 +0000        Message::at, RFC 5322
//   Message-ID: <delivery-<delivery id>.<message id>@stockwatch>   stable per delivery, so
//                                                 receivers can drop duplicates of a retry
//   MIME-Version: 1.0
//   Content-Type: text/plain; charset=utf-8
//   Content-Transfer-Encoding: 8bit   (quoted-printable if a line exceeds 998 bytes)
//   Auto-Submitted: auto-generated    (RFC 3834: auto-responders do not answer)
//
//   <message.body>
//
//   --
//   Store: Berlin
//   Item: Echo Plus
//   Count: 3 -> 0                      ("new -> 5" for an item seen the first time)
// Line ends are CRLF; libcurl dot-stuffs lines that start with ".". Given the same delivery,
// the same bytes are produced.
//
// Outcome, as core::SendResult:
//   250 after the message data                     kDelivered
//   SMTP 4xx reply, connection refused or reset,
//   DNS failure, timeout, TLS handshake failure    kRetryable
//   SMTP 5xx reply (rejected sender or recipient,
//   failed login, message refused)                 kPermanent
//   CR or LF in the subject, recipient or another
//   header value (header injection), bad address   kPermanent, nothing is sent
//   require_tls and the server offers no STARTTLS,
//   certificate rejected                           kPermanent
// Error texts look like "smtp 550 from smtp://host:2525: 550 5.1.1 <x@y>: no such user" or
// curl's error text followed by the server URL, never with user name or password.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/delivery/subscriber_links.h"
#include "core/model/types.h"
#include "core/ports/channel.h"

namespace stockwatch::adapters {

namespace notify_internal {
class CurlHandlePool;
}  // namespace notify_internal

struct SmtpChannelOptions {
  // The server: "smtp://host:port" (STARTTLS when require_tls), "smtps://host:port" for
  // implicit TLS. A path names the EHLO domain ("smtp://host:587/stockwatch.example.com").
  // No default; required.
  std::string url;
  // Envelope sender and From address, a bare address such as "alerts@example.com".
  // No default; required.
  std::string from;
  // Login; empty sends no AUTH. libcurl picks the mechanism the server offers. Default "".
  std::string username;
  // Default "".
  std::string password;
  // Upgrade smtp:// with STARTTLS and refuse to send without it (CURLUSESSL_ALL). Without
  // it, smtp:// stays plain text. Default false.
  bool require_tls = false;
  // Accept any server certificate and host name. For tests only. Default false.
  bool insecure_skip_verify = false;
  // Bound on a whole attempt, from connecting to the server's reply to the data. Default 15 s.
  std::chrono::milliseconds timeout = std::chrono::seconds(15);
  // Bound on resolving and connecting, TLS handshake included. Default 5 s.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // Idle easy handles kept for reuse, each with its open connection. Default 4.
  size_t max_idle_handles = 4;
  // Confirm and unsubscribe links. With an unsubscribe_token, every email is
  // multipart/alternative (the text part, and an HTML part of the same text) and carries
  // the link in both parts and as RFC 8058 one-click unsubscribe:
  //   List-Unsubscribe: <https://host/unsubscribe?token=...>
  //   List-Unsubscribe-Post: List-Unsubscribe=One-Click
  // Default: none (plain text as above).
  core::SubscriberLinks links;
};

// The recipient address named by a subscription endpoint: "mailto:" removed and
// percent-decoded. Returns kInvalidArgument for a CR or LF anywhere (header injection),
// non-ASCII, whitespace, several addresses, a "?query", or something that is not
// local@domain.
absl::StatusOr<std::string> EmailAddressFromEndpoint(std::string_view endpoint);

// A header value as it goes on the wire: unchanged if it is printable ASCII without "=?",
// otherwise RFC 2047 B-encoded UTF-8 words of at most 75 characters, folded onto
// continuation lines. REQUIRES: no CR or LF in `value`.
std::string EncodeHeaderValue(std::string_view value);

// `at` as an RFC 5322 date in UTC, e.g. "Wed, 01 May 2024 12:34:56 +0000".
std::string FormatRfc5322Date(core::TimePoint at);

// The complete email (headers, blank line, body) for `delivery` sent from `from`, as above.
// Returns kInvalidArgument if a header value or address holds CR or LF or the recipient is
// not a valid address.
absl::StatusOr<std::string> ComposeEmail(const core::Delivery& delivery, std::string_view from);
// The same with `links` (SmtpChannelOptions::links); a confirmation message
// (kSubscriptionConfirmation) gets SubscriptionConfirmationText with its link as body.
absl::StatusOr<std::string> ComposeEmail(const core::Delivery& delivery, std::string_view from,
                                         const core::SubscriberLinks& links);

// Thread-safe: Send may be called from many threads at once; connections to the server are
// kept open and reused through a small pool of libcurl handles.
class SmtpChannel final : public core::Channel {
 public:
  // Returns kInvalidArgument if the URL is not smtp:// or smtps:// or `from` is not a bare
  // address.
  static absl::StatusOr<std::unique_ptr<SmtpChannel>> Create(SmtpChannelOptions options);
  ~SmtpChannel() override;
  SmtpChannel(const SmtpChannel&) = delete;
  SmtpChannel& operator=(const SmtpChannel&) = delete;

  // Sends ComposeEmail(delivery, options.from) to the endpoint's address and classifies the
  // outcome as in the table above. Never throws.
  core::SendResult Send(const core::Delivery& delivery) override;

 private:
  SmtpChannel(SmtpChannelOptions options, std::string redacted_url,
              std::vector<std::string> secrets);

  const SmtpChannelOptions options_;
  const std::string redacted_url_;          // options_.url without user info, for error texts
  const std::vector<std::string> secrets_;  // parts of options_.url to scrub from texts
  std::unique_ptr<notify_internal::CurlHandlePool> pool_;
};

}  // namespace stockwatch::adapters
