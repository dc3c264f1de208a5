// The S3 router in process: signed requests (our signer; the real-client tests in
// tests/integration/test_s3.py sign with botocore, s3cmd, rclone and the JS SDK) against
// the in-memory adapters.

#include "server/s3_api/s3_router.h"

#include <algorithm>
#include <string>
#include <vector>

#include "adapters/memory/in_memory_access_key_store.h"
#include "adapters/memory/in_memory_object_store.h"
#include "aws/checksums.h"
#include "aws/sigv4.h"
#include "base/work_signal.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::server::s3_api {
namespace {

using ::testing::HasSubstr;

// A body served from memory, in pieces of at most `step` bytes.
class StringBody final : public BodyReader {
 public:
  explicit StringBody(std::string data, bool chunked = false, size_t step = 7000)
      : data_(std::move(data)), chunked_(chunked), step_(step) {}
  absl::StatusOr<size_t> Read(std::span<char> buffer, uint64_t limit) override {
    size_t n = std::min({buffer.size(), data_.size() - offset_, step_});
    if (offset_ + n > limit) return absl::ResourceExhaustedError("too large");
    std::copy_n(data_.data() + offset_, n, buffer.data());
    offset_ += n;
    return n;
  }
  std::optional<uint64_t> content_length() const override {
    if (chunked_) return std::nullopt;
    return data_.size();
  }

 private:
  std::string data_;
  bool chunked_;
  size_t step_;
  size_t offset_ = 0;
};

class ManualClock final : public core::Clock {
 public:
  core::TimePoint Now() override { return now; }
  std::chrono::steady_clock::time_point Monotonic() override {
    return std::chrono::steady_clock::now();
  }
  core::TimePoint now = std::chrono::system_clock::now();
};

struct Reply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  std::string Code() const {
    size_t start = body.find("<Code>");
    size_t end = body.find("</Code>");
    if (start == std::string::npos || end == std::string::npos) return "";
    return body.substr(start + 6, end - start - 6);
  }
};

constexpr char kBerlinCsv[] = "store,item,count\nBerlin,Echo Dot,3\nBerlin,Echo Plus,0\n";

class S3RouterTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeRouter(S3Options{}); }

  void MakeRouter(S3Options options) {
    router_ = std::make_unique<S3Router>(S3Services{objects_, keys_, clock_, wakeup_},
                                         std::move(options));
  }

  aws::Credentials Key(core::ObjectScope scope) {
    auto created = keys_.Create(scope, "test", clock_.now);
    EXPECT_TRUE(created.ok()) << created.status();
    return {created->key.id, created->secret, ""};
  }
  aws::Credentials AllStores() { return Key(core::ObjectScope{true, {}}); }
  aws::Credentials Stores(std::vector<std::string> stores) {
    return Key(core::ObjectScope{false, std::move(stores)});
  }

  // Signs and sends; `payload_hash` empty = the hex SHA-256 of `body`.
  Reply Send(const aws::Credentials& credentials, std::string method, std::string target,
             std::string body = "", aws::Headers extra = {}, std::string payload_hash = "",
             std::string host = "127.0.0.1:9000") {
    aws::Headers headers = {{"host", host}};
    for (auto& header : extra) headers.push_back(header);
    aws::SignOptions sign;
    sign.now = clock_.now + sign_offset_;
    sign.payload_hash = payload_hash.empty() ? aws::Sha256Hex(body) : payload_hash;
    absl::Status signed_ok = aws::SignRequest(method, target, headers, credentials, sign);
    EXPECT_TRUE(signed_ok.ok()) << signed_ok;
    return SendSigned(std::move(method), std::move(target), std::move(headers), std::move(body));
  }

  Reply SendSigned(std::string method, std::string target, aws::Headers headers, std::string body,
                   bool chunked = false) {
    StringBody reader(std::move(body), chunked);
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    for (auto& [name, value] : headers) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      request.headers.emplace_back(lower, value);
    }
    request.body = &reader;
    request.request_id = "test";
    request.received_at = std::chrono::steady_clock::now();
    HttpResponse response = router_->Handle(request);
    Reply reply{response.status, response.body, response.headers};
    if (response.stream) {
      char buffer[4096];
      while (true) {
        auto n = response.stream->Read(std::span<char>(buffer, sizeof buffer));
        EXPECT_TRUE(n.ok());
        if (!n.ok() || *n == 0) break;
        reply.body.append(buffer, *n);
      }
      EXPECT_EQ(reply.body.size(), response.stream_size);
    }
    if (response.head_content_length) {
      reply.headers.emplace_back("Content-Length", std::to_string(*response.head_content_length));
    }
    return reply;
  }

  size_t EventCount() {
    auto events = objects_.EventsAfter(0, 1000);
    EXPECT_TRUE(events.ok());
    return events.ok() ? events->size() : 0;
  }

  ManualClock clock_;
  adapters::InMemoryObjectStore objects_{clock_};
  adapters::InMemoryAccessKeyStore keys_;
  base::WorkSignal wakeup_;
  std::unique_ptr<S3Router> router_;
  // Added to the server's time when signing: the client's clock skew.
  std::chrono::seconds sign_offset_{0};
};

TEST_F(S3RouterTest, PutGetHeadListDelete) {
  aws::Credentials key = AllStores();
  Reply put = Send(key, "PUT", "/inventory/berlin/day%201.csv", kBerlinCsv);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Header("ETag"), "\"" + aws::HexEncode(aws::Md5(kBerlinCsv)) + "\"");
  EXPECT_EQ(EventCount(), 1u);
  auto event = objects_.GetEvent(1);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->object.key, "berlin/day 1.csv");
  EXPECT_EQ(event->object.uploader, key.access_key_id);

  Reply get = Send(key, "GET", "/inventory/berlin/day%201.csv");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, kBerlinCsv);
  Reply head = Send(key, "HEAD", "/inventory/berlin/day%201.csv");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(std::string(kBerlinCsv).size()));
  EXPECT_TRUE(head.body.empty());

  Reply list = Send(key, "GET", "/inventory?list-type=2&prefix=berlin%2F");
  EXPECT_EQ(list.status, 200);
  EXPECT_THAT(list.body, HasSubstr("<Key>berlin/day 1.csv</Key>"));
  EXPECT_THAT(list.body, HasSubstr("<KeyCount>1</KeyCount>"));

  Reply del = Send(key, "DELETE", "/inventory/berlin/day%201.csv");
  EXPECT_EQ(del.status, 204);
  Reply gone = Send(key, "GET", "/inventory/berlin/day%201.csv");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.Code(), "NoSuchKey");
  // The upload stays in the history.
  EXPECT_EQ(EventCount(), 1u);
}

TEST_F(S3RouterTest, UserMetadataRoundTrips) {
  aws::Credentials key = AllStores();
  Reply put = Send(key, "PUT", "/inventory/m.csv", kBerlinCsv,
                   {{"x-amz-meta-mtime", "1764083210.123"}, {"content-type", "text/csv"}});
  ASSERT_EQ(put.status, 200) << put.body;
  Reply head = Send(key, "HEAD", "/inventory/m.csv");
  EXPECT_EQ(head.Header("x-amz-meta-mtime"), "1764083210.123");
  Reply too_much = Send(key, "PUT", "/inventory/n.csv", kBerlinCsv,
                        {{"x-amz-meta-big", std::string(2100, 'x')}});
  EXPECT_EQ(too_much.Code(), "MetadataTooLarge");
}

TEST_F(S3RouterTest, SignatureVersionTwoIsRefusedWithAHint) {
  Reply v2 = SendSigned("GET", "/inventory/a.csv?AWSAccessKeyId=AKID&Expires=1&Signature=x",
                        {{"host", "127.0.0.1:9000"}}, "");
  EXPECT_EQ(v2.status, 400);
  EXPECT_EQ(v2.Code(), "InvalidRequest");
  EXPECT_THAT(v2.body, HasSubstr("signature_version s3v4"));
}

TEST_F(S3RouterTest, UnsignedAndBadlySignedRequestsAreRefused) {
  aws::Credentials key = AllStores();
  Reply anonymous = SendSigned("GET", "/inventory", {{"host", "127.0.0.1:9000"}}, "");
  EXPECT_EQ(anonymous.status, 403);
  EXPECT_EQ(anonymous.Code(), "AccessDenied");

  aws::Credentials wrong = key;
  wrong.secret_access_key[0] = wrong.secret_access_key[0] == 'A' ? 'B' : 'A';
  Reply bad = Send(wrong, "PUT", "/inventory/a.csv", kBerlinCsv);
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(bad.Code(), "SignatureDoesNotMatch");

  aws::Credentials unknown{"SWUNKNOWNUNKNOWNUNKN", key.secret_access_key, ""};
  Reply who = Send(unknown, "PUT", "/inventory/a.csv", kBerlinCsv);
  EXPECT_EQ(who.status, 403);
  EXPECT_EQ(who.Code(), "InvalidAccessKeyId");

  ASSERT_TRUE(keys_.Revoke(key.access_key_id, clock_.now).ok());
  Reply revoked = Send(key, "PUT", "/inventory/a.csv", kBerlinCsv);
  EXPECT_EQ(revoked.Code(), "InvalidAccessKeyId");
  EXPECT_EQ(EventCount(), 0u);
}

TEST_F(S3RouterTest, ClockSkewLimitIsFifteenMinutes) {
  aws::Credentials key = AllStores();
  for (int sign : {-1, 1}) {
    sign_offset_ = std::chrono::seconds(sign * (14 * 60 + 59));
    EXPECT_EQ(Send(key, "GET", "/inventory").status, 200) << sign;
    sign_offset_ = std::chrono::seconds(sign * (15 * 60 + 1));
    Reply skewed = Send(key, "PUT", "/inventory/a.csv", kBerlinCsv);
    EXPECT_EQ(skewed.status, 403) << sign;
    EXPECT_EQ(skewed.Code(), "RequestTimeTooSkewed") << sign;
  }
  EXPECT_EQ(EventCount(), 0u);
}

TEST_F(S3RouterTest, ScopedKeyMayOnlyWriteItsStores) {
  aws::Credentials berlin = Stores({"Berlin"});
  Reply ok = Send(berlin, "PUT", "/inventory/b.csv", kBerlinCsv);
  EXPECT_EQ(ok.status, 200) << ok.body;
  Reply paris = Send(berlin, "PUT", "/inventory/p.csv",
                     "store,item,count\nBerlin,Echo Dot,1\nParis,Echo Dot,2\n");
  EXPECT_EQ(paris.status, 403);
  EXPECT_EQ(paris.Code(), "AccessDenied");
  EXPECT_THAT(paris.body, HasSubstr("p.csv:3: store &quot;Paris&quot;"));
  EXPECT_EQ(EventCount(), 1u);
  EXPECT_EQ(objects_.Head("inventory", "p.csv").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3RouterTest, ScopedKeySeesOnlyObjectsOfItsScope) {
  aws::Credentials berlin = Stores({"Berlin"});
  aws::Credentials paris = Stores({"Paris"});
  aws::Credentials all = AllStores();
  ASSERT_EQ(Send(berlin, "PUT", "/inventory/b.csv", kBerlinCsv).status, 200);
  ASSERT_EQ(Send(paris, "PUT", "/inventory/p.csv", "store,item,count\nParis,Echo,1\n").status, 200);
  Reply list = Send(berlin, "GET", "/inventory?list-type=2");
  EXPECT_THAT(list.body, HasSubstr("<Key>b.csv</Key>"));
  EXPECT_THAT(list.body, ::testing::Not(HasSubstr("p.csv")));
  EXPECT_EQ(Send(berlin, "GET", "/inventory/p.csv").Code(), "AccessDenied");
  EXPECT_EQ(Send(berlin, "DELETE", "/inventory/p.csv").Code(), "AccessDenied");
  Reply everything = Send(all, "GET", "/inventory?list-type=2");
  EXPECT_THAT(everything.body, HasSubstr("<Key>b.csv</Key>"));
  EXPECT_THAT(everything.body, HasSubstr("<Key>p.csv</Key>"));
}

TEST_F(S3RouterTest, RejectedFileIsRefusedWithItsErrors) {
  aws::Credentials key = AllStores();
  Reply refused = Send(key, "PUT", "/inventory/bad.csv", "shop,thing\nBerlin,Echo\n");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.Code(), "InvalidArgument");
  EXPECT_THAT(refused.body, HasSubstr("bad.csv"));
  EXPECT_EQ(EventCount(), 0u);
}

TEST_F(S3RouterTest, DigestsAreVerified) {
  aws::Credentials key = AllStores();
  Reply tampered =
      Send(key, "PUT", "/inventory/a.csv", kBerlinCsv, {}, aws::Sha256Hex("something else"));
  EXPECT_EQ(tampered.status, 400);
  EXPECT_EQ(tampered.Code(), "XAmzContentSHA256Mismatch");
  Reply md5 = Send(key, "PUT", "/inventory/a.csv", kBerlinCsv,
                   {{"content-md5", aws::Base64Encode(aws::Md5("other"))}});
  EXPECT_EQ(md5.Code(), "BadDigest");
  Reply crc =
      Send(key, "PUT", "/inventory/a.csv", kBerlinCsv, {{"x-amz-checksum-crc32", "AAAAAA=="}});
  EXPECT_EQ(crc.Code(), "BadDigest");
  EXPECT_EQ(EventCount(), 0u);
  uint32_t value = aws::Crc32(0, kBerlinCsv);
  std::string raw = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                     static_cast<char>(value >> 8), static_cast<char>(value)};
  Reply good = Send(key, "PUT", "/inventory/a.csv", kBerlinCsv,
                    {{"x-amz-checksum-crc32", aws::Base64Encode(raw)},
                     {"content-md5", aws::Base64Encode(aws::Md5(kBerlinCsv))}});
  EXPECT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(good.Header("x-amz-checksum-crc32"), aws::Base64Encode(raw));
}

TEST_F(S3RouterTest, ReplayedPutIsAnsweredLikeTheOriginal) {
  aws::Credentials key = AllStores();
  aws::Headers headers = {{"host", "127.0.0.1:9000"}};
  aws::SignOptions sign;
  sign.now = clock_.now;
  sign.payload_hash = aws::Sha256Hex(kBerlinCsv);
  ASSERT_TRUE(aws::SignRequest("PUT", "/inventory/r.csv", headers, key, sign).ok());
  Reply first = SendSigned("PUT", "/inventory/r.csv", headers, kBerlinCsv);
  Reply second = SendSigned("PUT", "/inventory/r.csv", headers, kBerlinCsv);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(first.Header("ETag"), second.Header("ETag"));
  EXPECT_EQ(EventCount(), 1u);
}

TEST_F(S3RouterTest, RememberedSignaturesAreForgottenOnceExpired) {
  aws::Credentials key = AllStores();
  aws::Headers headers = {{"host", "127.0.0.1:9000"}};
  aws::SignOptions sign;
  sign.now = clock_.now;
  sign.payload_hash = aws::Sha256Hex(kBerlinCsv);
  ASSERT_TRUE(aws::SignRequest("PUT", "/inventory/r.csv", headers, key, sign).ok());
  ASSERT_EQ(SendSigned("PUT", "/inventory/r.csv", headers, kBerlinCsv).status, 200);
  std::string authorization;
  for (const auto& [name, value] : headers) {
    if (name == "Authorization" || name == "authorization") authorization = value;
  }
  const std::string signature = authorization.substr(authorization.rfind('=') + 1);
  EXPECT_TRUE(objects_.FindReplay(signature).ok());
  // A later upload, once the first signature can no longer verify, prunes it.
  clock_.now += std::chrono::minutes(16);
  ASSERT_EQ(Send(key, "PUT", "/inventory/later.csv", kBerlinCsv).status, 200);
  EXPECT_EQ(objects_.FindReplay(signature).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3RouterTest, RangeGet) {
  aws::Credentials key = AllStores();
  ASSERT_EQ(Send(key, "PUT", "/inventory/a.csv", kBerlinCsv).status, 200);
  Reply range = Send(key, "GET", "/inventory/a.csv", "", {{"range", "bytes=6-9"}});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, std::string(kBerlinCsv).substr(6, 4));
  EXPECT_EQ(range.Header("Content-Range"),
            fmt::format("bytes 6-9/{}", std::string(kBerlinCsv).size()));
  Reply suffix = Send(key, "GET", "/inventory/a.csv", "", {{"range", "bytes=-3"}});
  EXPECT_EQ(suffix.body, std::string(kBerlinCsv).substr(std::string(kBerlinCsv).size() - 3));
  Reply bad = Send(key, "GET", "/inventory/a.csv", "", {{"range", "bytes=9999-"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.Code(), "InvalidRange");
}

TEST_F(S3RouterTest, ListingWithDelimiterAndPages) {
  aws::Credentials key = AllStores();
  std::vector<std::string> keys = {"a.csv", "b/1.csv", "b/2.csv", "b/c/3.csv",
                                   "c.csv", "d/4.csv", "e.csv"};
  for (const std::string& name : keys) {
    ASSERT_EQ(Send(key, "PUT", "/inventory/" + name, kBerlinCsv).status, 200);
  }
  Reply top = Send(key, "GET", "/inventory?list-type=2&delimiter=%2F");
  EXPECT_THAT(top.body, HasSubstr("<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>"));
  EXPECT_THAT(top.body, HasSubstr("<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"));
  EXPECT_THAT(top.body, HasSubstr("<KeyCount>5</KeyCount>"));
  EXPECT_THAT(top.body, ::testing::Not(HasSubstr("b/1.csv")));

  // Page through two at a time with continuation tokens: every key once, in order.
  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    std::string target = "/inventory?list-type=2&max-keys=2";
    if (!token.empty()) target += "&continuation-token=" + aws::UriEncode(token, true);
    Reply reply = Send(key, "GET", target);
    ASSERT_EQ(reply.status, 200) << reply.body;
    size_t at = 0;
    while ((at = reply.body.find("<Key>", at)) != std::string::npos) {
      size_t end = reply.body.find("</Key>", at);
      seen.push_back(reply.body.substr(at + 5, end - at - 5));
      at = end;
    }
    size_t t = reply.body.find("<NextContinuationToken>");
    if (t == std::string::npos) break;
    size_t end = reply.body.find("</NextContinuationToken>", t);
    token = reply.body.substr(t + 23, end - t - 23);
  }
  EXPECT_EQ(seen, keys);

  // v1 with a delimiter and NextMarker.
  Reply v1 = Send(key, "GET", "/inventory?delimiter=%2F&max-keys=2");
  EXPECT_THAT(v1.body, HasSubstr("<IsTruncated>true</IsTruncated>"));
  EXPECT_THAT(v1.body, HasSubstr("<NextMarker>b/</NextMarker>"));
  Reply v1next = Send(key, "GET", "/inventory?delimiter=%2F&max-keys=2&marker=b%2F");
  EXPECT_THAT(v1next.body, HasSubstr("<Key>c.csv</Key>"));
  EXPECT_THAT(v1next.body, ::testing::Not(HasSubstr("<Prefix>b/</Prefix>")));
}

TEST_F(S3RouterTest, MultipartUpload) {
  aws::Credentials key = AllStores();
  Reply created = Send(key, "POST", "/inventory/big.csv?uploads");
  ASSERT_EQ(created.status, 200) << created.body;
  size_t at = created.body.find("<UploadId>");
  size_t end = created.body.find("</UploadId>");
  ASSERT_NE(at, std::string::npos);
  const std::string upload_id = created.body.substr(at + 10, end - at - 10);

  std::string part1 = "store,item,count\n";
  for (int i = 0; part1.size() < (size_t{5} << 20); ++i) {
    part1 += fmt::format("Berlin,item {},{}\n", i, i % 7);
  }
  const std::string part2 = "Berlin,last,0\n";
  const std::string base = "/inventory/big.csv?uploadId=" + upload_id;
  Reply p2 = Send(key, "PUT", base + "&partNumber=2", part2);
  Reply p1 = Send(key, "PUT", base + "&partNumber=1", part1);
  ASSERT_EQ(p1.status, 200) << p1.body;
  ASSERT_EQ(p2.status, 200) << p2.body;
  Reply parts = Send(key, "GET", base);
  EXPECT_THAT(parts.body, HasSubstr("<PartNumber>1</PartNumber>"));
  EXPECT_THAT(parts.body, HasSubstr("<PartNumber>2</PartNumber>"));

  auto complete_body = [&](int first, const std::string& etag1, int second,
                           const std::string& etag2) {
    return fmt::format(
        "<CompleteMultipartUpload><Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>"
        "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        first, etag1, second, etag2);
  };
  Reply order = Send(key, "POST", base, complete_body(2, p2.Header("ETag"), 1, p1.Header("ETag")));
  EXPECT_EQ(order.Code(), "InvalidPartOrder");
  Reply wrong = Send(key, "POST", base, complete_body(1, p2.Header("ETag"), 2, p2.Header("ETag")));
  EXPECT_EQ(wrong.Code(), "InvalidPart");
  EXPECT_EQ(EventCount(), 0u);

  Reply done = Send(key, "POST", base, complete_body(1, p1.Header("ETag"), 2, p2.Header("ETag")));
  ASSERT_EQ(done.status, 200) << done.body;
  const std::string expected_etag =
      aws::HexEncode(aws::Md5(aws::Md5(part1) + aws::Md5(part2))) + "-2";
  EXPECT_THAT(done.body, HasSubstr("<ETag>&quot;" + expected_etag + "&quot;</ETag>"));
  auto event = objects_.GetEvent(1);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->event_name, "ObjectCreated:CompleteMultipartUpload");
  EXPECT_EQ(event->object.etag, expected_etag);
  EXPECT_EQ(event->object.size, part1.size() + part2.size());
  Reply get = Send(key, "GET", "/inventory/big.csv");
  EXPECT_TRUE(get.body == part1 + part2);
  // The upload is gone once completed.
  EXPECT_EQ(Send(key, "GET", base).Code(), "NoSuchUpload");
}

TEST_F(S3RouterTest, MultipartPartsButTheLastNeedFiveMebibytes) {
  aws::Credentials key = AllStores();
  Reply created = Send(key, "POST", "/inventory/small.csv?uploads");
  size_t at = created.body.find("<UploadId>");
  size_t end = created.body.find("</UploadId>");
  const std::string upload_id = created.body.substr(at + 10, end - at - 10);
  const std::string base = "/inventory/small.csv?uploadId=" + upload_id;
  Reply p1 = Send(key, "PUT", base + "&partNumber=1", "store,item,count\n");
  Reply p2 = Send(key, "PUT", base + "&partNumber=2", "Berlin,x,1\n");
  Reply done =
      Send(key, "POST", base,
           fmt::format("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag>"
                       "</Part><Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part>"
                       "</CompleteMultipartUpload>",
                       p1.Header("ETag"), p2.Header("ETag")));
  EXPECT_EQ(done.Code(), "EntityTooSmall");
  EXPECT_EQ(Send(key, "DELETE", base).status, 204);
  EXPECT_EQ(Send(key, "GET", base).Code(), "NoSuchUpload");
}

TEST_F(S3RouterTest, PathShapedKeysAreRefused) {
  aws::Credentials key = AllStores();
  for (const char* target : {"/inventory/../x", "/inventory/%2e%2e/x", "/inventory//etc/passwd",
                             "/inventory/a%5Cb", "/inventory/a%00b", "/inventory/a/./b"}) {
    Reply reply = Send(key, "PUT", target, kBerlinCsv);
    EXPECT_EQ(reply.status, 400) << target;
    EXPECT_EQ(reply.Code(), "InvalidArgument") << target;
  }
  std::string long_key = "/inventory/" + std::string(1025, 'k');
  EXPECT_EQ(Send(key, "PUT", long_key, kBerlinCsv).Code(), "KeyTooLongError");
  EXPECT_EQ(EventCount(), 0u);
}

TEST_F(S3RouterTest, BucketsAndAddressing) {
  aws::Credentials key = AllStores();
  EXPECT_EQ(Send(key, "GET", "/nosuch").Code(), "NoSuchBucket");
  EXPECT_EQ(Send(key, "HEAD", "/inventory").status, 200);
  Reply buckets = Send(key, "GET", "/");
  EXPECT_THAT(buckets.body, HasSubstr("<Name>inventory</Name>"));
  Reply location = Send(key, "GET", "/inventory?location");
  EXPECT_THAT(location.body, HasSubstr("<LocationConstraint"));
  // Virtual-hosted style.
  Reply put = Send(key, "PUT", "/v.csv", kBerlinCsv, {}, "", "inventory.localhost:9000");
  EXPECT_EQ(put.status, 200) << put.body;
  EXPECT_TRUE(objects_.Head("inventory", "v.csv").ok());
}

TEST_F(S3RouterTest, OversizeObjectIsRefused) {
  S3Options options;
  options.max_object_bytes = 20;
  MakeRouter(options);
  aws::Credentials key = AllStores();
  Reply reply = Send(key, "PUT", "/inventory/a.csv", kBerlinCsv);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.Code(), "EntityTooLarge");
  EXPECT_EQ(EventCount(), 0u);
}

TEST_F(S3RouterTest, AwsChunkedWithTrailerIsDecoded) {
  aws::Credentials key = AllStores();
  const std::string data = kBerlinCsv;
  auto crc = [](std::string_view bytes) {
    uint32_t value = aws::Crc32(0, bytes);
    return aws::Base64Encode(std::string{static_cast<char>(value >> 24),
                                         static_cast<char>(value >> 16),
                                         static_cast<char>(value >> 8), static_cast<char>(value)});
  };
  auto encode = [&](const std::string& checksum) {
    return fmt::format("{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\nx-amz-checksum-crc32:{}\r\n\r\n", 10,
                       data.substr(0, 10), data.size() - 10, data.substr(10), checksum);
  };
  aws::Headers extra = {{"content-encoding", "aws-chunked"},
                        {"x-amz-trailer", "x-amz-checksum-crc32"},
                        {"x-amz-decoded-content-length", std::to_string(data.size())}};
  Reply good = Send(key, "PUT", "/inventory/chunked.csv", encode(crc(data)), extra,
                    std::string(aws::kStreamingUnsignedTrailerPayload));
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(Send(key, "GET", "/inventory/chunked.csv").body, data);
  Reply bad = Send(key, "PUT", "/inventory/bad.csv", encode(crc("other")), extra,
                   std::string(aws::kStreamingUnsignedTrailerPayload));
  EXPECT_EQ(bad.Code(), "BadDigest");
  EXPECT_EQ(EventCount(), 1u);
}

}  // namespace
}  // namespace stockwatch::server::s3_api
