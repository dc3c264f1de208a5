// libcurl plumbing shared by the notify channels: one-time global initialisation, a pool of
// easy handles (each keeps its connections open for reuse) and URL redaction for error
// messages. Internal to the notify adapters; nothing here is part of a port.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

// The libcurl easy handle type, declared here so this header does not pull in <curl/curl.h>
// (it is `typedef void CURL;` there).
typedef void CURL;

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

}  // namespace stockwatch::adapters::notify_internal
