#include "adapters/notify/webhook_channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/notify/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

using notify_test::At;
using notify_test::Hang;
using notify_test::HttpRequest;
using notify_test::Loopback;
using notify_test::MakeDelivery;
using notify_test::Reply;
using notify_test::ScriptedHttpServer;
using notify_test::ScriptedReply;

TEST(WebhookChannelTest, PostsDocumentWithHeaders) {
  ScriptedHttpServer server({Reply(200)});
  WebhookChannel channel(Loopback());
  const SendResult result = channel.Send(MakeDelivery(server.Url("/hooks/stock")));
  server.Join();

  EXPECT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  EXPECT_EQ(result.error, "");
  ASSERT_EQ(server.Requests().size(), 1u);
  const HttpRequest& request = server.Requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/hooks/stock");
  EXPECT_EQ(request.headers.at("content-type"), "application/json");
  EXPECT_EQ(request.headers.at("user-agent"), "stockwatch/0.1");
  EXPECT_EQ(request.headers.at("x-stockwatch-delivery"), "42");
  EXPECT_EQ(request.headers.at("x-stockwatch-message-id"), "17-NoStock");
  EXPECT_EQ(request.headers.at("x-stockwatch-topic"), "NoStock");
  EXPECT_EQ(request.headers.count("expect"), 0u);
  EXPECT_EQ(request.headers.at("content-length"), std::to_string(request.body.size()));

  const nlohmann::json doc = nlohmann::json::parse(request.body);
  EXPECT_EQ(doc, nlohmann::json::parse(R"({
    "Type": "Notification",
    "MessageId": "17-NoStock",
    "TopicArn": "arn:stockwatch:sns:local:0:NoStock",
    "Subject": "Inventory Alert!",
    "Message": "Berlin is out of stock of Echo Plus.",
    "Timestamp": "2024-05-01T12:34:56.789Z",
    "topic": "NoStock",
    "subject": "Inventory Alert!",
    "message": "Berlin is out of stock of Echo Plus.",
    "store": "Berlin",
    "item": "Echo Plus",
    "old_count": 3,
    "new_count": 0,
    "message_id": "17-NoStock",
    "timestamp": "2024-05-01T12:34:56.789Z",
    "delivery_id": 42
  })"));
}

TEST(WebhookChannelTest, NewItemHasNullOldCount) {
  core::Delivery delivery = MakeDelivery("http://unused.invalid/");
  delivery.message.old_count.reset();
  delivery.message.new_count = 5;
  const nlohmann::json doc = nlohmann::json::parse(WebhookPayload(delivery));
  ASSERT_TRUE(doc.contains("old_count"));
  EXPECT_TRUE(doc["old_count"].is_null());
  EXPECT_EQ(doc["new_count"], 5);
  EXPECT_EQ(doc.size(), 16u);
}

TEST(WebhookChannelTest, ReminderCarriesSince) {
  core::Delivery delivery = MakeDelivery("http://unused.invalid/");
  EXPECT_FALSE(nlohmann::json::parse(WebhookPayload(delivery)).contains("since"));
  delivery.message.since = core::TimePoint(std::chrono::milliseconds(1714566896789));
  const nlohmann::json doc = nlohmann::json::parse(WebhookPayload(delivery));
  EXPECT_EQ(doc["since"], "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(doc.size(), 17u);
}

TEST(WebhookChannelTest, TestMessageSaysSoInBodyAndHeader) {
  EXPECT_FALSE(nlohmann::json::parse(WebhookPayload(MakeDelivery("http://unused.invalid/")))
                   .contains("kind"));
  ScriptedHttpServer server({Reply(200)});
  WebhookChannel channel(Loopback());
  core::Delivery delivery = MakeDelivery(server.Url("/hook"));
  delivery.message.kind = core::MessageKind::kTest;
  delivery.message.subject = std::string(core::kTestMessageSubject);
  EXPECT_EQ(channel.Send(delivery).kind, SendResult::Kind::kDelivered);
  server.Join();
  ASSERT_EQ(server.Requests().size(), 1u);
  const HttpRequest& request = server.Requests()[0];
  EXPECT_EQ(request.headers.at("x-stockwatch-message-type"), "TestMessage");
  const nlohmann::json doc = nlohmann::json::parse(request.body);
  EXPECT_EQ(doc["Type"], "Notification");
  EXPECT_EQ(doc["kind"], "test");
  EXPECT_EQ(doc["Subject"], "stockwatch test message");
}

TEST(WebhookChannelTest, PayloadReplacesInvalidUtf8) {
  core::Delivery delivery = MakeDelivery("http://unused.invalid/");
  delivery.message.store = "K\xf6ln";  // Latin-1, not UTF-8
  const nlohmann::json doc = nlohmann::json::parse(WebhookPayload(delivery));
  EXPECT_EQ(doc["store"], "K\xef\xbf\xbdln");
}

TEST(WebhookChannelTest, ServiceUnavailableWithRetryAfterIsRetryable) {
  ScriptedHttpServer server({Reply(503, "Retry-After: 7\r\n")});
  WebhookChannel channel(Loopback());
  const SendResult result = channel.Send(MakeDelivery(server.Url("/hook")));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_EQ(result.error, "http 503 from " + server.Url("/hook"));
  EXPECT_EQ(result.retry_after, 7s);
}

TEST(WebhookChannelTest, ClassifiesStatusCodes) {
  const std::vector<std::pair<int, SendResult::Kind>> cases = {
      {200, SendResult::Kind::kDelivered}, {202, SendResult::Kind::kDelivered},
      {204, SendResult::Kind::kDelivered}, {408, SendResult::Kind::kRetryable},
      {429, SendResult::Kind::kRetryable}, {500, SendResult::Kind::kRetryable},
      {502, SendResult::Kind::kRetryable}, {504, SendResult::Kind::kRetryable},
      {301, SendResult::Kind::kPermanent}, {302, SendResult::Kind::kPermanent},
      {400, SendResult::Kind::kPermanent}, {401, SendResult::Kind::kPermanent},
      {404, SendResult::Kind::kPermanent}, {410, SendResult::Kind::kPermanent},
      {413, SendResult::Kind::kPermanent},
  };
  std::vector<ScriptedReply> replies;
  replies.reserve(cases.size());
  for (const auto& [status, kind] : cases) {
    replies.push_back(Reply(status, status / 100 == 3 ? "Location: /elsewhere\r\n" : ""));
  }
  ScriptedHttpServer server(replies);
  WebhookChannel channel(Loopback());
  for (const auto& [status, kind] : cases) {
    const SendResult result = channel.Send(MakeDelivery(server.Url("/hook")));
    EXPECT_EQ(result.kind, kind) << status << ": " << result.error;
    if (kind != SendResult::Kind::kDelivered) {
      EXPECT_EQ(result.error, "http " + std::to_string(status) + " from " + server.Url("/hook"));
    }
    EXPECT_FALSE(result.retry_after.has_value());
  }
  server.Join();
  EXPECT_EQ(server.Requests().size(), cases.size());
  for (const HttpRequest& request : server.Requests()) EXPECT_EQ(request.target, "/hook");
}

TEST(WebhookChannelTest, FollowsRedirectsWhenAllowed) {
  ScriptedHttpServer server({Reply(307, "Location: /moved\r\n"), Reply(200)});
  WebhookChannel channel(Loopback({.max_redirects = 1}));
  const SendResult result = channel.Send(MakeDelivery(server.Url("/hook")));
  server.Join();
  EXPECT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  ASSERT_EQ(server.Requests().size(), 2u);
  EXPECT_EQ(server.Requests()[1].method, "POST");
  EXPECT_EQ(server.Requests()[1].target, "/moved");
  EXPECT_EQ(server.Requests()[1].body, server.Requests()[0].body);
}

TEST(WebhookChannelTest, ReusesConnection) {
  ScriptedHttpServer server({Reply(200), Reply(200), Reply(200)});
  WebhookChannel channel(Loopback());
  for (int i = 0; i < 3; ++i) {
    core::Delivery delivery = MakeDelivery(server.Url("/hook"));
    delivery.id = 100 + i;
    EXPECT_EQ(channel.Send(delivery).kind, SendResult::Kind::kDelivered);
  }
  server.Join();
  EXPECT_EQ(server.Requests().size(), 3u);
  EXPECT_EQ(server.Connections(), 1);
}

TEST(WebhookChannelTest, TimeoutIsRetryable) {
  ScriptedHttpServer server({Hang()});
  WebhookChannel channel(Loopback({.timeout = 200ms}));
  const SendResult result = channel.Send(MakeDelivery(server.Url("/slow")));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("timed out"));
  EXPECT_THAT(result.error, HasSubstr(server.Url("/slow")));
}

TEST(WebhookChannelTest, ConnectionRefusedIsRetryable) {
  const std::string url = "http://127.0.0.1:" + std::to_string(notify_test::UnusedPort()) + "/h";
  WebhookChannel channel(Loopback());
  const SendResult result = channel.Send(MakeDelivery(url));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("(" + url + ")"));
}

TEST(WebhookChannelTest, ErrorTextHasNoSecrets) {
  ScriptedHttpServer server({Reply(404)});
  const std::string url = "http://hook-user:s3cr3t@127.0.0.1:" + std::to_string(server.Port()) +
                          "/hook?token=t0k3n#frag";
  WebhookChannel channel(Loopback());
  const SendResult result = channel.Send(MakeDelivery(url));
  server.Join();
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_EQ(result.error, "http 404 from " + server.Url("/hook"));
  // The secrets still reach the receiver: the query, and the user info as Basic auth.
  ASSERT_EQ(server.Requests().size(), 1u);
  EXPECT_EQ(server.Requests()[0].target, "/hook?token=t0k3n");
  EXPECT_THAT(server.Requests()[0].headers.at("authorization"), HasSubstr("Basic "));

  const std::string refused =
      "http://hook-user:s3cr3t@127.0.0.1:" + std::to_string(notify_test::UnusedPort()) +
      "/hook?token=t0k3n";
  const SendResult failed = channel.Send(MakeDelivery(refused));
  EXPECT_EQ(failed.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(failed.error, Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(failed.error, Not(HasSubstr("t0k3n")));
  EXPECT_THAT(failed.error, Not(HasSubstr("hook-user")));
}

TEST(WebhookChannelTest, RejectsBadEndpoints) {
  WebhookChannel channel(Loopback());
  for (const std::string endpoint :
       {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "not a url", "",
        "http://", "http://127.0.0.1:1/a\r\nX-Injected: 1"}) {
    const SendResult result = channel.Send(MakeDelivery(endpoint));
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent) << endpoint;
    EXPECT_THAT(result.error, HasSubstr("invalid url")) << endpoint;
  }
}

TEST(WebhookChannelTest, RefusesLineBreakInHeaderValue) {
  // Nothing listens on the port: a send that got as far as connecting would be retryable.
  const std::string url = "http://127.0.0.1:" + std::to_string(notify_test::UnusedPort()) + "/h";
  WebhookChannel channel(Loopback());
  core::Delivery delivery = MakeDelivery(url);
  delivery.message.id = "17\r\nX-Injected: yes";
  EXPECT_EQ(channel.Send(delivery).kind, SendResult::Kind::kPermanent);
  delivery = MakeDelivery(url);
  delivery.message.topic = "NoStock\nX-Injected: yes";
  EXPECT_EQ(channel.Send(delivery).kind, SendResult::Kind::kPermanent);
}

TEST(WebhookChannelTest, ConcurrentSendsToThreadedSink) {
  auto sink = notify_test::Sink::Start("webhook_sink.py");
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::string url = "http://127.0.0.1:" + std::to_string((*sink)->Port()) + "/hook";
  WebhookChannel channel(Loopback({.max_idle_handles = 2}));  // fewer than threads: extra too
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20;
  const int failures = notify_test::SendConcurrently(kThreads, kPerThread, [&](int64_t id) {
    core::Delivery delivery = MakeDelivery(url);
    delivery.id = id;
    return channel.Send(delivery).kind == SendResult::Kind::kDelivered;
  });
  EXPECT_EQ(failures, 0);

  const std::vector<nlohmann::json> records = notify_test::SinkRecords(**sink);
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<int64_t> ids;
  for (const nlohmann::json& record : records) {
    EXPECT_EQ(record["method"], "POST");
    EXPECT_EQ(record["path"], "/hook");
    EXPECT_EQ(record["headers"]["content-type"], "application/json");
    EXPECT_EQ(record["headers"]["x-stockwatch-delivery"],
              std::to_string(record["body"]["delivery_id"].get<int64_t>()));
    EXPECT_EQ(record["body"]["subject"], "Inventory Alert!");
    ids.insert(record["body"]["delivery_id"].get<int64_t>());
  }
  EXPECT_EQ(ids.size(), records.size());
}

TEST(WebhookChannelTest, SinkScriptedStatusIsRetryable) {
  auto sink =
      notify_test::Sink::Start("webhook_sink.py", {"--status", "503", "--retry-after", "9"});
  ASSERT_TRUE(sink.ok()) << sink.status();
  WebhookChannel channel(Loopback());
  const SendResult result =
      channel.Send(MakeDelivery("http://127.0.0.1:" + std::to_string((*sink)->Port()) + "/x"));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_EQ(result.retry_after, 9s);
  EXPECT_EQ((*sink)->Dir().Files(".json").size(), 1u);
}

// A wall clock that shows what the test sets.
class FixedClock final : public core::Clock {
 public:
  explicit FixedClock(core::TimePoint now) : now_(now) {}
  core::TimePoint Now() override { return now_; }
  std::chrono::steady_clock::time_point Monotonic() override { return {}; }
  void Set(core::TimePoint now) { now_ = now; }

 private:
  core::TimePoint now_;
};

// HMAC-SHA256 built from SHA-256 by RFC 2104's definition, H((K ^ opad) || H((K ^ ipad) || m)),
// so the test does not trust the HMAC() the channel uses. Lower-case hex.
std::string IndependentHmacSha256Hex(std::string_view key, std::string_view data) {
  const auto sha256 = [](std::string_view bytes) {
    std::string digest(32, '\0');
    unsigned int size = 0;
    EXPECT_EQ(
        EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(digest.data()),
                   &size, EVP_sha256(), nullptr),
        1);
    return digest;
  };
  std::string block(key.size() > 64 ? sha256(key) : std::string(key));
  block.resize(64, '\0');
  std::string inner(64, '\0');
  std::string outer(64, '\0');
  for (size_t i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(block[i] ^ 0x36);
    outer[i] = static_cast<char>(block[i] ^ 0x5c);
  }
  const std::string mac = sha256(outer + sha256(inner + std::string(data)));
  std::string hex;
  for (unsigned char c : mac) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0xf];
  }
  return hex;
}

constexpr char kSecret[] = "6f1c0a3e9b2d4f5a8c7e1b0d3f2a4c6e8b9d0f1a2c3e4b5d6f7a8c9e0b1d2f3a";

TEST(WebhookSignatureTest, IndependentHmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(IndependentHmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want for nothing", "?"),
            "v1=" + IndependentHmacSha256Hex("Jefe", "what do ya want for nothing.?"));
}

TEST(WebhookChannelTest, SignsTimestampAndBodyWithSubscriptionSecret) {
  using namespace std::chrono;
  ScriptedHttpServer server({Reply(200), Reply(200)});
  FixedClock clock(At(2024y / May / 1, 12h + 35min + 10s + 600ms));
  WebhookChannel channel(Loopback({.clock = &clock}));
  core::Delivery delivery = MakeDelivery(server.Url("/hook"));
  delivery.subscription.secret = kSecret;
  EXPECT_EQ(channel.Send(delivery).kind, SendResult::Kind::kDelivered);
  clock.Set(At(2024y / May / 1, 12h + 40min));  // the retry, five minutes later
  EXPECT_EQ(channel.Send(delivery).kind, SendResult::Kind::kDelivered);
  server.Join();

  ASSERT_EQ(server.Requests().size(), 2u);
  const HttpRequest& first = server.Requests()[0];
  const HttpRequest& retry = server.Requests()[1];
  EXPECT_EQ(first.headers.at("x-stockwatch-timestamp"), "1714566910");
  EXPECT_EQ(retry.headers.at("x-stockwatch-timestamp"), "1714567200");
  for (const HttpRequest& request : server.Requests()) {
    // What a receiver does: the MAC of the timestamp header, ".", and the body as received.
    const std::string expected =
        "v1=" + IndependentHmacSha256Hex(
                    kSecret, request.headers.at("x-stockwatch-timestamp") + "." + request.body);
    EXPECT_EQ(request.headers.at("x-stockwatch-signature"), expected);
    EXPECT_EQ(request.headers.at("x-stockwatch-delivery"), "42");
  }
  // Same body on every attempt; the signature changes with the timestamp.
  EXPECT_EQ(first.body, retry.body);
  EXPECT_NE(first.headers.at("x-stockwatch-signature"), retry.headers.at("x-stockwatch-signature"));
  // A receiver with another secret would refuse it.
  EXPECT_NE(
      first.headers.at("x-stockwatch-signature"),
      "v1=" + IndependentHmacSha256Hex(std::string(kSecret).substr(1), "1714566910." + first.body));
}

TEST(WebhookChannelTest, NoSignatureWithoutSecret) {
  ScriptedHttpServer server({Reply(200)});
  WebhookChannel channel(Loopback());
  core::Delivery delivery = MakeDelivery(server.Url("/hook"));
  delivery.subscription.secret.clear();  // a subscription made before secrets existed
  EXPECT_EQ(channel.Send(delivery).kind, SendResult::Kind::kDelivered);
  server.Join();
  ASSERT_EQ(server.Requests().size(), 1u);
  EXPECT_EQ(server.Requests()[0].headers.count("x-stockwatch-signature"), 0u);
  const std::string& timestamp = server.Requests()[0].headers.at("x-stockwatch-timestamp");
  EXPECT_FALSE(timestamp.empty());
  EXPECT_TRUE(std::all_of(timestamp.begin(), timestamp.end(), ::isdigit)) << timestamp;
}

TEST(WebhookChannelTest, RefusesPrivateTargetsByDefault) {
  // Nothing listens there: if the channel connected, the send would come back retryable.
  const std::string port = std::to_string(notify_test::UnusedPort());
  WebhookChannel channel;
  const SendResult result = channel.Send(MakeDelivery("http://127.0.0.1:" + port + "/hook"));
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_EQ(result.error,
            "refusing to connect to private address 127.0.0.1 (set notify.allow_private_targets "
            "to allow)");
  // A name is checked on the address it resolves to, not on its spelling.
  const SendResult by_name = channel.Send(MakeDelivery("http://localhost:" + port + "/hook"));
  EXPECT_EQ(by_name.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(by_name.error, HasSubstr("refusing to connect to private address"));
  const SendResult mapped =
      channel.Send(MakeDelivery("http://[::ffff:127.0.0.1]:" + port + "/hook"));
  EXPECT_EQ(mapped.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(mapped.error, HasSubstr("refusing to connect to private address"));

  // Allowed, the same target is tried and found closed.
  WebhookChannel allowed(Loopback());
  EXPECT_EQ(allowed.Send(MakeDelivery("http://127.0.0.1:" + port + "/hook")).kind,
            SendResult::Kind::kRetryable);
}

TEST(RetryAfterTest, ParsesSecondsAndDates) {
  using namespace std::chrono;
  const core::TimePoint now = At(2024y / May / 1, 12h + 34min + 56s + 500ms);
  EXPECT_EQ(ParseRetryAfter("120", now), 120s);
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), 0s);
  EXPECT_EQ(ParseRetryAfter("Wed, 01 May 2024 12:36:56 GMT", now), 120s);
  EXPECT_EQ(ParseRetryAfter("Wednesday, 01-May-24 12:35:56 GMT", now), 60s);
  EXPECT_EQ(ParseRetryAfter("Wed, 01 May 2024 12:00:00 GMT", now), 0s);  // in the past
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", now), std::nullopt);
}

}  // namespace
}  // namespace stockwatch::adapters
