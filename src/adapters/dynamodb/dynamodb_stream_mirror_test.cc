// Decoding of stream records and table items for the mirror: what is applied, what is
// ignored (the load-state store) and what is skipped as not an inventory item, without
// throwing on any JSON.
#include "adapters/dynamodb/dynamodb_stream_mirror.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace stockwatch::adapters {
namespace {

using nlohmann::json;

const core::TimePoint kFallback{std::chrono::seconds(42)};

json Record(const std::string& event, json image, json extra = json::object()) {
  json body = {{"SequenceNumber", "1100000000000000000001"},
               {"ApproximateCreationDateTime", 1700000000.5}};
  if (event == "REMOVE") {
    body["Keys"] = {{"Store", image["Store"]}, {"Item", image["Item"]}};
    body["OldImage"] = image;
  } else {
    body["NewImage"] = image;
  }
  body.update(extra);
  return {{"eventID", "1"}, {"eventName", event}, {"dynamodb", body}};
}

json Image(const json& store, const json& item, const json& count) {
  json image = json::object();
  if (!store.is_null()) image["Store"] = store;
  if (!item.is_null()) image["Item"] = item;
  if (!count.is_null()) image["Count"] = count;
  return image;
}

json S(const std::string& s) { return {{"S", s}}; }
json N(const std::string& n) { return {{"N", n}}; }

TEST(DecodeMirrorRecordTest, InsertAndModifyGiveTheNewImage) {
  json image = Image(S("Berlin"), S("Echo"), N("7"));
  image["UploadId"] = N("12");
  auto decoded = DecodeMirrorRecord(Record("MODIFY", image), kFallback);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->has_value());
  const MirroredItem& item = **decoded;
  EXPECT_EQ(item.store, "Berlin");
  EXPECT_EQ(item.item, "Echo");
  EXPECT_EQ(item.count, 7);
  EXPECT_EQ(item.upload_id, 12);
  EXPECT_EQ(item.at, core::TimePoint(std::chrono::milliseconds(1700000000500)));

  decoded = DecodeMirrorRecord(Record("INSERT", Image(S("Berlin"), S("Dot"), N("0"))), kFallback);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ((*decoded)->count, 0);
  EXPECT_EQ((*decoded)->upload_id, 0);
}

TEST(DecodeMirrorRecordTest, RemoveGivesARemovalByKeys) {
  auto decoded =
      DecodeMirrorRecord(Record("REMOVE", Image(S("Berlin"), S("Echo"), N("3"))), kFallback);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ((*decoded)->item, "Echo");
  EXPECT_FALSE((*decoded)->count.has_value());
}

TEST(DecodeMirrorRecordTest, IgnoresTheReservedStores) {
  // The load state, and the api function's thresholds (which have Low, not Count).
  json threshold = Image(S("#stockwatch-thresholds"), S(R"(["Berlin",null])"), nullptr);
  threshold["Low"] = N("5");
  for (const json& state :
       {Image(S(std::string(kMirrorLoadStateStore)), S("bucket/key.csv"), nullptr), threshold}) {
    for (const char* event : {"INSERT", "MODIFY", "REMOVE"}) {
      auto decoded = DecodeMirrorRecord(Record(event, state), kFallback);
      ASSERT_TRUE(decoded.ok()) << event << ": " << decoded.status();
      EXPECT_FALSE(decoded->has_value()) << event;
    }
    auto item = DecodeMirrorItem(state, kFallback);
    ASSERT_TRUE(item.ok());
    EXPECT_FALSE(item->has_value());
  }
}

TEST(DecodeMirrorRecordTest, UsesTheFallbackTimeWithoutOne) {
  json record = Record("INSERT", Image(S("a"), S("b"), N("1")));
  record["dynamodb"].erase("ApproximateCreationDateTime");
  auto decoded = DecodeMirrorRecord(record, kFallback);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)->at, kFallback);
  record["dynamodb"]["ApproximateCreationDateTime"] = "yesterday";
  decoded = DecodeMirrorRecord(record, kFallback);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)->at, kFallback);
}

TEST(DecodeMirrorRecordTest, RejectsWhatIsNotAnInventoryItem) {
  const std::vector<std::pair<std::string, json>> bad = {
      {"not an object", json::array()},
      {"no eventName", json{{"dynamodb", json::object()}}},
      {"no dynamodb", json{{"eventName", "INSERT"}}},
      {"unknown event", Record("UPSERT", Image(S("a"), S("b"), N("1")))},
      {"no NewImage", json{{"eventName", "INSERT"}, {"dynamodb", {{"Keys", json::object()}}}}},
      {"no Count", Record("INSERT", Image(S("a"), S("b"), nullptr))},
      {"Count not a number", Record("INSERT", Image(S("a"), S("b"), N("x")))},
      {"Count a string", Record("INSERT", Image(S("a"), S("b"), S("1")))},
      {"Count fractional", Record("INSERT", Image(S("a"), S("b"), N("1.5")))},
      {"Count negative", Record("INSERT", Image(S("a"), S("b"), N("-1")))},
      {"Count too large", Record("MODIFY", Image(S("a"), S("b"), N("2147483648")))},
      {"Count huge", Record("MODIFY", Image(S("a"), S("b"), N("1e400")))},
      {"Store a number", Record("INSERT", Image(N("1"), S("b"), N("1")))},
      {"no Store", Record("INSERT", Image(nullptr, S("b"), N("1")))},
      {"empty Item", Record("INSERT", Image(S("a"), S(""), N("1")))},
      {"long Item", Record("INSERT", Image(S("a"), S(std::string(257, 'x')), N("1")))},
      {"REMOVE without keys",
       json{{"eventName", "REMOVE"}, {"dynamodb", {{"SequenceNumber", "1"}}}}},
      {"REMOVE with a numeric key", Record("REMOVE", Image(S("a"), N("2"), N("1")))},
  };
  for (const auto& [what, record] : bad) {
    absl::StatusOr<std::optional<MirroredItem>> decoded = DecodeMirrorRecord(record, kFallback);
    EXPECT_TRUE(absl::IsInvalidArgument(decoded.status())) << what << ": " << decoded.status();
  }
}

TEST(DecodeMirrorItemTest, DecodesScanItems) {
  json item = Image(S("Berlin"), S("Echo"), N("2147483647"));
  item["UploadId"] = N("-3");  // not a valid upload: ignored
  auto decoded = DecodeMirrorItem(item, kFallback);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ((*decoded)->count, 2147483647);
  EXPECT_EQ((*decoded)->upload_id, 0);
  EXPECT_EQ((*decoded)->at, kFallback);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeMirrorItem(json("x"), kFallback).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      DecodeMirrorItem(Image(S("a"), S("b"), nullptr), kFallback).status()));
}

// Random records built from valid and invalid pieces: decoding never throws, and whatever
// it accepts is a valid mirrored item.
TEST(DecodeMirrorRecordTest, NeverThrowsOnRandomRecords) {
  std::mt19937 rng(7);
  const std::vector<json> values = {nullptr,
                                    json::array(),
                                    json::object(),
                                    1,
                                    "x",
                                    S("a"),
                                    S(""),
                                    N("5"),
                                    N("-5"),
                                    N("x"),
                                    N("99999999999999999999"),
                                    json{{"N", 5}},
                                    json{{"S", 5}},
                                    json{{"BOOL", true}}};
  const std::vector<std::string> events = {"INSERT", "MODIFY", "REMOVE", "", "insert"};
  for (int i = 0; i < 5000; ++i) {
    json body = json::object();
    auto pick = [&]() { return values[rng() % values.size()]; };
    if (rng() % 4 != 0) body["NewImage"] = {{"Store", pick()}, {"Item", pick()}, {"Count", pick()}};
    if (rng() % 4 != 0) body["Keys"] = {{"Store", pick()}, {"Item", pick()}};
    if (rng() % 3 == 0) body["NewImage"] = pick();
    if (rng() % 3 == 0) body["ApproximateCreationDateTime"] = pick();
    json record = {{"eventName", events[rng() % events.size()]}, {"dynamodb", body}};
    if (rng() % 10 == 0) record["dynamodb"] = pick();
    absl::StatusOr<std::optional<MirroredItem>> decoded;
    ASSERT_NO_THROW(decoded = DecodeMirrorRecord(record, kFallback)) << record.dump();
    if (decoded.ok() && decoded->has_value()) {
      const MirroredItem& item = **decoded;
      EXPECT_FALSE(item.store.empty());
      EXPECT_FALSE(item.item.empty());
      if (item.count) {
        EXPECT_GE(*item.count, 0);
        EXPECT_LE(*item.count, core::kMaxCount);
      }
    }
  }
}

}  // namespace
}  // namespace stockwatch::adapters
