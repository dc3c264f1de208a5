// Every sort order pages through the per-store sorted orders, not a scan of the table:
// asserted by counting the items a query looks at (ItemsExamined()), and checked against the
// scan (the same query with an empty `q`, which matches everything but takes the scan path).
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

constexpr int kStores = 20;
constexpr int kItemsPerStore = 500;  // 10,000 items
constexpr size_t kLimit = 50;

class SqliteInventoryIndexTest : public ::testing::Test {
 protected:
  SqliteInventoryIndexTest() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sw_index_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = pattern;
    auto db = SqliteDatabase::Open(dir_);
    EXPECT_TRUE(db.ok()) << db.status();
    auto store = SqliteInventoryStore::Open(*db);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    // Two uploads, so updated_at differs between items; counts repeat, names interleave.
    Load(1, core::TimePoint(std::chrono::seconds(1000)), 0);
    Load(2, core::TimePoint(std::chrono::seconds(2000)), 1);
  }
  ~SqliteInventoryIndexTest() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void Load(int64_t id, core::TimePoint at, int parity) {
    auto writer = store_->BeginUpload(id, at);
    ASSERT_TRUE(writer.ok()) << writer.status();
    int64_t line = 1;
    for (int s = 0; s < kStores; ++s) {
      for (int i = 0; i < kItemsPerStore; ++i) {
        if (id > 1 && i % 3 != parity) continue;  // the second upload changes a third
        const int64_t count = (i * 7 + s + static_cast<int>(id)) % 40;
        (*writer)->Upsert("store " + std::to_string(s * 7 % kStores),
                          "item " + std::to_string(i * 13 % kItemsPerStore), count, ++line);
      }
    }
    core::LoadReport report;
    report.upload_id = id;
    report.status = core::LoadStatus::kLoaded;
    ASSERT_TRUE((*writer)->Commit(report).ok());
  }

  std::string dir_;
  std::unique_ptr<SqliteInventoryStore> store_;
};

TEST_F(SqliteInventoryIndexTest, EveryOrderPagesThroughAnIndex) {
  for (core::InventorySort sort : {core::InventorySort::kStore, core::InventorySort::kItem,
                                   core::InventorySort::kCount, core::InventorySort::kUpdatedAt}) {
    for (core::SortOrder order : {core::SortOrder::kAsc, core::SortOrder::kDesc}) {
      if (sort == core::InventorySort::kStore && order == core::SortOrder::kAsc) continue;
      for (int variant = 0; variant < 3; ++variant) {
        core::InventoryQuery query;
        query.sort = sort;
        query.order = order;
        query.limit = kLimit;
        if (variant == 1) query.store = "store 3";
        if (variant == 2) query.status = core::StockStatus::kOut;
        core::InventoryQuery scan = query;
        scan.q = "";  // matches every item, through the scan
        SCOPED_TRACE(testing::Message() << "sort " << static_cast<int>(sort) << " order "
                                        << static_cast<int>(order) << " variant " << variant);
        for (int page_number = 0; page_number < 4; ++page_number) {
          const uint64_t before = store_->ItemsExamined();
          auto page = store_->Query(query);
          ASSERT_TRUE(page.ok()) << page.status();
          const uint64_t examined = store_->ItemsExamined() - before;
          // The merge looks at about `limit` items plus one per store; status=out skips the
          // items in stock (1 in 40 counts is 0, so about 40 per item shown).
          const uint64_t bound =
              variant == 2 ? 40 * (kLimit + kStores) * 2 : 2 * (kLimit + kStores);
          EXPECT_LT(examined, bound) << "page " << page_number;
          EXPECT_LT(examined, static_cast<uint64_t>(kStores * kItemsPerStore));
          auto expected = store_->Query(scan);
          ASSERT_TRUE(expected.ok()) << expected.status();
          EXPECT_GE(
              store_->ItemsExamined() - before - examined,
              static_cast<uint64_t>(variant == 1 ? kItemsPerStore : kStores * kItemsPerStore));
          EXPECT_EQ(page->items, expected->items) << "page " << page_number;
          EXPECT_EQ(page->next_cursor, expected->next_cursor);
          EXPECT_EQ(page->total, expected->total);
          if (page->next_cursor.empty()) break;
          query.cursor = page->next_cursor;
          scan.cursor = page->next_cursor;
        }
      }
    }
  }
}

// The orders follow the table: a new upload reorders the next page.
TEST_F(SqliteInventoryIndexTest, OrdersFollowLaterUploads) {
  core::InventoryQuery query;
  query.sort = core::InventorySort::kUpdatedAt;
  query.order = core::SortOrder::kDesc;
  query.limit = 1;
  ASSERT_TRUE(store_->Query(query).ok());  // builds the orders
  auto writer = store_->BeginUpload(3, core::TimePoint(std::chrono::seconds(3000)));
  ASSERT_TRUE(writer.ok());
  (*writer)->Upsert("store 5", "item 17", 12345, 2);
  core::LoadReport report;
  report.upload_id = 3;
  report.status = core::LoadStatus::kLoaded;
  ASSERT_TRUE((*writer)->Commit(report).ok());
  auto page = store_->Query(query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].item, "item 17");
  query.sort = core::InventorySort::kCount;
  page = store_->Query(query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].count, 12345);
}

}  // namespace
}  // namespace stockwatch::adapters
