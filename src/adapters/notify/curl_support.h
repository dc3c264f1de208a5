// libcurl plumbing shared by the notify channels: one-time global initialisation, a pool of
// easy handles (each keeps its connections open for reuse), URL redaction for error messages,
// and one HTTP POST with the status classification every HTTP channel uses. Internal to the
// notify adapters; nothing here is part of a port.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/ports/channel.h"

// The libcurl easy handle type, declared here so this header does not pull in <curl/curl.h>
// (it is `typedef void CURL;` there).
typedef void CURL;
struct sockaddr;

namespace stockwatch::adapters {
struct WebhookChannelOptions;
}  // namespace stockwatch::adapters

namespace stockwatch::adapters::notify_internal {

// `text` without leading and trailing spaces, tabs, CRs and LFs.
std::string_view Trim(std::string_view text);

// Whether `text` starts with `prefix`, comparing ASCII letters case-insensitively.
bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix);

// Whether `value` holds a CR or LF, which would end a header line (header injection).
bool HasLineBreak(std::string_view value);

// Calls curl_global_init once per process. Thread-safe.
void EnsureCurlGlobalInit();

// A URL split into the parts a channel needs. `redacted` is what error messages may show:
// scheme://host[:port]/path with any user name, password, query and fragment left out.
struct ParsedUrl {
  std::string scheme;                // lower case
  std::string redacted;              // e.g. "https://hooks.example.com/alerts"
  std::vector<std::string> secrets;  // user info, query and fragment, to scrub from texts
};

// Parses an absolute URL whose scheme is one of `allowed_schemes` (lower case).
// Returns kInvalidArgument, not echoing the URL (it may hold secrets), when it does not parse
// or has another scheme.
absl::StatusOr<ParsedUrl> ParseUrl(std::string_view url,
                                   const std::vector<std::string_view>& allowed_schemes);

// Returns `text` with every occurrence of each of `url.secrets` of at least
// kMinScrubbedSecretBytes replaced by "***". Shorter ones are left alone: replacing a one-letter
// user name would garble the text while protecting nothing.
inline constexpr size_t kMinScrubbedSecretBytes = 4;
std::string ScrubSecrets(std::string text, const ParsedUrl& url);

// For endpoints whose path is the credential (Slack and Teams incoming webhooks): keeps the
// first path segment of `url->redacted` and replaces the rest by "***"
// ("https://hooks.slack.com/services/***"), and adds the hidden part to `url->secrets`.
void HidePathTail(ParsedUrl* url);

// `text` with invalid UTF-8 replaced by U+FFFD, cut to at most `max_code_points` code points.
// When cut, the last of them is "…" (U+2026) and `*cut` (if given) is set to true, otherwise
// to false. `max_code_points` must be at least 1.
std::string TruncateUtf8(std::string_view text, size_t max_code_points, bool* cut = nullptr);

// Whether connecting to `address` (an IPv4 or IPv6 socket address) would reach this host or a
// non-public network: unspecified (0.0.0.0/8, ::), loopback (127/8, ::1), private (RFC 1918:
// 10/8, 172.16/12, 192.168/16; fc00::/7), link-local (169.254/16, fe80::/10), shared/CGNAT
// (100.64/10), and any of these embedded in IPv6 as IPv4-mapped (::ffff:a.b.c.d),
// IPv4-compatible (::a.b.c.d) or NAT64 (64:ff9b::a.b.c.d). False for other families.
bool IsPrivateAddress(const sockaddr* address);
// The same for an address literal ("10.0.0.1", "::ffff:127.0.0.1"); nullopt when `text` is
// not one.
std::optional<bool> IsPrivateAddress(std::string_view text);

// The error text of a connection refused because its address is private (see
// HttpPost::allow_private_targets): "refusing to connect to private address <address> (set
// notify.allow_private_targets to allow)".
std::string PrivateAddressError(std::string_view address);

// Which transfer a curl error code came from, for IsPermanentCurlError.
enum class CurlProtocol { kHttp, kSmtp };

// Whether the curl error `code` (a CURLcode) will not go away by trying the same request
// again: bad URL or protocol, certificate and TLS configuration problems, rejected
// credentials, bad options; for HTTP also too many redirects and access denied; for SMTP also
// a required STARTTLS the server does not offer. Everything else (resolve, connect, timeouts,
// resets, TLS handshake, HTTP/2 stream errors) is treated as transient.
bool IsPermanentCurlError(int code, CurlProtocol protocol);

// At most `max_bytes` of a response body for an error text: trimmed, with every byte that is
// not printable ASCII replaced by '?' (the text comes from the peer: it must not forge log
// lines), and "..." appended when cut.
std::string ResponseSnippet(std::string_view body, size_t max_bytes = 200);

// A pool of CURL easy handles. A handle keeps its connection cache, DNS cache and TLS
// session cache across transfers, so handing the same handles out again reuses connections.
// Thread-safe.
class CurlHandlePool {
 public:
  // A handle borrowed from the pool, returned to it when the lease is destroyed. Move-only.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    // Null when curl_easy_init failed (out of memory).
    CURL* Handle() const { return handle_; }

   private:
    friend class CurlHandlePool;
    Lease(CurlHandlePool* pool, CURL* handle) : pool_(pool), handle_(handle) {}
    CurlHandlePool* pool_ = nullptr;
    CURL* handle_ = nullptr;
  };

  // Keeps at most `max_idle` idle handles; handles returned beyond that are closed.
  explicit CurlHandlePool(size_t max_idle);
  ~CurlHandlePool();
  CurlHandlePool(const CurlHandlePool&) = delete;
  CurlHandlePool& operator=(const CurlHandlePool&) = delete;

  // Returns the most recently used idle handle, its options reset to libcurl's defaults
  // (curl_easy_reset keeps the connection, DNS and TLS session caches), or a new handle.
  Lease Acquire();

 private:
  void Release(CURL* handle);

  const size_t max_idle_;
  std::mutex mu_;
  std::vector<CURL*> idle_;  // guarded by mu_; most recently used last
};

// SendResult shorthands.
core::SendResult Retryable(std::string error,
                           std::optional<std::chrono::seconds> retry_after = std::nullopt);
core::SendResult Permanent(std::string error);

// Returns send(), or a SendResult for an exception escaping it (ports never throw): kRetryable
// for std::bad_alloc, kPermanent with the exception's text otherwise, both starting with
// "<channel>: ".
template <typename SendFn>
core::SendResult SendCatchingExceptions(std::string_view channel, SendFn&& send) {
  try {
    return send();
  } catch (const std::bad_alloc&) {
    return Retryable(std::string(channel) + ": out of memory");
  } catch (const std::exception& e) {
    return Permanent(std::string(channel) + ": " + e.what());
  }
}

// One HTTP POST, as the HTTP channels (webhook, Slack, Teams, SMS) send it.
struct HttpPost {
  std::string url;   // absolute http(s) URL, as sent (it passed ParseUrl into `parsed`)
  ParsedUrl parsed;  // what error texts may show, and the secrets to scrub from them
  // Complete "Name: value" header lines. A line with CR or LF makes the post fail
  // (kPermanent) before anything is sent. "Expect:" is always added.
  std::vector<std::string> headers;
  std::string body;
  // HTTP basic auth when `username` is not empty. Never shown in error texts.
  std::string username;
  std::string password;
  std::chrono::milliseconds timeout{15000};         // the whole attempt
  std::chrono::milliseconds connect_timeout{5000};  // resolve + connect + TLS handshake
  int max_redirects = 0;                            // 0: a 3xx is the final response
  std::chrono::seconds dns_cache_ttl{60};           // CURLOPT_DNS_CACHE_TIMEOUT
  std::chrono::seconds max_connection_age{300};     // CURLOPT_MAXLIFETIME_CONN
  size_t max_response_bytes = 0;                    // response body kept; the rest is read
  // When false, every connection is checked as it is opened (also after redirects and DNS
  // changes) and one to an address IsPrivateAddress calls private is not made; when no other
  // address of the host can be used the post fails with kPermanent and
  // PrivateAddressError(address).
  bool allow_private_targets = false;
};

// What came back: either an HTTP response or, when none arrived, the failure.
struct HttpPostResult {
  // Set when the transfer failed (timeout, connect, TLS, bad URL, CR/LF in a header, out of
  // memory): curl's error text, scrubbed of `parsed.secrets` and the password, followed by
  // " (<redacted url>)". Retryable unless retrying the same request cannot help.
  std::optional<core::SendResult> failure;
  long status = 0;                         // the final response's status
  std::optional<std::string> retry_after;  // the final response's Retry-After, raw
  std::string body;                        // its first max_response_bytes bytes
};

// Sends `post` on a handle from `pool`, so connections are reused. Thread-safe; never throws
// except std::bad_alloc.
HttpPostResult PerformHttpPost(CurlHandlePool& pool, const HttpPost& post);

// Copies the timeouts, redirects, DNS cache TTL, connection age and allow_private_targets of
// `options` into `post`.
void ApplyWebhookOptions(const WebhookChannelOptions& options, HttpPost* post);

// Posts `json` to the chat incoming webhook (Slack, Teams) at delivery.subscription.endpoint,
// whose URL is its credential, with "Content-Type: application/json; charset=utf-8" and
// "X-Stockwatch-Delivery: <id>". Sets `*shown_url` to the URL error texts may show (see
// HidePathTail). `failure` is set, its text starting with "<channel>: ", when the endpoint is
// not an http(s) URL (kPermanent) or the transfer failed. Keeps up to 1 KiB of the response.
HttpPostResult PostToChatWebhook(CurlHandlePool& pool, const WebhookChannelOptions& options,
                                 std::string_view channel, const core::Delivery& delivery,
                                 std::string json, std::string* shown_url);

// The status table of every HTTP channel: 2xx kDelivered; 408, 429 and 5xx kRetryable, with
// retry_after from `retry_after` (see ParseRetryAfter); other 1xx, 3xx and 4xx kPermanent.
// `error` becomes the error text unless delivered.
core::SendResult ClassifyHttpStatus(long status, std::string error,
                                    const std::optional<std::string>& retry_after);

}  // namespace stockwatch::adapters::notify_internal
