#include "lambda/load_inventory.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lambda/check_stock.h"

namespace stockwatch::lambda {
namespace {

using nlohmann::json;

// Objects in memory, read back in small chunks so rows span chunk boundaries.
class FakeStorage final : public ObjectStorage {
 public:
  absl::Status Read(const std::string& bucket, const std::string& key,
                    const std::function<absl::Status(std::string_view)>& on_chunk) override {
    ++reads;
    auto it = objects.find(bucket + "/" + key);
    if (it == objects.end()) return absl::NotFoundError("NoSuchKey");
    const std::string& body = it->second;
    for (size_t at = 0; at < body.size(); at += 7) {
      absl::Status st = on_chunk(std::string_view(body).substr(at, 7));
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }
  absl::Status Write(const std::string& bucket, const std::string& key, std::string_view,
                     std::string body) override {
    objects[bucket + "/" + key] = std::move(body);
    return absl::OkStatus();
  }
  std::map<std::string, std::string> objects;
  int reads = 0;
};

class FakeTable final : public InventoryWriter {
 public:
  absl::Status Write(std::span<const core::InventoryItem> items) override {
    if (fail_after >= 0 && calls >= fail_after) return absl::UnavailableError("throttled");
    ++calls;
    EXPECT_LE(items.size(), 25u);
    for (const core::InventoryItem& item : items) {
      for (const core::InventoryItem& other : items) {
        if (&item != &other) {
          EXPECT_FALSE(item.store == other.store && item.item == other.item);
        }
      }
      rows[{item.store, item.item}] = item.count;
    }
    return absl::OkStatus();
  }
  std::map<std::pair<std::string, std::string>, int64_t> rows;
  int calls = 0;
  int fail_after = -1;
};

// The conditional writes of DynamoDbLoadStateStore, in memory.
class FakeState final : public LoadStateStore {
 public:
  struct Entry {
    std::string sequencer, done, etag;
  };
  absl::StatusOr<ClaimOutcome> Claim(const std::string& object, const std::string& sequencer,
                                     const std::string& etag) override {
    Entry& e = entries[object];
    if (!(e.sequencer.empty() || e.sequencer < sequencer ||
          (e.sequencer == sequencer && e.done != sequencer))) {
      return ClaimOutcome::kStale;
    }
    const bool unchanged = !e.sequencer.empty() && e.sequencer == e.done && e.etag == etag;
    e.sequencer = sequencer;
    return unchanged ? ClaimOutcome::kUnchanged : ClaimOutcome::kClaimed;
  }
  absl::Status Complete(const std::string& object, const std::string& sequencer,
                        const std::string& etag) override {
    Entry& e = entries[object];
    if (e.sequencer != sequencer) return absl::AbortedError("newer claim");
    e.done = sequencer;
    e.etag = etag;
    return absl::OkStatus();
  }
  std::map<std::string, Entry> entries;
};

S3EventRecord Event(std::string key, std::string sequencer, std::string etag) {
  S3EventRecord r;
  r.event_name = "ObjectCreated:Put";
  r.bucket = "uploads";
  r.key = std::move(key);
  r.sequencer = std::move(sequencer);
  r.etag = std::move(etag);
  return r;
}

struct Fixture {
  FakeStorage storage;
  FakeTable table;
  FakeState state;
  InventoryLoader Loader(core::BadRowPolicy policy = core::BadRowPolicy::kSkip) {
    LoadInventoryOptions options;
    options.bad_row_policy = policy;
    return InventoryLoader(storage, table, state, options);
  }
};

TEST(InventoryLoaderTest, LoadsEveryRowInBatchesAndWritesTheReport) {
  Fixture f;
  std::string csv = "store,item,count\n";
  for (int i = 0; i < 60; ++i)
    csv += "Berlin,Item " + std::to_string(i) + "," + std::to_string(i) + "\n";
  f.storage.objects["uploads/berlin stock.csv"] = csv;
  auto loader = f.Loader();
  auto result = loader.Handle(Event("berlin stock.csv", "0A", "e1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, "loaded");
  EXPECT_EQ(f.table.rows.size(), 60u);
  EXPECT_EQ(f.table.calls, 3);  // 25 + 25 + 10
  EXPECT_EQ((f.table.rows[{"Berlin", "Item 59"}]), 59);
  json report = json::parse(f.storage.objects.at("uploads/reports/berlin stock.csv.json"));
  EXPECT_EQ(report["status"], "loaded");
  EXPECT_EQ(report["rows_read"], 60);
  EXPECT_EQ(report["rows_loaded"], 60);
}

TEST(InventoryLoaderTest, LastDuplicateRowWins) {
  Fixture f;
  f.storage.objects["uploads/a.csv"] = "store,item,count\nBerlin,Dot,5\nBerlin,Dot,0\n";
  auto loader = f.Loader();
  auto result = loader.Handle(Event("a.csv", "01", "e1"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ((f.table.rows[{"Berlin", "Dot"}]), 0);
  EXPECT_EQ(result->report.rows_superseded, 1);
  ASSERT_EQ(result->report.warnings.size(), 1u);
  EXPECT_EQ(result->report.warnings[0].line, 2);
}

TEST(InventoryLoaderTest, SameEtagAgainWritesNothing) {
  Fixture f;
  f.storage.objects["uploads/a.csv"] = "store,item,count\nBerlin,Dot,5\n";
  auto loader = f.Loader();
  ASSERT_EQ(loader.Handle(Event("a.csv", "01", "e1"))->outcome, "loaded");
  const int calls = f.table.calls;
  auto again = loader.Handle(Event("a.csv", "02", "e1"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, "unchanged");
  EXPECT_EQ(f.table.calls, calls);
  // The same event delivered twice is skipped too.
  EXPECT_EQ(loader.Handle(Event("a.csv", "02", "e1"))->outcome, "stale");
}

TEST(InventoryLoaderTest, AnOlderEventNeverOverwritesNewerData) {
  Fixture f;
  auto loader = f.Loader();
  f.storage.objects["uploads/a.csv"] = "store,item,count\nBerlin,Dot,7\n";
  ASSERT_EQ(loader.Handle(Event("a.csv", "0055AED6DCD90281F0", "new"))->outcome, "loaded");
  // The event of the earlier upload arrives late (shorter sequencer, smaller value).
  f.storage.objects["uploads/a.csv"] = "store,item,count\nBerlin,Dot,1\n";
  auto late = loader.Handle(Event("a.csv", "55AED6DCD90281E5", "old"));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->outcome, "stale");
  EXPECT_EQ((f.table.rows[{"Berlin", "Dot"}]), 7);
}

TEST(InventoryLoaderTest, AFailedLoadIsRetriedWithTheSameEvent) {
  Fixture f;
  std::string csv = "store,item,count\n";
  for (int i = 0; i < 30; ++i) csv += "Berlin,I" + std::to_string(i) + ",1\n";
  f.storage.objects["uploads/a.csv"] = csv;
  auto loader = f.Loader();
  f.table.fail_after = 1;
  auto failed = loader.Handle(Event("a.csv", "05", "e1"));
  EXPECT_TRUE(absl::IsUnavailable(failed.status()));
  EXPECT_EQ(f.storage.objects.count("uploads/reports/a.csv.json"), 0u);
  f.table.fail_after = -1;
  auto retried = loader.Handle(Event("a.csv", "05", "e1"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->outcome, "loaded");
  EXPECT_EQ(f.table.rows.size(), 30u);
}

TEST(InventoryLoaderTest, RejectedFileWritesNothingAndReportsWhere) {
  Fixture f;
  f.storage.objects["uploads/bad.csv"] = "store,item,count\nBerlin,Dot,5\nBerlin,Echo,1O\n";
  auto loader = f.Loader(core::BadRowPolicy::kReject);
  auto result = loader.Handle(Event("bad.csv", "01", "e1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, "rejected");
  EXPECT_TRUE(f.table.rows.empty());  // validated before the first write
  json report = json::parse(f.storage.objects.at("uploads/reports/bad.csv.json"));
  EXPECT_EQ(report["status"], "rejected");
  EXPECT_EQ(report["reject_reason"], "bad.csv:3:13: count \"1O\" is not a whole number");
}

TEST(InventoryLoaderTest, SkipPolicyLoadsGoodRowsAndReportsBadOnes) {
  Fixture f;
  f.storage.objects["uploads/mixed.csv"] = "store,item,count\nBerlin,Dot,5\nBerlin,Echo,x\n";
  auto loader = f.Loader();
  auto result = loader.Handle(Event("mixed.csv", "01", "e1"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, "loaded");
  EXPECT_EQ(f.table.rows.size(), 1u);
  EXPECT_EQ(result->report.rows_rejected, 1);
  EXPECT_EQ(f.storage.reads, 1);  // one pass under skip
}

TEST(InventoryLoaderTest, BadHeaderRejectsBeforeAnyWrite) {
  Fixture f;
  f.storage.objects["uploads/h.csv"] = "shop,item,count\nBerlin,Dot,5\n";
  auto loader = f.Loader();
  auto result = loader.Handle(Event("h.csv", "01", "e1"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, "rejected");
  EXPECT_TRUE(f.table.rows.empty());
  EXPECT_EQ(result->report.reject_reason, "h.csv:1:1: missing column \"store\"");
}

TEST(InventoryLoaderTest, RefusesTheReservedStateStore) {
  Fixture f;
  f.storage.objects["uploads/r.csv"] =
      "store,item,count\n" + std::string(kLoadStateStore) + ",x,1\nBerlin,Dot,2\n";
  auto loader = f.Loader();
  auto result = loader.Handle(Event("r.csv", "01", "e1"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(f.table.rows.size(), 1u);
  EXPECT_EQ(result->report.rows_rejected, 1);
  ASSERT_EQ(result->report.errors.size(), 1u);
  EXPECT_EQ(result->report.errors[0].line, 2);
}

TEST(InventoryLoaderTest, RefusesEveryReservedStoreByName) {
  Fixture f;
  f.storage.objects["uploads/t.csv"] =
      "store,item,count\nBerlin,Dot,2\n" + std::string(kThresholdStore) + ",x,1\n";
  auto loader = f.Loader();
  auto result = loader.Handle(Event("t.csv", "01", "e1"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(f.table.rows.size(), 1u);
  ASSERT_EQ(result->report.errors.size(), 1u);
  EXPECT_EQ(result->report.errors[0].line, 3);
  EXPECT_EQ(result->report.errors[0].reason, "store \"#stockwatch-thresholds\" is reserved");
}

TEST(InventoryLoaderTest, SkipsReportsAndOtherEvents) {
  Fixture f;
  auto loader = f.Loader();
  EXPECT_EQ(loader.Handle(Event("reports/a.csv.json", "01", "e"))->outcome, "skipped");
  S3EventRecord removed = Event("a.csv", "01", "e");
  removed.event_name = "ObjectRemoved:Delete";
  EXPECT_EQ(loader.Handle(removed)->outcome, "skipped");
  EXPECT_EQ(f.storage.reads, 0);
}

TEST(InventoryLoaderTest, HandlesEveryRecordOfAnEvent) {
  Fixture f;
  f.storage.objects["uploads/a.csv"] = "store,item,count\nBerlin,Dot,5\n";
  f.storage.objects["uploads/b c.csv"] = "store,item,count\nParis,Dot,0\n";
  auto loader = f.Loader();
  auto result = loader.HandleAll({Event("a.csv", "01", "e1"), Event("b c.csv", "02", "e2")});
  ASSERT_TRUE(result.ok());
  ASSERT_EQ((*result)["records"].size(), 2u);
  EXPECT_EQ((*result)["records"][1]["key"], "b c.csv");
  EXPECT_EQ(f.table.rows.size(), 2u);
}

}  // namespace
}  // namespace stockwatch::lambda
