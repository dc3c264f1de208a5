// AWS error codes carried on absl::Status, so that a failure keeps both our status code
// (for logs and HTTP mapping) and the code AWS names it by ("SignatureDoesNotMatch",
// "NoSuchKey", ...). Shared by the S3 API (which answers with these codes) and the AWS
// clients of AWS mode (which read them from AWS's answers).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace stockwatch::aws {

// Returns `status` with `code` attached (status must not be OK).
absl::Status WithAwsErrorCode(absl::Status status, std::string_view code);
// Shorthand: a status of `canonical` code with message and AWS code.
absl::Status AwsError(absl::StatusCode canonical, std::string_view aws_code,
                      std::string_view message);
// The AWS error code attached to `status`, if any.
std::optional<std::string> AwsErrorCode(const absl::Status& status);

// Returns `status` with the AWS request id of the failed call attached (x-amzn-RequestId
// or x-amz-request-id), to quote in logs and support cases. status must not be OK.
absl::Status WithAwsRequestId(absl::Status status, std::string_view request_id);
// The AWS request id attached to `status`, if any.
std::optional<std::string> AwsRequestId(const absl::Status& status);

}  // namespace stockwatch::aws
