#include "adapters/notify/slack_channel.h"

#include <chrono>
#include <nlohmann/json.hpp>
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
using notify_test::Hang;
using notify_test::HttpRequest;
using notify_test::Loopback;
using notify_test::MakeDelivery;
using notify_test::Reply;
using notify_test::ScriptedHttpServer;
using notify_test::ScriptedReply;
using notify_test::StatusCase;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// The path of a real Slack webhook URL is its credential.
constexpr char kHookPath[] = "/services/T0ACME/B0ALERTS/xoxSecretHookToken";

core::Delivery SlackDelivery(const std::string& endpoint) {
  return MakeDelivery(endpoint, core::Protocol::kSlack);
}

TEST(SlackChannelTest, PostsEscapedBlocks) {
  ScriptedHttpServer server({Reply(200, "Content-Type: text/html\r\n", "ok")});
  SlackChannel channel(Loopback());
  core::Delivery delivery = SlackDelivery(server.Url(kHookPath));
  delivery.message.store = "<b>Berlin & Co</b>";
  delivery.message.item = "Echo <!channel>";
  delivery.message.body = "<b>Berlin & Co</b> is out of stock of Echo <!channel>.";
  const SendResult result = channel.Send(delivery);
  server.Join();

  EXPECT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  EXPECT_EQ(result.error, "");
  ASSERT_EQ(server.Requests().size(), 1u);
  const HttpRequest& request = server.Requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, kHookPath);
  EXPECT_EQ(request.headers.at("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(request.headers.at("user-agent"), "stockwatch/0.1");
  EXPECT_EQ(request.headers.at("x-stockwatch-delivery"), "42");
  EXPECT_EQ(request.headers.count("authorization"), 0u);
  // No raw '<' or '>' reaches Slack: no tag, mention or link can be injected.
  EXPECT_THAT(request.body, Not(HasSubstr("<")));
  EXPECT_THAT(request.body, Not(HasSubstr(">")));
  EXPECT_EQ(nlohmann::json::parse(request.body), nlohmann::json::parse(R"({
    "text": "Inventory Alert!\n&lt;b&gt;Berlin &amp; Co&lt;/b&gt; is out of stock of Echo &lt;!channel&gt;.",
    "blocks": [{
      "type": "section",
      "text": {"type": "mrkdwn",
               "text": "*Inventory Alert!*\n&lt;b&gt;Berlin &amp; Co&lt;/b&gt; is out of stock of Echo &lt;!channel&gt;."},
      "fields": [
        {"type": "mrkdwn", "text": "*Store*\n&lt;b&gt;Berlin &amp; Co&lt;/b&gt;"},
        {"type": "mrkdwn", "text": "*Item*\nEcho &lt;!channel&gt;"},
        {"type": "mrkdwn", "text": "*Old count*\n3"},
        {"type": "mrkdwn", "text": "*New count*\n0"}
      ]
    }]
  })"));
}

TEST(SlackChannelTest, EscapesOnlyTheThreeControlCharacters) {
  EXPECT_EQ(SlackEscape("a & b < c > d"), "a &amp; b &lt; c &gt; d");
  EXPECT_EQ(SlackEscape("&amp;"), "&amp;amp;");
  EXPECT_EQ(SlackEscape("Köln *bold* _x_ \"q\" 'a'"), "Köln *bold* _x_ \"q\" 'a'");
  EXPECT_EQ(SlackEscape(""), "");
}

TEST(SlackChannelTest, NewItemShowsNewAsOldCount) {
  core::Delivery delivery = SlackDelivery("http://unused.invalid/");
  delivery.message.old_count.reset();
  delivery.message.new_count = 5;
  const nlohmann::json doc = nlohmann::json::parse(SlackPayload(delivery));
  EXPECT_EQ(doc["blocks"][0]["fields"][2]["text"], "*Old count*\nnew");
  EXPECT_EQ(doc["blocks"][0]["fields"][3]["text"], "*New count*\n5");
}

TEST(SlackChannelTest, TestMessageHasNoItemFields) {
  core::Delivery delivery = SlackDelivery("http://unused.invalid/");
  delivery.message.kind = core::MessageKind::kTest;
  delivery.message.subject = std::string(core::kTestMessageSubject);
  delivery.message.store.clear();
  delivery.message.item.clear();
  const nlohmann::json doc = nlohmann::json::parse(SlackPayload(delivery));
  EXPECT_FALSE(doc["blocks"][0].contains("fields")) << doc.dump();
  EXPECT_NE(doc["text"].get<std::string>().find(core::kTestMessageSubject), std::string::npos);
}

TEST(SlackChannelTest, PayloadReplacesInvalidUtf8) {
  core::Delivery delivery = SlackDelivery("http://unused.invalid/");
  delivery.message.store = "K\xf6ln";  // Latin-1, not UTF-8
  const nlohmann::json doc = nlohmann::json::parse(SlackPayload(delivery));
  EXPECT_EQ(doc["blocks"][0]["fields"][0]["text"], "*Store*\nK\xef\xbf\xbdln");
}

// Code points in valid UTF-8: every byte that is not a continuation byte starts one.
size_t CodePoints(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return count;
}

TEST(SlackChannelTest, TruncatesTextsTo3000Characters) {
  core::Delivery delivery = SlackDelivery("http://unused.invalid/");
  std::string body;
  for (int i = 0; i < 4000; ++i) body += "\xc3\xa9";  // "é", two bytes each
  delivery.message.body = body;
  const nlohmann::json doc = nlohmann::json::parse(SlackPayload(delivery));
  for (const std::string& text :
       {doc["text"].get<std::string>(), doc["blocks"][0]["text"]["text"].get<std::string>()}) {
    EXPECT_EQ(CodePoints(text), kMaxSlackTextChars);
    EXPECT_TRUE(text.ends_with("\xc3\xa9\xe2\x80\xa6")) << text.substr(text.size() - 8);
  }
  EXPECT_TRUE(doc["blocks"][0]["text"]["text"].get<std::string>().starts_with(
      "*Inventory Alert!*\n\xc3\xa9"));

  // Short texts are left alone.
  const nlohmann::json short_doc = nlohmann::json::parse(SlackPayload(SlackDelivery("x")));
  EXPECT_EQ(short_doc["text"], "Inventory Alert!\nBerlin is out of stock of Echo Plus.");
}

TEST(SlackChannelTest, TruncationNeverSplitsAnEntity) {
  // Each '&' becomes "&amp;": wherever the 3,000th character falls, no "&am" may be left.
  for (size_t prefix = 0; prefix < 5; ++prefix) {
    const std::string escaped = std::string(prefix, 'x') + SlackEscape(std::string(1000, '&'));
    const std::string text = SlackTruncate(escaped);
    ASSERT_TRUE(text.ends_with("\xe2\x80\xa6")) << prefix;
    EXPECT_LE(CodePoints(text), kMaxSlackTextChars) << prefix;
    std::string kept = text.substr(prefix, text.size() - prefix - 3);
    while (kept.starts_with("&amp;")) kept.erase(0, 5);
    EXPECT_EQ(kept, "") << prefix;
  }
  EXPECT_EQ(SlackTruncate("a &amp; b"), "a &amp; b");
}

TEST(SlackChannelTest, ClassifiesSlackResponses) {
  // error: after "slack: ", before " from <url>".
  const std::vector<StatusCase> cases = {
      {Reply(200, "", "ok"), SendResult::Kind::kDelivered, "", std::nullopt},
      {Reply(400, "", "invalid_payload"), SendResult::Kind::kPermanent, "http 400 invalid_payload",
       std::nullopt},
      {Reply(403, "", "action_prohibited"), SendResult::Kind::kPermanent,
       "http 403 action_prohibited", std::nullopt},
      {Reply(404, "", "no_service"), SendResult::Kind::kPermanent, "http 404 no_service",
       std::nullopt},
      {Reply(410, "", "channel_is_archived"), SendResult::Kind::kPermanent,
       "http 410 channel_is_archived", std::nullopt},
      {Reply(429, "Retry-After: 30\r\n", "rate_limited"), SendResult::Kind::kRetryable,
       "http 429 rate_limited", 30s},
      {Reply(500, "", "internal_error\r\n"), SendResult::Kind::kRetryable,
       "http 500 internal_error", std::nullopt},
      {Reply(503, "", ""), SendResult::Kind::kRetryable, "http 503", std::nullopt},
  };
  ScriptedHttpServer server(notify_test::RepliesOf(cases));
  SlackChannel channel(Loopback());
  for (const StatusCase& c : cases) {
    notify_test::ExpectOutcome(channel.Send(SlackDelivery(server.Url(kHookPath))), c,
                               "slack: " + c.error + " from " + server.Url("/services/***"));
  }
  server.Join();
  EXPECT_EQ(server.Requests().size(), cases.size());
  EXPECT_EQ(server.Connections(), 1);  // one kept-alive connection for all of them
}

TEST(SlackChannelTest, ErrorTextsHideTheWebhookPath) {
  const std::string url =
      "http://127.0.0.1:" + std::to_string(notify_test::UnusedPort()) + kHookPath + "?x=qs3cret";
  SlackChannel channel(Loopback());
  const SendResult result = channel.Send(SlackDelivery(url));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("/services/***"));
  for (const char* secret : {"T0ACME", "B0ALERTS", "xoxSecretHookToken", "qs3cret"}) {
    EXPECT_THAT(result.error, Not(HasSubstr(secret)));
  }
}

TEST(SlackChannelTest, TimeoutIsRetryable) {
  ScriptedHttpServer server({Hang()});
  SlackChannel channel(Loopback({.timeout = 200ms}));
  const SendResult result = channel.Send(SlackDelivery(server.Url(kHookPath)));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("timed out"));
  EXPECT_THAT(result.error, Not(HasSubstr("xoxSecretHookToken")));
}

TEST(SlackChannelTest, RejectsBadEndpoints) {
  SlackChannel channel(Loopback());
  for (const std::string endpoint :
       {"file:///etc/passwd", "ftp://127.0.0.1/x", "not a url", "", "mailto:ops@example.com"}) {
    const SendResult result = channel.Send(SlackDelivery(endpoint));
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent) << endpoint;
    EXPECT_THAT(result.error, HasSubstr("slack: invalid url")) << endpoint;
  }
}

TEST(SlackChannelTest, ConcurrentSendsToThreadedSink) {
  auto sink = notify_test::Sink::Start("webhook_sink.py");
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::string url = "http://127.0.0.1:" + std::to_string((*sink)->Port()) + kHookPath;
  SlackChannel channel(Loopback({.max_idle_handles = 2}));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  const int failures = notify_test::SendConcurrently(kThreads, kPerThread, [&](int64_t id) {
    core::Delivery delivery = SlackDelivery(url);
    delivery.id = id;
    return channel.Send(delivery).kind == SendResult::Kind::kDelivered;
  });
  EXPECT_EQ(failures, 0);
  const std::vector<nlohmann::json> records = notify_test::SinkRecords(**sink);
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const nlohmann::json& record : records) {
    EXPECT_EQ(record["path"], kHookPath);
    EXPECT_EQ(record["body"]["blocks"][0]["type"], "section");
    ids.insert(record["headers"]["x-stockwatch-delivery"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), records.size());
}

}  // namespace
}  // namespace stockwatch::adapters
