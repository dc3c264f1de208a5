#include "adapters/notify/teams_channel.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
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

// Shaped like a connector URL: everything after /webhookb2/ identifies and authorizes it.
constexpr char kHookPath[] =
    "/webhookb2/0f1e2d3c-team@tenant-guid/IncomingWebhook/c0ffee1234/owner-guid";

core::Delivery TeamsDelivery(const std::string& endpoint) {
  return MakeDelivery(endpoint, core::Protocol::kTeams);
}

TEST(TeamsChannelTest, PostsAdaptiveCard) {
  ScriptedHttpServer server({Reply(200, "Content-Type: text/plain\r\n", "1")});
  TeamsChannel channel(Loopback());
  core::Delivery delivery = TeamsDelivery(server.Url(kHookPath));
  delivery.message.store = "**[Berlin](https://evil.example)** & Co";
  delivery.message.item = "Echo_Plus_";
  delivery.message.body = "**[Berlin](https://evil.example)** & Co is out of stock of Echo_Plus_.";
  const SendResult result = channel.Send(delivery);
  server.Join();

  EXPECT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  ASSERT_EQ(server.Requests().size(), 1u);
  const HttpRequest& request = server.Requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, kHookPath);
  EXPECT_EQ(request.headers.at("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(request.headers.at("x-stockwatch-delivery"), "42");
  EXPECT_EQ(request.headers.count("expect"), 0u);
  // Adaptive Cards render Markdown: the names arrive with every formatting character escaped,
  // so they show as uploaded (no bold, no link); the subject's "!" starts nothing.
  EXPECT_EQ(nlohmann::json::parse(request.body), nlohmann::json::parse(R"({
    "type": "message",
    "attachments": [{
      "contentType": "application/vnd.microsoft.card.adaptive",
      "contentUrl": null,
      "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
          {"type": "TextBlock", "text": "Inventory Alert!", "size": "Medium",
           "weight": "Bolder", "wrap": true},
          {"type": "TextBlock",
           "text": "\\*\\*\\[Berlin\\]\\(https://evil.example\\)\\*\\* & Co is out of stock of Echo\\_Plus\\_.",
           "wrap": true},
          {"type": "FactSet", "facts": [
            {"title": "Store", "value": "\\*\\*\\[Berlin\\]\\(https://evil.example\\)\\*\\* & Co"},
            {"title": "Item", "value": "Echo\\_Plus\\_"},
            {"title": "Old count", "value": "3"},
            {"title": "New count", "value": "0"}
          ]}
        ]
      }
    }]
  })"));
}

TEST(TeamsChannelTest, EscapesMarkdown) {
  EXPECT_EQ(TeamsMarkdownEscape("Berlin"), "Berlin");
  EXPECT_EQ(TeamsMarkdownEscape("Echo (2nd Gen)"), "Echo \\(2nd Gen\\)");
  EXPECT_EQ(TeamsMarkdownEscape("*b* _i_ ~s~ `c` [l](u) <a> #h |t| \\"),
            "\\*b\\* \\_i\\_ \\~s\\~ \\`c\\` \\[l\\]\\(u\\) \\<a\\> \\#h \\|t\\| \\\\");
  // List markers only at the start of a line.
  EXPECT_EQ(TeamsMarkdownEscape("- a - b\n+ c\n  12. d 3. e\n4) f"),
            "\\- a - b\n\\+ c\n  12\\. d 3. e\n4\\) f");
  EXPECT_EQ(TeamsMarkdownEscape("2024 stock. K\xc3\xb6ln!"), "2024 stock. K\xc3\xb6ln!");
  EXPECT_EQ(TeamsMarkdownEscape(""), "");
}

TEST(TeamsChannelTest, NewItemShowsNewAsOldCount) {
  core::Delivery delivery = TeamsDelivery("http://unused.invalid/");
  delivery.message.old_count.reset();
  const nlohmann::json doc = nlohmann::json::parse(TeamsPayload(delivery));
  const nlohmann::json& facts = doc["attachments"][0]["content"]["body"][2]["facts"];
  EXPECT_EQ(facts[2], nlohmann::json::parse(R"({"title": "Old count", "value": "new"})"));
}

TEST(TeamsChannelTest, TestMessageHasNoFactSet) {
  core::Delivery delivery = TeamsDelivery("http://unused.invalid/");
  delivery.message.kind = core::MessageKind::kTest;
  delivery.message.subject = std::string(core::kTestMessageSubject);
  delivery.message.store.clear();
  delivery.message.item.clear();
  const nlohmann::json doc = nlohmann::json::parse(TeamsPayload(delivery));
  const nlohmann::json& body = doc["attachments"][0]["content"]["body"];
  ASSERT_EQ(body.size(), 2u) << doc.dump();
  EXPECT_EQ(body[0]["text"], core::kTestMessageSubject);
  for (const nlohmann::json& block : body) EXPECT_NE(block["type"], "FactSet");
}

TEST(TeamsChannelTest, ClassifiesTeamsResponses) {
  const std::string shown = "/webhookb2/***";
  // error: after "teams: http N from <url>".
  const std::vector<StatusCase> cases = {
      {Reply(200, "", "1"), SendResult::Kind::kDelivered, "", std::nullopt},
      {Reply(202, "", ""), SendResult::Kind::kDelivered, "", std::nullopt},
      {Reply(400, "", "Bad payload received by generic incoming webhook."),
       SendResult::Kind::kPermanent, ": Bad payload received by generic incoming webhook.",
       std::nullopt},
      {Reply(404, "", ""), SendResult::Kind::kPermanent, "", std::nullopt},
      {Reply(410, "", "gone"), SendResult::Kind::kPermanent, ": gone", std::nullopt},
      {Reply(429, "Retry-After: 15\r\n", ""), SendResult::Kind::kRetryable, "", 15s},
      {Reply(500, "", ""), SendResult::Kind::kRetryable, "", std::nullopt},
  };
  ScriptedHttpServer server(notify_test::RepliesOf(cases));
  TeamsChannel channel(Loopback());
  for (const StatusCase& c : cases) {
    notify_test::ExpectOutcome(
        channel.Send(TeamsDelivery(server.Url(kHookPath))), c,
        "teams: http " + std::to_string(c.reply.status) + " from " + server.Url(shown) + c.error);
  }
  server.Join();
  EXPECT_EQ(server.Requests().size(), cases.size());
}

// Connectors report throttling and their own failures with status 200 and a text body.
TEST(TeamsChannelTest, FailureReportedInSuccessBody) {
  const std::string throttled =
      "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error "
      "429 with ContextId tcid=0,server=msgapi-production,cv=abc.0..";
  const std::string not_found =
      "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error "
      "404 with ContextId tcid=0.";
  const std::string unnamed = "Webhook message delivery failed with error: something broke";
  ScriptedHttpServer server({Reply(200, "", throttled), Reply(200, "", not_found),
                             Reply(200, "", unnamed), Reply(200, "", "1")});
  TeamsChannel channel(Loopback());
  const std::string url = server.Url(kHookPath);
  const SendResult first = channel.Send(TeamsDelivery(url));
  EXPECT_EQ(first.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(first.error, HasSubstr("teams: http 200 from "));
  EXPECT_THAT(first.error, HasSubstr("HTTP error 429"));
  EXPECT_EQ(channel.Send(TeamsDelivery(url)).kind, SendResult::Kind::kPermanent);
  EXPECT_EQ(channel.Send(TeamsDelivery(url)).kind, SendResult::Kind::kRetryable);
  EXPECT_EQ(channel.Send(TeamsDelivery(url)).kind, SendResult::Kind::kDelivered);
}

TEST(TeamsChannelTest, ErrorTextsHideTheWebhookPath) {
  ScriptedHttpServer server({Reply(404), Hang()});
  TeamsChannel channel(Loopback({.timeout = 200ms}));
  // A Workflows URL: its credential is the sig query parameter.
  const std::string workflow = server.Url(
      "/workflows/a1b2c3d4e5/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S1gS3cret");
  for (const std::string& url : {server.Url(kHookPath), workflow}) {
    const SendResult result = channel.Send(TeamsDelivery(url));
    EXPECT_NE(result.kind, SendResult::Kind::kDelivered);
    for (const char* secret :
         {"0f1e2d3c-team", "c0ffee1234", "owner-guid", "a1b2c3d4e5", "S1gS3cret"}) {
      EXPECT_THAT(result.error, Not(HasSubstr(secret))) << result.error;
    }
  }
  server.Join();
  EXPECT_EQ(
      server.Requests()[1].target,
      "/workflows/a1b2c3d4e5/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S1gS3cret");
}

TEST(TeamsChannelTest, RejectsBadEndpoints) {
  TeamsChannel channel(Loopback());
  for (const std::string endpoint : {"file:///etc/passwd", "not a url", ""}) {
    const SendResult result = channel.Send(TeamsDelivery(endpoint));
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent) << endpoint;
    EXPECT_THAT(result.error, HasSubstr("teams: invalid url")) << endpoint;
  }
}

}  // namespace
}  // namespace stockwatch::adapters
