#include "core/delivery/templates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/checker/stock_rules.h"
#include "core/model/json.h"

namespace stockwatch::core {
namespace {

using ::testing::HasSubstr;

constexpr Protocol kAllProtocols[] = {Protocol::kWebhook, Protocol::kEmail, Protocol::kSms,
                                      Protocol::kSlack,   Protocol::kTeams, Protocol::kSns};

TimePoint At(std::string_view text) {
  absl::StatusOr<TimePoint> t = ParseTime(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.value_or(TimePoint{});
}

TemplateValues Values() {
  TemplateValues v;
  v.store = "Berlin";
  v.item = "Echo Plus";
  v.topic = "LowStock";
  v.old_count = 10;
  v.new_count = 4;
  v.threshold = 5;
  v.time = At("2026-11-25T15:21:50.123Z");
  return v;
}

std::string Render(std::string_view text, const TemplateValues& values = Values()) {
  absl::StatusOr<Template> t = Template::Parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status();
  return t.ok() ? t->Render(values) : "";
}

TEST(TemplateTest, RendersEveryPlaceholder) {
  TemplateValues v = Values();
  v.since = At("2026-11-24T08:00:00Z");
  v.count = 7;
  EXPECT_EQ(Render("{store}|{item}|{old_count}|{new_count}|{threshold}|{topic}|{time}|{since}|"
                   "{count}",
                   v),
            "Berlin|Echo Plus|10|4|5|LowStock|2026-11-25T15:21:50.123Z|"
            "2026-11-24T08:00:00.000Z|7");
}

TEST(TemplateTest, AbsentValuesRenderEmpty) {
  TemplateValues v = Values();
  v.old_count.reset();
  v.threshold.reset();
  EXPECT_EQ(Render("[{old_count}] [{threshold}] [{since}] [{count}]", v), "[] [] [] []");
}

TEST(TemplateTest, PlainTextAndRepeats) {
  EXPECT_EQ(Render(""), "");
  EXPECT_EQ(Render("no placeholders"), "no placeholders");
  EXPECT_EQ(Render("{store}{store}"), "BerlinBerlin");
  EXPECT_EQ(Render("line one\n{item} on line two\n"), "line one\nEcho Plus on line two\n");
  EXPECT_EQ(Render("Zürich → {store}"), "Zürich → Berlin");
}

TEST(TemplateTest, DoubledBracesAreLiteral) {
  EXPECT_EQ(Render("{{store}}"), "{store}");
  EXPECT_EQ(Render("{{{store}}}"), "{Berlin}");
  EXPECT_EQ(Render(R"({{"store": "{store}"}})"), R"({"store": "Berlin"})");
  EXPECT_EQ(Render("}}{{"), "}{");
}

// Values are inserted as they are: no escaping, and no second expansion.
TEST(TemplateTest, ValuesAreNotInterpreted) {
  TemplateValues v = Values();
  v.store = "{item} <b>&";
  EXPECT_EQ(Render("{store}", v), "{item} <b>&");
}

TEST(TemplateTest, ErrorsNameLineAndColumn) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"{stor} is out", "line 1, column 1: unknown placeholder \"{stor}\""},
      {"Alert: {Store}", "line 1, column 8: unknown placeholder \"{Store}\""},
      {"Alert: { store }", "line 1, column 8: unknown placeholder \"{ store }\""},
      {"Alert: {}", "line 1, column 8: unknown placeholder \"{}\""},
      {"Alert: {store", "line 1, column 8: unbalanced \"{\""},
      {"Alert: {store{item}", "line 1, column 8: unbalanced \"{\""},
      {"Alert: store}", "line 1, column 13: unbalanced \"}\""},
      {"a {{ b } c", "line 1, column 8: unbalanced \"}\""},
      {"first\nsecond {item\n}", "line 2, column 8: unbalanced \"{\""},
      {"first\n\n  {nope}", "line 3, column 3: unknown placeholder \"{nope}\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Template> t = Template::Parse(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.error)) << c.text;
  }
  EXPECT_THAT(Template::Parse("{x}").status().message(), HasSubstr("known: {store}, {item}"));
}

TEST(TemplateTest, SourceAndUses) {
  absl::StatusOr<Template> t = Template::Parse("{{{store}}} {new_count}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->source(), "{{{store}}} {new_count}");
  EXPECT_EQ(*Template::Parse(t->source()), *t);
  EXPECT_TRUE(t->Uses(Placeholder::kStore));
  EXPECT_TRUE(t->Uses(Placeholder::kNewCount));
  EXPECT_FALSE(t->Uses(Placeholder::kItem));
  EXPECT_EQ(PlaceholderName(Placeholder::kOldCount), "old_count");
}

TEST(TemplateSetTest, FallsBackFromProtocolToTopicToGlobal) {
  auto parse = [](std::string_view subject, std::string_view body) {
    return MessageTemplates{*Template::Parse(subject), *Template::Parse(body)};
  };
  TemplateSet set(parse("global", "global {store}"));
  set.Set("NoStock", std::nullopt, parse("topic", "topic {store}"));
  set.Set("NoStock", Protocol::kSms, parse("sms", "{store}: {item} out"));

  TemplateValues v = Values();
  v.topic = "NoStock";
  EXPECT_EQ(set.Render(v, Protocol::kSms), (RenderedMessage{"sms", "Berlin: Echo Plus out"}));
  EXPECT_EQ(set.Render(v, Protocol::kEmail), (RenderedMessage{"topic", "topic Berlin"}));
  v.topic = "LowStock";
  EXPECT_EQ(set.Render(v, Protocol::kSms), (RenderedMessage{"global", "global Berlin"}));

  set.Set("NoStock", Protocol::kSms, parse("sms2", ""));
  EXPECT_EQ(set.Find("NoStock", Protocol::kSms).subject.source(), "sms2");

  ASSERT_NE(set.FindSet("NoStock", Protocol::kEmail), nullptr);
  EXPECT_EQ(set.FindSet("NoStock", Protocol::kEmail)->subject.source(), "topic");
  EXPECT_EQ(set.FindSet("LowStock", Protocol::kSms), nullptr);
  EXPECT_FALSE(set.empty());
  EXPECT_TRUE(TemplateSet(parse("", "")).empty());
}

ChangeRecord Change(std::string store, std::string item, std::optional<int64_t> old_count,
                    int64_t new_count) {
  ChangeRecord c;
  c.sequence = 7;
  c.kind = old_count ? ChangeKind::kModify : ChangeKind::kInsert;
  c.store = std::move(store);
  c.item = std::move(item);
  c.old_count = old_count;
  c.new_count = new_count;
  c.at = At("2026-11-25T15:21:50.123Z");
  return c;
}

// The defaults must word every message exactly as the stock checker does today.
TEST(TemplateSetTest, DefaultsMatchTheCheckerWording) {
  struct Case {
    ChangeRecord change;
    std::optional<int64_t> threshold;
  };
  const std::vector<Case> cases = {
      {Change("Berlin", "Echo Plus", 5, 0), std::nullopt},             // NoStock
      {Change("Berlin", "Echo Plus", std::nullopt, 0), 3},             // NoStock, new item
      {Change("Hamburg", "Echo Dot", 10, 4), 5},                       // LowStock
      {Change("Hamburg", "Echo Dot", std::nullopt, 2), 5},             // LowStock, new item
      {Change("Munich", "Kindle {Paperwhite}", 0, 12), std::nullopt},  // BackInStock
      {Change("Zürich", "Écho", 0, 1), 5},                             // BackInStock
  };
  size_t compared = 0;
  for (const Case& c : cases) {
    const std::vector<Message> messages = EvaluateChange(c.change, c.threshold);
    ASSERT_FALSE(messages.empty()) << c.change.store << "/" << c.change.item;
    for (const Message& m : messages) {
      for (Protocol protocol : kAllProtocols) {
        const RenderedMessage rendered = DefaultTemplates().Render(ValuesFor(m), protocol);
        EXPECT_EQ(rendered.subject, m.subject) << m.topic << " " << ProtocolName(protocol);
        EXPECT_EQ(rendered.body, m.body) << m.topic << " " << ProtocolName(protocol);
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 6 * std::size(kAllProtocols));
}

TEST(TemplateSetTest, DefaultForOtherTopics) {
  TemplateValues v = Values();
  v.topic = "PriceChange";
  EXPECT_EQ(DefaultTemplates().Render(v, Protocol::kEmail),
            (RenderedMessage{"Stock Alert: PriceChange", "Berlin: Echo Plus count is 4"}));
}

TEST(TemplateSetTest, ValuesForMessage) {
  Message m;
  m.topic = "NoStock";
  m.store = "Berlin";
  m.item = "Echo Plus";
  m.new_count = 0;
  m.at = At("2026-01-02T03:04:05Z");
  const TemplateValues v = ValuesFor(m);
  EXPECT_EQ(Render("{topic} {store} {item} [{old_count}] {new_count} [{threshold}] {time}", v),
            "NoStock Berlin Echo Plus [] 0 [] 2026-01-02T03:04:05.000Z");
  m.topic = "LowStock";
  m.old_count = 9;
  m.new_count = 3;
  m.threshold = 5;
  m.since = At("2026-01-01T00:00:00Z");
  EXPECT_EQ(Render("{topic} {old_count}->{new_count} ({threshold}) since {since}", ValuesFor(m)),
            "LowStock 9->3 (5) since 2026-01-01T00:00:00.000Z");
}

TEST(TemplateSetTest, ParseTemplatesNamesThePart) {
  auto ok = ParseTemplates("{store}", "{item}");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->subject.source(), "{store}");
  EXPECT_EQ(ok->body.source(), "{item}");
  auto bad_body = ParseTemplates("{store}", "ok\n  {stor}");
  ASSERT_FALSE(bad_body.ok());
  EXPECT_EQ(bad_body.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_body.status().message()),
              ::testing::StartsWith("body: line 2, column 3: unknown placeholder \"{stor}\""));
  auto bad_subject = ParseTemplates("{", "");
  ASSERT_FALSE(bad_subject.ok());
  EXPECT_THAT(std::string(bad_subject.status().message()),
              ::testing::StartsWith("subject: line 1, column 1: "));
  auto two_lines = ParseTemplates("Alert\n{store}", "");
  ASSERT_FALSE(two_lines.ok());
  EXPECT_THAT(std::string(two_lines.status().message()),
              ::testing::StartsWith("subject: line 1, column 6: a subject is one line"));
}

}  // namespace
}  // namespace stockwatch::core
