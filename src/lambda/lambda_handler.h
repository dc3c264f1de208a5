// What a Lambda function handler is to the runtime loop (runtime_loop.h) and to
// `stockwatch lambda --invoke`: one event in, one JSON result out.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace stockwatch::lambda {

// The invocation, from the Runtime API's headers (or made up by --invoke).
struct InvocationContext {
  std::string request_id;            // Lambda-Runtime-Aws-Request-Id
  int64_t deadline_ms = 0;           // Lambda-Runtime-Deadline-Ms (Unix ms); 0 when unknown
  std::string trace_id;              // Lambda-Runtime-Trace-Id; also in _X_AMZN_TRACE_ID
  std::string invoked_function_arn;  // Lambda-Runtime-Invoked-Function-Arn
};

// A function's handler. Invoke is called for one event at a time (Lambda sends the next
// event only after the response), never concurrently.
class LambdaHandler {
 public:
  virtual ~LambdaHandler() = default;
  // Returns the function's result, or an error the runtime reports to Lambda as the
  // invocation's error ({"errorMessage","errorType"}; the type is ErrorTypeFor(status)).
  virtual absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json& event,
                                                const InvocationContext& context) = 0;
};

}  // namespace stockwatch::lambda
