// The payload of an S3 write (PutObject, UploadPart): the request body, decoded from the
// aws-chunked encoding when the request streams, bounded, and checked against the
// x-amz-checksum-* value the client declared in a header or a trailer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "aws/aws_chunked.h"
#include "aws/checksums.h"
#include "aws/sigv4.h"
#include "server/http_message.h"

namespace stockwatch::server::s3_api {

// Not thread-safe; one per request.
class PayloadStream {
 public:
  // Errors: EntityTooLarge when the declared size passes `max_bytes` (before anything is
  // read, so no 100 Continue is sent); InvalidArgument / InvalidRequest for inconsistent
  // headers (an unknown checksum algorithm, several checksums, a bad
  // x-amz-decoded-content-length).
  static absl::StatusOr<std::unique_ptr<PayloadStream>> Open(HttpRequest& request,
                                                             const aws::VerifiedRequest& auth,
                                                             uint64_t max_bytes);

  // The next piece of payload, valid until the next call; empty at the end. Errors:
  // EntityTooLarge past `max_bytes`; IncompleteBody when the body ends short of its
  // declared length; the decoder's errors (SignatureDoesNotMatch, bad framing); the
  // connection's errors.
  absl::StatusOr<std::string_view> Next();

  // After the end: BadDigest (kInvalidArgument) unless the declared checksum matches;
  // InvalidRequest if a declared trailer checksum never came.
  absl::Status VerifyChecksum();

  // (x-amz-checksum-<alg>, base64) of the payload, for the response, if one was declared.
  std::optional<std::pair<std::string, std::string>> checksum_header() const;
  uint64_t size() const { return size_; }

 private:
  PayloadStream() = default;

  HttpRequest* request_ = nullptr;
  uint64_t max_bytes_ = 0;
  uint64_t raw_limit_ = 0;
  std::optional<uint64_t> decoded_length_;           // x-amz-decoded-content-length
  std::unique_ptr<aws::AwsChunkedDecoder> decoder_;  // streaming requests only
  std::unique_ptr<char[]> buffer_;
  size_t buffer_size_ = 0;
  std::string decoded_;
  bool ended_ = false;
  uint64_t size_ = 0;

  std::optional<aws::ChecksumAlgorithm> checksum_algorithm_;
  std::unique_ptr<aws::Checksum> checksum_;
  std::string declared_checksum_;  // base64; from the header, or from the trailer at the end
  bool checksum_in_trailer_ = false;
  std::string computed_checksum_;  // base64, once VerifyChecksum() ran
};

}  // namespace stockwatch::server::s3_api
