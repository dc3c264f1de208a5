#include "lambda/runtime_loop.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "lambda/handlers.h"
#include "nlohmann/json.hpp"

namespace stockwatch::lambda {
namespace {

void LogLine(const nlohmann::json& line) {
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace

std::string ErrorTypeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return "Runtime.InvalidEvent";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "Runtime.Unavailable";
    case absl::StatusCode::kNotFound:
      return "Runtime.NotFound";
    default:
      return "Runtime.HandlerError";
  }
}

absl::Status ServeInvocations(RuntimeApiClient& client, LambdaHandler& handler) {
  while (true) {
    absl::StatusOr<Invocation> next = client.Next();
    if (!next.ok()) return next.status();
    const InvocationContext& context = next->context;
    // The X-Ray trace header of this invocation, for the AWS calls the handler makes.
    if (context.trace_id.empty()) {
      unsetenv("_X_AMZN_TRACE_ID");
    } else {
      setenv("_X_AMZN_TRACE_ID", context.trace_id.c_str(), 1);
    }
    absl::StatusOr<nlohmann::json> result;
    nlohmann::json event = nlohmann::json::parse(next->event, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded()) {
      result = absl::InvalidArgumentError("the event is not JSON");
    } else {
      // A handler bug must fail this invocation, not the process (Lambda would start a new
      // one, cold, and the event would be retried against the same bug anyway).
      try {
        result = handler.Invoke(event, context);
      } catch (const std::exception& e) {
        result = absl::InternalError(std::string("the handler failed: ") + e.what());
      }
    }
    const char* trace = std::getenv("_X_AMZN_TRACE_ID");
    nlohmann::json log = {{"level", result.ok() ? "info" : "error"},
                          {"msg", "invocation"},
                          {"requestId", context.request_id},
                          {"xrayTraceId", trace != nullptr ? trace : ""}};
    absl::Status posted;
    if (result.ok()) {
      posted = client.PostResponse(
          context.request_id,
          result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      const std::string type = ErrorTypeFor(result.status());
      log["errorType"] = type;
      log["errorMessage"] = std::string(result.status().message());
      posted = client.PostError(context.request_id, type, std::string(result.status().message()));
    }
    if (!posted.ok()) log["postError"] = std::string(posted.message());
    LogLine(log);
  }
}

int RunBootstrap() {
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') {
    std::fprintf(stderr,
                 "stockwatch lambda: AWS_LAMBDA_RUNTIME_API is not set (run inside Lambda, or "
                 "use --invoke HANDLER --event FILE)\n");
    return 2;
  }
  const char* name = std::getenv("_HANDLER");
  RuntimeApiClient client(api);
  absl::StatusOr<std::unique_ptr<LambdaHandler>> handler = MakeHandler(name != nullptr ? name : "");
  if (!handler.ok()) {
    const std::string type =
        absl::IsNotFound(handler.status()) ? "Runtime.UnknownHandler" : "Runtime.InitError";
    LogLine({{"level", "error"},
             {"msg", "init error"},
             {"errorType", type},
             {"errorMessage", std::string(handler.status().message())}});
    absl::Status posted = client.PostInitError(type, std::string(handler.status().message()));
    if (!posted.ok()) std::fprintf(stderr, "stockwatch lambda: %s\n", posted.ToString().c_str());
    return 1;
  }
  absl::Status served = ServeInvocations(client, **handler);
  std::fprintf(stderr, "stockwatch lambda: %s\n", served.ToString().c_str());
  return 1;
}

}  // namespace stockwatch::lambda
