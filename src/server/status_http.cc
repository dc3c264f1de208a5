#include "server/status_http.h"

#include <charconv>
#include <string>

#include "absl/strings/cord.h"
#include "nlohmann/json.hpp"

namespace stockwatch::server {
namespace {

// Payload type URL under which WithHttpStatus() records its override.
constexpr char kHttpStatusPayload[] = "type.stockwatch.dev/http_status";

std::string_view CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kUnknown:
      return "unknown";
    case absl::StatusCode::kInvalidArgument:
      return "invalid_argument";
    case absl::StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kAlreadyExists:
      return "already_exists";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case absl::StatusCode::kAborted:
      return "aborted";
    case absl::StatusCode::kOutOfRange:
      return "out_of_range";
    case absl::StatusCode::kUnimplemented:
      return "unimplemented";
    case absl::StatusCode::kInternal:
      return "internal";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kDataLoss:
      return "data_loss";
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    default:
      return "unknown";
  }
}

// The one table of docs/API.md.
int TableStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 412;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

}  // namespace

HttpError StatusToHttp(const absl::Status& status) {
  HttpError error{TableStatus(status.code()), CodeName(status.code())};
  if (auto payload = status.GetPayload(kHttpStatusPayload)) {
    std::string text(*payload);
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && value >= 400 && value <= 599) {
      error.http_status = value;
    }
  }
  return error;
}

absl::Status WithHttpStatus(absl::Status status, int http_status) {
  status.SetPayload(kHttpStatusPayload, absl::Cord(std::to_string(http_status)));
  return status;
}

absl::Status PayloadTooLarge(std::string_view message) {
  return WithHttpStatus(absl::ResourceExhaustedError(std::string(message)), 413);
}

std::string ErrorJson(const absl::Status& status, const std::vector<std::string>& details) {
  nlohmann::json error = {{"code", StatusToHttp(status).code},
                          {"message", std::string(status.message())}};
  if (!details.empty()) error["details"] = details;
  // Replace invalid UTF-8 (a file name or header echoed in a message) instead of throwing.
  return nlohmann::json{{"error", std::move(error)}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
}

HttpResponse ErrorResponse(const absl::Status& status, const std::vector<std::string>& details) {
  HttpResponse response;
  response.status = StatusToHttp(status).http_status;
  response.body = ErrorJson(status, details);
  if (response.status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

}  // namespace stockwatch::server
