// Fuzz target for the SigV4 verifier and signer. Besides "no crash, no sanitizer report":
// - arbitrary Authorization headers, presign queries, targets, dates and payload hashes
//   through VerifyRequest (fixed key, fixed clock) never succeed under another key, and
//   every refusal carries an AWS error code;
// - round trip: a request with fuzz-chosen method, path, query and headers (names and
//   values) signed by SignRequest, or presigned by PresignTarget, always verifies, with
//   the credential, payload mode and validity the signer used, and stops verifying when
//   its method is changed.
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "aws/aws_error.h"
#include "aws/sigv4.h"

namespace {

using stockwatch::aws::Headers;
using stockwatch::aws::RequestView;
using stockwatch::aws::TimePoint;

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

constexpr std::string_view kKeyId = "AKIDFUZZ";
constexpr std::string_view kSecret = "fuzz/secret+key";
constexpr std::string_view kDate = "20240102T030405Z";

// Takes the input apart: bytes, and strings that end at a 0xff byte (or the input's end).
class Reader {
 public:
  Reader(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data)), size_(size) {}
  uint8_t Byte() { return pos_ < size_ ? static_cast<uint8_t>(data_[pos_++]) : 0; }
  std::string String() {
    std::string out;
    while (pos_ < size_ && static_cast<uint8_t>(data_[pos_]) != 0xff) out.push_back(data_[pos_++]);
    if (pos_ < size_) ++pos_;
    return out;
  }
  // A string of token characters (an HTTP header name), possibly empty.
  std::string Token() {
    static constexpr std::string_view kChars =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
    std::string out;
    for (char c : String()) out.push_back(kChars[static_cast<uint8_t>(c) % kChars.size()]);
    return out;
  }
  bool empty() const { return pos_ >= size_; }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

TimePoint At(std::string_view amz_date) {
  absl::StatusOr<TimePoint> time = stockwatch::aws::ParseAmzDate(amz_date);
  FUZZ_CHECK(time.ok());
  return *time;
}

absl::StatusOr<std::string> Lookup(std::string_view id) {
  if (id == kKeyId) return std::string(kSecret);
  return absl::NotFoundError("unknown key");
}

std::string PayloadHash(uint8_t choice) {
  switch (choice % 6) {
    case 0:
      return std::string(stockwatch::aws::kUnsignedPayload);
    case 1:
      return std::string(stockwatch::aws::kStreamingSignedPayload);
    case 2:
      return std::string(stockwatch::aws::kStreamingSignedTrailerPayload);
    case 3:
      return std::string(stockwatch::aws::kStreamingUnsignedTrailerPayload);
    case 4:
      return std::string(stockwatch::aws::kEmptySha256);
    default:
      return stockwatch::aws::Sha256Hex(std::string(1, static_cast<char>(choice)));
  }
}

// Arbitrary credentials of every kind through the verifier.
void VerifyArbitrary(Reader& in) {
  const std::string method = in.String();
  std::string target = in.String();
  const uint8_t shape = in.Byte();
  Headers headers;
  headers.emplace_back(shape & 1 ? "Host" : "host", in.String());
  if (shape & 2) headers.emplace_back("Authorization", in.String());
  if (shape & 4) headers.emplace_back("X-Amz-Date", shape & 8 ? std::string(kDate) : in.String());
  if (shape & 16) headers.emplace_back("Date", in.String());
  if (shape & 32) headers.emplace_back("x-amz-content-sha256", PayloadHash(in.Byte()));
  if (shape & 64) headers.emplace_back(in.String(), in.String());
  if (shape & 128) {
    target += "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + in.String() +
              "&X-Amz-Date=" + in.String() + "&X-Amz-Expires=" + in.String() +
              "&X-Amz-SignedHeaders=" + in.String() + "&X-Amz-Signature=" + in.String();
  }
  stockwatch::aws::VerifyOptions options;
  if (in.Byte() & 1) options.service = "service";
  absl::StatusOr<stockwatch::aws::VerifiedRequest> verified = stockwatch::aws::VerifyRequest(
      RequestView{method, target, &headers}, Lookup, At(kDate), options);
  if (verified.ok()) {
    FUZZ_CHECK(verified->access_key_id == kKeyId);
    FUZZ_CHECK(verified->scope.service == options.service);
  } else {
    FUZZ_CHECK(stockwatch::aws::AwsErrorCode(verified.status()).has_value());
  }
  // The canonical request of anything either builds or says why not.
  (void)stockwatch::aws::CanonicalRequest(RequestView{method, target, &headers}, in.String(),
                                          in.String(), {.s3_path = (shape & 1) != 0});
}

// Signs a fuzz-shaped request and checks that it verifies.
void RoundTrip(Reader& in) {
  std::string method = in.Token();
  if (method.empty()) method = "GET";
  const std::string target = "/" + in.String();
  const uint8_t shape = in.Byte();
  Headers headers;
  headers.emplace_back("Host", in.String());
  const int extra = shape & 7;
  for (int i = 0; i < extra; ++i) {
    std::string name = in.Token();
    if (name.empty()) name = "x-amz-meta-empty";
    headers.emplace_back(std::move(name), in.String());
  }
  const stockwatch::aws::Credentials credentials{std::string(kKeyId), std::string(kSecret),
                                                 shape & 8 ? in.String() : std::string()};
  stockwatch::aws::SignOptions options;
  // A region is a token (no '/', ',' or '=' that would break the Credential apart).
  options.region = in.Token();
  if (options.region.empty()) options.region = "us-east-1";
  options.now = At(kDate);
  options.payload_hash = PayloadHash(in.Byte());
  // Some moment within the signature's validity (the skew, or the presigned expiry).
  const int offset = in.Byte();
  TimePoint now = At(kDate) + std::chrono::seconds(offset);

  if (shape & 16) {
    // Presigned: no Authorization header beside the query credentials, and any
    // x-amz-content-sha256 must be one the verifier accepts.
    std::erase_if(headers, [](const auto& h) {
      std::string lower;
      for (char c : h.first) lower.push_back(static_cast<char>(std::tolower(c)));
      return lower == "authorization";
    });
    for (auto& [name, value] : headers) {
      std::string lower;
      for (char c : name) lower.push_back(static_cast<char>(std::tolower(c)));
      if (lower == "x-amz-content-sha256") value = options.payload_hash;
    }
    const auto expires = std::chrono::seconds(1 + in.Byte() * 1000);
    now = At(kDate) + std::chrono::seconds(offset % (expires.count() + 1));
    absl::StatusOr<std::string> presigned =
        stockwatch::aws::PresignTarget(method, target, headers, credentials, options, expires);
    if (!presigned.ok()) return;
    absl::StatusOr<stockwatch::aws::VerifiedRequest> verified =
        stockwatch::aws::VerifyRequest(RequestView{method, *presigned, &headers}, Lookup, now);
    if (!verified.ok()) {
      std::fprintf(stderr, "presigned %s %s: %s\n", method.c_str(), presigned->c_str(),
                   verified.status().ToString().c_str());
    }
    FUZZ_CHECK(verified.ok());
    FUZZ_CHECK(verified->presigned);
    FUZZ_CHECK(verified->scope.region == options.region);
    FUZZ_CHECK(verified->valid_until == At(kDate) + expires);
    const std::string other = method == "GET" ? "PUT" : "GET";
    FUZZ_CHECK(
        !stockwatch::aws::VerifyRequest(RequestView{other, *presigned, &headers}, Lookup, now)
             .ok());
    return;
  }

  if (!stockwatch::aws::SignRequest(method, target, headers, credentials, options).ok()) return;
  absl::StatusOr<stockwatch::aws::VerifiedRequest> verified =
      stockwatch::aws::VerifyRequest(RequestView{method, target, &headers}, Lookup, now);
  if (!verified.ok()) {
    std::fprintf(stderr, "signed %s %s: %s\n", method.c_str(), target.c_str(),
                 verified.status().ToString().c_str());
  }
  FUZZ_CHECK(verified.ok());
  FUZZ_CHECK(!verified->presigned);
  FUZZ_CHECK(verified->access_key_id == kKeyId);
  FUZZ_CHECK(verified->amz_date == kDate);
  FUZZ_CHECK(verified->valid_until == At(kDate) + std::chrono::minutes(15));
  const std::string other = method == "GET" ? "PUT" : "GET";
  FUZZ_CHECK(
      !stockwatch::aws::VerifyRequest(RequestView{other, target, &headers}, Lookup, now).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  if (in.Byte() & 1) {
    VerifyArbitrary(in);
  } else {
    RoundTrip(in);
  }
  return 0;
}
