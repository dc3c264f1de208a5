#include "server/s3_api/s3_errors.h"

#include <array>
#include <utility>

#include "aws/aws_error.h"
#include "server/s3_api/s3_xml.h"
#include "server/status_http.h"

namespace stockwatch::server::s3_api {
namespace {

// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
constexpr std::array<std::pair<std::string_view, int>, 39> kCodes{{
    {"AccessDenied", 403},
    {"AuthorizationHeaderMalformed", 400},
    {"AuthorizationQueryParametersError", 400},
    {"BadDigest", 400},
    {"BucketAlreadyOwnedByYou", 409},
    {"EntityTooLarge", 400},
    {"EntityTooSmall", 400},
    {"IncompleteBody", 400},
    {"InternalError", 500},
    {"InvalidAccessKeyId", 403},
    {"InvalidArgument", 400},
    {"InvalidBucketName", 400},
    {"InvalidDigest", 400},
    {"InvalidPart", 400},
    {"InvalidPartOrder", 400},
    {"InvalidRange", 416},
    {"InvalidRequest", 400},
    {"KeyTooLongError", 400},
    {"MalformedXML", 400},
    {"MaxMessageLengthExceeded", 400},
    {"MetadataTooLarge", 400},
    {"MethodNotAllowed", 405},
    {"MissingContentLength", 411},
    {"MissingSecurityHeader", 400},
    {"NoSuchBucket", 404},
    {"NoSuchKey", 404},
    {"NoSuchUpload", 404},
    {"NotImplemented", 501},
    {"PreconditionFailed", 412},
    {"RequestHeaderSectionTooLarge", 400},
    {"RequestTimeTooSkewed", 403},
    {"RequestTimeout", 400},
    {"ServiceUnavailable", 503},
    {"SignatureDoesNotMatch", 403},
    {"SlowDown", 503},
    {"XAmzContentSHA256Mismatch", 400},
    {"InvalidChunkSizeError", 403},
    {"BadRequest", 400},
    {"NoSuchBucketPolicy", 404},
}};

}  // namespace

std::string S3ErrorCode(const absl::Status& status) {
  if (std::optional<std::string> code = aws::AwsErrorCode(status)) return *code;
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return "NoSuchKey";
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return "AccessDenied";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "InvalidArgument";
    case absl::StatusCode::kResourceExhausted:
      return StatusToHttp(status).http_status == 413 ? "EntityTooLarge" : "SlowDown";
    case absl::StatusCode::kUnavailable:
      return "ServiceUnavailable";
    case absl::StatusCode::kDeadlineExceeded:
      return "RequestTimeout";
    case absl::StatusCode::kFailedPrecondition:
      return "PreconditionFailed";
    default:
      return "InternalError";
  }
}

int S3HttpStatus(std::string_view code) {
  for (const auto& [name, http] : kCodes) {
    if (name == code) return http;
  }
  return 400;
}

absl::Status S3Error(absl::StatusCode canonical, std::string_view code, std::string_view message) {
  return aws::AwsError(canonical, code, message);
}

HttpResponse S3ErrorResponse(const absl::Status& status, std::string_view resource,
                             std::string_view request_id, bool head) {
  const std::string code = S3ErrorCode(status);
  HttpResponse response;
  response.status = S3HttpStatus(code);
  // A 431 marked on the status (oversize header) stays 431 rather than S3's 400.
  if (status.code() == absl::StatusCode::kResourceExhausted &&
      StatusToHttp(status).http_status == 431) {
    response.status = 431;
  }
  response.headers.emplace_back("x-amz-request-id", std::string(request_id));
  if (head) {
    response.content_type.clear();
    return response;
  }
  response.content_type = "application/xml";
  const std::string message =
      code == "InternalError" ? std::string("We encountered an internal error. Please try again.")
                              : std::string(status.message());
  XmlWriter xml;
  xml.Open("Error");
  xml.Element("Code", code);
  xml.Element("Message", message);
  if (!resource.empty()) xml.Element("Resource", resource);
  xml.Element("RequestId", request_id);
  xml.Close("Error");
  response.body = xml.Finish();
  return response;
}

}  // namespace stockwatch::server::s3_api
