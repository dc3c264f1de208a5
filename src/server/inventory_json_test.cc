#include "server/inventory_json.h"

#include <chrono>
#include <string>
#include <vector>

#include "core/model/json.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace stockwatch::server {
namespace {

using std::chrono::milliseconds;

// The document as the handler built it before: a nlohmann tree, dumped.
std::string Reference(const core::InventoryPage& page, const core::ThresholdTable& thresholds) {
  nlohmann::json items = nlohmann::json::array();
  for (const core::InventoryItem& item : page.items) {
    nlohmann::json json = core::ToJson(item);
    std::optional<int64_t> threshold = thresholds.For(item.store, item.item);
    json["threshold"] = threshold ? nlohmann::json(*threshold) : nlohmann::json(nullptr);
    items.push_back(std::move(json));
  }
  nlohmann::json next_cursor = nullptr;
  if (!page.next_cursor.empty()) next_cursor = page.next_cursor;
  nlohmann::json body = {
      {"items", std::move(items)}, {"next_cursor", std::move(next_cursor)}, {"total", page.total}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

core::TimePoint At(int64_t ms) { return core::TimePoint(milliseconds(ms)); }

TEST(InventoryJsonTest, MatchesNlohmannForAwkwardNames) {
  core::InventoryPage page;
  page.items = {
      {"Berlin", "Echo Plus", 0, At(1764168000123)},
      {"Berlin", "Anker \"Pro\" \\ 2", 7, At(1764168000123)},
      {"Köln", "Café Crème", 2147483647, At(1764168000124)},
      {"Tabs\tand\nlines\r", "ctl \x01\x1f\x7f \b\f", 3, At(0)},
      {"bad utf-8 \xff\xfe", "cut \xc3", 1, At(-1500)},
      {"Paris", "=cmd|' /C calc'!A0", 12, At(1764168000124)},
      {"Zürich – Mall \xf0\x9f\x98\x80", "\xe2\x82\xac 5 \xf4\x8f\xbf\xbf", 4, At(5)},
      {"surrogate \xed\xa0\x80", "overlong \xc0\xaf \xe0\x80\xaf", 4, At(5)},
      {"too high \xf4\x90\x80\x80", "short \xe2\x82", 4, At(5)},
  };
  page.next_cursor = "AAAABkJlcmxpbkVjaG8=";
  page.total = 1000000;
  std::vector<core::Threshold> rules = {
      core::Threshold{std::nullopt, std::nullopt, 5},
      core::Threshold{std::string("Berlin"), std::string("Echo Plus"), 3},
  };
  const core::ThresholdTable with(rules);
  EXPECT_EQ(InventoryPageJson(page, with), Reference(page, with));
  const core::ThresholdTable without;
  EXPECT_EQ(InventoryPageJson(page, without), Reference(page, without));
}

TEST(InventoryJsonTest, MatchesNlohmannForAnEmptyLastPage) {
  core::InventoryPage page;
  EXPECT_EQ(InventoryPageJson(page, core::ThresholdTable()),
            Reference(page, core::ThresholdTable()));
  EXPECT_EQ(InventoryPageJson(page, core::ThresholdTable()),
            R"({"items":[],"next_cursor":null,"total":0})");
}

}  // namespace
}  // namespace stockwatch::server
