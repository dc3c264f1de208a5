#include "adapters/notify/webhook_channel.h"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <exception>
#include <new>
#include <nlohmann/json.hpp>
#include <utility>

#include "adapters/notify/curl_support.h"
#include "core/model/json.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using notify_internal::CurlHandlePool;
using notify_internal::HasLineBreak;
using notify_internal::ParsedUrl;
using notify_internal::StartsWithIgnoreCase;
using notify_internal::Trim;

constexpr char kUserAgent[] = "stockwatch/0.1";

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

SendResult Retryable(std::string error, std::optional<std::chrono::seconds> retry_after = {}) {
  return SendResult{SendResult::Kind::kRetryable, std::move(error), retry_after};
}

SendResult Permanent(std::string error) {
  return SendResult{SendResult::Kind::kPermanent, std::move(error), std::nullopt};
}

// What the header callback learns about the response. With redirects followed, each new
// status line starts over, so only the final response's Retry-After counts.
struct ResponseHeaders {
  std::optional<std::string> retry_after;
};

size_t OnHeaderLine(char* data, size_t size, size_t count, void* user) {
  const size_t length = size * count;
  auto* headers = static_cast<ResponseHeaders*>(user);
  const std::string_view line(data, length);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (StartsWithIgnoreCase(line, "HTTP/")) {
    headers->retry_after.reset();
  } else if (StartsWithIgnoreCase(line, kRetryAfter)) {
    headers->retry_after = std::string(Trim(line.substr(kRetryAfter.size())));
  }
  return length;
}

// The response body is not used; reading it lets the connection be reused.
size_t DiscardBody(char* /*data*/, size_t size, size_t count, void* /*user*/) {
  return size * count;
}

// curl error codes that will not go away by trying again with the same endpoint. Everything
// else (resolve, connect, timeouts, resets, TLS handshake, HTTP/2 stream errors) is treated
// as transient.
bool IsPermanentCurlError(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
      return true;
    default:
      return false;
  }
}

SendResult ClassifyStatus(long status, const std::string& url,
                          const std::optional<std::string>& retry_after) {
  if (status >= 200 && status < 300) return SendResult{};
  std::string error = "http " + std::to_string(status) + " from " + url;
  if (status == 408 || status == 429 || (status >= 500 && status < 600)) {
    std::optional<std::chrono::seconds> delay;
    if (retry_after) {
      delay = ParseRetryAfter(*retry_after, std::chrono::system_clock::now());
    }
    return Retryable(std::move(error), delay);
  }
  return Permanent(std::move(error));
}

SendResult DoSend(const core::Delivery& delivery, const WebhookChannelOptions& options,
                  CurlHandlePool& pool) {
  const core::Message& message = delivery.message;
  absl::StatusOr<ParsedUrl> url = notify_internal::ParseUrl(
      delivery.subscription.endpoint, std::vector<std::string_view>{"http", "https"});
  if (!url.ok()) return Permanent("webhook " + std::string(url.status().message()));
  // The message id and topic go into header values; a line break would start a new header.
  if (HasLineBreak(message.id) || HasLineBreak(message.topic)) {
    return Permanent("refusing to send: CR or LF in a header value (message id or topic)");
  }

  const std::string body = WebhookPayload(delivery);
  curl_slist* header_list = nullptr;
  for (const std::string& header : {
           std::string("Content-Type: application/json"),
           "X-Stockwatch-Delivery: " + std::to_string(delivery.id),
           "X-Stockwatch-Message-Id: " + message.id,
           "X-Stockwatch-Topic: " + message.topic,
           // libcurl would otherwise wait for "100 Continue" before sending large bodies.
           std::string("Expect:"),
       }) {
    curl_slist* appended = curl_slist_append(header_list, header.c_str());
    if (appended == nullptr) {
      curl_slist_free_all(header_list);
      return Retryable("out of memory building webhook request");
    }
    header_list = appended;
  }
  const Slist headers(header_list);

  CurlHandlePool::Lease lease = pool.Acquire();
  CURL* curl = lease.Handle();
  if (curl == nullptr) return Retryable("curl_easy_init failed");

  ResponseHeaders response;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const std::string& endpoint = delivery.subscription.endpoint;
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_DNS_CACHE_TIMEOUT,
                   static_cast<long>(options.dns_cache_ttl.count()));
  curl_easy_setopt(curl, CURLOPT_MAXLIFETIME_CONN,
                   static_cast<long>(options.max_connection_age.count()));
  if (options.max_redirects > 0) {
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
  }
  curl_easy_setopt(curl, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &DiscardBody);

  const CURLcode rc = curl_easy_perform(curl);
  // The handle goes back to the pool with pointers to our stack; they are reset on reuse
  // and never used before that, but drop the ones a later curl_easy_cleanup might touch.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, nullptr);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, nullptr);

  if (rc != CURLE_OK) {
    std::string text = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    text = notify_internal::ScrubSecrets(std::move(text), *url) + " (" + url->redacted + ")";
    return IsPermanentCurlError(rc) ? Permanent(std::move(text)) : Retryable(std::move(text));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return ClassifyStatus(status, url->redacted, response.retry_after);
}

}  // namespace

std::string WebhookPayload(const core::Delivery& delivery) {
  const core::Message& message = delivery.message;
  // ordered_json keeps the fields in the documented order, which makes the document easy to
  // read in logs; receivers must not depend on it.
  nlohmann::ordered_json doc;
  doc["topic"] = message.topic;
  doc["subject"] = message.subject;
  doc["message"] = message.body;
  doc["store"] = message.store;
  doc["item"] = message.item;
  doc["old_count"] = message.old_count ? nlohmann::ordered_json(*message.old_count) : nullptr;
  doc["new_count"] = message.new_count;
  doc["message_id"] = message.id;
  doc["timestamp"] = core::FormatTime(message.at);
  doc["delivery_id"] = delivery.id;
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
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
    return DoSend(delivery, options_, *pool_);
  } catch (const std::bad_alloc&) {
    return Retryable("out of memory sending webhook");
  } catch (const std::exception& e) {
    return Permanent(std::string("webhook: ") + e.what());
  }
}

}  // namespace stockwatch::adapters
