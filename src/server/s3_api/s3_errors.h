// S3's error answers: the code table (code -> HTTP status) and the XML error document,
// built from an absl::Status that carries an AWS error code (aws/aws_error.h) or, failing
// that, from its canonical code.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/http_message.h"

namespace stockwatch::server::s3_api {

// The S3 code for `status`: its attached AWS code, else one derived from the canonical
// code (kNotFound -> NoSuchKey, kPermissionDenied -> AccessDenied, kInvalidArgument ->
// InvalidArgument, 413-marked kResourceExhausted -> EntityTooLarge, kUnavailable ->
// ServiceUnavailable, kDeadlineExceeded -> RequestTimeout, else InternalError).
std::string S3ErrorCode(const absl::Status& status);
// The HTTP status S3 answers `code` with (400 for an unknown code).
int S3HttpStatus(std::string_view code);

// Shorthand for a status with an S3 code: S3Error(kNotFound, "NoSuchKey", "...").
absl::Status S3Error(absl::StatusCode canonical, std::string_view code, std::string_view message);

// <Error><Code/><Message/><Resource/><RequestId/></Error> with x-amz-request-id. A HEAD
// answer carries no body. Internal errors get a generic message (details are logged).
HttpResponse S3ErrorResponse(const absl::Status& status, std::string_view resource,
                             std::string_view request_id, bool head = false);

}  // namespace stockwatch::server::s3_api
