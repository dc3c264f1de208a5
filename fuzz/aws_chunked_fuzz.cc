// Fuzz target for AwsChunkedDecoder. Besides "no crash, no sanitizer report":
// - split invariance: arbitrary input decoded whole, byte by byte and split in two at every
//   offset (a spread of offsets for long inputs) gives the same status, AWS error code,
//   message, payload and trailers, in every mode;
// - round trip: a fuzz-provided payload cut into fuzz-chosen chunk sizes, encoded by the
//   small encoder below (signed, signed with a trailer, or unsigned with a trailer, in the
//   line-end variants clients use) and fed in fuzz-chosen pieces decodes to exactly that
//   payload and trailer, and fails once a byte of a signed body's data is changed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/aws_chunked.h"
#include "aws/aws_error.h"
#include "aws/checksums.h"

namespace {

using stockwatch::aws::AwsChunkedDecoder;
using stockwatch::aws::AwsChunkedOptions;
using stockwatch::aws::PayloadMode;

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

constexpr std::string_view kSecret = "fuzz/secret+key";
constexpr std::string_view kDate = "20240102T030405Z";
constexpr std::string_view kSeed =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const stockwatch::aws::CredentialScope kScope{"20240102", "us-east-1", "s3"};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data)), size_(size) {}
  uint8_t Byte() { return pos_ < size_ ? static_cast<uint8_t>(data_[pos_++]) : 0; }
  // Up to `max` bytes.
  std::string_view Bytes(size_t max) {
    const size_t n = std::min(max, size_ - pos_);
    const std::string_view out(data_ + pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view Rest() { return Bytes(size_ - pos_); }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

AwsChunkedOptions Options(PayloadMode mode, std::vector<std::string> declared) {
  AwsChunkedOptions options;
  options.mode = mode;
  options.signing_key = stockwatch::aws::DeriveSigningKey(kSecret, kScope);
  options.seed_signature = std::string(kSeed);
  options.amz_date = std::string(kDate);
  options.scope = kScope;
  options.declared_trailers = std::move(declared);
  return options;
}

struct Result {
  bool ok = false;
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string aws_code;
  std::string message;
  std::string out;
  std::vector<std::pair<std::string, std::string>> trailers;
  bool done = false;
  bool operator==(const Result&) const = default;
};

// Decodes `body` fed in pieces ending at `cuts` (increasing), then finishes.
Result Decode(const AwsChunkedOptions& options, std::string_view body,
              const std::vector<size_t>& cuts) {
  AwsChunkedDecoder decoder(options);
  Result result;
  absl::Status status;
  size_t start = 0;
  for (size_t i = 0; i <= cuts.size() && status.ok(); ++i) {
    const size_t end = i < cuts.size() ? cuts[i] : body.size();
    status = decoder.Feed(body.substr(start, end - start), result.out);
    start = end;
  }
  if (status.ok()) status = decoder.Finish();
  result.ok = status.ok();
  result.code = status.code();
  result.aws_code = stockwatch::aws::AwsErrorCode(status).value_or("");
  result.message = std::string(status.message());
  result.trailers = decoder.trailers();
  result.done = decoder.done();
  FUZZ_CHECK(result.ok == result.done);
  FUZZ_CHECK(result.ok || !result.aws_code.empty());
  FUZZ_CHECK(decoder.decoded_bytes() == result.out.size());
  return result;
}

void SplitInvariance(Reader& in) {
  const uint8_t config = in.Byte();
  const PayloadMode modes[] = {PayloadMode::kStreamingSigned, PayloadMode::kStreamingSignedTrailer,
                               PayloadMode::kStreamingUnsignedTrailer};
  std::vector<std::string> declared;
  if (config & 4) declared.push_back("x-amz-checksum-crc32");
  if (config & 8) declared.push_back("x-amz-checksum-crc32c");
  AwsChunkedOptions options = Options(modes[config % 3], declared);
  if (config & 16) options.max_chunk_bytes = 1 + in.Byte();
  if (config & 32) options.max_trailer_bytes = 1 + in.Byte();
  const std::string_view body = in.Rest();

  const Result whole = Decode(options, body, {});
  std::vector<size_t> every_byte;
  if (body.size() <= 4096) {
    for (size_t i = 1; i < body.size(); ++i) every_byte.push_back(i);
    FUZZ_CHECK(Decode(options, body, every_byte) == whole);
  }
  const size_t step = body.size() <= 512 ? 1 : body.size() / 512;
  for (size_t cut = 0; cut <= body.size(); cut += step) {
    FUZZ_CHECK(Decode(options, body, {cut}) == whole);
  }
}

// A client's encoder: the chunk framing, chunk signatures and trailer of aws-chunked.
class Encoder {
 public:
  explicit Encoder(bool is_signed) : signed_(is_signed), previous_(kSeed) {}

  void Chunk(std::string_view data, bool upper_hex) {
    char size[32];
    std::snprintf(size, sizeof size, upper_hex ? "%zX" : "%zx", data.size());
    body_ += size;
    if (signed_) {
      previous_ =
          Sign("AWS4-HMAC-SHA256-PAYLOAD\n" + std::string(kDate) + "\n" + kScope.ToString() + "\n" +
               previous_ + "\n" + std::string(stockwatch::aws::kEmptySha256) + "\n" +
               stockwatch::aws::Sha256Hex(data));
      body_ += ";chunk-signature=" + previous_;
    }
    body_ += "\r\n";
    body_.append(data);
    if (!data.empty()) body_ += "\r\n";
  }
  void Trailer(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string canonical;
    for (const auto& [name, value] : fields) {
      body_ += name + ":" + value + "\r\n";
      canonical += name + ":" + value + "\n";
    }
    if (signed_) {
      previous_ =
          Sign("AWS4-HMAC-SHA256-TRAILER\n" + std::string(kDate) + "\n" + kScope.ToString() + "\n" +
               previous_ + "\n" + stockwatch::aws::Sha256Hex(canonical));
      body_ += "x-amz-trailer-signature:" + previous_ + "\r\n";
    }
  }
  void Append(std::string_view text) { body_.append(text); }
  std::string& body() { return body_; }

 private:
  static std::string Sign(const std::string& string_to_sign) {
    return stockwatch::aws::Signature(stockwatch::aws::DeriveSigningKey(kSecret, kScope),
                                      string_to_sign);
  }
  bool signed_;
  std::string previous_;
  std::string body_;
};

void RoundTrip(Reader& in) {
  const uint8_t config = in.Byte();
  const PayloadMode mode = config % 3 == 0   ? PayloadMode::kStreamingSigned
                           : config % 3 == 1 ? PayloadMode::kStreamingSignedTrailer
                                             : PayloadMode::kStreamingUnsignedTrailer;
  const bool is_signed = mode != PayloadMode::kStreamingUnsignedTrailer;
  const bool has_trailer = mode != PayloadMode::kStreamingSigned;
  const std::string_view payload = in.Bytes(in.Byte() * 64 + in.Byte());

  // Chunk sizes from the input; the payload decides where to stop.
  Encoder encoder(is_signed);
  size_t at = 0;
  while (at < payload.size()) {
    const size_t size =
        std::min<size_t>(payload.size() - at, 1 + in.Byte() * (config & 4 ? 16 : 1));
    encoder.Chunk(payload.substr(at, size), (config & 8) != 0);
    at += size;
  }
  encoder.Chunk("", false);
  std::vector<std::pair<std::string, std::string>> trailer;
  if (has_trailer) {
    std::unique_ptr<stockwatch::aws::Checksum> crc =
        stockwatch::aws::Checksum::Create(config & 16 ? stockwatch::aws::ChecksumAlgorithm::kCrc32c
                                                      : stockwatch::aws::ChecksumAlgorithm::kCrc32);
    crc->Update(payload);
    trailer.emplace_back(config & 16 ? "x-amz-checksum-crc32c" : "x-amz-checksum-crc32",
                         stockwatch::aws::Base64Encode(crc->Finish()));
    if (config & 32) encoder.Append("\r\n");  // the empty line some clients put first
    encoder.Trailer(trailer);
  }
  if (!(config & 64)) encoder.Append("\r\n");  // the final CRLF, which some clients omit
  const std::string& body = encoder.body();

  std::vector<std::string> declared;
  for (const auto& [name, value] : trailer) declared.push_back(name);
  const AwsChunkedOptions options = Options(mode, declared);
  std::vector<size_t> cuts;
  for (size_t cut = in.Byte(); cut < body.size(); cut += 1 + in.Byte() * 8) cuts.push_back(cut);
  const Result result = Decode(options, body, cuts);
  if (!result.ok) std::fprintf(stderr, "round trip failed: %s\n", result.message.c_str());
  FUZZ_CHECK(result.ok);
  FUZZ_CHECK(result.out == payload);
  FUZZ_CHECK(result.trailers == trailer);

  // Any changed data byte of a signed body breaks its signature.
  if (is_signed && !payload.empty()) {
    std::string tampered = body;
    const size_t data_start = tampered.find("\r\n") + 2;
    tampered[data_start] = static_cast<char>(tampered[data_start] ^ 1);
    const Result bad = Decode(options, tampered, cuts);
    FUZZ_CHECK(!bad.ok);
    FUZZ_CHECK(bad.aws_code == "SignatureDoesNotMatch");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  if (in.Byte() & 1) {
    SplitInvariance(in);
  } else {
    RoundTrip(in);
  }
  return 0;
}
