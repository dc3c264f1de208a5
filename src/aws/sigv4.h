// AWS Signature Version 4: the signer (for the AWS clients of AWS mode and for tests) and
// the verifier used by the S3 API, for the Authorization header and for presigned URLs.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace stockwatch::aws {

using TimePoint = std::chrono::system_clock::time_point;
using Headers = std::vector<std::pair<std::string, std::string>>;  // names as sent
using SigningKey = std::array<uint8_t, 32>;

// x-amz-content-sha256 values (the PayloadMode enumerators below name the same modes).
inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingSignedTrailerPayload =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedTrailerPayload =
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
// SHA-256 of the empty string, hex.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// date/region/service/aws4_request
struct CredentialScope {
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;
  std::string ToString() const;
};

// HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
SigningKey DeriveSigningKey(std::string_view secret, const CredentialScope& scope);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string Sha256Hex(std::string_view data);

// "20150830T123600Z" <-> time. ParseAmzDate: kInvalidArgument unless a valid UTC time of
// the years 1900 to 2199 in exactly that form.
std::string FormatAmzDate(TimePoint time);
absl::StatusOr<TimePoint> ParseAmzDate(std::string_view text);

// RFC 3986 encoding as SigV4 wants it: unreserved A-Z a-z 0-9 - . _ ~ kept, everything
// else %XX upper case; '/' kept when !encode_slash.
std::string UriEncode(std::string_view bytes, bool encode_slash);

// What a request looks like to SigV4.
struct RequestView {
  std::string_view method;
  // The request-target as received: path plus optional "?query", still percent-encoded.
  std::string_view target;
  const Headers* headers = nullptr;  // any case; values as sent
  // Hex SHA-256 of the body, for the services other than S3 whose requests carry no
  // x-amz-content-sha256 header (the verifier cannot read the body). Empty: the empty body.
  // Not used when the request has x-amz-content-sha256.
  std::string_view payload_sha256_hex = {};
};

// Canonicalization options: S3 uses the path as sent (no normalization, single
// encoding); every other service normalizes the path and encodes it twice.
struct CanonicalOptions {
  bool s3_path = true;
};

// The canonical request of `request` signing `signed_headers` (lower-case, ';'-joined,
// sorted) with `payload_hash`. Query parameter X-Amz-Signature is left out (presigned).
// kInvalidArgument if a signed header is missing or the target is malformed.
absl::StatusOr<std::string> CanonicalRequest(const RequestView& request,
                                             std::string_view signed_headers,
                                             std::string_view payload_hash,
                                             const CanonicalOptions& options = {});
std::string StringToSign(std::string_view amz_date, const CredentialScope& scope,
                         std::string_view canonical_request);
// Hex signature of `string_to_sign`.
std::string Signature(const SigningKey& key, std::string_view string_to_sign);

// --- Signer (clients) --------------------------------------------------------------

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional
};

struct SignOptions {
  std::string region = "us-east-1";
  std::string service = "s3";
  TimePoint now;
  // Hex SHA-256 of the payload, or UNSIGNED-PAYLOAD / a STREAMING-* mode.
  std::string payload_hash = std::string(kEmptySha256);
  CanonicalOptions canonical;
};

// Adds x-amz-date, x-amz-content-sha256 (for s3), x-amz-security-token (if any) and
// Authorization to `headers` (replacing any already there), signing every header present
// (host must be present). The Authorization value has the form botocore writes:
// "AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=a;b, Signature=hex".
// kInvalidArgument if host is missing, a header name is not an HTTP token, the target's
// query holds X-Amz-Algorithm, X-Amz-Credential or X-Amz-Signature, or a percent-escape in
// it is malformed.
absl::Status SignRequest(std::string_view method, std::string_view target, Headers& headers,
                         const Credentials& credentials, const SignOptions& options);
// Returns `target` with the X-Amz-* presign query parameters appended. Every header in
// `headers` is signed, as the Authorization signer does (so pass just host for a URL anyone
// can use); `headers` must hold host. The payload hash is UNSIGNED-PAYLOAD, or the value of
// an x-amz-content-sha256 header in `headers` (options.payload_hash is not used).
// kInvalidArgument if expires is not 1 s to 7 days, a header name is not an HTTP token, the
// target already holds one of the X-Amz-* presign parameters, or a percent-escape in its
// query is malformed.
absl::StatusOr<std::string> PresignTarget(std::string_view method, std::string_view target,
                                          const Headers& headers, const Credentials& credentials,
                                          const SignOptions& options, std::chrono::seconds expires);

// --- Verifier (the S3 API) -----------------------------------------------------------

enum class PayloadMode {
  kSignedHex,                // x-amz-content-sha256: hex digest of the body
  kUnsigned,                 // UNSIGNED-PAYLOAD (and every presigned URL)
  kStreamingSigned,          // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  kStreamingSignedTrailer,   // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  kStreamingUnsignedTrailer  // STREAMING-UNSIGNED-PAYLOAD-TRAILER
};

// A request whose signature checked out.
struct VerifiedRequest {
  std::string access_key_id;
  CredentialScope scope;
  std::string amz_date;  // the request's x-amz-date / X-Amz-Date
  TimePoint signed_at;
  SigningKey signing_key{};
  std::string signature;  // hex; the seed signature of a streaming body
  PayloadMode payload_mode = PayloadMode::kUnsigned;
  std::string payload_sha256_hex;  // for kSignedHex, lower case
  bool presigned = false;
  // Until when this exact signature is valid: signed_at + 15 min for a header signature,
  // signed_at + X-Amz-Expires for a presigned URL. Replays are remembered until then.
  TimePoint valid_until;
};

struct VerifyOptions {
  std::chrono::seconds max_clock_skew{15 * 60};
  std::chrono::seconds max_presign_expiry{7 * 24 * 3600};
  // The credential scope's service. "s3" signs the path as sent; any other service the
  // normalized, twice-encoded path (CanonicalOptions{s3_path=false}).
  std::string service = "s3";
};

// The secret of an access key: kNotFound for an unknown key (mapped to
// InvalidAccessKeyId), other errors pass through.
using SecretLookup = std::function<absl::StatusOr<std::string>(std::string_view access_key_id)>;

// Verifies the SigV4 signature of `request` (Authorization header or presigned query),
// comparing in constant time. Errors carry an AWS error code (aws_error.h):
//   AccessDenied (kPermissionDenied) no credentials at all, no valid Date/x-amz-date, an
//   expired presigned URL, or one dated more than max_clock_skew in the future;
//   InvalidAccessKeyId (kPermissionDenied); SignatureDoesNotMatch (kPermissionDenied);
//   RequestTimeTooSkewed (kPermissionDenied) more than max_clock_skew off `now`;
//   AuthorizationHeaderMalformed / AuthorizationQueryParametersError (kInvalidArgument);
//   InvalidArgument (kInvalidArgument) e.g. X-Amz-Expires over the maximum, bad
//   x-amz-content-sha256 value; MissingSecurityHeader when x-amz-content-sha256 is absent
//   on a header-signed S3 request.
//   Both an Authorization header and X-Amz-* query credentials: InvalidArgument.
// A lookup error other than kNotFound is returned unchanged. The signing time is x-amz-date,
// else the Date header (IMF-fixdate); the credential scope's date must be its date and the
// service options.service; host and every listed signed header must be present.
// The payload itself is not read: the caller checks a kSignedHex digest against the body
// and runs a streaming body through AwsChunkedDecoder. A presigned URL signs
// UNSIGNED-PAYLOAD unless an x-amz-content-sha256 header (or X-Amz-Content-Sha256 query
// parameter) names the payload hash; payload_mode follows that value. Thread-safe if
// `lookup` is.
absl::StatusOr<VerifiedRequest> VerifyRequest(const RequestView& request,
                                              const SecretLookup& lookup, TimePoint now,
                                              const VerifyOptions& options = {});

}  // namespace stockwatch::aws
