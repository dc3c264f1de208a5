#include "core/checker/stock_rules.h"

#include <gtest/gtest.h>

namespace stockwatch::core {
namespace {

ChangeRecord Change(std::optional<int64_t> old_count, int64_t new_count) {
  ChangeRecord c;
  c.sequence = 42;
  c.kind = old_count ? ChangeKind::kModify : ChangeKind::kInsert;
  c.store = "Berlin";
  c.item = "Echo Plus";
  c.old_count = old_count;
  c.new_count = new_count;
  return c;
}

std::vector<std::string> Topics(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.topic);
  return out;
}

using Topics_t = std::vector<std::string>;

TEST(StockRulesTest, TransitionToZeroPublishesNoStockWithOriginalWording) {
  auto messages = EvaluateChange(Change(5, 0), std::nullopt);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].topic, "NoStock");
  EXPECT_EQ(messages[0].subject, "Inventory Alert!");
  EXPECT_EQ(messages[0].body, "Berlin is out of stock of Echo Plus");
  EXPECT_EQ(messages[0].id, "42-NoStock");
  EXPECT_EQ(messages[0].old_count, 5);
  EXPECT_EQ(messages[0].new_count, 0);
}

TEST(StockRulesTest, NewItemAtZeroPublishesNoStock) {
  EXPECT_EQ(Topics(EvaluateChange(Change(std::nullopt, 0), std::nullopt)), Topics_t{"NoStock"});
}

TEST(StockRulesTest, StayingAtZeroPublishesNothing) {
  EXPECT_TRUE(EvaluateChange(Change(0, 0), std::nullopt).empty());
  EXPECT_TRUE(EvaluateChange(Change(0, 0), 5).empty());
}

TEST(StockRulesTest, BackInStockWhenZeroBecomesPositive) {
  EXPECT_EQ(Topics(EvaluateChange(Change(0, 12), std::nullopt)), Topics_t{"BackInStock"});
}

// Coming back from 0 to a low count does not cross the threshold from above: it is news
// of stock arriving, not of stock running low.
TEST(StockRulesTest, BackInStockBelowThresholdIsNotLow) {
  EXPECT_EQ(Topics(EvaluateChange(Change(0, 3), 5)), Topics_t{"BackInStock"});
}

TEST(StockRulesTest, CrossingThresholdDownwardPublishesLowStock) {
  auto messages = EvaluateChange(Change(10, 5), 5);
  EXPECT_EQ(Topics(messages), Topics_t{"LowStock"});
  EXPECT_EQ(messages[0].body, "Berlin is low on stock of Echo Plus: 5 left (threshold 5)");
  EXPECT_EQ(messages[0].threshold, 5);
  EXPECT_EQ(messages[0].rule, "LowStock");
}

TEST(StockRulesTest, OnlyLowStockCarriesTheThresholdAndEveryMessageItsRule) {
  auto out = EvaluateChange(Change(5, 0), 7);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "NoStock");
  EXPECT_EQ(out[0].threshold, std::nullopt);
  EXPECT_EQ(out[0].since, std::nullopt);
  auto back = EvaluateChange(Change(0, 9), 7);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].rule, "BackInStock");
  EXPECT_EQ(back[0].threshold, std::nullopt);
}

TEST(StockRulesTest, StayingBelowThresholdPublishesNothing) {
  EXPECT_TRUE(EvaluateChange(Change(4, 3), 5).empty());
}

TEST(StockRulesTest, RisingAboveThresholdPublishesNothing) {
  EXPECT_TRUE(EvaluateChange(Change(3, 9), 5).empty());
}

TEST(StockRulesTest, WithoutThresholdLowerCountPublishesNothing) {
  EXPECT_TRUE(EvaluateChange(Change(10, 1), std::nullopt).empty());
}

TEST(StockRulesTest, DropToZeroThroughThresholdIsNoStockOnly) {
  EXPECT_EQ(Topics(EvaluateChange(Change(10, 0), 5)), Topics_t{"NoStock"});
}

TEST(StockRulesTest, NewItemAtOrBelowThresholdIsLow) {
  EXPECT_EQ(Topics(EvaluateChange(Change(std::nullopt, 2), 5)), Topics_t{"LowStock"});
  EXPECT_TRUE(EvaluateChange(Change(std::nullopt, 6), 5).empty());
}

TEST(ThresholdTableTest, MostSpecificScopeWins) {
  ThresholdTable table({{std::nullopt, std::nullopt, 1},
                        {"Berlin", std::nullopt, 2},
                        {std::nullopt, "Echo Dot", 3},
                        {"Berlin", "Echo Dot", 4}});
  EXPECT_EQ(table.For("Berlin", "Echo Dot"), 4);
  EXPECT_EQ(table.For("Paris", "Echo Dot"), 3);
  EXPECT_EQ(table.For("Berlin", "Echo Show"), 2);
  EXPECT_EQ(table.For("Paris", "Echo Show"), 1);
}

TEST(ThresholdTableTest, NoneByDefault) {
  EXPECT_EQ(ThresholdTable().For("Berlin", "Echo Dot"), std::nullopt);
}

}  // namespace
}  // namespace stockwatch::core
