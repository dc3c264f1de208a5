// The request and response types the router and handlers work with. They are plain C++,
// free of Beast, so that routing and handlers compile in ordinary translation units and
// never see a socket: the listener (http_server.cc) fills an HttpRequest from the parsed
// header, lends the handler a BodyReader for the body, and writes the HttpResponse back.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/ports/object_store.h"

namespace stockwatch::server {

// Pulls the body of one request from the connection, as it arrives. Not thread-safe; it
// belongs to the request being handled.
class BodyReader {
 public:
  virtual ~BodyReader() = default;

  // Reads up to `buffer.size()` bytes of the (de-chunked) body and returns how many; 0
  // means the body is complete. Blocks until at least one byte or the end arrives. The
  // first call answers an `Expect: 100-continue` with `100 Continue`.
  // Errors: kResourceExhausted (marked as HTTP 413, see status_http.h) once the body
  // exceeds `limit` bytes; kInvalidArgument for a malformed chunked encoding;
  // kUnavailable when the connection fails or times out. After an error the connection
  // is closed once the response is sent.
  // REQUIRES: buffer is not empty; `limit` is the same on every call.
  virtual absl::StatusOr<size_t> Read(std::span<char> buffer, uint64_t limit) = 0;

  // The declared Content-Length, or nullopt for a chunked body.
  virtual std::optional<uint64_t> content_length() const = 0;
};

// One parsed request header plus access to its body.
struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // as sent, e.g. "/api/v1/uploads/a%20b.csv?wait=5"
  // Header fields with lower-case names, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  BodyReader* body = nullptr;  // never null while a handler runs; not owned
  // When the server finished reading the header; the start of server time.
  std::chrono::steady_clock::time_point received_at;
  std::string request_id;  // echoed in X-Request-Id
  // The peer's IP address as text ("127.0.0.1", "::1"); empty when unknown (tests). Behind
  // a trusted proxy, the last hop of X-Forwarded-For (ApplyForwardedHeaders).
  std::string client_address;
  // Whether the client reached the server over HTTPS: the listener serves TLS, or a trusted
  // proxy said so with X-Forwarded-Proto: https (ApplyForwardedHeaders). The session cookie
  // is then `__Host-sw_session` with `Secure`, and responses carry HSTS.
  bool secure = false;

  // The value of the first field named `lower_case_name`, if any.
  std::optional<std::string_view> Header(std::string_view lower_case_name) const;
};

// Believes the reverse proxy in front of the server (ServerOptions::trust_proxy): sets
// `secure` when the last X-Forwarded-Proto value is "https", and `client_address` to the
// last hop of X-Forwarded-For (the address the proxy saw) when it is an IP address. Other
// values change nothing. Call it only for a trusted proxy: any client can send these headers.
void ApplyForwardedHeaders(HttpRequest& request);

// Produces a response body of unknown length piece by piece, e.g. Server-Sent Events. The
// listener sends each piece as one chunk (Transfer-Encoding: chunked) as soon as Next()
// returns it. Used by one connection thread at a time.
class StreamProducer {
 public:
  virtual ~StreamProducer() = default;
  // Waits at most about `max_wait` for more of the body and appends what there is to `out`
  // (possibly nothing). Returns false when the body is complete, after appending its last
  // piece. The listener calls it again and again until then, the client goes away or the
  // server stops; it must return within about `max_wait` so that shutdown never hangs.
  virtual bool Next(std::string& out, std::chrono::milliseconds max_wait) = 0;
};

// What a handler answers. Either `body`, `stream` or `producer` carries the payload.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra header fields (name, value), e.g. {"WWW-Authenticate", "Bearer"}.
  std::vector<std::pair<std::string, std::string>> headers;
  // A streamed payload (object content) used instead of `body` when set; `stream_size`
  // is its exact length (sent as Content-Length).
  std::unique_ptr<core::ObjectReader> stream;
  uint64_t stream_size = 0;
  // A body of unknown length, sent chunked as it is produced, when set (and `stream` is
  // not). The listener bounds how many are open at once (ServerOptions::max_streams).
  std::unique_ptr<StreamProducer> producer;
  // The answer to a HEAD request: sent as Content-Length with no body.
  std::optional<uint64_t> head_content_length;
  // Close the connection after this response (e.g. the body was not read to its end).
  bool close = false;
};

}  // namespace stockwatch::server
