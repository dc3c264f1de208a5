#include "core/checker/topic_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/checker/stock_rules.h"

namespace stockwatch::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ChangeRecord Change(uint64_t sequence, std::string store, std::optional<int64_t> old_count,
                    int64_t new_count) {
  ChangeRecord c;
  c.sequence = sequence;
  c.kind = old_count ? ChangeKind::kModify : ChangeKind::kInsert;
  c.store = std::move(store);
  c.item = "Echo Plus";
  c.old_count = old_count;
  c.new_count = new_count;
  c.upload_id = 7;
  return c;
}

TopicInfo Builtin(std::string_view name) {
  return TopicInfo{std::string(name), true, false, {std::string(name)}, "", {}};
}

TopicInfo User(std::string name, std::vector<std::string> rules, std::string policy = "") {
  return TopicInfo{std::move(name), false, false, std::move(rules), std::move(policy), {}};
}

std::vector<std::string> Ids(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(m.id);
  return out;
}

TEST(TopicRoutesTest, ValidatesNamesAsSns) {
  EXPECT_TRUE(ValidateTopicName("BerlinOutages").ok());
  EXPECT_TRUE(ValidateTopicName("a_b-C9").ok());
  EXPECT_TRUE(ValidateTopicName(std::string(256, 'x')).ok());
  EXPECT_EQ(ValidateTopicName("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicName(std::string(257, 'x')).code(), absl::StatusCode::kInvalidArgument);
  for (std::string_view bad : {"Berlin Outages", "a.b", "a/b", "Über", "a\nb", "x:y"}) {
    const absl::Status status = ValidateTopicName(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(ValidateTopicName("a b").message()), HasSubstr("position 2"));
}

TEST(TopicRoutesTest, ComparesNamesIgnoringAsciiCase) {
  EXPECT_TRUE(SameTopicName("nostock", "NoStock"));
  EXPECT_TRUE(SameTopicName("Berlin-1", "BERLIN-1"));
  EXPECT_FALSE(SameTopicName("NoStock", "NoStocks"));
  EXPECT_TRUE(IsBuiltinTopic("LowStock"));
  EXPECT_FALSE(IsBuiltinTopic("lowstock"));
}

TEST(TopicRoutesTest, CanonicalRulesAreSortedUniqueAndKnown) {
  auto rules = CanonicalTopicRules({"NoStock", "LowStock", "NoStock"});
  ASSERT_TRUE(rules.ok());
  EXPECT_THAT(*rules, ElementsAre("LowStock", "NoStock"));
  EXPECT_EQ(CanonicalTopicRules({}).status().code(), absl::StatusCode::kInvalidArgument);
  auto bad = CanonicalTopicRules({"NoStock", "nostock"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"nostock\""));
}

TEST(TopicRoutesTest, CopiesAMessageToEveryUserTopicOfItsRule) {
  const std::vector<Message> produced = EvaluateChange(Change(17, "Berlin", 3, 0), std::nullopt);
  ASSERT_EQ(produced.size(), 1u);
  const std::vector<TopicInfo> topics = {
      Builtin("NoStock"), User("Everything", {"BackInStock", "LowStock", "NoStock"}),
      User("LowOnly", {"LowStock"}), User("Outages", {"NoStock"})};
  std::vector<Message> copies = RouteToUserTopics(produced[0], topics);
  ASSERT_EQ(copies.size(), 2u);
  EXPECT_THAT(Ids(copies), ElementsAre("17-Everything", "17-Outages"));
  Message expected = produced[0];
  expected.id = "17-Outages";
  expected.topic = "Outages";
  EXPECT_EQ(copies[1], expected);  // same wording, store, counts, rule and threshold
  EXPECT_EQ(copies[1].rule, "NoStock");
  EXPECT_EQ(copies[1].subject, "Inventory Alert!");
  EXPECT_EQ(copies[1].body, "Berlin is out of stock of Echo Plus");
}

TEST(TopicRoutesTest, TheTopicPolicyNarrowsWhatItGets) {
  const std::vector<TopicInfo> topics = {
      User("BerlinOutages", {"NoStock"}, R"({"store":["Berlin"]})"),
      User("LowEvents", {"LowStock", "NoStock"}, R"({"event":["low_stock"]})")};
  const TopicRouter router(topics);
  Message berlin = EvaluateChange(Change(5, "Berlin", 2, 0), std::nullopt)[0];
  Message paris = EvaluateChange(Change(6, "Paris", 2, 0), std::nullopt)[0];
  EXPECT_THAT(Ids(router.Route(berlin)), ElementsAre("5-BerlinOutages"));
  EXPECT_TRUE(router.Route(paris).empty());
  Message low = EvaluateChange(Change(8, "Paris", 9, 3), 5)[0];
  ASSERT_EQ(low.rule, "LowStock");
  std::vector<Message> copies = router.Route(low);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].id, "8-LowEvents");
  EXPECT_EQ(copies[0].threshold, 5);
}

TEST(TopicRoutesTest, IgnoresBuiltinTopicsConfirmationsAndBrokenPolicies) {
  Message alert = EvaluateChange(Change(3, "Berlin", 1, 0), std::nullopt)[0];
  EXPECT_TRUE(TopicRouter({Builtin("NoStock")}).empty());
  EXPECT_TRUE(RouteToUserTopics(alert, {Builtin("NoStock")}).empty());
  EXPECT_TRUE(RouteToUserTopics(alert, {User("Broken", {"NoStock"}, "{not json")}).empty());
  Message confirmation = alert;
  confirmation.kind = MessageKind::kSubscriptionConfirmation;
  EXPECT_TRUE(RouteToUserTopics(confirmation, {User("Outages", {"NoStock"})}).empty());
}

TEST(TopicRoutesTest, AMessageWithoutARuleIsRoutedByItsTopic) {
  Message old;
  old.id = "4-NoStock";
  old.topic = "NoStock";
  old.change_sequence = 4;
  std::vector<Message> copies = RouteToUserTopics(old, {User("Outages", {"NoStock"})});
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].rule, "NoStock");
  EXPECT_EQ(copies[0].id, "4-Outages");
}

TEST(TopicRoutesTest, MessagesWithIdsOfTheirOwnKeepThemInTheCopy) {
  // A reminder (or any publisher with its own ids) is routed the same way; its copy's id is
  // derived from its own, so it never collides with the copy of the original alert.
  Message reminder = EvaluateChange(Change(9, "Berlin", 1, 0), std::nullopt)[0];
  reminder.id = "reminder-9-1";
  reminder.since = TimePoint{};
  std::vector<Message> copies = RouteToUserTopics(reminder, {User("Outages", {"NoStock"})});
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].id, "reminder-9-1-Outages");
  EXPECT_EQ(copies[0].since, TimePoint{});
}

TEST(TopicRoutesTest, TwoRulesOfOneChangeToOneTopicGetDistinctStableIds) {
  // Today's rules never fire twice on one change; should they, neither copy is lost.
  Message low = EvaluateChange(Change(12, "Berlin", 9, 3), 5)[0];
  Message back = low;
  back.id = "12-BackInStock";
  back.topic = back.rule = "BackInStock";
  const TopicRouter router({User("Both", {"BackInStock", "LowStock"})});
  std::vector<Message> copies = router.RouteAll({low, back});
  EXPECT_THAT(Ids(copies), ElementsAre("12-Both", "12-Both-BackInStock"));
  EXPECT_EQ(Ids(router.RouteAll({low, back})), Ids(copies));  // a re-run gives the same ids
}

}  // namespace
}  // namespace stockwatch::core
