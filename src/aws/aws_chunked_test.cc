#include "aws/aws_chunked.h"

#include <gtest/gtest.h>

#include <random>

#include "aws/aws_error.h"
#include "aws/checksums.h"

namespace stockwatch::aws {
namespace {

// AWS's published streaming examples (sigv4-streaming.html, sigv4-streaming-trailers.html).
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kDate = "20130524T000000Z";
constexpr std::string_view kSeed =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
constexpr std::string_view kChunk1 =
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
constexpr std::string_view kChunk2 =
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
constexpr std::string_view kChunk3 =
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";
constexpr std::string_view kTrailerSeed =
    "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
constexpr std::string_view kTrailerChunk1 =
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2";
constexpr std::string_view kTrailerChunk2 =
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7";
constexpr std::string_view kTrailerChunk3 =
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992";
constexpr std::string_view kTrailerSignature =
    "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

const CredentialScope kScope{"20130524", "us-east-1", "s3"};

std::string CodeOf(const absl::Status& status) { return AwsErrorCode(status).value_or("(none)"); }

std::string SignedChunk(size_t size, std::string_view signature, char fill = 'a') {
  std::stringstream hex;
  hex << std::hex << size;
  return hex.str() + ";chunk-signature=" + std::string(signature) + "\r\n" +
         std::string(size, fill) + "\r\n";
}

// The body of the documented signed upload: 64 KiB, 1 KiB and the final empty chunk.
std::string ExampleBody() {
  return SignedChunk(65536, kChunk1) + SignedChunk(1024, kChunk2) + SignedChunk(0, kChunk3);
}

AwsChunkedOptions SignedOptions(PayloadMode mode = PayloadMode::kStreamingSigned,
                                std::string_view seed = kSeed) {
  AwsChunkedOptions options;
  options.mode = mode;
  options.signing_key = DeriveSigningKey(kSecret, kScope);
  options.seed_signature = std::string(seed);
  options.amz_date = std::string(kDate);
  options.scope = kScope;
  return options;
}

AwsChunkedOptions TrailerOptions() {
  AwsChunkedOptions options = SignedOptions(PayloadMode::kStreamingSignedTrailer, kTrailerSeed);
  options.declared_trailers = {"x-amz-checksum-crc32c"};
  return options;
}

AwsChunkedOptions UnsignedOptions(std::vector<std::string> declared = {"x-amz-checksum-crc32"}) {
  AwsChunkedOptions options;
  options.mode = PayloadMode::kStreamingUnsignedTrailer;
  options.declared_trailers = std::move(declared);
  return options;
}

struct Result {
  absl::Status status;  // the first error of Feed or Finish
  std::string out;
  std::vector<std::pair<std::string, std::string>> trailers;
};

// Decodes `body` fed in the pieces that `cuts` (increasing offsets) make, then finishes.
Result Decode(const AwsChunkedOptions& options, std::string_view body,
              const std::vector<size_t>& cuts = {}) {
  AwsChunkedDecoder decoder(options);
  Result result;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(body.size());
  for (size_t end : ends) {
    result.status = decoder.Feed(body.substr(start, end - start), result.out);
    if (!result.status.ok()) return result;
    start = end;
  }
  result.status = decoder.Finish();
  if (result.status.ok()) {
    EXPECT_TRUE(decoder.done());
    EXPECT_EQ(decoder.decoded_bytes(), result.out.size());
  }
  result.trailers = decoder.trailers();
  return result;
}

// Signs chunks as a client does, for bodies made up in the tests.
class ChunkSigner {
 public:
  explicit ChunkSigner(std::string seed) : previous_(std::move(seed)) {}
  std::string Chunk(std::string_view data) {
    previous_ =
        Signature(DeriveSigningKey(kSecret, kScope),
                  "AWS4-HMAC-SHA256-PAYLOAD\n" + std::string(kDate) + "\n" + kScope.ToString() +
                      "\n" + previous_ + "\n" + std::string(kEmptySha256) + "\n" + Sha256Hex(data));
    std::stringstream hex;
    hex << std::hex << data.size();
    return hex.str() + ";chunk-signature=" + previous_ + "\r\n" + std::string(data) + "\r\n";
  }
  std::string TrailerSignature(std::string_view canonical_fields) {
    return Signature(DeriveSigningKey(kSecret, kScope),
                     "AWS4-HMAC-SHA256-TRAILER\n" + std::string(kDate) + "\n" + kScope.ToString() +
                         "\n" + previous_ + "\n" + Sha256Hex(canonical_fields));
  }

 private:
  std::string previous_;
};

TEST(AwsChunkedDecoderTest, DecodesTheAwsSignedExample) {
  const std::string body = ExampleBody();
  ASSERT_EQ(body.size(), 66824u);  // the example's Content-Length
  const Result result = Decode(SignedOptions(), body);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.out, std::string(66560, 'a'));
  EXPECT_TRUE(result.trailers.empty());
}

TEST(AwsChunkedDecoderTest, AwsSignedExampleIsSplitInvariant) {
  const std::string body = ExampleBody();
  const std::string expected(66560, 'a');
  // Byte by byte.
  {
    AwsChunkedDecoder decoder(SignedOptions());
    std::string out;
    for (char c : body) ASSERT_TRUE(decoder.Feed(std::string_view(&c, 1), out).ok());
    ASSERT_TRUE(decoder.Finish().ok());
    EXPECT_EQ(out, expected);
  }
  // Two pieces, at every offset near the framing and at a stride elsewhere.
  std::vector<size_t> offsets;
  for (size_t i = 0; i <= body.size(); i += 101) offsets.push_back(i);
  for (size_t boundary : {size_t{0}, size_t{88}, size_t{65624}, size_t{65712}, size_t{66738},
                          body.size() - 86, body.size()}) {
    for (size_t d = 0; d < 100; ++d) {
      if (boundary + d >= 50 && boundary + d - 50 <= body.size())
        offsets.push_back(boundary + d - 50);
    }
  }
  for (size_t cut : offsets) {
    const Result result = Decode(SignedOptions(), body, {cut});
    ASSERT_TRUE(result.status.ok()) << cut << ": " << result.status;
    ASSERT_EQ(result.out, expected) << cut;
  }
}

TEST(AwsChunkedDecoderTest, SmallSignedBodyIsInvariantUnderEverySplit) {
  ChunkSigner signer{std::string(kSeed)};
  std::string body;
  // One statement each: the chunks must be signed in order.
  for (std::string_view data : {"hello ", "chunked ", "world", ""}) body += signer.Chunk(data);
  for (size_t i = 0; i <= body.size(); ++i) {
    for (size_t j = i; j <= body.size(); j += 7) {
      const Result result = Decode(SignedOptions(), body, {i, j});
      ASSERT_TRUE(result.status.ok()) << i << "," << j << ": " << result.status;
      ASSERT_EQ(result.out, "hello chunked world");
    }
  }
}

TEST(AwsChunkedDecoderTest, TamperedChunkDataIsSignatureDoesNotMatch) {
  std::string body = ExampleBody();
  body[88 + 65536 + 2 + 86 + 10] = 'b';  // inside the 1 KiB chunk
  AwsChunkedDecoder decoder(SignedOptions());
  std::string out;
  const absl::Status status = decoder.Feed(body, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(status), "SignatureDoesNotMatch");
  // The failure sticks.
  EXPECT_EQ(CodeOf(decoder.Feed("", out)), "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(decoder.Finish()), "SignatureDoesNotMatch");
  EXPECT_FALSE(decoder.done());

  std::string first = ExampleBody();
  first[100] = 'A';
  EXPECT_EQ(CodeOf(Decode(SignedOptions(), first).status), "SignatureDoesNotMatch");
}

TEST(AwsChunkedDecoderTest, TamperedChunkSignaturesAreSignatureDoesNotMatch) {
  for (const std::string& body : {
           SignedChunk(65536, kChunk2) + SignedChunk(1024, kChunk2) + SignedChunk(0, kChunk3),
           SignedChunk(65536, kChunk1) + SignedChunk(1024, kChunk1) + SignedChunk(0, kChunk3),
           SignedChunk(65536, kChunk1) + SignedChunk(1024, kChunk2) + SignedChunk(0, kChunk2),
           // The chunks in another order (the chain binds them).
           SignedChunk(1024, kChunk2) + SignedChunk(65536, kChunk1) + SignedChunk(0, kChunk3),
       }) {
    EXPECT_EQ(CodeOf(Decode(SignedOptions(), body).status), "SignatureDoesNotMatch");
  }
  EXPECT_EQ(
      CodeOf(Decode(SignedOptions(PayloadMode::kStreamingSigned, kChunk1), ExampleBody()).status),
      "SignatureDoesNotMatch");
  // Dropping the final signed chunk leaves the body incomplete.
  const std::string no_final = SignedChunk(65536, kChunk1) + SignedChunk(1024, kChunk2);
  EXPECT_EQ(CodeOf(Decode(SignedOptions(), no_final).status), "IncompleteBody");
}

TEST(AwsChunkedDecoderTest, SignedChunkNeedsAChunkSignature) {
  for (const std::string& body :
       {std::string("5\r\nhello\r\n0\r\n\r\n"), std::string("5;chunk-signature=\r\nhello\r\n"),
        "5;chunk-signature=" + std::string(63, 'a') + "\r\nhello\r\n",
        "5;chunk-signature=" + std::string(64, 'g') + "\r\nhello\r\n",
        "5;chunk-signature=" + std::string(kChunk1) + ";chunk-signature=" + std::string(kChunk1) +
            "\r\nhello\r\n"}) {
    const absl::Status status = Decode(SignedOptions(), body).status;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << body;
  }
}

std::string TrailerExampleBody(std::string_view after_final_chunk, std::string_view fields,
                               std::string_view end) {
  return SignedChunk(65536, kTrailerChunk1) + SignedChunk(1024, kTrailerChunk2) +
         "0;chunk-signature=" + std::string(kTrailerChunk3) + "\r\n" +
         std::string(after_final_chunk) + std::string(fields) + std::string(end);
}

const std::string kTrailerFields =
    "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" + std::string(kTrailerSignature);

TEST(AwsChunkedDecoderTest, DecodesTheAwsSignedTrailerExampleAsClientsWriteIt) {
  // Clients differ in the line ends around the trailer; all of these carry the same trailer.
  for (const std::string& body : {
           TrailerExampleBody("", kTrailerFields, "\r\n\r\n"),
           TrailerExampleBody("\r\n", kTrailerFields, "\r\n\r\n"),
           TrailerExampleBody("\r\n", kTrailerFields, "\r\n"),
           TrailerExampleBody("", kTrailerFields, "\r\n"),
           TrailerExampleBody("", kTrailerFields, ""),
       }) {
    const Result result = Decode(TrailerOptions(), body);
    ASSERT_TRUE(result.status.ok()) << result.status;
    EXPECT_EQ(result.out, std::string(66560, 'a'));
    ASSERT_EQ(result.trailers.size(), 1u);
    EXPECT_EQ(result.trailers[0].first, "x-amz-checksum-crc32c");
    EXPECT_EQ(result.trailers[0].second, "sOO8/Q==");
    EXPECT_EQ(Base64Encode(Checksum::Create(ChecksumAlgorithm::kCrc32c)->Finish()), "AAAAAA==");
    std::unique_ptr<Checksum> crc = Checksum::Create(ChecksumAlgorithm::kCrc32c);
    crc->Update(result.out);
    EXPECT_EQ(Base64Encode(crc->Finish()), result.trailers[0].second);
  }
}

TEST(AwsChunkedDecoderTest, BadTrailerSignatureIsSignatureDoesNotMatch) {
  std::string wrong_signature = kTrailerFields;
  wrong_signature.back() = '4';
  std::string wrong_value = kTrailerFields;
  wrong_value.replace(wrong_value.find("sOO8/Q=="), 8, "sOO8/A==");
  for (const std::string& fields : {wrong_signature, wrong_value}) {
    const absl::Status status =
        Decode(TrailerOptions(), TrailerExampleBody("", fields, "\r\n\r\n")).status;
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(CodeOf(status), "SignatureDoesNotMatch");
  }
  // No trailer signature at all.
  EXPECT_EQ(CodeOf(Decode(TrailerOptions(),
                          TrailerExampleBody("", "x-amz-checksum-crc32c:sOO8/Q==\r\n", "\r\n"))
                       .status),
            "IncompleteBody");
  // A field after the signature.
  EXPECT_EQ(Decode(TrailerOptions(),
                   TrailerExampleBody("", kTrailerFields, "\r\nx-amz-checksum-crc32c:x\r\n\r\n"))
                .status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AwsChunkedDecoderTest, SignedTrailerSplitsAnywhere) {
  // The final chunk line is followed directly by the trailer fields, as the SDKs write it.
  ChunkSigner again{std::string(kTrailerSeed)};
  std::string body = again.Chunk("payload");
  const std::string final_chunk = again.Chunk("");
  body += final_chunk.substr(0, final_chunk.size() - 2);
  const std::string crc = Base64Encode(Checksum::Create(ChecksumAlgorithm::kCrc32c)->Finish());
  body += "x-amz-checksum-crc32c:" + crc + "\r\n";
  body +=
      "x-amz-trailer-signature:" + again.TrailerSignature("x-amz-checksum-crc32c:" + crc + "\n") +
      "\r\n\r\n";
  for (size_t i = 0; i <= body.size(); ++i) {
    const Result result = Decode(TrailerOptions(), body, {i});
    ASSERT_TRUE(result.status.ok()) << i << ": " << result.status;
    EXPECT_EQ(result.out, "payload");
  }
}

// The body awscli sends for `aws s3 cp` of a 25-byte file (CRC32 from Python's zlib).
const std::string kUnsignedBody =
    "19\r\nstockwatch: 25 bytes here\r\n0\r\nx-amz-checksum-crc32:40ZDnQ==\r\n\r\n";

TEST(AwsChunkedDecoderTest, DecodesAnUnsignedTrailerUnderEverySplit) {
  for (size_t i = 0; i <= kUnsignedBody.size(); ++i) {
    for (size_t j = i; j <= kUnsignedBody.size(); ++j) {
      const Result result = Decode(UnsignedOptions(), kUnsignedBody, {i, j});
      ASSERT_TRUE(result.status.ok()) << i << "," << j << ": " << result.status;
      ASSERT_EQ(result.out, "stockwatch: 25 bytes here");
      ASSERT_EQ(result.trailers.size(), 1u);
      ASSERT_EQ(result.trailers[0],
                std::make_pair(std::string("x-amz-checksum-crc32"), std::string("40ZDnQ==")));
    }
  }
  const Result result = Decode(UnsignedOptions(), kUnsignedBody);
  std::unique_ptr<Checksum> crc = Checksum::Create(ChecksumAlgorithm::kCrc32);
  crc->Update(result.out);
  EXPECT_EQ(Base64Encode(crc->Finish()), "40ZDnQ==");
}

TEST(AwsChunkedDecoderTest, UnsignedTrailerToleratesLineEndVariants) {
  for (const std::string& body : {
           std::string("19\r\nstockwatch: 25 bytes here\r\n0\r\nx-amz-checksum-crc32:40ZDnQ==\r\n"),
           std::string(
               "19\r\nstockwatch: 25 bytes here\r\n0\r\n\r\nx-amz-checksum-crc32:40ZDnQ==\r\n\r\n"),
           std::string("19;ext=1\r\nstockwatch: 25 bytes here\r\n0;chunk-signature=x\r\n"
                       "X-Amz-Checksum-CRC32 :  40ZDnQ==  \r\n\r\n"),
           std::string("000019\r\nstockwatch: 25 bytes here\r\n0\r\nx-amz-checksum-crc32:40ZDnQ=="),
       }) {
    const Result result = Decode(UnsignedOptions(), body);
    ASSERT_TRUE(result.status.ok()) << body << ": " << result.status;
    EXPECT_EQ(result.out, "stockwatch: 25 bytes here");
    ASSERT_EQ(result.trailers.size(), 1u);
    EXPECT_EQ(result.trailers[0].second, "40ZDnQ==");
  }
}

TEST(AwsChunkedDecoderTest, EmptyBodies) {
  EXPECT_TRUE(Decode(UnsignedOptions({}), "0\r\n\r\n").status.ok());
  EXPECT_TRUE(Decode(UnsignedOptions({}), "0\r\n").status.ok());
  EXPECT_EQ(CodeOf(Decode(UnsignedOptions({}), "").status), "IncompleteBody");
  EXPECT_EQ(CodeOf(Decode(UnsignedOptions(), "0\r\n\r\n").status), "IncompleteBody");
  ChunkSigner signer{std::string(kSeed)};
  EXPECT_TRUE(Decode(SignedOptions(), signer.Chunk("")).status.ok());
}

TEST(AwsChunkedDecoderTest, MissingDeclaredTrailerIsIncompleteBody) {
  const absl::Status status =
      Decode(UnsignedOptions({"x-amz-checksum-crc32", "x-amz-checksum-sha256"}), kUnsignedBody)
          .status;
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(status), "IncompleteBody");
}

TEST(AwsChunkedDecoderTest, UndeclaredOrRepeatedTrailersAreRefused) {
  EXPECT_EQ(CodeOf(Decode(UnsignedOptions({"x-amz-checksum-crc32c"}), kUnsignedBody).status),
            "InvalidArgument");
  const std::string repeated =
      "0\r\nx-amz-checksum-crc32:40ZDnQ==\r\nx-amz-checksum-crc32:40ZDnQ==\r\n\r\n";
  EXPECT_EQ(CodeOf(Decode(UnsignedOptions(), repeated).status), "InvalidArgument");
  // A body signed without a trailer may not carry one.
  ChunkSigner signer{std::string(kSeed)};
  std::string with_trailer = signer.Chunk("x");
  const std::string final_chunk = signer.Chunk("");
  with_trailer +=
      final_chunk.substr(0, final_chunk.size() - 2) + "x-amz-checksum-crc32:AAAAAA==\r\n\r\n";
  EXPECT_EQ(CodeOf(Decode(SignedOptions(), with_trailer).status), "InvalidArgument");
  // A trailer signature where none is due.
  EXPECT_EQ(CodeOf(Decode(UnsignedOptions({}),
                          "0\r\nx-amz-trailer-signature:" + std::string(64, 'a') + "\r\n\r\n")
                       .status),
            "InvalidArgument");
}

TEST(AwsChunkedDecoderTest, OversizeChunkIsRefusedBeforeItsData) {
  AwsChunkedOptions options = UnsignedOptions({});
  options.max_chunk_bytes = 16;
  EXPECT_TRUE(Decode(options, "10\r\n0123456789abcdef\r\n0\r\n\r\n").status.ok());
  AwsChunkedDecoder decoder(options);
  std::string out;
  const absl::Status status = decoder.Feed("11\r\n", out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(status), "InvalidArgument");
  EXPECT_EQ(Decode(UnsignedOptions({}), "ffffffffffffffff\r\n").status.code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode(UnsignedOptions({}), "10000000000000000\r\n").status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AwsChunkedDecoderTest, GarbageFramingIsRefused) {
  for (const std::string& body : {
           std::string("zz\r\n"),
           std::string("\r\n"),
           std::string(";chunk-signature=x\r\n"),
           std::string("5 x\r\nhello\r\n0\r\n\r\n"),
           std::string("-5\r\n"),
           std::string("0x5\r\nhello\r\n"),
           std::string("5\nhello\r\n0\r\n\r\n"),
           std::string("5\r\nhelloXX0\r\n\r\n"),
           std::string("5\r\nhello\n0\r\n\r\n"),
           std::string("5\r\nhello\r0\r\n\r\n"),
           std::string("5\r\nhello world\r\n0\r\n\r\n"),
           std::string("0\r\nno colon here\r\n\r\n"),
           std::string("0\r\n:value\r\n\r\n"),
           std::string("0\r\nx-amz-checksum-crc32:a\n\r\n"),
           std::string(2000, '1'),
           std::string("1") + std::string(1100, ' ') + "\r\n",
       }) {
    const Result result = Decode(UnsignedOptions({"x-amz-checksum-crc32"}), body);
    EXPECT_EQ(result.status.code(), absl::StatusCode::kInvalidArgument) << body.substr(0, 40);
  }
}

TEST(AwsChunkedDecoderTest, DataAfterTheEndIsRefused) {
  EXPECT_EQ(CodeOf(Decode(UnsignedOptions(), kUnsignedBody + "x").status), "InvalidArgument");
  EXPECT_EQ(CodeOf(Decode(UnsignedOptions(), kUnsignedBody + "\r\n").status), "InvalidArgument");
  EXPECT_EQ(CodeOf(Decode(SignedOptions(), ExampleBody() + "0\r\n").status), "InvalidArgument");
  // And a Feed after a successful Finish.
  AwsChunkedDecoder decoder(UnsignedOptions());
  std::string out;
  ASSERT_TRUE(decoder.Feed(kUnsignedBody, out).ok());
  ASSERT_TRUE(decoder.Finish().ok());
  EXPECT_FALSE(decoder.Feed("1", out).ok());
}

TEST(AwsChunkedDecoderTest, TruncatedBodiesAreIncomplete) {
  // Cut anywhere before the trailer value starts, the body is incomplete.
  const size_t value_start = kUnsignedBody.find("40ZD");
  for (size_t cut = 0; cut < value_start; ++cut) {
    const absl::Status status = Decode(UnsignedOptions(), kUnsignedBody.substr(0, cut)).status;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << cut;
  }
  const std::string signed_body = ExampleBody();
  for (size_t cut :
       {size_t{1}, size_t{88}, size_t{90}, size_t{65624}, size_t{65625}, signed_body.size() - 3}) {
    EXPECT_EQ(CodeOf(Decode(SignedOptions(), signed_body.substr(0, cut)).status), "IncompleteBody")
        << cut;
  }
}

TEST(AwsChunkedDecoderTest, TrailerSectionIsBounded) {
  AwsChunkedOptions options = UnsignedOptions();
  options.max_trailer_bytes = 64;
  EXPECT_TRUE(Decode(options, kUnsignedBody).status.ok());
  const std::string long_value = "0\r\nx-amz-checksum-crc32:" + std::string(100, 'A') + "\r\n\r\n";
  EXPECT_EQ(Decode(options, long_value).status.code(), absl::StatusCode::kInvalidArgument);
  for (size_t cut = 0; cut < long_value.size(); cut += 5) {
    EXPECT_EQ(Decode(options, long_value, {cut}).status.code(), absl::StatusCode::kInvalidArgument);
  }
  // Many short lines count as well.
  std::string many = "0\r\n";
  for (int i = 0; i < 40; ++i) many += "\r\n";
  EXPECT_EQ(Decode(UnsignedOptions({}), many).status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(AwsChunkedDecoderTest, NonStreamingModeIsRefused) {
  AwsChunkedOptions options;
  options.mode = PayloadMode::kSignedHex;
  EXPECT_EQ(Decode(options, "0\r\n\r\n").status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(AwsChunkedDecoderTest, EmitsDataAsItArrives) {
  AwsChunkedDecoder decoder(UnsignedOptions({}));
  std::string out;
  ASSERT_TRUE(decoder.Feed("400\r\n", out).ok());
  ASSERT_TRUE(decoder.Feed(std::string(100, 'x'), out).ok());
  EXPECT_EQ(out.size(), 100u);
  EXPECT_EQ(decoder.decoded_bytes(), 100u);
  EXPECT_FALSE(decoder.done());
}

TEST(AwsChunkedDecoderTest, RandomSignedBodiesRoundTrip) {
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    ChunkSigner signer{std::string(kSeed)};
    std::string payload;
    std::string body;
    const int chunks = static_cast<int>(rng() % 5);
    for (int c = 0; c < chunks; ++c) {
      std::string data(1 + rng() % 3000, '\0');
      for (char& ch : data) ch = static_cast<char>(rng());
      payload += data;
      body += signer.Chunk(data);
    }
    body += signer.Chunk("");
    std::vector<size_t> cuts;
    for (size_t at = rng() % 50; at < body.size(); at += 1 + rng() % 700) cuts.push_back(at);
    const Result result = Decode(SignedOptions(), body, cuts);
    ASSERT_TRUE(result.status.ok()) << result.status;
    ASSERT_EQ(result.out, payload);
  }
}

}  // namespace
}  // namespace stockwatch::aws
