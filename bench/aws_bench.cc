// Throughput of the AWS protocol code on the upload path: aws-chunked decoding of a signed
// and of an unsigned-trailer body fed in 64 KiB network reads, the S3 checksums, and the
// cost of verifying one SigV4 request. Goal: >= 500 MB/s decoding a signed body
// (BM_AwsChunkedDecode/signed).
//   build/release/bench/aws_bench
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "aws/aws_chunked.h"
#include "aws/checksums.h"
#include "aws/sigv4.h"

namespace stockwatch::aws {
namespace {

constexpr size_t kReadBytes = 64 * 1024;
constexpr size_t kPayloadBytes = size_t{64} << 20;
constexpr size_t kChunkBytes = size_t{8} << 20;
constexpr std::string_view kSecret = "bench-secret";
constexpr std::string_view kDate = "20240102T030405Z";
constexpr std::string_view kSeed =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const CredentialScope kScope{"20240102", "us-east-1", "s3"};

const std::string& Payload() {
  static const std::string payload = [] {
    std::string p(kPayloadBytes, '\0');
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>((i * 131) >> 7);
    return p;
  }();
  return payload;
}

// The payload as a client sends it, in 8 MiB chunks.
std::string Encode(bool is_signed) {
  const std::string& payload = Payload();
  const SigningKey key = DeriveSigningKey(kSecret, kScope);
  std::string previous(kSeed);
  std::string body;
  for (size_t at = 0;; at += kChunkBytes) {
    const std::string_view data =
        std::string_view(payload).substr(std::min(at, payload.size()), kChunkBytes);
    char size[32];
    std::snprintf(size, sizeof size, "%zx", data.size());
    body += size;
    if (is_signed) {
      previous = Signature(key, "AWS4-HMAC-SHA256-PAYLOAD\n" + std::string(kDate) + "\n" +
                                    kScope.ToString() + "\n" + previous + "\n" +
                                    std::string(kEmptySha256) + "\n" + Sha256Hex(data));
      body += ";chunk-signature=" + previous;
    }
    body += "\r\n";
    body.append(data);
    body += "\r\n";
    if (data.empty()) break;
  }
  if (!is_signed) {
    body.resize(body.size() - 2);
    body += "x-amz-checksum-crc32:AAAAAA==\r\n\r\n";
  }
  return body;
}

void BM_AwsChunkedDecode(benchmark::State& state) {
  const bool is_signed = state.range(0) != 0;
  const std::string body = Encode(is_signed);
  AwsChunkedOptions options;
  options.mode = is_signed ? PayloadMode::kStreamingSigned : PayloadMode::kStreamingUnsignedTrailer;
  options.signing_key = DeriveSigningKey(kSecret, kScope);
  options.seed_signature = std::string(kSeed);
  options.amz_date = std::string(kDate);
  options.scope = kScope;
  if (!is_signed) options.declared_trailers = {"x-amz-checksum-crc32"};
  std::string out;
  out.reserve(kPayloadBytes);
  for (auto _ : state) {
    AwsChunkedDecoder decoder(options);
    out.clear();
    for (size_t at = 0; at < body.size(); at += kReadBytes) {
      if (!decoder.Feed(std::string_view(body).substr(at, kReadBytes), out).ok()) {
        state.SkipWithError("decode failed");
        return;
      }
    }
    if (!decoder.Finish().ok() || out.size() != kPayloadBytes) {
      state.SkipWithError("decode incomplete");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPayloadBytes));
  state.SetLabel(is_signed ? "signed" : "unsigned-trailer");
}
BENCHMARK(BM_AwsChunkedDecode)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

void BM_Checksum(benchmark::State& state) {
  const auto algorithm = static_cast<ChecksumAlgorithm>(state.range(0));
  const std::string_view data = std::string_view(Payload()).substr(0, size_t{16} << 20);
  for (auto _ : state) {
    std::unique_ptr<Checksum> checksum = Checksum::Create(algorithm);
    for (size_t at = 0; at < data.size(); at += kReadBytes) {
      checksum->Update(data.substr(at, kReadBytes));
    }
    benchmark::DoNotOptimize(checksum->Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.SetLabel(std::string(ChecksumName(algorithm)));
}
BENCHMARK(BM_Checksum)
    ->DenseRange(static_cast<int>(ChecksumAlgorithm::kCrc32),
                 static_cast<int>(ChecksumAlgorithm::kCrc64Nvme))
    ->Unit(benchmark::kMillisecond);

void BM_VerifyRequest(benchmark::State& state) {
  Headers headers = {{"Host", "s3.local:9000"}, {"Content-Type", "text/csv"}};
  SignOptions sign;
  sign.now = *ParseAmzDate(kDate);
  sign.payload_hash = std::string(kStreamingSignedPayload);
  const Credentials credentials{"AKIDBENCH", std::string(kSecret), ""};
  if (!SignRequest("PUT", "/inventory/berlin.csv?x-id=PutObject", headers, credentials, sign)
           .ok()) {
    state.SkipWithError("sign failed");
    return;
  }
  const SecretLookup lookup = [](std::string_view) -> absl::StatusOr<std::string> {
    return std::string(kSecret);
  };
  const RequestView request{"PUT", "/inventory/berlin.csv?x-id=PutObject", &headers};
  for (auto _ : state) {
    absl::StatusOr<VerifiedRequest> verified = VerifyRequest(request, lookup, sign.now);
    if (!verified.ok()) {
      state.SkipWithError("verify failed");
      return;
    }
    benchmark::DoNotOptimize(verified->signature.data());
  }
}
BENCHMARK(BM_VerifyRequest);

}  // namespace
}  // namespace stockwatch::aws
