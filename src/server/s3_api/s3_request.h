// What the S3 handlers share: the parsed request (addressing, query, who signed it) and
// small helpers. Internal to server/s3_api.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "aws/sigv4.h"
#include "core/model/types.h"
#include "core/ports/access_key_store.h"
#include "server/http_message.h"
#include "server/s3_api/s3_router.h"

namespace stockwatch::server::s3_api {

// Longest object key, in bytes (S3's limit).
inline constexpr size_t kMaxKeyBytes = 1024;
// Default and largest page of a listing.
inline constexpr size_t kMaxListKeys = 1000;

// Decoded query parameters in order; a parameter without '=' has an empty value but is
// present (`?uploads`).
class S3Query {
 public:
  // kInvalidArgument (InvalidArgument) for a bad escape.
  static absl::StatusOr<S3Query> Parse(std::string_view raw);
  bool Has(std::string_view name) const;
  std::optional<std::string> Get(std::string_view name) const;
  std::string GetOr(std::string_view name, std::string_view fallback) const;
  // The parameter as an integer in min..max (default 0..2^31-1, S3's range for max-keys
  // and the like), `fallback` when absent; InvalidArgument naming it otherwise.
  absl::StatusOr<int64_t> GetInt(std::string_view name, int64_t fallback, int64_t min = 0,
                                 int64_t max = 2147483647) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// Where a request points: bucket and key as S3 addresses them.
struct S3Address {
  std::string bucket;  // empty: the service (ListBuckets)
  std::string key;     // decoded bytes; empty: the bucket itself
  bool virtual_hosted = false;
};
// Virtual-hosted style when the Host is "<bucket>.<domain>", else path-style.
// kInvalidArgument for a bad escape in the path.
absl::StatusOr<S3Address> ParseAddress(std::string_view host, std::string_view path,
                                       std::string_view domain);

// KeyTooLongError beyond 1024 bytes; InvalidArgument for keys that look like paths
// escaping a directory or that hold bytes no file name or XML document can carry: a NUL
// or other control character, a backslash, a leading '/', or a "." or ".." segment. Keys
// never become paths here, but a client that sends such a key is almost surely confused
// or hostile, and refusing it keeps every listing and download safe for naive tools.
absl::Status ValidateKey(std::string_view key);

struct S3Router::Context {
  HttpRequest& request;
  S3Address address;
  S3Query query;
  aws::VerifiedRequest auth;
  core::AccessKey access_key;
  // "/bucket/key" as in S3 error documents.
  std::string Resource() const;
};

// Content-MD5 as lower-case hex; nullopt when absent. InvalidDigest if it is not base64 of
// 16 bytes.
absl::StatusOr<std::optional<std::string>> ContentMd5(const HttpRequest& request);
// Checks what was received against what the client declared: a hex x-amz-content-sha256
// (XAmzContentSHA256Mismatch) and Content-MD5 (BadDigest).
absl::Status CheckDigests(const core::ContentDigests& digests, const aws::VerifiedRequest& auth,
                          const std::optional<std::string>& content_md5);

// The x-amz-meta-* headers of `request` as (lower-case name without the prefix, value).
// MetadataTooLarge (kInvalidArgument) beyond S3's 2 KB of names and values.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> UserMetadata(
    const HttpRequest& request);

// "\"<etag>\"".
std::string QuotedEtag(std::string_view etag);
// RFC 1123 (Last-Modified) and ISO 8601 with milliseconds (LastModified in XML).
std::string HttpDate(core::TimePoint time);
std::string IsoDate(core::TimePoint time);
// An XML response with x-amz-request-id.
HttpResponse XmlResponse(int status, std::string body, const HttpRequest& request);
// An empty response with x-amz-request-id.
HttpResponse EmptyResponse(int status, const HttpRequest& request);

}  // namespace stockwatch::server::s3_api
