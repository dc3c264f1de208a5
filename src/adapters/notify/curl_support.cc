#include "adapters/notify/curl_support.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "adapters/notify/webhook_channel.h"
#include "base/status.h"

namespace stockwatch::adapters::notify_internal {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

struct CurlStringDeleter {
  void operator()(char* text) const { curl_free(text); }
};

// Returns the part, or an empty string when the URL does not have it.
std::string GetPart(CURLU* url, CURLUPart what) {
  char* raw = nullptr;
  if (curl_url_get(url, what, &raw, 0) != CURLUE_OK || raw == nullptr) return "";
  std::unique_ptr<char, CurlStringDeleter> owned(raw);
  return std::string(raw);
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

constexpr char kUserAgent[] = "stockwatch/0.1";

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

// Keeps the first `limit` bytes of the response body. The rest is read and dropped: reading
// the whole body lets the connection be reused.
struct BodySink {
  std::string* body;
  size_t limit;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  const size_t length = size * count;
  auto* sink = static_cast<BodySink*>(user);
  if (sink->body->size() < sink->limit) {
    sink->body->append(data, std::min(length, sink->limit - sink->body->size()));
  }
  return length;
}

constexpr std::string_view kReplacementCharacter = "\xef\xbf\xbd";  // U+FFFD
constexpr std::string_view kEllipsis = "\xe2\x80\xa6";              // U+2026

bool InRange(unsigned char c, unsigned char low, unsigned char high) {
  return c >= low && c <= high;
}

// The length of the well-formed UTF-8 sequence at the start of `text` (Unicode table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char second_low = 0x80;
  unsigned char second_high = 0xbf;
  if (InRange(lead, 0xc2, 0xdf)) {
    length = 2;
  } else if (InRange(lead, 0xe0, 0xef)) {
    length = 3;
    if (lead == 0xe0) second_low = 0xa0;
    if (lead == 0xed) second_high = 0x9f;
  } else if (InRange(lead, 0xf0, 0xf4)) {
    length = 4;
    if (lead == 0xf0) second_low = 0x90;
    if (lead == 0xf4) second_high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() < length || !InRange(byte(1), second_low, second_high)) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!InRange(byte(i), 0x80, 0xbf)) return 0;
  }
  return length;
}

// `address` (host byte order) in one of the IPv4 blocks IsPrivateAddress refuses.
bool IsPrivateIpv4(uint32_t address) {
  const auto in = [address](uint32_t network, int prefix_bits) {
    return (address >> (32 - prefix_bits)) == (network >> (32 - prefix_bits));
  };
  return in(0x00000000, 8)       // 0.0.0.0/8: "this network", 0.0.0.0 reaches this host
         || in(0x7f000000, 8)    // 127.0.0.0/8 loopback
         || in(0x0a000000, 8)    // 10.0.0.0/8 (RFC 1918)
         || in(0xac100000, 12)   // 172.16.0.0/12 (RFC 1918)
         || in(0xc0a80000, 16)   // 192.168.0.0/16 (RFC 1918)
         || in(0xa9fe0000, 16)   // 169.254.0.0/16 link-local (cloud metadata services)
         || in(0x64400000, 10);  // 100.64.0.0/10 shared address space (CGNAT)
}

uint32_t Ipv4At(const unsigned char* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

bool IsPrivateIpv6(const in6_addr& address) {
  const unsigned char* b = address.s6_addr;
  const auto zeros = [b](size_t from, size_t to) {
    return std::all_of(b + from, b + to, [](unsigned char c) { return c == 0; });
  };
  // ::ffff:a.b.c.d (IPv4-mapped: the kernel connects to a.b.c.d) and ::a.b.c.d (the
  // deprecated IPv4-compatible form; it also covers :: and ::1).
  if (zeros(0, 10) && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0))) {
    return IsPrivateIpv4(Ipv4At(b + 12));
  }
  // 64:ff9b::a.b.c.d: the NAT64 well-known prefix reaches a.b.c.d through the translator.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(4, 12)) {
    return IsPrivateIpv4(Ipv4At(b + 12));
  }
  if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10 link-local
  return false;
}

// The address of `address` as text ("127.0.0.1", "::1"), or "?" for another family.
std::string AddressText(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof(v4));
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof(v6));
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
  }
  return text;
}

// What the open-socket callback is told and what it found.
struct SocketGuard {
  bool allow_private_targets = false;
  std::string refused;  // the first address refused, as text; empty if none
};

// CURLOPT_OPENSOCKETFUNCTION: curl calls it with each address it is about to connect to, after
// resolving (and for every redirect and new connection), so a host name that resolves to a
// private address, now or after a DNS change, is refused where it counts. Returning
// CURL_SOCKET_BAD makes curl try the host's next address, or fail with CURLE_COULDNT_CONNECT.
curl_socket_t OpenCheckedSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* guard = static_cast<SocketGuard*>(user);
  if (purpose == CURLSOCKTYPE_IPCXN && !guard->allow_private_targets &&
      IsPrivateAddress(&address->addr)) {
    if (guard->refused.empty()) guard->refused = AddressText(&address->addr);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

}  // namespace

std::string_view Trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

bool HasLineBreak(std::string_view value) {
  return value.find_first_of("\r\n") != std::string_view::npos;
}

std::string TruncateUtf8(std::string_view text, size_t max_code_points, bool* cut) {
  if (cut != nullptr) *cut = false;
  std::string out;
  out.reserve(std::min(text.size(), max_code_points * 4));
  size_t code_points = 0;
  size_t end_before_last = 0;  // byte length of the first max_code_points - 1 code points
  while (!text.empty()) {
    if (code_points == max_code_points) {
      out.resize(end_before_last);
      out += kEllipsis;
      if (cut != nullptr) *cut = true;
      return out;
    }
    const size_t length = Utf8SequenceLength(text);
    if (length == 0) {
      out += kReplacementCharacter;
      text.remove_prefix(1);
    } else {
      out += text.substr(0, length);
      text.remove_prefix(length);
    }
    ++code_points;
    if (code_points + 1 == max_code_points) end_before_last = out.size();
  }
  return out;
}

bool IsPrivateAddress(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof(v4));
    return IsPrivateIpv4(ntohl(v4.sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof(v6));
    return IsPrivateIpv6(v6.sin6_addr);
  }
  return false;
}

std::optional<bool> IsPrivateAddress(std::string_view text) {
  const std::string literal(text);
  in_addr v4{};
  if (inet_pton(AF_INET, literal.c_str(), &v4) == 1) return IsPrivateIpv4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, literal.c_str(), &v6) == 1) return IsPrivateIpv6(v6);
  return std::nullopt;
}

std::string PrivateAddressError(std::string_view address) {
  return "refusing to connect to private address " + std::string(address) +
         " (set notify.allow_private_targets to allow)";
}

bool IsPermanentCurlError(int code, CurlProtocol protocol) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_LOGIN_DENIED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
      return true;
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_REMOTE_ACCESS_DENIED:
      return protocol == CurlProtocol::kHttp;
    case CURLE_USE_SSL_FAILED:  // require_tls and the server offers no STARTTLS
      return protocol == CurlProtocol::kSmtp;
    default:
      return false;
  }
}

void EnsureCurlGlobalInit() {
  // curl_global_init is not thread-safe in every build of libcurl and must run before any
  // other call, so the first channel does it once for the whole process. It is never undone:
  // curl_global_cleanup at exit would race with handles still owned by static objects.
  static std::once_flag once;
  std::call_once(once, [] { SW_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK); });
}

absl::StatusOr<ParsedUrl> ParseUrl(std::string_view url,
                                   const std::vector<std::string_view>& allowed_schemes) {
  EnsureCurlGlobalInit();
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (handle == nullptr) return absl::ResourceExhaustedError("out of memory parsing url");
  const std::string text(url);
  if (HasLineBreak(text)) {
    return absl::InvalidArgumentError("invalid url: contains CR or LF");
  }
  // No CURLU_GUESS_SCHEME and no default scheme: an endpoint must say what it is.
  const CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(std::string("invalid url: ") + curl_url_strerror(rc));
  }
  ParsedUrl parsed;
  parsed.scheme = GetPart(handle.get(), CURLUPART_SCHEME);
  std::transform(parsed.scheme.begin(), parsed.scheme.end(), parsed.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (std::find(allowed_schemes.begin(), allowed_schemes.end(), parsed.scheme) ==
      allowed_schemes.end()) {
    return absl::InvalidArgumentError("invalid url: unsupported scheme \"" + parsed.scheme + "\"");
  }
  const std::string host = GetPart(handle.get(), CURLUPART_HOST);
  if (host.empty()) return absl::InvalidArgumentError("invalid url: no host");
  // CURLUPART_PORT is only set when the URL names a port, which is what we want to show.
  const std::string port = GetPart(handle.get(), CURLUPART_PORT);
  std::string path = GetPart(handle.get(), CURLUPART_PATH);
  if (path.empty()) path = "/";
  parsed.redacted = parsed.scheme + "://" + host + (port.empty() ? "" : ":" + port) + path;

  // Everything left out of `redacted` may be a credential; remember it raw and decoded.
  for (CURLUPart part : {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS, CURLUPART_QUERY,
                         CURLUPART_FRAGMENT}) {
    for (unsigned int flags : {0u, static_cast<unsigned int>(CURLU_URLDECODE)}) {
      char* raw = nullptr;
      if (curl_url_get(handle.get(), part, &raw, flags) == CURLUE_OK && raw != nullptr) {
        std::unique_ptr<char, CurlStringDeleter> owned(raw);
        if (*raw != '\0') parsed.secrets.emplace_back(raw);
      }
    }
  }
  return parsed;
}

std::string ScrubSecrets(std::string text, const ParsedUrl& url) {
  for (const std::string& secret : url.secrets) {
    if (secret.size() < kMinScrubbedSecretBytes) continue;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

void HidePathTail(ParsedUrl* url) {
  const size_t authority = url->redacted.find("://");
  if (authority == std::string::npos) return;
  const size_t path = url->redacted.find('/', authority + 3);
  if (path == std::string::npos) return;
  const size_t second = url->redacted.find('/', path + 1);
  const size_t keep = second == std::string::npos ? path + 1 : second + 1;
  if (keep >= url->redacted.size()) return;
  std::string tail = url->redacted.substr(keep);
  url->redacted.replace(keep, std::string::npos, "***");
  if (tail.ends_with('/')) tail.pop_back();
  // The tail as a whole, and each segment of it (a segment alone is as secret, and curl may
  // quote just one).
  for (size_t start = 0; start <= tail.size();) {
    size_t end = tail.find('/', start);
    if (end == std::string::npos) end = tail.size();
    if (end > start) url->secrets.push_back(tail.substr(start, end - start));
    start = end + 1;
  }
  url->secrets.push_back(std::move(tail));
  // Longest first, so a segment does not break up the whole tail before it is scrubbed.
  std::stable_sort(url->secrets.begin(), url->secrets.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string ResponseSnippet(std::string_view body, size_t max_bytes) {
  body = Trim(body);
  std::string snippet;
  snippet.reserve(std::min(body.size(), max_bytes) + 3);
  for (char c : body.substr(0, max_bytes)) {
    const auto byte = static_cast<unsigned char>(c);
    snippet += (byte >= 0x20 && byte < 0x7f) ? c : '?';
  }
  if (body.size() > max_bytes) snippet += "...";
  return snippet;
}

core::SendResult Retryable(std::string error, std::optional<std::chrono::seconds> retry_after) {
  return core::SendResult{core::SendResult::Kind::kRetryable, std::move(error), retry_after};
}

core::SendResult Permanent(std::string error) {
  return core::SendResult{core::SendResult::Kind::kPermanent, std::move(error), std::nullopt};
}

core::SendResult ClassifyHttpStatus(long status, std::string error,
                                    const std::optional<std::string>& retry_after) {
  if (status >= 200 && status < 300) return core::SendResult{};
  if (status == 408 || status == 429 || (status >= 500 && status < 600)) {
    std::optional<std::chrono::seconds> delay;
    if (retry_after) {
      delay = ParseRetryAfter(*retry_after, std::chrono::system_clock::now());
    }
    return Retryable(std::move(error), delay);
  }
  return Permanent(std::move(error));
}

HttpPostResult PerformHttpPost(CurlHandlePool& pool, const HttpPost& post) {
  HttpPostResult result;
  curl_slist* header_list = nullptr;
  std::vector<std::string> lines = post.headers;
  // libcurl would otherwise wait for "100 Continue" before sending large bodies.
  lines.emplace_back("Expect:");
  for (const std::string& header : lines) {
    if (HasLineBreak(header)) {
      curl_slist_free_all(header_list);
      result.failure = Permanent("refusing to send: CR or LF in a header value");
      return result;
    }
    curl_slist* appended = curl_slist_append(header_list, header.c_str());
    if (appended == nullptr) {
      curl_slist_free_all(header_list);
      result.failure = Retryable("out of memory building request");
      return result;
    }
    header_list = appended;
  }
  const Slist headers(header_list);

  CurlHandlePool::Lease lease = pool.Acquire();
  CURL* curl = lease.Handle();
  if (curl == nullptr) {
    result.failure = Retryable("curl_easy_init failed");
    return result;
  }

  ResponseHeaders response;
  BodySink sink{&result.body, post.max_response_bytes};
  SocketGuard guard{post.allow_private_targets, ""};
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_URL, post.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(post.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(post.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_DNS_CACHE_TIMEOUT, static_cast<long>(post.dns_cache_ttl.count()));
  curl_easy_setopt(curl, CURLOPT_MAXLIFETIME_CONN,
                   static_cast<long>(post.max_connection_age.count()));
  if (post.max_redirects > 0) {
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(post.max_redirects));
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
  }
  if (!post.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(curl, CURLOPT_USERNAME, post.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, post.password.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post.body.size()));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (!post.allow_private_targets) {
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &OpenCheckedSocket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &guard);
  }

  const CURLcode rc = curl_easy_perform(curl);
  // The handle goes back to the pool with pointers to our stack; they are reset on reuse
  // and never used before that, but drop the ones a later curl_easy_cleanup might touch.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, nullptr);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, nullptr);

  if (rc == CURLE_COULDNT_CONNECT && !guard.refused.empty()) {
    // Every address curl could have used was refused: trying again reaches the same ones.
    result.failure = Permanent(PrivateAddressError(guard.refused));
    return result;
  }
  if (rc != CURLE_OK) {
    std::string text = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    ParsedUrl scrub = post.parsed;
    if (!post.password.empty()) scrub.secrets.push_back(post.password);
    text = ScrubSecrets(std::move(text), scrub) + " (" + post.parsed.redacted + ")";
    result.failure = IsPermanentCurlError(rc, CurlProtocol::kHttp) ? Permanent(std::move(text))
                                                                   : Retryable(std::move(text));
    return result;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  result.retry_after = std::move(response.retry_after);
  return result;
}

void ApplyWebhookOptions(const WebhookChannelOptions& options, HttpPost* post) {
  post->timeout = options.timeout;
  post->connect_timeout = options.connect_timeout;
  post->max_redirects = options.max_redirects;
  post->dns_cache_ttl = options.dns_cache_ttl;
  post->max_connection_age = options.max_connection_age;
  post->allow_private_targets = options.allow_private_targets;
}

HttpPostResult PostToChatWebhook(CurlHandlePool& pool, const WebhookChannelOptions& options,
                                 std::string_view channel, const core::Delivery& delivery,
                                 std::string json, std::string* shown_url) {
  const std::string prefix = std::string(channel) + ": ";
  HttpPostResult result;
  absl::StatusOr<ParsedUrl> url = ParseUrl(delivery.subscription.endpoint, {"http", "https"});
  if (!url.ok()) {
    result.failure = Permanent(prefix + std::string(url.status().message()));
    return result;
  }
  HttpPost post;
  post.url = delivery.subscription.endpoint;
  post.parsed = *std::move(url);
  HidePathTail(&post.parsed);
  *shown_url = post.parsed.redacted;
  post.headers = {"Content-Type: application/json; charset=utf-8",
                  "X-Stockwatch-Delivery: " + std::to_string(delivery.id)};
  post.body = std::move(json);
  post.max_response_bytes = 1024;
  ApplyWebhookOptions(options, &post);
  result = PerformHttpPost(pool, post);
  if (result.failure) result.failure->error.insert(0, prefix);
  return result;
}

CurlHandlePool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), handle_(std::exchange(other.handle_, nullptr)) {}

CurlHandlePool::Lease& CurlHandlePool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) pool_->Release(handle_);
    pool_ = std::exchange(other.pool_, nullptr);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

CurlHandlePool::Lease::~Lease() {
  if (handle_ != nullptr) pool_->Release(handle_);
}

CurlHandlePool::CurlHandlePool(size_t max_idle) : max_idle_(max_idle) { EnsureCurlGlobalInit(); }

CurlHandlePool::~CurlHandlePool() {
  for (CURL* handle : idle_) curl_easy_cleanup(handle);
}

CurlHandlePool::Lease CurlHandlePool::Acquire() {
  CURL* handle = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      handle = idle_.back();
      idle_.pop_back();
    }
  }
  if (handle != nullptr) {
    // Options are set afresh for every transfer, so none can leak from the previous one.
    curl_easy_reset(handle);
  } else {
    handle = curl_easy_init();
  }
  return Lease(this, handle);
}

void CurlHandlePool::Release(CURL* handle) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(handle);
}

}  // namespace stockwatch::adapters::notify_internal
