// A thin S3 client (REST XML) over AwsHttpClient: the object calls AWS mode needs.
// Addressing: path style against an endpoint override, virtual-hosted style against AWS
// for DNS-compatible bucket names without dots (AwsConfig::s3_addressing).
// Payloads are signed (x-amz-content-sha256 = hex SHA-256 of the body).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aws/aws_config.h"
#include "aws/aws_http.h"

namespace stockwatch::aws {

struct S3ObjectInfo {
  std::string etag;  // as S3 sends it, quotes included ("\"9bb5...\"")
  uint64_t size = 0;
  std::string content_type;
  std::string last_modified;  // the Last-Modified header, IMF-fixdate
};

// Receives the object body chunk by chunk (libcurl's buffer, at most ~16 KiB to 512 KiB
// at a time). A non-OK status aborts the download and is returned as is.
using S3ChunkSink = std::function<absl::Status(std::string_view chunk)>;

// Thread-safe.
class S3Client {
 public:
  explicit S3Client(AwsConfig config);

  // Streams the object to `sink`; the whole object is never held in memory. Retried (as
  // AwsHttpClient::Send) only until the first byte reached the sink. kNotFound with AWS
  // code NoSuchKey or NoSuchBucket when absent.
  absl::StatusOr<S3ObjectInfo> GetObject(std::string_view bucket, std::string_view key,
                                         const S3ChunkSink& sink) const;

  // PutObject of `body`; returns the ETag S3 sent.
  absl::StatusOr<std::string> PutObject(
      std::string_view bucket, std::string_view key, std::string_view body,
      std::string_view content_type = "application/octet-stream") const;

  // The object's metadata. kNotFound (AWS code "NotFound": a HEAD answer has no body)
  // for a missing key or bucket.
  absl::StatusOr<S3ObjectInfo> HeadObject(std::string_view bucket, std::string_view key) const;

  // CreateBucket (with a LocationConstraint outside us-east-1). kAlreadyExists with AWS
  // code BucketAlreadyOwnedByYou / BucketAlreadyExists.
  absl::Status CreateBucket(std::string_view bucket) const;

  const AwsHttpClient& http() const { return http_; }

 private:
  AwsHttpRequest ObjectRequest(std::string_view method, std::string_view bucket,
                               std::string_view key) const;
  AwsHttpClient http_;
};

}  // namespace stockwatch::aws
