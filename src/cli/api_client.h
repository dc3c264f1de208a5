// A small blocking HTTP client for the stockwatch JSON API (docs/API.md) over libcurl, used by
// the client subcommands, plus the URL helpers they need. Any HTTP status is a value
// (HttpResponse); only transport and local file failures are errors.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

// The libcurl easy handle type, declared here so this header does not pull in <curl/curl.h>
// (it is `typedef void CURL;` there).
typedef void CURL;

namespace stockwatch::cli {

struct ApiClientOptions {
  // Base URL of the server, http:// or https://, with or without a path prefix and a trailing
  // slash. No default here; the commands default to http://127.0.0.1:8080.
  std::string server;
  // Bearer token sent as `Authorization: Bearer <token>`. Never logged or put in a message.
  std::string token;
  // Longest wait to establish the TCP (and TLS) connection. Default 10 s.
  std::chrono::seconds connect_timeout{10};
  // Longest a request other than an upload may take in total. Default 120 s.
  std::chrono::seconds request_timeout{120};
  // A transfer (an upload included) slower than 1 byte/s for this long is abandoned.
  // Default 120 s.
  std::chrono::seconds stall_timeout{120};
  // Largest response body accepted, in bytes. Default 256 MiB.
  size_t max_response_bytes = size_t{256} << 20;
};

// One answer from the server, whatever its status.
struct HttpResponse {
  long status = 0;  // HTTP status code, e.g. 200
  std::string body;
};

// The `{"error":{"code","message","details"}}` body of an error answer (docs/API.md).
struct ApiError {
  long status = 0;      // HTTP status code
  std::string code;     // e.g. "invalid_argument"; empty when the body was not such a document
  std::string message;  // error.message, else the first line of the body, else "HTTP <status>"
  std::vector<std::string> details;  // error.details as strings
};

// Reads the error document of `response`. Never fails: a body that is not the documented
// error shape yields a message made from the body text or the status.
ApiError ParseApiError(const HttpResponse& response);

// Called while a file is sent with the bytes sent so far and the file size.
using UploadProgress = std::function<void(uint64_t sent, uint64_t total)>;

// A connection to one server. Keeps one libcurl handle, so consecutive requests reuse the
// connection. Not thread-safe; movable, not copyable.
class ApiClient {
 public:
  // REQUIRES: IsHttpUrl(options.server).
  explicit ApiClient(ApiClientOptions options);
  ~ApiClient();
  ApiClient(ApiClient&& other) noexcept;
  ApiClient& operator=(ApiClient&& other) noexcept;
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Each call takes `target`, the path and query starting with '/', already URL-encoded
  // (see UrlEncode and WithQuery), appended to the server URL. Each returns the response
  // whatever its status, or:
  //  - kUnavailable when the server cannot be reached or the transfer fails; the message
  //    is "cannot reach <server>: <reason>" or "request to <server> failed: <reason>";
  //  - kResourceExhausted when the response is larger than `max_response_bytes`;
  //  - kInternal when libcurl cannot make a handle.

  // GET; `timeout` replaces `request_timeout` when given (for long polls).
  absl::StatusOr<HttpResponse> Get(std::string_view target);
  absl::StatusOr<HttpResponse> Get(std::string_view target, std::chrono::seconds timeout);
  // POST, PUT or PATCH of a JSON document.
  absl::StatusOr<HttpResponse> Post(std::string_view target, const nlohmann::json& body);
  absl::StatusOr<HttpResponse> Put(std::string_view target, const nlohmann::json& body);
  absl::StatusOr<HttpResponse> Patch(std::string_view target, const nlohmann::json& body);
  absl::StatusOr<HttpResponse> Delete(std::string_view target);

  // PUT of the file at `path` as text/csv, streamed from disk with a Content-Length; no
  // total timeout, only the stall timeout. `progress`, if set, is called from this thread
  // as bytes go out. Also returns kNotFound or kPermissionDenied when the file cannot be
  // opened and kDataLoss when reading it fails midway.
  absl::StatusOr<HttpResponse> PutFile(std::string_view target, const std::string& path,
                                       const UploadProgress& progress);

  // The server URL as messages may show it (user info left out).
  const std::string& DisplayServer() const { return display_server_; }

 private:
  struct Body;  // what is sent, defined in the .cc
  absl::StatusOr<HttpResponse> Perform(std::string_view method, std::string_view target, Body& body,
                                       std::chrono::seconds timeout);

  ApiClientOptions options_;
  std::string base_;            // options_.server without trailing slashes
  std::string display_server_;  // RedactUrl(base_)
  CURL* curl_ = nullptr;        // owned; null after a move
};

// True when `url` starts with http:// or https:// (any case) and names a host.
bool IsHttpUrl(std::string_view url);

// `url` without user info ("http://u:p@h:1/x" -> "http://h:1/x").
std::string RedactUrl(std::string_view url);

// Percent-encodes every byte but the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), so
// the result is safe as one path segment or one query value: "a b/ü" -> "a%20b%2F%C3%BC".
std::string UrlEncode(std::string_view text);

// `path` followed by "?k=v&..." for the parameters with a non-empty value, each value
// URL-encoded; `path` alone when there are none. Keys are used as given.
std::string WithQuery(std::string_view path,
                      const std::vector<std::pair<std::string_view, std::string>>& params);

}  // namespace stockwatch::cli
