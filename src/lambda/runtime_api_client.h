// A client of the Lambda Runtime API (the custom runtime interface, version 2018-06-01) over
// one persistent libcurl handle: next invocation, response, invocation error, init error.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lambda/lambda_handler.h"

namespace stockwatch::lambda {

struct Invocation {
  InvocationContext context;
  std::string event;  // the body: the event JSON as Lambda sent it
};

// Not thread-safe: the runtime loop makes one call at a time.
class RuntimeApiClient {
 public:
  // `api` is AWS_LAMBDA_RUNTIME_API: host:port. Makes no request.
  explicit RuntimeApiClient(std::string api);
  ~RuntimeApiClient();
  RuntimeApiClient(const RuntimeApiClient&) = delete;
  RuntimeApiClient& operator=(const RuntimeApiClient&) = delete;

  // GET /2018-06-01/runtime/invocation/next, without a timeout (it blocks until an event
  // arrives). kUnavailable when the API cannot be reached or answers other than 200;
  // kInvalidArgument when the answer has no Lambda-Runtime-Aws-Request-Id.
  absl::StatusOr<Invocation> Next();
  // POST /2018-06-01/runtime/invocation/{id}/response with `body` (JSON).
  absl::Status PostResponse(std::string_view request_id, std::string_view body);
  // POST /2018-06-01/runtime/invocation/{id}/error with {"errorMessage","errorType"} and the
  // header Lambda-Runtime-Function-Error-Type.
  absl::Status PostError(std::string_view request_id, std::string_view error_type,
                         std::string_view message);
  // POST /2018-06-01/runtime/init/error, same body.
  absl::Status PostInitError(std::string_view error_type, std::string_view message);

 private:
  struct Curl;
  absl::Status Post(const std::string& path, std::string_view body, std::string_view error_type);

  std::string base_;  // http://host:port/2018-06-01
  std::unique_ptr<Curl> curl_;
};

// {"errorMessage": message, "errorType": type}.
std::string ErrorBody(std::string_view error_type, std::string_view message);

}  // namespace stockwatch::lambda
