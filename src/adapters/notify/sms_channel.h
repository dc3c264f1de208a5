// SmsChannel: sends each message as a text message through a Twilio-compatible REST API, with
// libcurl. The subscription's endpoint is the destination number in E.164 form.
//
// The request:
//   POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json
//   Authorization: Basic base64(account_sid:auth_token)
//   Content-Type: application/x-www-form-urlencoded
//   User-Agent: stockwatch/0.1
//   X-Stockwatch-Delivery: <delivery id>      idempotency hint (Twilio has no idempotency key
//                                             for messages and ignores it)
//
//   To=<endpoint>&From=<from_number>&Body=<SmsBody(message)>
//
// Outcome, as core::SendResult (the webhook channel's table, plus Twilio's error codes):
//   2xx (Twilio answers 201 with the queued message)    kDelivered
//   a Twilio error with code 21610 (the recipient replied STOP: unsubscribed)
//                                                       kPermanent, whatever the status
//   408, 429 (Twilio code 20429), 5xx                   kRetryable, retry_after from Retry-After
//   timeout, DNS, connect, TLS, connection reset        kRetryable
//   other 3xx and 4xx (400 invalid number, 401 bad credentials, ...)
//                                                       kPermanent
//   endpoint not E.164, options not usable              kPermanent, sending nothing
//   base_url resolving to a private address (unless
//   allow_private_targets)                              kPermanent, sending nothing
// Error texts look like "sms: http 400 from https://api.twilio.com/2010-04-01/Accounts/AC.../
// Messages.json: twilio error 21610: Attempt to send to unsubscribed recipient". They never
// hold the auth token.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/model/types.h"
#include "core/ports/channel.h"

namespace stockwatch::adapters {

namespace notify_internal {
class CurlHandlePool;
}  // namespace notify_internal

struct SmsChannelOptions {
  // Where the Twilio-compatible API is: scheme, host, optional port and path prefix, no
  // trailing slash needed. Default "https://api.twilio.com".
  std::string base_url = "https://api.twilio.com";
  // The account SID ("AC" + 32 hex digits at Twilio): the basic-auth user name and part of the
  // path. Letters and digits only. No default.
  std::string account_sid;
  // The account's auth token: the basic-auth password. A secret: never in error texts. No
  // default.
  std::string auth_token;
  // The sender: an E.164 number, a short code or an alphanumeric sender ID. No default.
  std::string from_number;
  // Bound on a whole attempt: resolve, connect, send, and receive the response. Default 15 s.
  std::chrono::milliseconds timeout = std::chrono::seconds(15);
  // Bound on resolving and connecting, TLS handshake included. Default 5 s.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // Idle easy handles (with their open connections) kept for reuse. Default 4.
  size_t max_idle_handles = 4;
  // Whether base_url may resolve to a loopback, private or link-local address (see
  // notify_internal::IsPrivateAddress; the setting notify.allow_private_targets). When false
  // such a connection is not made and the send fails with kPermanent "sms: refusing to connect
  // to private address ...". Default false.
  bool allow_private_targets = false;
};

// Longest text sent, in Unicode code points (Twilio's limit for a message body).
inline constexpr size_t kMaxSmsCodePoints = 1600;

// Twilio's error code for a recipient who opted out by replying STOP.
inline constexpr int kTwilioUnsubscribedRecipient = 21610;

// Returns OK if `options` can send: base_url an http(s) URL, account_sid non-empty letters and
// digits, auth_token and from_number non-empty and without CR or LF. kInvalidArgument naming
// the bad field otherwise (never echoing the token). Call it at startup; Send fails every
// delivery with kPermanent while the options are not usable.
absl::Status ValidateSmsChannelOptions(const SmsChannelOptions& options);

// Whether `number` is an E.164 number: '+', then 8 to 15 digits, the first not 0. Nothing
// else: no spaces, dashes or brackets.
bool IsE164(std::string_view number);

// The message text: subject, a newline, body. Invalid UTF-8 is replaced by U+FFFD. When that
// is longer than kMaxSmsCodePoints code points, it is cut at a code point boundary and ends
// with "…" (U+2026), kMaxSmsCodePoints code points in all.
std::string SmsBody(const core::Message& message);

// Whether an inbound text is an opt-out (true) or opt-in (false) keyword in Twilio's default
// set: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT opt out; START, UNSTOP,
// YES opt in. ASCII case is ignored, as are spaces, tabs, CRs and LFs around the word.
// nullopt for anything else (including HELP and longer texts such as "stop please").
std::optional<bool> ParseStopKeyword(std::string_view body);

// Twilio's request validation (X-Twilio-Signature) for a POST Twilio made to our webhook:
// base64(HMAC-SHA1(auth_token, full_url + name1 + value1 + name2 + value2 ...)) over the POST
// form parameters sorted by name (and value, for repeated names), compared in constant time.
// `full_url` is the URL Twilio called, with scheme, host, path and query; like Twilio's own
// libraries this also accepts the signature computed with the scheme's default port added to
// or removed from it (":443" for https, ":80" for http). `form_params` are decoded names and
// values, in any order. False for an empty token or header.
bool VerifyTwilioSignature(std::string_view auth_token, std::string_view full_url,
                           const std::vector<std::pair<std::string, std::string>>& form_params,
                           std::string_view signature_header);

// Thread-safe: Send may be called from many threads at once. Connections to the API are
// reused through a pool of libcurl handles.
class SmsChannel final : public core::Channel {
 public:
  explicit SmsChannel(SmsChannelOptions options);
  ~SmsChannel() override;
  SmsChannel(const SmsChannel&) = delete;
  SmsChannel& operator=(const SmsChannel&) = delete;

  // Sends SmsBody(delivery.message) to delivery.subscription.endpoint and classifies the
  // outcome as in the table above. Never throws.
  core::SendResult Send(const core::Delivery& delivery) override;

 private:
  const SmsChannelOptions options_;
  const absl::Status options_status_;  // ValidateSmsChannelOptions(options_)
  std::unique_ptr<notify_internal::CurlHandlePool> pool_;
};

}  // namespace stockwatch::adapters
