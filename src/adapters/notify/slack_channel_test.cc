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
using notify_test::MakeDelivery;
using notify_test::Reply;
using notify_test::ScriptedHttpServer;
using notify_test::ScriptedReply;
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
  SlackChannel channel;
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

TEST(SlackChannelTest, PayloadReplacesInvalidUtf8) {
  core::Delivery delivery = SlackDelivery("http://unused.invalid/");
  delivery.message.store = "K\xf6ln";  // Latin-1, not UTF-8
  const nlohmann::json doc = nlohmann::json::parse(SlackPayload(delivery));
  EXPECT_EQ(doc["blocks"][0]["fields"][0]["text"], "*Store*\nK\xef\xbf\xbdln");
}

TEST(SlackChannelTest, ClassifiesSlackResponses) {
  struct Case {
    ScriptedReply reply;
    SendResult::Kind kind;
    std::string error;  // after "slack: ", before " from <url>"
    std::optional<std::chrono::seconds> retry_after;
  };
  const std::vector<Case> cases = {
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
  std::vector<ScriptedReply> replies;
  for (const Case& c : cases) replies.push_back(c.reply);
  ScriptedHttpServer server(replies);
  SlackChannel channel;
  for (const Case& c : cases) {
    const SendResult result = channel.Send(SlackDelivery(server.Url(kHookPath)));
    EXPECT_EQ(result.kind, c.kind) << c.reply.status << ": " << result.error;
    if (c.kind == SendResult::Kind::kDelivered) {
      EXPECT_EQ(result.error, "");
    } else {
      EXPECT_EQ(result.error, "slack: " + c.error + " from " + server.Url("/services/***"));
    }
    EXPECT_EQ(result.retry_after, c.retry_after) << c.reply.status;
  }
  server.Join();
  EXPECT_EQ(server.Requests().size(), cases.size());
  EXPECT_EQ(server.Connections(), 1);  // one kept-alive connection for all of them
}

TEST(SlackChannelTest, ErrorTextsHideTheWebhookPath) {
  const std::string url =
      "http://127.0.0.1:" + std::to_string(notify_test::UnusedPort()) + kHookPath + "?x=qs3cret";
  SlackChannel channel;
  const SendResult result = channel.Send(SlackDelivery(url));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("/services/***"));
  for (const char* secret : {"T0ACME", "B0ALERTS", "xoxSecretHookToken", "qs3cret"}) {
    EXPECT_THAT(result.error, Not(HasSubstr(secret)));
  }
}

TEST(SlackChannelTest, TimeoutIsRetryable) {
  ScriptedHttpServer server({Hang()});
  SlackChannel channel({.timeout = 200ms});
  const SendResult result = channel.Send(SlackDelivery(server.Url(kHookPath)));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("timed out"));
  EXPECT_THAT(result.error, Not(HasSubstr("xoxSecretHookToken")));
}

TEST(SlackChannelTest, RejectsBadEndpoints) {
  SlackChannel channel;
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
  SlackChannel channel({.max_idle_handles = 2});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  const int failures = notify_test::SendConcurrently(kThreads, kPerThread, [&](int64_t id) {
    core::Delivery delivery = SlackDelivery(url);
    delivery.id = id;
    return channel.Send(delivery).kind == SendResult::Kind::kDelivered;
  });
  EXPECT_EQ(failures, 0);
  const auto files = (*sink)->Dir().Files(".json");
  ASSERT_EQ(files.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const auto& file : files) {
    const nlohmann::json record = nlohmann::json::parse(notify_test::ReadFile(file));
    EXPECT_EQ(record["path"], kHookPath);
    EXPECT_EQ(record["body"]["blocks"][0]["type"], "section");
    ids.insert(record["headers"]["x-stockwatch-delivery"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), files.size());
}

}  // namespace
}  // namespace stockwatch::adapters
