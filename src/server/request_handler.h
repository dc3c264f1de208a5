// What a listener serves: the JSON API (ApiRouter) or the S3 API (s3_api::S3Router). The
// Beast listener (http_server.cc) parses requests and calls one of these; handlers never
// see a socket.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "server/http_message.h"

namespace stockwatch::server {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Authenticates, routes and handles one request, returning the response to send. May
  // throw on a bug or std::bad_alloc; the listener answers ErrorResponse(internal) then.
  // Thread-safe: called concurrently, one call per request.
  virtual HttpResponse Handle(HttpRequest& request) = 0;
  // The answer for a request that failed outside Handle(): a malformed or oversize header
  // (kInvalidArgument, kResourceExhausted marked 431) or an exception (kInternal), in the
  // handler's error format.
  virtual HttpResponse ErrorFor(const absl::Status& status, const std::string& request_id) = 0;
  // Makes pending and future long-running requests return at once. Called on shutdown.
  virtual void Shutdown() {}
};

}  // namespace stockwatch::server
