// `stockwatch lambda`: the custom runtime's bootstrap. Builds the handler named by _HANDLER
// and serves invocations from the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) until the API
// goes away. Kept cheap to start: nothing is built before main, and the handler's clients
// make no request until the first event.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "lambda/lambda_handler.h"
#include "lambda/runtime_api_client.h"

namespace stockwatch::lambda {

// The errorType reported for a handler's error: "Runtime.InvalidEvent" for
// kInvalidArgument, "Runtime.Unavailable" for kUnavailable and kDeadlineExceeded,
// "Runtime.NotFound" for kNotFound, else "Runtime.HandlerError".
std::string ErrorTypeFor(const absl::Status& status);

// Serves invocations with `handler` until Next fails; returns that failure. For each: sets
// _X_AMZN_TRACE_ID to the invocation's trace id (unset when it has none), parses the event
// (an unparsable one is an invocation error "Runtime.InvalidEvent"), invokes, posts the
// result or the error, and logs one JSON line to stdout (requestId, xrayTraceId, outcome).
absl::Status ServeInvocations(RuntimeApiClient& client, LambdaHandler& handler);

// The whole bootstrap: reads AWS_LAMBDA_RUNTIME_API and _HANDLER, makes the handler
// (MakeHandler; when that fails posts /runtime/init/error, errorType
// "Runtime.UnknownHandler" for an unknown name, else "Runtime.InitError", and returns 1),
// then ServeInvocations. Returns the process exit status.
int RunBootstrap();

}  // namespace stockwatch::lambda
