#include "server/s3_api/payload.h"

#include <algorithm>
#include <limits>

#include "aws/aws_error.h"
#include "base/status.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/s3_api/s3_errors.h"
#include "server/url.h"

namespace stockwatch::server::s3_api {
namespace {

// Bytes read from the connection per step. Large enough that per-read overhead vanishes
// at 1 GB/s, small enough to keep memory per upload flat.
constexpr size_t kReadBytes = 256 * 1024;
// The aws-chunked framing adds a few dozen bytes per chunk (a chunk signature line is
// ~100); clients use chunks of 8 KiB and more, so the raw body stays well within 2x.
constexpr uint64_t kMaxFramingOverhead = 1 << 20;

absl::Status TooLarge(uint64_t max_bytes) {
  return S3Error(absl::StatusCode::kResourceExhausted, "EntityTooLarge",
                 fmt::format("Your proposed upload exceeds the maximum allowed object size of "
                             "{} bytes.",
                             max_bytes));
}

// "a, b,c" -> {"a", "b", "c"}.
std::vector<std::string_view> SplitList(std::string_view text) {
  std::vector<std::string_view> out;
  while (true) {
    size_t comma = text.find(',');
    out.push_back(TrimAsciiWhitespace(text.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

bool IsStreaming(aws::PayloadMode mode) {
  return mode == aws::PayloadMode::kStreamingSigned ||
         mode == aws::PayloadMode::kStreamingSignedTrailer ||
         mode == aws::PayloadMode::kStreamingUnsignedTrailer;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PayloadStream>> PayloadStream::Open(HttpRequest& request,
                                                                   const aws::VerifiedRequest& auth,
                                                                   uint64_t max_bytes) {
  std::unique_ptr<PayloadStream> stream(new PayloadStream());
  stream->request_ = &request;
  stream->max_bytes_ = max_bytes;
  stream->raw_limit_ = max_bytes;

  // The one checksum declared: a value in a header, or a trailer named in x-amz-trailer.
  std::vector<std::string> trailers;
  if (std::optional<std::string_view> trailer = request.Header("x-amz-trailer")) {
    for (std::string_view name : SplitList(*trailer)) {
      if (!name.empty()) trailers.push_back(AsciiLower(name));
    }
  }
  for (const auto& [name, value] : request.headers) {
    std::optional<aws::ChecksumAlgorithm> algorithm = aws::ChecksumFromHeaderName(name);
    if (!algorithm) {
      if (name.rfind("x-amz-checksum-", 0) == 0 && name != "x-amz-checksum-type" &&
          name != "x-amz-checksum-mode" && name != "x-amz-checksum-algorithm") {
        return S3Error(absl::StatusCode::kInvalidArgument, "InvalidRequest",
                       fmt::format("unsupported checksum header {}", name));
      }
      continue;
    }
    if (stream->checksum_algorithm_) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidRequest",
                     "Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                     "not allowed.");
    }
    stream->checksum_algorithm_ = algorithm;
    stream->declared_checksum_ = std::string(TrimAsciiWhitespace(value));
  }
  for (const std::string& name : trailers) {
    std::optional<aws::ChecksumAlgorithm> algorithm = aws::ChecksumFromHeaderName(name);
    if (!algorithm) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidRequest",
                     fmt::format("unsupported trailer {}", name));
    }
    if (stream->checksum_algorithm_) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidRequest",
                     "Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                     "not allowed.");
    }
    stream->checksum_algorithm_ = algorithm;
    stream->checksum_in_trailer_ = true;
  }
  if (stream->checksum_algorithm_) {
    stream->checksum_ = aws::Checksum::Create(*stream->checksum_algorithm_);
  }

  if (IsStreaming(auth.payload_mode)) {
    std::optional<std::string_view> decoded = request.Header("x-amz-decoded-content-length");
    if (decoded) {
      absl::StatusOr<int64_t> length = ParseInteger("x-amz-decoded-content-length", *decoded, 0,
                                                    std::numeric_limits<int64_t>::max());
      if (!length.ok()) {
        return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                       ToStd(length.status().message()));
      }
      stream->decoded_length_ = static_cast<uint64_t>(*length);
      if (*stream->decoded_length_ > max_bytes) return TooLarge(max_bytes);
    }
    aws::AwsChunkedOptions options;
    options.mode = auth.payload_mode;
    options.signing_key = auth.signing_key;
    options.seed_signature = auth.signature;
    options.amz_date = auth.amz_date;
    options.scope = auth.scope;
    if (stream->checksum_in_trailer_) options.declared_trailers = trailers;
    stream->decoder_ = std::make_unique<aws::AwsChunkedDecoder>(std::move(options));
    stream->raw_limit_ = max_bytes + max_bytes / 4 + kMaxFramingOverhead;
  } else if (stream->checksum_in_trailer_) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidRequest",
                   "x-amz-trailer needs a streaming (aws-chunked) payload");
  }
  std::optional<uint64_t> declared = request.body->content_length();
  if (declared && !stream->decoder_ && *declared > max_bytes) return TooLarge(max_bytes);
  if (declared && *declared > stream->raw_limit_) return TooLarge(max_bytes);

  size_t buffer_size = kReadBytes;
  if (declared) buffer_size = static_cast<size_t>(std::min<uint64_t>(*declared + 1, kReadBytes));
  stream->buffer_size_ = std::max<size_t>(buffer_size, 1);
  stream->buffer_ = std::make_unique<char[]>(stream->buffer_size_);
  return stream;
}

absl::StatusOr<std::string_view> PayloadStream::Next() {
  while (!ended_) {
    absl::StatusOr<size_t> n =
        request_->body->Read(std::span<char>(buffer_.get(), buffer_size_), raw_limit_);
    if (!n.ok()) {
      if (n.status().code() == absl::StatusCode::kResourceExhausted) return TooLarge(max_bytes_);
      return n.status();
    }
    std::string_view piece;
    if (*n == 0) {
      ended_ = true;
      if (decoder_) SW_RETURN_IF_ERROR(decoder_->Finish());
    } else if (decoder_) {
      decoded_.clear();
      SW_RETURN_IF_ERROR(decoder_->Feed(std::string_view(buffer_.get(), *n), decoded_));
      piece = decoded_;
    } else {
      piece = std::string_view(buffer_.get(), *n);
    }
    if (ended_) {
      if (decoded_length_ && size_ != *decoded_length_) {
        return S3Error(absl::StatusCode::kInvalidArgument, "IncompleteBody",
                       fmt::format("You did not provide the number of bytes specified by the "
                                   "x-amz-decoded-content-length header ({} of {}).",
                                   size_, *decoded_length_));
      }
      return std::string_view();
    }
    if (piece.empty()) continue;
    size_ += piece.size();
    if (size_ > max_bytes_ || (decoded_length_ && size_ > *decoded_length_)) {
      if (size_ > max_bytes_) return TooLarge(max_bytes_);
      return S3Error(absl::StatusCode::kInvalidArgument, "IncompleteBody",
                     "the payload is longer than x-amz-decoded-content-length");
    }
    if (checksum_) checksum_->Update(piece);
    return piece;
  }
  return std::string_view();
}

absl::Status PayloadStream::VerifyChecksum() {
  if (!checksum_algorithm_) return absl::OkStatus();
  if (checksum_in_trailer_) {
    const std::string name = aws::ChecksumHeaderName(*checksum_algorithm_);
    bool found = false;
    for (const auto& [trailer, value] : decoder_->trailers()) {
      if (trailer == name) {
        declared_checksum_ = std::string(TrimAsciiWhitespace(value));
        found = true;
      }
    }
    if (!found) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidRequest",
                     fmt::format("the trailer {} declared in x-amz-trailer was not sent", name));
    }
  }
  computed_checksum_ = aws::Base64Encode(checksum_->Finish());
  if (computed_checksum_ != declared_checksum_) {
    return S3Error(absl::StatusCode::kInvalidArgument, "BadDigest",
                   fmt::format("The {} you specified did not match the calculated checksum.",
                               aws::ChecksumName(*checksum_algorithm_)));
  }
  return absl::OkStatus();
}

std::optional<std::pair<std::string, std::string>> PayloadStream::checksum_header() const {
  if (!checksum_algorithm_ || computed_checksum_.empty()) return std::nullopt;
  return std::make_pair(aws::ChecksumHeaderName(*checksum_algorithm_), computed_checksum_);
}

}  // namespace stockwatch::server::s3_api
