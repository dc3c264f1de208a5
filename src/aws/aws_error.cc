#include "aws/aws_error.h"

#include <utility>

#include "absl/strings/cord.h"

namespace stockwatch::aws {
namespace {

// The payload key under which the AWS error code travels on an absl::Status. A type URL
// by abseil's convention; nothing resolves it.
constexpr std::string_view kAwsErrorCodeKey = "type.stockwatch/aws.ErrorCode";
constexpr std::string_view kAwsRequestIdKey = "type.stockwatch/aws.RequestId";

// Debian's abseil has its own string_view type, not an alias of std::string_view.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::Status WithAwsErrorCode(absl::Status status, std::string_view code) {
  // An OK status cannot carry a payload (SetPayload is a no-op on it), so there is nothing
  // to attach; callers never pass one.
  status.SetPayload(ToAbsl(kAwsErrorCodeKey), absl::Cord(ToAbsl(code)));
  return status;
}

absl::Status AwsError(absl::StatusCode canonical, std::string_view aws_code,
                      std::string_view message) {
  return WithAwsErrorCode(absl::Status(canonical, ToAbsl(message)), aws_code);
}

std::optional<std::string> AwsErrorCode(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(ToAbsl(kAwsErrorCodeKey));
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

absl::Status WithAwsRequestId(absl::Status status, std::string_view request_id) {
  status.SetPayload(ToAbsl(kAwsRequestIdKey), absl::Cord(ToAbsl(request_id)));
  return status;
}

std::optional<std::string> AwsRequestId(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(ToAbsl(kAwsRequestIdKey));
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

}  // namespace stockwatch::aws
