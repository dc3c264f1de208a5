// The aws-chunked content encoding of streaming S3 uploads
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html):
//   <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
//   [<trailer>:<value>\r\n ... [x-amz-trailer-signature:<sig>\r\n]]\r\n
// decoded as it streams in, any split of the input, with every chunk signature and the
// trailer signature verified and the trailing checksums collected.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "aws/sigv4.h"

namespace stockwatch::aws {

struct AwsChunkedOptions {
  // kStreamingSigned, kStreamingSignedTrailer or kStreamingUnsignedTrailer.
  PayloadMode mode = PayloadMode::kStreamingUnsignedTrailer;
  // From the verified request; used by the signed modes only.
  SigningKey signing_key{};
  std::string seed_signature;
  std::string amz_date;
  CredentialScope scope;
  // Lower-case names declared in x-amz-trailer; only these may (and must) appear.
  std::vector<std::string> declared_trailers;
  // Largest chunk accepted (a chunk must be verified before the next one starts).
  uint64_t max_chunk_bytes = uint64_t{16} << 20;
  // Largest trailer section, in bytes.
  size_t max_trailer_bytes = 4096;
};

// Not thread-safe; one per request body.
class AwsChunkedDecoder {
 public:
  explicit AwsChunkedDecoder(AwsChunkedOptions options);

  // Decodes `encoded` and appends the payload bytes it carries to `out`. Bytes of a signed
  // chunk are emitted before its signature is known to match; a mismatch fails a later
  // call, so the caller must not commit anything before Finish() returns OK.
  // Errors (with AWS codes): IncompleteBody / InvalidArgument (kInvalidArgument) for bad
  // framing, an oversize chunk or data after the end; SignatureDoesNotMatch
  // (kPermissionDenied) for a bad chunk or trailer signature.
  absl::Status Feed(std::string_view encoded, std::string& out);
  // Called at the end of the body: kInvalidArgument (IncompleteBody) unless the final
  // chunk and trailer section were complete and every declared trailer was received.
  absl::Status Finish();

  bool done() const;
  uint64_t decoded_bytes() const;
  // Trailer fields received: lower-case name, value (e.g. x-amz-checksum-crc32, base64).
  const std::vector<std::pair<std::string, std::string>>& trailers() const;

 private:
  // Implementation state (helper may add fields freely).
  struct State;
  AwsChunkedOptions options_;
  std::shared_ptr<State> state_;
};

}  // namespace stockwatch::aws
