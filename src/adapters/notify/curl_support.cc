#include "adapters/notify/curl_support.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <utility>

#include "absl/status/status.h"
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
