// The transport the AWS clients share: one request signed with our SigV4 signer
// (sigv4.h), sent over libcurl, retried with backoff, its AWS error turned into an
// absl::Status that keeps the AWS error code and the request id (aws_error.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aws/aws_config.h"
#include "aws/sigv4.h"
#include "nlohmann/json.hpp"

namespace stockwatch::aws {

struct AwsHttpRequest {
  std::string method = "POST";
  // The request path, already percent-encoded as it goes on the wire ("/" for the JSON and
  // query protocols, "/bucket/key%20name" for S3 path style).
  std::string path = "/";
  // The query string without '?', already percent-encoded; empty for none.
  std::string query;
  // Headers besides host, x-amz-date, x-amz-content-sha256, x-amz-security-token,
  // authorization and content-length, which the transport sets (e.g. content-type,
  // x-amz-target). Every header is signed.
  Headers headers;
  std::string body;
  // Virtual-hosted S3: the host to send to instead of the endpoint's (same scheme/port).
  std::string host_override;
};

struct AwsHttpResponse {
  long status = 0;
  Headers headers;   // names lower case, in the order received
  std::string body;  // empty when the body went to a BodySink
  int attempts = 0;  // how many attempts the request took (1 = no retry)

  // The first header named `name` (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
  // x-amzn-RequestId, x-amz-request-id or x-amzn-requestid, whichever the service sent.
  std::string RequestId() const;
};

// Receives a 2xx response body chunk by chunk. A non-OK status aborts the transfer and is
// returned by Send as is.
using BodySink = std::function<absl::Status(std::string_view chunk)>;

// Error codes AWS uses for throttling, retried with backoff like 5xx answers and
// connection errors (ThrottlingException, ProvisionedThroughputExceededException,
// RequestLimitExceeded, SlowDown, Throttling, TooManyRequestsException,
// RequestThrottled, RequestThrottledException, ThrottledException,
// LimitExceededException from DynamoDB Streams... see aws_http.cc for the list).
bool IsThrottlingErrorCode(std::string_view aws_code);

// The canonical status code for an AWS error code (and, for codes it does not know, the
// HTTP status): kNotFound (ResourceNotFoundException, NoSuchKey, NoSuchBucket, NotFound,
// 404), kFailedPrecondition (ConditionalCheckFailedException, PreconditionFailed, 412),
// kInvalidArgument (ValidationException, InvalidParameter*, other 400),
// kPermissionDenied (AccessDenied*, SignatureDoesNotMatch, InvalidClientTokenId,
// UnrecognizedClientException, InvalidAccessKeyId, ExpiredToken, 401/403),
// kAlreadyExists (ResourceInUseException, BucketAlreadyOwnedByYou, ...),
// kUnavailable (throttling codes, 5xx), kOutOfRange (ExpiredIteratorException,
// TrimmedDataAccessException), kResourceExhausted (ItemCollectionSizeLimitExceeded,
// ...), kAborted (TransactionConflictException, 409); kUnknown otherwise.
absl::StatusCode CanonicalCodeForAwsError(std::string_view aws_code, long http_status);

// Parses an error response of `protocol` into a status: the canonical code above, the
// message "<service>: <Code>: <message> (HTTP <status>, request id <id>)", the AWS code
// (AwsErrorCode) and the request id (AwsRequestId). For a body without a code (a HEAD
// answer, an HTML proxy page) the code is taken from the HTTP status ("NotFound" for 404,
// "Forbidden" for 403, "HttpError<status>" else).
absl::Status ParseAwsError(ErrorProtocol protocol, std::string_view service_name, long http_status,
                           std::string_view body, std::string_view request_id);

// One client per service. Connections are reused: each thread that calls Send keeps its
// own libcurl handle (and so its keep-alive connections) for this client. Thread-safe.
class AwsHttpClient {
 public:
  // `config` must hold credentials and a region (LoadAwsConfig ensures both).
  AwsHttpClient(AwsConfig config, AwsService service);
  ~AwsHttpClient();
  AwsHttpClient(const AwsHttpClient&) = delete;
  AwsHttpClient& operator=(const AwsHttpClient&) = delete;

  // Signs and sends `request`, retrying (at most config.max_attempts attempts, backoff with
  // full jitter) on connection errors, 5xx and throttling errors. Returns the response
  // for a 2xx answer, else the parsed AWS error (ParseAwsError; its message also says how
  // many attempts were made when there was more than one). Connection errors and timeouts:
  // kUnavailable, AWS code "NetworkingError" / "RequestTimeout".
  // With `sink`, a 2xx body is streamed to it instead of kept in the response; a request
  // is then retried only until the first body byte has reached the sink.
  absl::StatusOr<AwsHttpResponse> Send(const AwsHttpRequest& request,
                                       const BodySink& sink = nullptr) const;

  // The backoff before attempt `attempt + 1` (attempt >= 1): uniform in
  // [0, min(retry_max_delay, retry_base_delay * 2^(attempt-1))). Thread-safe.
  std::chrono::milliseconds BackoffDelay(int attempt) const;

  const AwsConfig& config() const { return config_; }
  const AwsService& service() const { return service_; }
  // EndpointFor(service), e.g. "http://127.0.0.1:5055".
  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Impl;
  AwsConfig config_;
  AwsService service_;
  std::string endpoint_;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query parameter name or value (RFC 3986 unreserved kept), as AWS's
// query and REST protocols want it.
std::string QueryEncode(std::string_view text);

// One call of AWS's JSON protocol (1.0: DynamoDB, DynamoDB Streams; 1.1: Secrets Manager):
// POSTs `request` with X-Amz-Target `<target_prefix>.<operation>` and returns the parsed
// answer (an empty object for an empty body). Errors as AwsHttpClient::Send; an answer that
// is not JSON is kInternal naming `operation` and the request id.
absl::StatusOr<nlohmann::json> CallJsonProtocol(
    const AwsHttpClient& http, std::string_view target_prefix, std::string_view operation,
    const nlohmann::json& request, std::string_view content_type = "application/x-amz-json-1.0");

}  // namespace stockwatch::aws
