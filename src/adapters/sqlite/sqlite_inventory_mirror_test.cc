// SqliteInventoryStore as the mirror of a DynamoDB table (ApplyMirrored): change records,
// removals, silent seeds, whole-table resyncs, atomicity with the caller's writes, and that
// all of it survives reopening the database.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

using core::ChangeKind;
using core::TimePoint;

TimePoint At(int seconds) { return TimePoint(std::chrono::seconds(seconds)); }

MirroredItem Put(const std::string& store, const std::string& item, int64_t count, int at,
                 int64_t upload_id = 0) {
  return MirroredItem{store, item, count, At(at), upload_id};
}

MirroredItem Removed(const std::string& store, const std::string& item, int at) {
  return MirroredItem{store, item, std::nullopt, At(at), 0};
}

class SqliteInventoryMirrorTest : public ::testing::Test {
 protected:
  SqliteInventoryMirrorTest() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sw_mirror_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = pattern;
    Reopen();
  }
  ~SqliteInventoryMirrorTest() override {
    store_.reset();
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Reopen() {
    store_.reset();
    db_.reset();
    auto db = SqliteDatabase::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
    auto store = SqliteInventoryStore::Open(db_, options_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  MirrorResult Apply(const std::vector<MirroredItem>& items,
                     MirrorChanges changes = MirrorChanges::kRecord,
                     MirrorScope scope = MirrorScope::kItems) {
    absl::StatusOr<MirrorResult> result = store_->ApplyMirrored(items, changes, scope);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : MirrorResult{};
  }

  std::vector<core::ChangeRecord> ReadAll(uint64_t after = 0) {
    auto records = store_->Read(after, 100000);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *records : std::vector<core::ChangeRecord>{};
  }

  std::optional<int64_t> CountOf(const std::string& store, const std::string& item) {
    auto got = store_->Get(store, item);
    if (!got.ok()) {
      EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
      return std::nullopt;
    }
    return got->count;
  }

  // Every item, through the default order's pages.
  std::map<std::pair<std::string, std::string>, int64_t> All() {
    std::map<std::pair<std::string, std::string>, int64_t> out;
    core::InventoryQuery query;
    query.limit = 97;
    while (true) {
      auto page = store_->Query(query);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return out;
      for (const core::InventoryItem& item : page->items) {
        out[{item.store, item.item}] = item.count;
      }
      if (page->next_cursor.empty()) return out;
      query.cursor = page->next_cursor;
    }
  }

  void Upload(int64_t id, const std::vector<std::tuple<std::string, std::string, int64_t>>& rows) {
    auto writer = store_->BeginUpload(id, At(static_cast<int>(id)));
    ASSERT_TRUE(writer.ok()) << writer.status();
    int64_t line = 1;
    for (const auto& [store, item, count] : rows) (*writer)->Upsert(store, item, count, ++line);
    core::LoadReport report;
    report.file_name = "upload.csv";
    report.status = core::LoadStatus::kLoaded;
    ASSERT_TRUE((*writer)->Commit(report).ok());
  }

  std::string dir_;
  SqliteInventoryOptions options_;
  std::shared_ptr<SqliteDatabase> db_;
  std::unique_ptr<SqliteInventoryStore> store_;
};

TEST_F(SqliteInventoryMirrorTest, RecordsInsertsAndChangesButNotEqualStates) {
  MirrorResult first = Apply({Put("Berlin", "Echo", 5, 100, 7), Put("Berlin", "Dot", 0, 101)});
  EXPECT_EQ(first.inserted, 2);
  std::vector<core::ChangeRecord> records = ReadAll();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].kind, ChangeKind::kInsert);
  EXPECT_EQ(records[0].item, "Echo");
  EXPECT_EQ(records[0].new_count, 5);
  EXPECT_EQ(records[0].upload_id, 7);
  EXPECT_EQ(records[0].at, At(100));
  EXPECT_EQ(records[1].item, "Dot");
  EXPECT_EQ(records[1].upload_id, 0);
  EXPECT_EQ(records[1].at, At(101));

  // The same state again, then two states of one item in one batch: each is a change.
  MirrorResult second = Apply({Put("Berlin", "Echo", 5, 102), Put("Berlin", "Echo", 0, 103),
                               Put("Berlin", "Echo", 3, 104), Put("Paris", "Echo", 1, 105)});
  EXPECT_EQ(second.unchanged, 1);
  EXPECT_EQ(second.modified, 2);
  EXPECT_EQ(second.inserted, 1);
  records = ReadAll(records.back().sequence);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].kind, ChangeKind::kModify);
  EXPECT_EQ(records[0].old_count, 5);
  EXPECT_EQ(records[0].new_count, 0);
  EXPECT_EQ(records[1].old_count, 0);
  EXPECT_EQ(records[1].new_count, 3);
  EXPECT_EQ(records[1].at, At(104));
  EXPECT_EQ(records[2].store, "Paris");

  auto echo = store_->Get("Berlin", "Echo");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->count, 3);
  EXPECT_EQ(echo->updated_at, At(104));
  auto history = store_->ItemHistory("Berlin", "Echo", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].new_count, 3);
  EXPECT_EQ((*history)[2].kind, ChangeKind::kInsert);
  auto stores = store_->Stores();
  ASSERT_TRUE(stores.ok());
  ASSERT_EQ(stores->size(), 2u);
  EXPECT_EQ((*stores)[0].store, "Berlin");
  EXPECT_EQ((*stores)[0].out_of_stock, 1);  // Dot
  EXPECT_EQ((*stores)[0].last_upload_id, 0);
}

TEST_F(SqliteInventoryMirrorTest, RemovalRemovesTheItemWithoutARecord) {
  Apply({Put("Berlin", "Echo", 0, 100), Put("Berlin", "Dot", 2, 100), Put("Rome", "Dot", 1, 100)});
  const uint64_t last = ReadAll().back().sequence;
  MirrorResult removed = Apply({Removed("Berlin", "Echo", 101), Removed("Berlin", "Nope", 101),
                                Removed("Nowhere", "Echo", 101), Removed("Rome", "Dot", 101)});
  EXPECT_EQ(removed.removed, 2);
  EXPECT_EQ(removed.unchanged, 2);
  EXPECT_TRUE(ReadAll(last).empty());
  EXPECT_EQ(CountOf("Berlin", "Echo"), std::nullopt);
  EXPECT_EQ(CountOf("Berlin", "Dot"), 2);
  auto stores = store_->Stores();
  ASSERT_TRUE(stores.ok());
  ASSERT_EQ(stores->size(), 1u);  // Rome lost its last item
  EXPECT_EQ((*stores)[0].out_of_stock, 0);
  EXPECT_EQ((*stores)[0].items, 1);

  // Back again: a new item, whose history starts anew.
  Apply({Put("Berlin", "Echo", 4, 102)});
  std::vector<core::ChangeRecord> records = ReadAll(last);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kind, ChangeKind::kInsert);
  EXPECT_FALSE(records[0].old_count.has_value());
  auto history = store_->ItemHistory("Berlin", "Echo", 10);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), 1u);
  Reopen();
  EXPECT_EQ(CountOf("Berlin", "Echo"), 4);
  EXPECT_EQ(CountOf("Rome", "Dot"), std::nullopt);
}

TEST_F(SqliteInventoryMirrorTest, SilentSeedWritesItemsAndTheirTimeButNoRecords) {
  MirrorResult seeded = Apply({Put("Berlin", "Echo", 0, 500), Put("Berlin", "Dot", 3, 500)},
                              MirrorChanges::kSilent, MirrorScope::kWholeTable);
  EXPECT_EQ(seeded.inserted, 2);
  EXPECT_TRUE(ReadAll().empty());
  auto echo = store_->Get("Berlin", "Echo");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->count, 0);
  EXPECT_EQ(echo->updated_at, At(500));
  auto history = store_->ItemHistory("Berlin", "Echo", 10);
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->empty());

  Apply({Put("Berlin", "Echo", 6, 501)});
  std::vector<core::ChangeRecord> records = ReadAll();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].kind, ChangeKind::kModify);
  EXPECT_EQ(records[0].old_count, 0);
  Reopen();
  history = store_->ItemHistory("Berlin", "Echo", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);  // stops at the seed
  EXPECT_EQ((*history)[0].at, At(501));
  EXPECT_EQ(ReadAll(), records);
  auto dot = store_->Get("Berlin", "Dot");
  ASSERT_TRUE(dot.ok());
  EXPECT_EQ(dot->updated_at, At(500));
}

TEST_F(SqliteInventoryMirrorTest, WholeTableRemovesWhatTheBatchLacksAndLeavesUploadsAlone) {
  Upload(3, {{"Berlin", "Echo", 1}, {"Berlin", "Dot", 0}, {"Rome", "Kindle", 9}});
  const uint64_t last = ReadAll().back().sequence;
  MirrorResult resync = Apply(
      {Put("Berlin", "Echo", 1, 900), Put("Berlin", "Dot", 4, 900), Put("Oslo", "Kindle", 2, 900)},
      MirrorChanges::kRecord, MirrorScope::kWholeTable);
  EXPECT_EQ(resync.unchanged, 1);
  EXPECT_EQ(resync.modified, 1);
  EXPECT_EQ(resync.inserted, 1);
  EXPECT_EQ(resync.removed, 1);
  const auto expected = std::map<std::pair<std::string, std::string>, int64_t>{
      {{"Berlin", "Dot"}, 4}, {{"Berlin", "Echo"}, 1}, {{"Oslo", "Kindle"}, 2}};
  EXPECT_EQ(All(), expected);
  EXPECT_EQ(ReadAll(last).size(), 2u);
  auto applied = store_->LastAppliedUpload();
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 3);
  EXPECT_TRUE(store_->GetReport(3).ok());
  Reopen();
  EXPECT_EQ(All(), expected);
  applied = store_->LastAppliedUpload();
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, 3);
  // Uploads still apply on top of a mirror, with their own ids and records.
  Upload(4, {{"Berlin", "Echo", 0}});
  EXPECT_EQ(CountOf("Berlin", "Echo"), 0);
  std::vector<core::ChangeRecord> records = ReadAll(last);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].upload_id, 4);
  EXPECT_EQ(records[2].at, At(4));
}

TEST_F(SqliteInventoryMirrorTest, FailureOfTheCallersWriteRollsTheBatchBack) {
  Apply({Put("Berlin", "Echo", 1, 100)});
  auto failed = store_->ApplyMirrored(
      {Put("Berlin", "Echo", 0, 101), Put("Berlin", "New", 1, 101)}, MirrorChanges::kRecord,
      MirrorScope::kItems,
      [](SqliteConnection&) { return absl::UnavailableError("checkpoint failed"); });
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_EQ(CountOf("Berlin", "Echo"), 1);
  EXPECT_EQ(CountOf("Berlin", "New"), std::nullopt);
  EXPECT_EQ(ReadAll().size(), 1u);
  Apply({Put("Berlin", "Echo", 0, 102), Put("Berlin", "New", 1, 102)});
  EXPECT_EQ(ReadAll().size(), 3u);
  Reopen();
  EXPECT_EQ(ReadAll().size(), 3u);
  EXPECT_EQ(CountOf("Berlin", "New"), 1);
}

TEST_F(SqliteInventoryMirrorTest, RejectsBadItemsAndWaitsForAnUploadWriter) {
  for (const MirroredItem& bad :
       {Put("", "Echo", 1, 1), Put("Berlin", "", 1, 1), Put("Berlin", std::string(300, 'x'), 1, 1),
        Put("Berlin", "Echo", -1, 1), Put("Berlin", "Echo", int64_t{1} << 31, 1)}) {
    auto result = store_->ApplyMirrored({Put("Berlin", "Fine", 1, 1), bad}, MirrorChanges::kRecord);
    EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << result.status();
  }
  EXPECT_EQ(CountOf("Berlin", "Fine"), std::nullopt);
  auto writer = store_->BeginUpload(1, At(1));
  ASSERT_TRUE(writer.ok());
  auto busy = store_->ApplyMirrored({Put("Berlin", "Fine", 1, 1)}, MirrorChanges::kRecord);
  EXPECT_TRUE(absl::IsFailedPrecondition(busy.status())) << busy.status();
  writer->reset();
  EXPECT_EQ(Apply({Put("Berlin", "Fine", 1, 1)}).inserted, 1);
}

// Many inserts and removals in one store (the index's backward-shift deletion, chunk
// rewrites and deletes) against a plain map, before and after reopening.
TEST_F(SqliteInventoryMirrorTest, RandomInsertsAndRemovalsMatchAModel) {
  options_.records_per_block = 7;
  Reopen();
  std::mt19937 rng(42);
  std::map<std::pair<std::string, std::string>, int64_t> model;
  for (int round = 0; round < 30; ++round) {
    std::vector<MirroredItem> batch;
    for (int i = 0; i < 200; ++i) {
      const std::string store = "store " + std::to_string(rng() % 3);
      const std::string item = "item " + std::to_string(rng() % 700);
      if (rng() % 3 == 0) {
        batch.push_back(Removed(store, item, round));
        model.erase({store, item});
      } else {
        const int64_t count = static_cast<int64_t>(rng() % 4);
        batch.push_back(Put(store, item, count, round));
        model[{store, item}] = count;
      }
    }
    Apply(batch);
    ASSERT_EQ(All(), model) << "round " << round;
  }
  for (const auto& [key, count] : model) ASSERT_EQ(CountOf(key.first, key.second), count);
  auto memory = store_->Memory();
  EXPECT_EQ(memory.items, model.size());
  const size_t records = ReadAll().size();
  Reopen();
  EXPECT_EQ(All(), model);
  EXPECT_EQ(ReadAll().size(), records);
  core::InventoryQuery out;
  out.status = core::StockStatus::kOut;
  out.sort = core::InventorySort::kCount;
  out.limit = 10000;
  auto page = store_->Query(out);
  ASSERT_TRUE(page.ok());
  int64_t zeros = 0;
  for (const auto& [key, count] : model) zeros += count == 0 ? 1 : 0;
  EXPECT_EQ(page->total, zeros);
  EXPECT_EQ(static_cast<int64_t>(page->items.size()), zeros);
}

}  // namespace
}  // namespace stockwatch::adapters
