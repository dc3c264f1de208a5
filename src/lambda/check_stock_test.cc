#include "lambda/check_stock.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace stockwatch::lambda {
namespace {

using nlohmann::json;

class RecordingPublisher final : public AlertPublisher {
 public:
  absl::Status Publish(const core::Message& message) override {
    if (fail_store && message.store == *fail_store) {
      return absl::UnavailableError("sns is down");
    }
    published.push_back(message);
    return absl::OkStatus();
  }
  std::vector<core::Message> published;
  std::optional<std::string> fail_store;
};

json Image(const std::string& store, const std::string& item, std::optional<int64_t> count) {
  json image = {{"Store", {{"S", store}}}, {"Item", {{"S", item}}}};
  if (count) image["Count"] = {{"N", std::to_string(*count)}};
  return image;
}

StreamRecord Record(std::string sequence, StreamEventName name, json old_image, json new_image) {
  StreamRecord r;
  r.sequence_number = std::move(sequence);
  r.event_name = name;
  r.old_image = std::move(old_image);
  r.new_image = std::move(new_image);
  r.keys = {{"Store", r.new_image.is_null() ? r.old_image["Store"] : r.new_image["Store"]}};
  return r;
}

TEST(CheckStockTest, PublishesTheEmbeddedModesMessages) {
  RecordingPublisher publisher;
  CheckStockOptions options;
  options.low_stock_threshold = 5;
  std::vector<StreamRecord> records = {
      Record("100", StreamEventName::kInsert, nullptr, Image("Berlin", "Echo Plus", 0)),
      Record("101", StreamEventName::kModify, Image("Paris", "Echo Dot", 0),
             Image("Paris", "Echo Dot", 3)),
      Record("102", StreamEventName::kModify, Image("Rome", "Kindle", 9),
             Image("Rome", "Kindle", 4)),
  };
  CheckStockResult result = CheckStock(records, options, publisher);
  EXPECT_TRUE(result.failed_sequence_numbers.empty());
  ASSERT_EQ(publisher.published.size(), 3u);
  EXPECT_EQ(publisher.published[0].topic, "NoStock");
  EXPECT_EQ(publisher.published[0].subject, "Inventory Alert!");
  EXPECT_EQ(publisher.published[0].body, "Berlin is out of stock of Echo Plus");
  EXPECT_FALSE(publisher.published[0].old_count.has_value());
  EXPECT_EQ(publisher.published[1].topic, "BackInStock");
  EXPECT_EQ(publisher.published[1].subject, "Back In Stock");
  EXPECT_EQ(publisher.published[1].old_count, 0);
  EXPECT_EQ(publisher.published[1].new_count, 3);
  EXPECT_EQ(publisher.published[2].topic, "LowStock");
  EXPECT_EQ(publisher.published[2].subject, "Low Stock Alert");
  EXPECT_EQ(publisher.published[2].store, "Rome");
  EXPECT_EQ(result.published, 3);
  EXPECT_EQ(result.ToJson(), json::parse(R"({"batchItemFailures":[]})"));
}

TEST(CheckStockTest, IgnoresUnchangedRemovedAndStateRecords) {
  RecordingPublisher publisher;
  std::vector<StreamRecord> records = {
      // A loader rewriting an unchanged row: equal images.
      Record("1", StreamEventName::kModify, Image("Berlin", "Echo Plus", 0),
             Image("Berlin", "Echo Plus", 0)),
      Record("2", StreamEventName::kRemove, Image("Berlin", "Echo Plus", 0), nullptr),
      // The loader's per-object state rows.
      Record("3", StreamEventName::kInsert, nullptr,
             Image(std::string(kLoadStateStore), "bucket/berlin.csv", std::nullopt)),
      // Staying at 0 alerts once only.
      Record("4", StreamEventName::kModify, Image("Paris", "Echo Dot", 0),
             Image("Paris", "Echo Dot", 0)),
  };
  CheckStockResult result = CheckStock(records, {}, publisher);
  EXPECT_TRUE(publisher.published.empty());
  EXPECT_EQ(result.ignored, 4);
  EXPECT_TRUE(result.failed_sequence_numbers.empty());
}

TEST(CheckStockTest, TheDashboardsThresholdsBeatTheDefaultAsTheEmbeddedModes) {
  RecordingPublisher publisher;
  CheckStockOptions options;
  options.low_stock_threshold = 5;
  options.thresholds = {{std::string("Berlin"), std::string("Echo Plus"), 20},  // store + item
                        {std::nullopt, std::string("Kindle"), 2},               // any store
                        {std::string("Paris"), std::nullopt, 10}};              // whole store
  auto fall = [](const std::string& store, const std::string& item, int64_t from, int64_t to) {
    static int sequence = 0;
    return Record(std::to_string(++sequence), StreamEventName::kModify, Image(store, item, from),
                  Image(store, item, to));
  };
  std::vector<StreamRecord> records = {
      fall("Berlin", "Echo Plus", 30, 15),  // low at 20 for it (the default 5 would not be)
      fall("Berlin", "Kindle", 6, 4),       // not low: 2 for Kindles beats the default
      fall("Paris", "Kindle", 6, 2),        // low at 2: (any, item) beats (store, any)
      fall("Paris", "Echo Dot", 12, 8),     // low at Paris's 10
      fall("Rome", "Echo Dot", 9, 4),       // low at the default 5
  };
  CheckStockResult result = CheckStock(records, options, publisher);
  std::vector<std::string> low;
  for (const core::Message& message : publisher.published) {
    EXPECT_EQ(message.topic, "LowStock");
    low.push_back(message.store + "/" + message.item);
  }
  EXPECT_EQ(low, (std::vector<std::string>{"Berlin/Echo Plus", "Paris/Kindle", "Paris/Echo Dot",
                                           "Rome/Echo Dot"}));
  EXPECT_EQ(result.published, 4);

  // A global threshold set in the dashboard replaces LOW_STOCK_THRESHOLD.
  publisher.published.clear();
  options.thresholds = {{std::nullopt, std::nullopt, 3}};
  CheckStock({fall("Rome", "Echo Dot", 9, 4), fall("Rome", "Kindle", 9, 3)}, options, publisher);
  ASSERT_EQ(publisher.published.size(), 1u);
  EXPECT_EQ(publisher.published[0].item, "Kindle");
}

TEST(CheckStockTest, ThresholdItemsInTheStreamAreNotInventory) {
  RecordingPublisher publisher;
  // Even with a Count (another tool's write), a reserved store is never inventory.
  json threshold = Image(std::string(kThresholdStore), R"(["Berlin",null])", 0);
  threshold["Low"] = {{"N", "5"}};
  CheckStockResult result =
      CheckStock({Record("7", StreamEventName::kInsert, nullptr, threshold)}, {}, publisher);
  EXPECT_TRUE(publisher.published.empty());
  EXPECT_EQ(result.ignored, 1);
  EXPECT_TRUE(result.failed_sequence_numbers.empty());
}

TEST(CheckStockTest, ReportsTheFirstFailedRecordAndStopsThere) {
  RecordingPublisher publisher;
  publisher.fail_store = "Paris";
  std::vector<StreamRecord> records = {
      Record("10", StreamEventName::kInsert, nullptr, Image("Berlin", "A", 0)),
      Record("11", StreamEventName::kInsert, nullptr, Image("Paris", "B", 0)),
      Record("12", StreamEventName::kInsert, nullptr, Image("Rome", "C", 0)),
  };
  CheckStockResult result = CheckStock(records, {}, publisher);
  ASSERT_EQ(publisher.published.size(), 1u);  // Rome is left for the retry from 11
  EXPECT_EQ(result.ToJson(), json::parse(R"({"batchItemFailures":[{"itemIdentifier":"11"}]})"));
  EXPECT_EQ(result.failure_messages[0], "sns is down");
}

TEST(CheckStockTest, AMalformedRecordIsAFailureNotACrash) {
  RecordingPublisher publisher;
  StreamRecord poison = Record("20", StreamEventName::kInsert, nullptr, nullptr);
  poison.new_image = {
      {"Store", {{"S", "Berlin"}}}, {"Item", {{"S", "X"}}}, {"Count", {{"S", "a"}}}};
  CheckStockResult result = CheckStock({poison}, {}, publisher);
  EXPECT_EQ(result.ToJson(), json::parse(R"({"batchItemFailures":[{"itemIdentifier":"20"}]})"));
}

}  // namespace
}  // namespace stockwatch::lambda
