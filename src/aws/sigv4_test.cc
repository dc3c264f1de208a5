#include "aws/sigv4.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "aws/aws_error.h"
#include "aws/checksums.h"

namespace stockwatch::aws {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TimePoint At(std::string_view amz_date) {
  absl::StatusOr<TimePoint> time = ParseAmzDate(amz_date);
  EXPECT_TRUE(time.ok()) << amz_date;
  return time.value_or(TimePoint{});
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string CodeOf(const absl::Status& status) { return AwsErrorCode(status).value_or("(none)"); }

SecretLookup OneKey(std::string access_key_id, std::string secret) {
  return [access_key_id = std::move(access_key_id),
          secret = std::move(secret)](std::string_view id) -> absl::StatusOr<std::string> {
    if (id == access_key_id) return secret;
    return absl::NotFoundError("no such key");
  };
}

// --- AWS's SigV4 test suite (non-S3 canonicalization) --------------------------------------

constexpr std::string_view kSuiteKeyId = "AKIDEXAMPLE";
constexpr std::string_view kSuiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kSuiteDate = "20150830T123600Z";

std::filesystem::path SuiteDir() { return std::filesystem::path(STOCKWATCH_TESTDATA) / "sigv4"; }

std::vector<std::string> SuiteCases() {
  std::vector<std::string> cases;
  for (const auto& entry : std::filesystem::directory_iterator(SuiteDir())) {
    if (entry.is_directory()) cases.push_back(entry.path().filename().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

struct SuiteRequest {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
};

// "METHOD target HTTP/1.1", "Name:value" lines, a blank line, the body.
SuiteRequest ParseSuiteRequest(const std::string& text) {
  SuiteRequest request;
  size_t pos = text.find('\n');
  const std::string request_line = text.substr(0, pos);
  const size_t first_space = request_line.find(' ');
  const size_t version = request_line.rfind(" HTTP/");
  request.method = request_line.substr(0, first_space);
  request.target = request_line.substr(first_space + 1, version - first_space - 1);
  while (pos != std::string::npos) {
    const size_t start = pos + 1;
    pos = text.find('\n', start);
    const std::string line = text.substr(start, pos == std::string::npos ? pos : pos - start);
    if (line.empty()) {
      if (pos != std::string::npos) request.body = text.substr(pos + 1);
      break;
    }
    const size_t colon = line.find(':');
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return request;
}

std::string SignedHeadersOf(const std::string& authorization) {
  const size_t start = authorization.find("SignedHeaders=") + 14;
  return authorization.substr(start, authorization.find(',', start) - start);
}

class SigV4SuiteTest : public testing::TestWithParam<std::string> {};

TEST_P(SigV4SuiteTest, MatchesPublishedCanonicalRequestStringToSignAndAuthorization) {
  const std::filesystem::path dir = SuiteDir() / GetParam();
  const SuiteRequest request = ParseSuiteRequest(ReadFile(dir / (GetParam() + ".req")));
  const std::string creq = ReadFile(dir / (GetParam() + ".creq"));
  const std::string sts = ReadFile(dir / (GetParam() + ".sts"));
  const std::string authz = ReadFile(dir / (GetParam() + ".authz"));
  const CredentialScope scope{"20150830", "us-east-1", "service"};

  const RequestView view{request.method, request.target, &request.headers};
  absl::StatusOr<std::string> canonical = CanonicalRequest(
      view, SignedHeadersOf(authz), Sha256Hex(request.body), CanonicalOptions{.s3_path = false});
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  EXPECT_EQ(*canonical, creq);
  EXPECT_EQ(StringToSign(kSuiteDate, scope, *canonical), sts);

  // The signer, given the request without its signature, writes the same Authorization.
  Headers signed_headers = request.headers;
  SignOptions options;
  options.service = "service";
  options.now = At(kSuiteDate);
  options.payload_hash = Sha256Hex(request.body);
  options.canonical.s3_path = false;
  ASSERT_TRUE(SignRequest(request.method, request.target, signed_headers,
                          Credentials{std::string(kSuiteKeyId), std::string(kSuiteSecret), ""},
                          options)
                  .ok());
  if (GetParam() != "post-sts-header-after") {
    EXPECT_EQ(signed_headers.back().second, authz);
  }

  // The verifier accepts the published Authorization (post-sts-header-after adds the token
  // after signing, which leaves the signature valid).
  Headers sent = request.headers;
  if (GetParam() == "post-sts-header-after") {
    sent.emplace_back("X-Amz-Security-Token", "AQoDYXdzEPT//////////wEXAMPLE");
  }
  sent.emplace_back("Authorization", authz);
  const std::string body_sha = Sha256Hex(request.body);
  const RequestView sent_view{request.method, request.target, &sent, body_sha};
  absl::StatusOr<VerifiedRequest> verified =
      VerifyRequest(sent_view, OneKey(std::string(kSuiteKeyId), std::string(kSuiteSecret)),
                    At(kSuiteDate), VerifyOptions{.service = "service"});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->access_key_id, kSuiteKeyId);
  EXPECT_EQ(verified->scope.service, "service");
  EXPECT_EQ(verified->payload_mode, PayloadMode::kSignedHex);
  EXPECT_EQ(verified->payload_sha256_hex, body_sha);

  // And refuses it for another body or under another secret.
  const std::string other_sha = Sha256Hex("x");
  const RequestView other_body{request.method, request.target, &sent, other_sha};
  EXPECT_EQ(
      CodeOf(VerifyRequest(other_body, OneKey(std::string(kSuiteKeyId), std::string(kSuiteSecret)),
                           At(kSuiteDate), VerifyOptions{.service = "service"})
                 .status()),
      "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(VerifyRequest(sent_view, OneKey(std::string(kSuiteKeyId), "other"),
                                 At(kSuiteDate), VerifyOptions{.service = "service"})
                       .status()),
            "SignatureDoesNotMatch");
}

INSTANTIATE_TEST_SUITE_P(AwsSuite, SigV4SuiteTest, testing::ValuesIn(SuiteCases()),
                         [](const testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(SigV4SuiteTest, HasTheCases) { EXPECT_GE(SuiteCases().size(), 30u); }

// --- The S3 documentation's examples -------------------------------------------------------

constexpr std::string_view kS3KeyId = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kS3Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kS3Date = "20130524T000000Z";
constexpr std::string_view kS3Host = "examplebucket.s3.amazonaws.com";

const Credentials kS3Credentials{std::string(kS3KeyId), std::string(kS3Secret), ""};

std::string S3Authorization(std::string_view signed_headers, std::string_view signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
         "SignedHeaders=" +
         std::string(signed_headers) + ",Signature=" + std::string(signature);
}

absl::StatusOr<VerifiedRequest> VerifyS3(std::string_view method, std::string_view target,
                                         const Headers& headers, TimePoint now,
                                         VerifyOptions options = {}) {
  return VerifyRequest(RequestView{method, target, &headers},
                       OneKey(std::string(kS3KeyId), std::string(kS3Secret)), now, options);
}

struct S3Example {
  std::string name;
  std::string method;
  std::string target;
  Headers headers;  // without x-amz-date, x-amz-content-sha256 and Authorization
  std::string payload_hash;
  std::string signed_headers;
  std::string signature;
};

std::vector<S3Example> S3Examples() {
  return {
      {"GetObject",
       "GET",
       "/test.txt",
       {{"Host", std::string(kS3Host)}, {"Range", "bytes=0-9"}},
       std::string(kEmptySha256),
       "host;range;x-amz-content-sha256;x-amz-date",
       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
      {"PutObject",
       "PUT",
       "/test%24file.text",
       {{"Host", std::string(kS3Host)},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
       Sha256Hex("Welcome to Amazon S3."),
       "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
       "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
      {"GetBucketLifecycle",
       "GET",
       "/?lifecycle",
       {{"Host", std::string(kS3Host)}},
       std::string(kEmptySha256),
       "host;x-amz-content-sha256;x-amz-date",
       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
      {"ListObjects",
       "GET",
       "/?max-keys=2&prefix=J",
       {{"Host", std::string(kS3Host)}},
       std::string(kEmptySha256),
       "host;x-amz-content-sha256;x-amz-date",
       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
  };
}

Headers WithSignature(const S3Example& example, std::string_view authorization) {
  Headers headers = example.headers;
  headers.emplace_back("x-amz-content-sha256", example.payload_hash);
  headers.emplace_back("x-amz-date", std::string(kS3Date));
  headers.emplace_back("Authorization", std::string(authorization));
  return headers;
}

TEST(SigV4S3ExamplesTest, SignerReproducesTheDocumentedSignatures) {
  for (const S3Example& example : S3Examples()) {
    SCOPED_TRACE(example.name);
    Headers headers = example.headers;
    SignOptions options;
    options.now = At(kS3Date);
    options.payload_hash = example.payload_hash;
    ASSERT_TRUE(SignRequest(example.method, example.target, headers, kS3Credentials, options).ok());
    EXPECT_EQ(headers.back().first, "Authorization");
    EXPECT_EQ(headers.back().second,
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
              "aws4_request, SignedHeaders=" +
                  example.signed_headers + ", Signature=" + example.signature);
  }
}

TEST(SigV4S3ExamplesTest, VerifierAcceptsTheDocumentedRequests) {
  for (const S3Example& example : S3Examples()) {
    SCOPED_TRACE(example.name);
    const Headers headers =
        WithSignature(example, S3Authorization(example.signed_headers, example.signature));
    absl::StatusOr<VerifiedRequest> verified =
        VerifyS3(example.method, example.target, headers, At(kS3Date) + minutes(3));
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->access_key_id, kS3KeyId);
    EXPECT_EQ(verified->scope.ToString(), "20130524/us-east-1/s3/aws4_request");
    EXPECT_EQ(verified->amz_date, kS3Date);
    EXPECT_EQ(verified->signed_at, At(kS3Date));
    EXPECT_EQ(verified->signature, example.signature);
    EXPECT_EQ(verified->payload_mode, PayloadMode::kSignedHex);
    EXPECT_EQ(verified->payload_sha256_hex, example.payload_hash);
    EXPECT_FALSE(verified->presigned);
    EXPECT_EQ(verified->valid_until, At(kS3Date) + minutes(15));
    EXPECT_EQ(verified->signing_key, DeriveSigningKey(kS3Secret, {"20130524", "us-east-1", "s3"}));
  }
}

TEST(SigV4S3ExamplesTest, AuthorizationSpacingVariantsAreAccepted) {
  const S3Example example = S3Examples()[0];
  const std::string credential =
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
  const std::string signed_headers = "SignedHeaders=" + example.signed_headers;
  const std::string signature = "Signature=" + example.signature;
  for (const std::string& authorization : {
           "AWS4-HMAC-SHA256 " + credential + "," + signed_headers + "," + signature,
           "AWS4-HMAC-SHA256 " + credential + ", " + signed_headers + ", " + signature,
           "AWS4-HMAC-SHA256  " + credential + " ,  " + signed_headers + " , " + signature + " ",
           "AWS4-HMAC-SHA256 " + signature + "," + credential + "," + signed_headers,
       }) {
    SCOPED_TRACE(authorization);
    EXPECT_TRUE(
        VerifyS3(example.method, example.target, WithSignature(example, authorization), At(kS3Date))
            .ok());
  }
}

TEST(SigV4S3ExamplesTest, PresignedUrlMatchesTheDocumentedExample) {
  const Headers headers = {{"Host", std::string(kS3Host)}};
  SignOptions options;
  options.now = At(kS3Date);
  absl::StatusOr<std::string> target =
      PresignTarget("GET", "/test.txt", headers, kS3Credentials, options, seconds(86400));
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(*target,
            "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%"
            "2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-"
            "Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");

  absl::StatusOr<VerifiedRequest> verified = VerifyS3("GET", *target, headers, At(kS3Date));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->presigned);
  EXPECT_EQ(verified->payload_mode, PayloadMode::kUnsigned);
  EXPECT_EQ(verified->valid_until, At(kS3Date) + seconds(86400));
  EXPECT_TRUE(VerifyS3("GET", *target, headers, At(kS3Date) + seconds(86400)).ok());

  const absl::Status expired =
      VerifyS3("GET", *target, headers, At(kS3Date) + seconds(86401)).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(expired), "AccessDenied");
  EXPECT_THAT(std::string(expired.message()), testing::HasSubstr("Request has expired"));

  // Dated beyond the allowed skew in the future: not valid yet.
  const absl::Status early =
      VerifyS3("GET", *target, headers, At(kS3Date) - minutes(15) - seconds(1)).status();
  EXPECT_EQ(CodeOf(early), "AccessDenied");
  EXPECT_TRUE(VerifyS3("GET", *target, headers, At(kS3Date) - minutes(15)).ok());
}

TEST(SigV4S3ExamplesTest, StreamingSeedSignaturesVerify) {
  const Headers streaming = {
      {"Host", "s3.amazonaws.com"},
      {"x-amz-date", std::string(kS3Date)},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"Authorization",
       S3Authorization("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                       "x-amz-decoded-content-length;x-amz-storage-class",
                       "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")},
      {"x-amz-content-sha256", std::string(kStreamingSignedPayload)},
      {"Content-Encoding", "aws-chunked"},
      {"x-amz-decoded-content-length", "66560"},
      {"Content-Length", "66824"},
  };
  absl::StatusOr<VerifiedRequest> verified =
      VerifyS3("PUT", "/examplebucket/chunkObject.txt", streaming, At(kS3Date));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->payload_mode, PayloadMode::kStreamingSigned);
  EXPECT_EQ(verified->signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");

  const Headers trailer = {
      {"Host", "s3.amazonaws.com"},
      {"x-amz-date", std::string(kS3Date)},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"Authorization",
       S3Authorization("content-encoding;host;x-amz-content-sha256;x-amz-date;"
                       "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
                       "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")},
      {"x-amz-content-sha256", std::string(kStreamingSignedTrailerPayload)},
      {"Content-Encoding", "aws-chunked"},
      {"x-amz-decoded-content-length", "66560"},
      {"x-amz-trailer", "x-amz-checksum-crc32c"},
  };
  verified = VerifyS3("PUT", "/examplebucket/chunkObject.txt", trailer, At(kS3Date));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->payload_mode, PayloadMode::kStreamingSignedTrailer);
}

TEST(SigV4S3ExamplesTest, DateHeaderStandsInForXAmzDate) {
  Headers headers = {{"Host", std::string(kS3Host)},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-content-sha256", std::string(kEmptySha256)}};
  const std::string signed_headers = "date;host;x-amz-content-sha256";
  const CredentialScope scope{"20130524", "us-east-1", "s3"};
  absl::StatusOr<std::string> canonical =
      CanonicalRequest(RequestView{"GET", "/test.txt", &headers}, signed_headers, kEmptySha256);
  ASSERT_TRUE(canonical.ok());
  const std::string signature =
      Signature(DeriveSigningKey(kS3Secret, scope), StringToSign(kS3Date, scope, *canonical));
  headers.emplace_back("Authorization", S3Authorization(signed_headers, signature));
  absl::StatusOr<VerifiedRequest> verified =
      VerifyS3("GET", "/test.txt", headers, At(kS3Date) + minutes(1));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->amz_date, kS3Date);
}

// --- Verifier negatives ---------------------------------------------------------------------

class SigV4VerifyTest : public testing::Test {
 protected:
  // The GET Object example, signed by our signer at kS3Date.
  Headers Signed(std::string_view method, std::string_view target, Headers headers,
                 std::string payload_hash = std::string(kEmptySha256)) {
    SignOptions options;
    options.now = At(kS3Date);
    options.payload_hash = std::move(payload_hash);
    EXPECT_TRUE(SignRequest(method, target, headers, kS3Credentials, options).ok());
    return headers;
  }
  Headers GetObject() {
    return Signed("GET", "/test.txt", {{"Host", std::string(kS3Host)}, {"Range", "bytes=0-9"}});
  }
  static void Set(Headers& headers, std::string_view name, std::string value) {
    for (auto& [key, old] : headers) {
      if (EqualsName(key, name)) old = std::move(value);
    }
  }
  static void Remove(Headers& headers, std::string_view name) {
    std::erase_if(headers, [&](const auto& h) { return EqualsName(h.first, name); });
  }
  static bool EqualsName(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](char x, char y) { return std::tolower(x) == std::tolower(y); });
  }
  static std::string Authorization(const Headers& headers) {
    for (const auto& [key, value] : headers) {
      if (EqualsName(key, "authorization")) return value;
    }
    return "";
  }
};

TEST_F(SigV4VerifyTest, AcceptsOwnSignature) {
  EXPECT_TRUE(VerifyS3("GET", "/test.txt", GetObject(), At(kS3Date)).ok());
}

TEST_F(SigV4VerifyTest, WrongSecretIsSignatureDoesNotMatch) {
  const Headers headers = GetObject();
  const absl::Status status =
      VerifyRequest(RequestView{"GET", "/test.txt", &headers},
                    OneKey(std::string(kS3KeyId), "not-the-secret"), At(kS3Date))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(status), "SignatureDoesNotMatch");
}

TEST_F(SigV4VerifyTest, UnknownKeyIsInvalidAccessKeyId) {
  const Headers headers = GetObject();
  const absl::Status status =
      VerifyRequest(RequestView{"GET", "/test.txt", &headers}, OneKey("OTHERKEY", "x"), At(kS3Date))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(status), "InvalidAccessKeyId");
}

TEST_F(SigV4VerifyTest, OtherLookupErrorsPassThrough) {
  const Headers headers = GetObject();
  const absl::Status status = VerifyRequest(
                                  RequestView{"GET", "/test.txt", &headers},
                                  [](std::string_view) -> absl::StatusOr<std::string> {
                                    return absl::UnavailableError("key store down");
                                  },
                                  At(kS3Date))
                                  .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(AwsErrorCode(status).has_value());
}

TEST_F(SigV4VerifyTest, TamperedRequestIsSignatureDoesNotMatch) {
  Headers tampered_header = GetObject();
  Set(tampered_header, "range", "bytes=0-99");
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", tampered_header, At(kS3Date)).status()),
            "SignatureDoesNotMatch");

  const Headers headers = GetObject();
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt2", headers, At(kS3Date)).status()),
            "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(VerifyS3("PUT", "/test.txt", headers, At(kS3Date)).status()),
            "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt?x=1", headers, At(kS3Date)).status()),
            "SignatureDoesNotMatch");

  const Headers list = Signed("GET", "/?max-keys=2&prefix=J", {{"Host", std::string(kS3Host)}});
  EXPECT_TRUE(VerifyS3("GET", "/?prefix=J&max-keys=2", list, At(kS3Date)).ok());
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/?max-keys=2&prefix=K", list, At(kS3Date)).status()),
            "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/?max-keys=2&prefix=J&prefix=J", list, At(kS3Date)).status()),
            "SignatureDoesNotMatch");

  Headers tampered_signature = GetObject();
  std::string authorization = Authorization(tampered_signature);
  authorization.back() = authorization.back() == '0' ? '1' : '0';
  Set(tampered_signature, "authorization", authorization);
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", tampered_signature, At(kS3Date)).status()),
            "SignatureDoesNotMatch");

  Headers tampered_payload = GetObject();
  Set(tampered_payload, "x-amz-content-sha256", Sha256Hex("other"));
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", tampered_payload, At(kS3Date)).status()),
            "SignatureDoesNotMatch");
}

TEST_F(SigV4VerifyTest, ClockSkewOfFifteenMinutesIsTheLimit) {
  const Headers headers = GetObject();
  const TimePoint signed_at = At(kS3Date);
  for (const seconds offset : {minutes(14) + seconds(59), seconds(minutes(15))}) {
    EXPECT_TRUE(VerifyS3("GET", "/test.txt", headers, signed_at + offset).ok());
    EXPECT_TRUE(VerifyS3("GET", "/test.txt", headers, signed_at - offset).ok());
  }
  for (const seconds offset :
       {minutes(15) + seconds(1), minutes(15) + seconds(60), seconds(minutes(600))}) {
    const absl::Status late = VerifyS3("GET", "/test.txt", headers, signed_at + offset).status();
    EXPECT_EQ(late.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(CodeOf(late), "RequestTimeTooSkewed");
    EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", headers, signed_at - offset).status()),
              "RequestTimeTooSkewed");
  }
  VerifyOptions strict;
  strict.max_clock_skew = minutes(5);
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", headers, signed_at + minutes(6), strict).status()),
            "RequestTimeTooSkewed");
}

TEST_F(SigV4VerifyTest, MissingHostInSignedHeadersIsMalformed) {
  Headers headers = {{"Range", "bytes=0-9"},
                     {"x-amz-content-sha256", std::string(kEmptySha256)},
                     {"x-amz-date", std::string(kS3Date)},
                     {"Host", std::string(kS3Host)}};
  const std::string signed_headers = "range;x-amz-content-sha256;x-amz-date";
  const CredentialScope scope{"20130524", "us-east-1", "s3"};
  absl::StatusOr<std::string> canonical =
      CanonicalRequest(RequestView{"GET", "/test.txt", &headers}, signed_headers, kEmptySha256);
  ASSERT_TRUE(canonical.ok());
  headers.emplace_back(
      "Authorization",
      S3Authorization(signed_headers, Signature(DeriveSigningKey(kS3Secret, scope),
                                                StringToSign(kS3Date, scope, *canonical))));
  const absl::Status status = VerifyS3("GET", "/test.txt", headers, At(kS3Date)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(status), "AuthorizationHeaderMalformed");
}

TEST_F(SigV4VerifyTest, MalformedAuthorizationHeadersAreRefused) {
  const std::string scope = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
  const std::string signature = std::string(64, 'a');
  const std::string good_rest =
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=" + signature;
  for (const std::string& authorization : {
           std::string("AWS4-HMAC-SHA256"),
           std::string("AWS4-HMAC-SHA256 "),
           std::string("AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="),
           std::string("AWS4-ECDSA-P256-SHA256 Credential=") + scope + "," + good_rest,
           "AWS4-HMAC-SHA256Credential=" + scope + "," + good_rest,
           "AWS4-HMAC-SHA256 Credential=" + scope + ",SignedHeaders=host;range",
           "AWS4-HMAC-SHA256 Credential=" + scope + ",Signature=" + signature,
           "AWS4-HMAC-SHA256 " + good_rest,
           "AWS4-HMAC-SHA256 Credential=" + scope + "," + good_rest + ",Extra=1",
           "AWS4-HMAC-SHA256 Credential=" + scope + ",Credential=" + scope + "," + good_rest,
           "AWS4-HMAC-SHA256 Credential=" + scope + "," + good_rest + ",Signature",
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3," + good_rest,
           "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request," + good_rest,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws5_request," +
               good_rest,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request," +
               good_rest,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/aws4_request," +
               good_rest,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524//s3/aws4_request," +
               good_rest,
           "AWS4-HMAC-SHA256 Credential=" + scope +
               ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=xyz",
           "AWS4-HMAC-SHA256 Credential=" + scope +
               ",SignedHeaders=range;host;x-amz-content-sha256;x-amz-date,Signature=" + signature,
           "AWS4-HMAC-SHA256 Credential=" + scope +
               ",SignedHeaders=host;host;range;x-amz-date,Signature=" + signature,
           "AWS4-HMAC-SHA256 Credential=" + scope +
               ",SignedHeaders=Host;range;x-amz-date,Signature=" + signature,
           "AWS4-HMAC-SHA256 Credential=" + scope +
               ",SignedHeaders=host;;range,Signature=" + signature,
           "AWS4-HMAC-SHA256 Credential=" + scope +
               ",SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-missing,Signature=" +
               signature,
       }) {
    SCOPED_TRACE(authorization);
    Headers headers = GetObject();
    Set(headers, "authorization", authorization);
    const absl::Status status = VerifyS3("GET", "/test.txt", headers, At(kS3Date)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_EQ(CodeOf(status), "AuthorizationHeaderMalformed") << status;
  }
}

TEST_F(SigV4VerifyTest, RequestWithoutCredentialsIsAccessDenied) {
  const Headers headers = {{"Host", std::string(kS3Host)}};
  const absl::Status status = VerifyS3("GET", "/test.txt", headers, At(kS3Date)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeOf(status), "AccessDenied");
}

TEST_F(SigV4VerifyTest, HeaderAndQueryCredentialsTogetherAreRefused) {
  const Headers headers = GetObject();
  const absl::Status status =
      VerifyS3("GET", "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256", headers, At(kS3Date)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(status), "InvalidArgument");
}

TEST_F(SigV4VerifyTest, TwoAuthorizationHeadersAreRefused) {
  Headers headers = GetObject();
  headers.emplace_back("authorization", Authorization(headers));
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", headers, At(kS3Date)).status()),
            "AuthorizationHeaderMalformed");
}

TEST_F(SigV4VerifyTest, ContentSha256IsRequiredForS3AndMustBeValid) {
  Headers missing = GetObject();
  Remove(missing, "x-amz-content-sha256");
  const absl::Status status = VerifyS3("GET", "/test.txt", missing, At(kS3Date)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(status), "MissingSecurityHeader");

  for (const std::string value : {"abc", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", ""}) {
    Headers bad = Signed("PUT", "/x", {{"Host", std::string(kS3Host)}}, value);
    const absl::Status bad_status = VerifyS3("PUT", "/x", bad, At(kS3Date)).status();
    EXPECT_EQ(bad_status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(CodeOf(bad_status), "InvalidArgument");
  }
}

TEST_F(SigV4VerifyTest, PayloadModesFollowContentSha256) {
  const std::pair<std::string_view, PayloadMode> modes[] = {
      {kUnsignedPayload, PayloadMode::kUnsigned},
      {kStreamingSignedPayload, PayloadMode::kStreamingSigned},
      {kStreamingSignedTrailerPayload, PayloadMode::kStreamingSignedTrailer},
      {kStreamingUnsignedTrailerPayload, PayloadMode::kStreamingUnsignedTrailer},
  };
  for (const auto& [value, mode] : modes) {
    const Headers headers = Signed("PUT", "/k", {{"Host", "h"}}, std::string(value));
    absl::StatusOr<VerifiedRequest> verified = VerifyS3("PUT", "/k", headers, At(kS3Date));
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->payload_mode, mode);
    EXPECT_TRUE(verified->payload_sha256_hex.empty());
  }
  // An upper-case digest is signed as sent and reported in lower case.
  const std::string upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
  absl::StatusOr<VerifiedRequest> verified =
      VerifyS3("PUT", "/k", Signed("PUT", "/k", {{"Host", "h"}}, upper), At(kS3Date));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->payload_sha256_hex, kEmptySha256);
}

TEST_F(SigV4VerifyTest, MissingOrBadDateIsAccessDenied) {
  Headers missing = GetObject();
  Remove(missing, "x-amz-date");
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", missing, At(kS3Date)).status()), "AccessDenied");
  Headers bad = GetObject();
  Set(bad, "x-amz-date", "2013-05-24T00:00:00Z");
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", bad, At(kS3Date)).status()), "AccessDenied");
}

TEST_F(SigV4VerifyTest, SignedHeaderMissingFromRequestIsMalformed) {
  Headers headers = GetObject();
  Remove(headers, "range");
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/test.txt", headers, At(kS3Date)).status()),
            "AuthorizationHeaderMalformed");
}

TEST_F(SigV4VerifyTest, RoundTripsAssortedTargets) {
  const std::string targets[] = {
      "/",
      "/bucket/key",
      "/bucket/a%20b%2Bc%2Fd~e",
      "/bucket/%E2%82%AC/%7Eweird",
      "/bucket?uploads",
      "/bucket/key?uploadId=abc&partNumber=3",
      "/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F&continuation-token=x%3D%3D",
      "/bucket?a=2&a=1&a&b=",
      "/bucket?z=%7e&y=+&x=%25",
      "/bucket?&&a=1&",
  };
  for (const std::string& target : targets) {
    SCOPED_TRACE(target);
    Headers headers =
        Signed("GET", target, {{"Host", "s3.local:9000"}, {"X-Amz-Meta-Note", "  a \t b  "}});
    EXPECT_TRUE(VerifyS3("GET", target, headers, At(kS3Date)).ok());
  }
}

TEST_F(SigV4VerifyTest, SessionTokenIsSignedInHeaderAndQuery) {
  const Credentials with_token{std::string(kS3KeyId), std::string(kS3Secret), "TOKEN/+="};
  Headers headers = {{"Host", std::string(kS3Host)}};
  SignOptions options;
  options.now = At(kS3Date);
  ASSERT_TRUE(SignRequest("GET", "/k", headers, with_token, options).ok());
  EXPECT_THAT(Authorization(headers), testing::HasSubstr("x-amz-security-token"));
  EXPECT_TRUE(VerifyS3("GET", "/k", headers, At(kS3Date)).ok());
  Set(headers, "x-amz-security-token", "OTHER");
  EXPECT_EQ(CodeOf(VerifyS3("GET", "/k", headers, At(kS3Date)).status()), "SignatureDoesNotMatch");

  const Headers host = {{"Host", std::string(kS3Host)}};
  absl::StatusOr<std::string> target =
      PresignTarget("GET", "/k?versionId=3", host, with_token, options, seconds(60));
  ASSERT_TRUE(target.ok());
  EXPECT_THAT(*target, testing::HasSubstr("&X-Amz-Security-Token=TOKEN%2F%2B%3D&"));
  EXPECT_TRUE(VerifyS3("GET", *target, host, At(kS3Date)).ok());
}

// --- Presigned negatives ---------------------------------------------------------------------

class SigV4PresignTest : public SigV4VerifyTest {
 protected:
  std::string Presigned(std::chrono::seconds expires = seconds(3600)) {
    SignOptions options;
    options.now = At(kS3Date);
    absl::StatusOr<std::string> target =
        PresignTarget("GET", "/test.txt", host_, kS3Credentials, options, expires);
    EXPECT_TRUE(target.ok()) << target.status();
    return target.value_or("");
  }
  static std::string Replace(std::string text, std::string_view from, std::string_view to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  }
  absl::Status Verify(std::string_view target, TimePoint now = At(kS3Date)) {
    return VerifyS3("GET", target, host_, now).status();
  }
  Headers host_ = {{"Host", std::string(kS3Host)}};
};

TEST_F(SigV4PresignTest, ExpiresOverAWeekIsInvalidArgument) {
  const std::string target = Presigned();
  const absl::Status status = Verify(Replace(target, "X-Amz-Expires=3600", "X-Amz-Expires=604801"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(status), "InvalidArgument");
  // 604800 itself is allowed (and then fails only on the signature, which covered 3600).
  EXPECT_EQ(CodeOf(Verify(Replace(target, "X-Amz-Expires=3600", "X-Amz-Expires=604800"))),
            "SignatureDoesNotMatch");
  EXPECT_TRUE(Verify(Presigned(seconds(604800)), At(kS3Date) + seconds(604800)).ok());

  SignOptions options;
  options.now = At(kS3Date);
  EXPECT_FALSE(PresignTarget("GET", "/k", host_, kS3Credentials, options, seconds(604801)).ok());
  EXPECT_FALSE(PresignTarget("GET", "/k", host_, kS3Credentials, options, seconds(0)).ok());
}

// The verifier reads a presigned request's payload hash from X-Amz-Content-Sha256 in the
// query, so the signer refuses a target that already has one (found by fuzzing: an empty one
// made a URL that did not verify).
TEST_F(SigV4PresignTest, PresignRefusesATargetCarryingAPayloadHash) {
  SignOptions options;
  options.now = At(kS3Date);
  EXPECT_FALSE(
      PresignTarget("GET", "/k?a&X-Amz-Content-Sha256", host_, kS3Credentials, options, seconds(60))
          .ok());
  EXPECT_TRUE(PresignTarget("GET", "/k?a&b", host_, kS3Credentials, options, seconds(60)).ok());
}

TEST_F(SigV4PresignTest, MalformedParametersAreAuthorizationQueryParametersError) {
  const std::string target = Presigned();
  for (const std::string& bad : {
           Replace(target, "X-Amz-Expires=3600", "X-Amz-Expires=0"),
           Replace(target, "X-Amz-Expires=3600", "X-Amz-Expires=-5"),
           Replace(target, "X-Amz-Expires=3600", "X-Amz-Expires=1h"),
           Replace(target, "X-Amz-Expires=3600", "X-Amz-Expires="),
           Replace(target, "X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"),
           Replace(target, "&X-Amz-Date=20130524T000000Z", ""),
           Replace(target, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130524"),
           Replace(target, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130525T000000Z"),
           Replace(target, "%2Fs3%2F", "%2Fsqs%2F"),
           Replace(target, "&X-Amz-SignedHeaders=host", ""),
           Replace(target, "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date"),
           Replace(target, "X-Amz-Signature=", "X-Amz-Signature=zz"),
           target.substr(0, target.find("&X-Amz-Signature=")),
           target + "&X-Amz-Signature=" + std::string(64, 'a'),
           Replace(target, "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F", "X-Amz-Credential="),
       }) {
    SCOPED_TRACE(bad);
    const absl::Status status = Verify(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_EQ(CodeOf(status), "AuthorizationQueryParametersError") << status;
  }
}

TEST_F(SigV4PresignTest, TamperedPresignedUrlIsSignatureDoesNotMatch) {
  const std::string target = Presigned();
  EXPECT_TRUE(Verify(target).ok());
  EXPECT_EQ(CodeOf(Verify(Replace(target, "/test.txt", "/test.txu"))), "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(Verify(target + "&response-content-type=text%2Fhtml")), "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(VerifyS3("GET", target, {{"Host", "evil.example"}}, At(kS3Date)).status()),
            "SignatureDoesNotMatch");
  EXPECT_EQ(CodeOf(VerifyS3("PUT", target, host_, At(kS3Date)).status()), "SignatureDoesNotMatch");
  // Reordering the parameters changes nothing.
  const size_t q = target.find('?');
  std::string reordered = target.substr(0, q + 1) + target.substr(target.find("X-Amz-Date")) + "&" +
                          target.substr(q + 1, target.find("&X-Amz-Date") - q - 1);
  EXPECT_TRUE(Verify(reordered).ok()) << reordered;
}

TEST_F(SigV4PresignTest, SignsEveryGivenHeaderAndAContentSha256) {
  const Headers headers = {{"Host", std::string(kS3Host)},
                           {"x-amz-content-sha256", Sha256Hex("body")},
                           {"Content-Type", "text/plain"}};
  SignOptions options;
  options.now = At(kS3Date);
  absl::StatusOr<std::string> target =
      PresignTarget("PUT", "/k", headers, kS3Credentials, options, seconds(60));
  ASSERT_TRUE(target.ok());
  EXPECT_THAT(*target,
              testing::HasSubstr("X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-content-sha256"));
  absl::StatusOr<VerifiedRequest> verified = VerifyS3("PUT", *target, headers, At(kS3Date));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->payload_mode, PayloadMode::kSignedHex);
  EXPECT_EQ(verified->payload_sha256_hex, Sha256Hex("body"));
}

// --- Canonicalization details ----------------------------------------------------------------

std::string CanonicalQueryOf(std::string_view target, bool s3 = true) {
  const Headers headers = {{"host", "h"}};
  absl::StatusOr<std::string> canonical = CanonicalRequest(
      RequestView{"GET", target, &headers}, "host", "UNSIGNED-PAYLOAD", {.s3_path = s3});
  EXPECT_TRUE(canonical.ok()) << canonical.status();
  const std::string text = canonical.value_or("\n\n\n");
  const size_t first = text.find('\n');
  const size_t second = text.find('\n', first + 1);
  const size_t third = text.find('\n', second + 1);
  return text.substr(first + 1, second - first - 1) + " " +
         text.substr(second + 1, third - second - 1);
}

TEST(SigV4CanonicalTest, QueryIsDecodedReencodedAndSorted) {
  EXPECT_EQ(CanonicalQueryOf("/b?uploads"), "/b uploads=");
  EXPECT_EQ(CanonicalQueryOf("/b?uploads="), "/b uploads=");
  EXPECT_EQ(CanonicalQueryOf("/b?b=2&a=2&a=1&A=3"), "/b A=3&a=1&a=2&b=2");
  EXPECT_EQ(CanonicalQueryOf("/b?k=%7e%2f%20+*"), "/b k=~%2F%20%2B%2A");
  EXPECT_EQ(CanonicalQueryOf("/b?k=a/b&%E2%82%AC=v"), "/b %E2%82%AC=v&k=a%2Fb");
  EXPECT_EQ(CanonicalQueryOf("/b?&&x=1&"), "/b x=1");
  EXPECT_EQ(CanonicalQueryOf("/b?x=1&X-Amz-Signature=abc"), "/b x=1");
  EXPECT_EQ(CanonicalQueryOf("/b?a=b=c"), "/b a=b%3Dc");
  EXPECT_EQ(CanonicalQueryOf(""), "/ ");
  EXPECT_EQ(CanonicalQueryOf("?x"), "/ x=");
}

TEST(SigV4CanonicalTest, S3PathIsKeptAsSentOthersAreNormalizedAndEncodedTwice) {
  EXPECT_EQ(CanonicalQueryOf("/a//b/./c/../%7E%2F d"), "/a//b/./c/../%7E%2F d ");
  EXPECT_EQ(CanonicalQueryOf("/a//b/./c/../%7E%2F", false), "/a/b/%257E%252F ");
  EXPECT_EQ(CanonicalQueryOf("/..", false), "/ ");
  EXPECT_EQ(CanonicalQueryOf("/a/", false), "/a/ ");
}

TEST(SigV4CanonicalTest, MalformedEscapeOrMissingHeaderIsInvalidArgument) {
  const Headers headers = {{"host", "h"}};
  EXPECT_EQ(CanonicalRequest(RequestView{"GET", "/?a=%zz", &headers}, "host", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalRequest(RequestView{"GET", "/?a=%4", &headers}, "host", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalRequest(RequestView{"GET", "/", &headers}, "host;range", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SigV4CanonicalTest, HeaderValuesAreTrimmedCollapsedAndJoined) {
  const Headers headers = {{"Host", "h"}, {"X-A", "  one   two\t\tthree  "}, {"x-a", "four"}};
  absl::StatusOr<std::string> canonical =
      CanonicalRequest(RequestView{"GET", "/", &headers}, "host;x-a", "p");
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(*canonical, "GET\n/\n\nhost:h\nx-a:one two three,four\n\nhost;x-a\np");
}

TEST(SigV4EncodingTest, UriEncode) {
  EXPECT_EQ(UriEncode("AZaz09-._~", true), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b/c+d*e%", true), "a%20b%2Fc%2Bd%2Ae%25");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b/c");
  EXPECT_EQ(UriEncode("\xe2\x82\xac", true), "%E2%82%AC");
  EXPECT_EQ(UriEncode(std::string_view("\0", 1), true), "%00");
}

TEST(SigV4EncodingTest, AmzDateRoundTripsAndRejectsNonsense) {
  const TimePoint t = At("20150830T123600Z");
  EXPECT_EQ(FormatAmzDate(t), "20150830T123600Z");
  EXPECT_EQ(FormatAmzDate(t + std::chrono::milliseconds(999)), "20150830T123600Z");
  EXPECT_EQ(FormatAmzDate(TimePoint{}), "19700101T000000Z");
  EXPECT_EQ(FormatAmzDate(At("20240229T235959Z")), "20240229T235959Z");
  for (const std::string_view bad :
       {"", "20150830T123600", "20150830 123600Z", "2015083OT123600Z", "20150230T000000Z",
        "20150830T240000Z", "20150830T126000Z", "20151330T000000Z", "20150830T123600ZZ",
        "42020102T030405Z", "18991231T235959Z", "+0150830T123600Z"}) {
    EXPECT_FALSE(ParseAmzDate(bad).ok()) << bad;
  }
}

TEST(SigV4EncodingTest, SigningKeyMatchesTheIamExample) {
  // IAM's documented derivation example (secret wJalr...EXAMPLEKEY, 20120215/us-east-1/iam).
  const SigningKey key = DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                          {"20120215", "us-east-1", "iam"});
  EXPECT_EQ(HexEncode(std::string_view(reinterpret_cast<const char*>(key.data()), key.size())),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4SignerTest, RequiresHostAndSignableNames) {
  SignOptions options;
  options.now = At(kS3Date);
  Headers no_host = {{"Range", "bytes=0-1"}};
  EXPECT_EQ(SignRequest("GET", "/", no_host, kS3Credentials, options).code(),
            absl::StatusCode::kInvalidArgument);
  Headers bad_name = {{"Host", "h"}, {"a;b", "x"}};
  EXPECT_EQ(SignRequest("GET", "/", bad_name, kS3Credentials, options).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(PresignTarget("GET", "/", no_host, kS3Credentials, options, seconds(5)).ok());
}

TEST(SigV4SignerTest, ReplacesEarlierSignatureHeaders) {
  SignOptions options;
  options.now = At(kS3Date);
  Headers headers = {{"Host", "h"},
                     {"X-Amz-Date", "20000101T000000Z"},
                     {"authorization", "stale"},
                     {"X-AMZ-CONTENT-SHA256", "stale"}};
  ASSERT_TRUE(SignRequest("GET", "/", headers, kS3Credentials, options).ok());
  EXPECT_EQ(headers.size(), 4u);
  EXPECT_TRUE(VerifyS3("GET", "/", headers, At(kS3Date)).ok());
  ASSERT_TRUE(SignRequest("GET", "/", headers, kS3Credentials, options).ok());
  EXPECT_EQ(headers.size(), 4u);
  EXPECT_TRUE(VerifyS3("GET", "/", headers, At(kS3Date)).ok());
}

}  // namespace
}  // namespace stockwatch::aws
