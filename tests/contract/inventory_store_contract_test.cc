// The InventoryStore and ChangeStream contract, run against InMemoryInventoryStore and
// SqliteInventoryStore, plus a randomized comparison of the two.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "adapters/memory/in_memory_inventory_store.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "contract_env.h"
#include "core/model/json.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {
namespace {

using core::ChangeKind;
using core::ChangeRecord;
using core::InventoryItem;
using core::InventoryQuery;
using core::LoadReport;
using core::LoadStatus;
using core::TimePoint;
using std::chrono::seconds;

class MemoryInventory {
 public:
  static constexpr bool kDurable = false;
  core::InventoryStore& store() { return store_; }
  core::ChangeStream& changes() { return store_; }

 private:
  adapters::InMemoryInventoryStore store_;
};

class SqliteInventory {
 public:
  static constexpr bool kDurable = true;
  SqliteInventory() { Reopen(); }
  core::InventoryStore& store() { return *store_; }
  core::ChangeStream& changes() { return *store_; }
  // Closes the store and the database and opens them again, rebuilding the index.
  void Reopen() {
    store_.reset();
    db_.reset();
    db_ = OpenDatabase(dir_.path());
    auto store = adapters::SqliteInventoryStore::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

 private:
  TempDir dir_;
  std::shared_ptr<adapters::SqliteDatabase> db_;
  std::unique_ptr<adapters::SqliteInventoryStore> store_;
};

struct Row {
  std::string store;
  std::string item;
  int64_t count = 0;
};

// Stages `rows` (lines 2, 3, ...) as upload `id` and commits. `replaced` receives what
// each Upsert returned.
absl::StatusOr<LoadReport> Upload(core::InventoryStore& store, int64_t id, TimePoint at,
                                  const std::vector<Row>& rows,
                                  std::vector<int64_t>* replaced = nullptr) {
  auto writer = store.BeginUpload(id, at);
  if (!writer.ok()) return writer.status();
  int64_t line = 2;
  for (const Row& row : rows) {
    const int64_t r = (*writer)->Upsert(row.store, row.item, row.count, line++);
    if (replaced != nullptr) replaced->push_back(r);
  }
  LoadReport report;
  report.file_name = "upload-" + std::to_string(id) + ".csv";
  report.status = LoadStatus::kLoaded;
  report.rows_read = static_cast<int64_t>(rows.size());
  absl::Status status = (*writer)->Commit(report);
  if (!status.ok()) return status;
  return report;
}

// All records, in stream order.
std::vector<ChangeRecord> ReadAll(core::ChangeStream& changes) {
  auto records = changes.Read(0, 1000000);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *records : std::vector<ChangeRecord>{};
}

// Within one upload, adapters may order records differently; compare by (upload, key).
std::vector<ChangeRecord> ByUploadAndKey(std::vector<ChangeRecord> records) {
  std::sort(records.begin(), records.end(), [](const ChangeRecord& a, const ChangeRecord& b) {
    return std::tie(a.upload_id, a.store, a.item) < std::tie(b.upload_id, b.store, b.item);
  });
  for (ChangeRecord& r : records) r.sequence = 0;
  return records;
}

std::vector<InventoryItem> QueryAll(core::InventoryStore& store, InventoryQuery query) {
  std::vector<InventoryItem> out;
  for (int pages = 0; pages < 100000; ++pages) {
    auto page = store.Query(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    EXPECT_LE(page->items.size(), query.limit);
    out.insert(out.end(), page->items.begin(), page->items.end());
    if (page->next_cursor.empty()) break;
    EXPECT_EQ(page->items.size(), query.limit);
    query.cursor = page->next_cursor;
  }
  return out;
}

ChangeRecord Record(ChangeKind kind, std::string store, std::string item,
                    std::optional<int64_t> old_count, int64_t new_count, int64_t upload_id,
                    TimePoint at) {
  ChangeRecord r;
  r.kind = kind;
  r.store = std::move(store);
  r.item = std::move(item);
  r.old_count = old_count;
  r.new_count = new_count;
  r.upload_id = upload_id;
  r.at = at;
  return r;
}

template <typename Env>
class InventoryStoreContractTest : public ::testing::Test {
 protected:
  core::InventoryStore& store() { return env_.store(); }
  core::ChangeStream& changes() { return env_.changes(); }

  LoadReport MustUpload(int64_t id, TimePoint at, const std::vector<Row>& rows,
                        std::vector<int64_t>* replaced = nullptr) {
    auto report = Upload(store(), id, at, rows, replaced);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : LoadReport{};
  }

  int64_t CountOf(std::string_view s, std::string_view i) {
    auto item = store().Get(s, i);
    return item.ok() ? item->count : -1;
  }

  Env env_;
};

using Envs = ::testing::Types<MemoryInventory, SqliteInventory>;
TYPED_TEST_SUITE(InventoryStoreContractTest, Envs);

TYPED_TEST(InventoryStoreContractTest, FirstUploadInsertsItemsWithOneRecordEach) {
  const LoadReport report = this->MustUpload(
      7, T0(), {{"Berlin", "Echo Dot", 5}, {"Berlin", "Kindle", 0}, {"Pusan", "Echo Dot", 2}});
  EXPECT_EQ(report.upload_id, 7);
  EXPECT_EQ(report.rows_loaded, 3);
  EXPECT_EQ(report.rows_unchanged, 0);

  auto item = this->store().Get("Berlin", "Echo Dot");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(*item, (InventoryItem{"Berlin", "Echo Dot", 5, T0()}));
  EXPECT_TRUE(absl::IsNotFound(this->store().Get("Berlin", "Nope").status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().Get("Nowhere", "Echo Dot").status()));

  const std::vector<ChangeRecord> records = ReadAll(this->changes());
  ASSERT_EQ(records.size(), 3u);
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i].sequence, i + 1);
  EXPECT_EQ(ByUploadAndKey(records),
            (std::vector<ChangeRecord>{
                Record(ChangeKind::kInsert, "Berlin", "Echo Dot", std::nullopt, 5, 7, T0()),
                Record(ChangeKind::kInsert, "Berlin", "Kindle", std::nullopt, 0, 7, T0()),
                Record(ChangeKind::kInsert, "Pusan", "Echo Dot", std::nullopt, 2, 7, T0())}));
  EXPECT_EQ(*this->store().LastAppliedUpload(), 7);
}

TYPED_TEST(InventoryStoreContractTest, NothingIsVisibleBeforeCommit) {
  {
    auto writer = this->store().BeginUpload(1, T0());
    ASSERT_TRUE(writer.ok());
    (*writer)->Upsert("Berlin", "Echo Dot", 5, 2);
    EXPECT_TRUE(absl::IsNotFound(this->store().Get("Berlin", "Echo Dot").status()));
    EXPECT_TRUE(ReadAll(this->changes()).empty());
    EXPECT_TRUE(this->store().Stores()->empty());
    EXPECT_EQ(*this->store().LastAppliedUpload(), 0);
    EXPECT_TRUE(absl::IsNotFound(this->store().GetReport(1).status()));
    // Dropped without Commit: nothing is applied.
  }
  EXPECT_TRUE(absl::IsNotFound(this->store().Get("Berlin", "Echo Dot").status()));
  EXPECT_EQ(this->MustUpload(1, T0(), {{"Berlin", "Kindle", 1}}).rows_loaded, 1);
  EXPECT_TRUE(absl::IsNotFound(this->store().Get("Berlin", "Echo Dot").status()));
}

TYPED_TEST(InventoryStoreContractTest, LaterUploadRecordsOnlyChangedAndNewItems) {
  const TimePoint t1 = T0();
  const TimePoint t2 = T0() + seconds(60);
  this->MustUpload(1, t1, {{"Berlin", "A", 5}, {"Berlin", "B", 0}, {"Berlin", "C", 7}});
  const LoadReport report = this->MustUpload(
      2, t2, {{"Berlin", "A", 5}, {"Berlin", "B", 3}, {"Berlin", "C", 7}, {"Berlin", "D", 1}});
  EXPECT_EQ(report.rows_loaded, 2);
  EXPECT_EQ(report.rows_unchanged, 2);

  auto later = this->changes().Read(3, 100);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 2u);
  EXPECT_EQ((*later)[0].sequence, 4u);
  EXPECT_EQ((*later)[1].sequence, 5u);
  EXPECT_EQ(ByUploadAndKey(*later),
            (std::vector<ChangeRecord>{
                Record(ChangeKind::kModify, "Berlin", "B", 0, 3, 2, t2),
                Record(ChangeKind::kInsert, "Berlin", "D", std::nullopt, 1, 2, t2)}));
  // updated_at is the time of the item's last change.
  EXPECT_EQ(this->store().Get("Berlin", "A")->updated_at, t1);
  EXPECT_EQ(this->store().Get("Berlin", "B")->updated_at, t2);

  // An upload changing nothing appends nothing.
  const LoadReport same = this->MustUpload(3, t2 + seconds(60), {{"Berlin", "A", 5}});
  EXPECT_EQ(same.rows_loaded, 0);
  EXPECT_EQ(same.rows_unchanged, 1);
  EXPECT_EQ(ReadAll(this->changes()).size(), 5u);
  EXPECT_EQ(*this->store().LastAppliedUpload(), 3);
}

TYPED_TEST(InventoryStoreContractTest, DuplicateRowsInOneUploadLastWins) {
  this->MustUpload(1, T0(), {{"Berlin", "A", 5}, {"Berlin", "C", 4}});
  std::vector<int64_t> replaced;
  const LoadReport report = this->MustUpload(2, T0() + seconds(1),
                                             {{"Berlin", "A", 1},   // line 2
                                              {"Berlin", "B", 1},   // line 3
                                              {"Berlin", "A", 2},   // line 4
                                              {"Berlin", "C", 0},   // line 5
                                              {"Berlin", "A", 5},   // line 6: back to 5
                                              {"Berlin", "B", 9},   // line 7
                                              {"Berlin", "C", 8}},  // line 8
                                             &replaced);
  EXPECT_EQ(replaced, (std::vector<int64_t>{0, 0, 2, 0, 4, 3, 5}));
  EXPECT_EQ(report.rows_loaded, 2);     // B new, C changed
  EXPECT_EQ(report.rows_unchanged, 1);  // A ends where it was
  EXPECT_EQ(this->CountOf("Berlin", "A"), 5);
  EXPECT_EQ(this->CountOf("Berlin", "B"), 9);
  EXPECT_EQ(this->CountOf("Berlin", "C"), 8);
  auto later = this->changes().Read(2, 100);
  ASSERT_TRUE(later.ok());
  // One record per item, with the image from before the upload.
  EXPECT_EQ(ByUploadAndKey(*later),
            (std::vector<ChangeRecord>{
                Record(ChangeKind::kInsert, "Berlin", "B", std::nullopt, 9, 2, T0() + seconds(1)),
                Record(ChangeKind::kModify, "Berlin", "C", 4, 8, 2, T0() + seconds(1))}));
}

TYPED_TEST(InventoryStoreContractTest, SameUploadCommittedAgainIsAlreadyExists) {
  this->MustUpload(1, T0(), {{"Berlin", "A", 5}});
  auto again = Upload(this->store(), 1, T0() + seconds(5), {{"Berlin", "A", 6}, {"Pusan", "B", 1}});
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_EQ(this->CountOf("Berlin", "A"), 5);
  EXPECT_EQ(this->CountOf("Pusan", "B"), -1);
  EXPECT_EQ(ReadAll(this->changes()).size(), 1u);
  EXPECT_EQ(this->store().GetReport(1)->rows_loaded, 1);
  // The store keeps working afterwards.
  EXPECT_EQ(this->MustUpload(2, T0(), {{"Pusan", "B", 1}}).rows_loaded, 1);
}

TYPED_TEST(InventoryStoreContractTest, ReportRoundTrips) {
  auto writer = this->store().BeginUpload(3, T0());
  ASSERT_TRUE(writer.ok());
  (*writer)->Upsert("Berlin", "A", 1, 2);
  LoadReport report;
  report.file_name = "inventory-berlin.csv";
  report.status = LoadStatus::kLoaded;
  report.rows_read = 3;
  report.rows_rejected = 1;
  report.rows_superseded = 1;
  report.error_count = 1;
  report.warning_count = 1;
  report.errors = {{core::Severity::kError, 3, 7, "count \"1O\" is not a whole number"}};
  report.warnings = {{core::Severity::kWarning, 2, 1, "row is superseded by line 4"}};
  report.ignored_columns = {"price", "colour"};
  report.duration_us = 1234;
  report.loaded_at = T0() + seconds(2);
  ASSERT_TRUE((*writer)->Commit(report).ok());
  EXPECT_EQ(report.upload_id, 3);
  EXPECT_EQ(report.rows_loaded, 1);
  auto stored = this->store().GetReport(3);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(core::ReportToStorageJson(*stored), core::ReportToStorageJson(report));
  EXPECT_TRUE(absl::IsNotFound(this->store().GetReport(4).status()));
}

TYPED_TEST(InventoryStoreContractTest, RejectedUploadStoresItsReportOnly) {
  auto writer = this->store().BeginUpload(1, T0());
  ASSERT_TRUE(writer.ok());
  LoadReport report;
  report.file_name = "bad.csv";
  report.status = LoadStatus::kRejected;
  report.reject_reason = "bad.csv: missing header";
  ASSERT_TRUE((*writer)->Commit(report).ok());
  EXPECT_EQ(*this->store().LastAppliedUpload(), 1);
  auto stored = this->store().GetReport(1);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, LoadStatus::kRejected);
  EXPECT_EQ(stored->reject_reason, "bad.csv: missing header");
  EXPECT_EQ(stored->rows_loaded, 0);
  EXPECT_TRUE(ReadAll(this->changes()).empty());
}

TYPED_TEST(InventoryStoreContractTest, OneWriterAtATime) {
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().BeginUpload(0, T0()).status()));
  auto first = this->store().BeginUpload(1, T0());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(this->store().BeginUpload(2, T0()).status()));
  first->reset();
  EXPECT_TRUE(this->store().BeginUpload(2, T0()).ok());
}

TYPED_TEST(InventoryStoreContractTest, QueryPagesThroughAllItemsInBytewiseOrder) {
  // Names arrive out of order, so interned ids and name order differ.
  const std::vector<std::string> stores = {"b-store", "Zürich", "a-store", "Berlin", "é-store"};
  std::vector<Row> rows;
  std::mt19937 rng(5);
  for (const std::string& s : stores) {
    std::vector<int> ids(70);
    for (int i = 0; i < 70; ++i) ids[i] = i;
    std::shuffle(ids.begin(), ids.end(), rng);
    for (int i : ids) rows.push_back({s, "item " + std::to_string(i), i % 7});
  }
  this->MustUpload(1, T0(), rows);

  std::vector<std::pair<std::string, std::string>> expected;
  for (const Row& r : rows) expected.emplace_back(r.store, r.item);
  std::sort(expected.begin(), expected.end());  // std::string compares bytes as unsigned
  for (size_t limit : {1, 37, 350, 10000}) {
    InventoryQuery query;
    query.limit = limit;
    const std::vector<InventoryItem> all = QueryAll(this->store(), query);
    ASSERT_EQ(all.size(), expected.size()) << "limit " << limit;
    for (size_t i = 0; i < all.size(); ++i) {
      ASSERT_EQ(std::make_pair(all[i].store, all[i].item), expected[i]) << i;
      EXPECT_EQ(all[i].updated_at, T0());
    }
  }
  InventoryQuery exact;
  exact.limit = 350;
  auto page = this->store().Query(exact);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 350u);
  EXPECT_TRUE(page->next_cursor.empty());
}

TYPED_TEST(InventoryStoreContractTest, QueryFiltersByStorePrefixAndCount) {
  std::vector<Row> rows;
  for (const std::string s : {"Berlin", "Pusan", "Berlin Mitte"}) {
    for (int i = 0; i < 40; ++i) {
      rows.push_back({s, (i % 2 ? "Echo " : "Kindle ") + std::to_string(i), i % 5});
    }
  }
  rows.push_back({"Berlin", "Ech", 0});
  this->MustUpload(1, T0(), rows);

  auto matching = [&](auto pred) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Row& r : rows) {
      if (pred(r)) out.emplace_back(r.store, r.item);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto keys = [](const std::vector<InventoryItem>& items) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& i : items) out.emplace_back(i.store, i.item);
    return out;
  };

  InventoryQuery query;
  query.limit = 6;
  query.store = "Berlin";
  EXPECT_EQ(keys(QueryAll(this->store(), query)),
            matching([](const Row& r) { return r.store == "Berlin"; }));
  query.item_prefix = "Echo";
  EXPECT_EQ(keys(QueryAll(this->store(), query)), matching([](const Row& r) {
              return r.store == "Berlin" && r.item.starts_with("Echo");
            }));
  query.max_count = 1;
  EXPECT_EQ(keys(QueryAll(this->store(), query)), matching([](const Row& r) {
              return r.store == "Berlin" && r.item.starts_with("Echo") && r.count <= 1;
            }));
  query.store.reset();
  EXPECT_EQ(keys(QueryAll(this->store(), query)),
            matching([](const Row& r) { return r.item.starts_with("Echo") && r.count <= 1; }));
  query.item_prefix.reset();
  query.max_count = 0;
  EXPECT_EQ(keys(QueryAll(this->store(), query)),
            matching([](const Row& r) { return r.count == 0; }));
  query.max_count.reset();
  query.store = "Nowhere";
  EXPECT_TRUE(QueryAll(this->store(), query).empty());
  query.store = "Berlin";
  query.item_prefix = "Zzz";
  EXPECT_TRUE(QueryAll(this->store(), query).empty());
}

TYPED_TEST(InventoryStoreContractTest, QueryRejectsBadLimitAndCursor) {
  this->MustUpload(1, T0(), {{"Berlin", "A", 1}});
  InventoryQuery query;
  query.limit = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().Query(query).status()));
  query.limit = 10001;
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().Query(query).status()));
  query.limit = 10000;
  EXPECT_TRUE(this->store().Query(query).ok());
  for (const char* cursor : {"zz", "0", "ffffffff00", "00000010"}) {
    query.cursor = cursor;
    EXPECT_TRUE(absl::IsInvalidArgument(this->store().Query(query).status())) << cursor;
  }
}

// The dashboard's queries: every sort and order, the filters, totals and the scope.
TYPED_TEST(InventoryStoreContractTest, QuerySortsFiltersAndCountsInEveryOrder) {
  struct Expected {
    std::string store;
    std::string item;
    int64_t count;
    TimePoint at;
  };
  std::map<std::pair<std::string, std::string>, Expected> table;
  auto upload = [&](int64_t id, TimePoint at, const std::vector<Row>& rows) {
    this->MustUpload(id, at, rows);
    for (const Row& r : rows) {
      auto [it, inserted] =
          table.try_emplace({r.store, r.item}, Expected{r.store, r.item, r.count, at});
      if (!inserted && it->second.count != r.count)
        it->second = Expected{r.store, r.item, r.count, at};
    }
  };
  std::vector<Row> first;
  for (const std::string s : {"Berlin", "Pusan", "Austin"}) {
    for (int i = 0; i < 25; ++i) {
      first.push_back({s,
                       (i % 3 == 0   ? "ECHO "
                        : i % 3 == 1 ? "Kindle "
                                     : "echo dot ") +
                           std::to_string(i),
                       (i * 7) % 6});
    }
  }
  upload(1, T0(), first);
  upload(2, T0() + seconds(10), {{"Pusan", "Kindle 1", 9}, {"Austin", "ECHO 0", 0}});
  upload(3, T0() + seconds(20), {{"Berlin", "Kindle 4", 2}, {"Berlin", "New", 1}});
  ASSERT_TRUE(this->store().SetThreshold(core::Threshold{std::nullopt, std::nullopt, 0}, 2).ok());
  ASSERT_TRUE(this->store().SetThreshold(core::Threshold{"Berlin", "Kindle 4", 0}, 1).ok());
  ASSERT_TRUE(this->store().SetThreshold(core::Threshold{"Pusan", "Kindle 1", 0}, 10).ok());

  using Key = std::tuple<int64_t, std::string, std::string>;
  auto expect_order = [&](InventoryQuery query, auto keep) {
    std::vector<Expected> want;
    for (const auto& [key, e] : table) {
      if (keep(e)) want.push_back(e);
    }
    auto key_of = [&](const Expected& e) -> Key {
      switch (query.sort) {
        case core::InventorySort::kItem:
          return {0, e.item, e.store};
        case core::InventorySort::kCount:
          return {e.count, e.store, e.item};
        case core::InventorySort::kUpdatedAt:
          return {e.at.time_since_epoch().count(), e.store, e.item};
        case core::InventorySort::kStore:
          break;
      }
      return {0, e.store, e.item};
    };
    std::sort(want.begin(), want.end(), [&](const Expected& a, const Expected& b) {
      return query.order == core::SortOrder::kAsc ? key_of(a) < key_of(b) : key_of(b) < key_of(a);
    });
    query.limit = 7;
    auto page = this->store().Query(query);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->total, static_cast<int64_t>(want.size()));
    std::vector<InventoryItem> got = QueryAll(this->store(), query);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].store, want[i].store) << i;
      EXPECT_EQ(got[i].item, want[i].item) << i;
      EXPECT_EQ(got[i].count, want[i].count) << i;
      EXPECT_EQ(got[i].updated_at, want[i].at) << i;
    }
  };
  auto any = [](const Expected&) { return true; };
  for (core::InventorySort sort : {core::InventorySort::kStore, core::InventorySort::kItem,
                                   core::InventorySort::kCount, core::InventorySort::kUpdatedAt}) {
    for (core::SortOrder order : {core::SortOrder::kAsc, core::SortOrder::kDesc}) {
      SCOPED_TRACE(static_cast<int>(sort) * 10 + static_cast<int>(order));
      InventoryQuery query;
      query.sort = sort;
      query.order = order;
      expect_order(query, any);
      InventoryQuery q = query;
      q.q = "eCHo";
      expect_order(q, [](const Expected& e) {
        return e.item.starts_with("ECHO") || e.item.starts_with("echo");
      });
      q.q = "stI";  // the store's name
      expect_order(q, [](const Expected& e) { return e.store == "Austin"; });
      InventoryQuery out = query;
      out.status = core::StockStatus::kOut;
      expect_order(out, [](const Expected& e) { return e.count == 0; });
      InventoryQuery low = query;
      low.status = core::StockStatus::kLow;
      expect_order(low, [](const Expected& e) {
        if (e.store == "Pusan" && e.item == "Kindle 1") return true;    // 9 <= 10
        if (e.store == "Berlin" && e.item == "Kindle 4") return false;  // 2 > its own 1
        return e.count > 0 && e.count <= 2;
      });
      InventoryQuery since = query;
      since.changed_since = T0() + seconds(10);
      expect_order(since, [](const Expected& e) { return e.at >= T0() + seconds(10); });
      InventoryQuery scoped = query;
      scoped.scope.all_stores = false;
      scoped.scope.stores = {"Austin", "Pusan"};
      scoped.status = core::StockStatus::kOut;
      expect_order(scoped, [](const Expected& e) { return e.store != "Berlin" && e.count == 0; });
    }
  }
  // A cursor belongs to its order.
  InventoryQuery by_count;
  by_count.sort = core::InventorySort::kCount;
  by_count.limit = 3;
  auto page = this->store().Query(by_count);
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_cursor.empty());
  InventoryQuery other;
  other.sort = core::InventorySort::kItem;
  other.cursor = page->next_cursor;
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().Query(other).status()));
  other.sort = core::InventorySort::kStore;
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().Query(other).status()));
}

TYPED_TEST(InventoryStoreContractTest, StoresSummarizeItems) {
  this->MustUpload(1, T0(), {{"Pusan", "A", 0}, {"Berlin", "A", 3}, {"Berlin", "B", 0}});
  this->MustUpload(2, T0() + seconds(10), {{"Berlin", "B", 0}, {"Pusan", "A", 4}});
  auto stores = this->store().Stores();
  ASSERT_TRUE(stores.ok());
  ASSERT_EQ(stores->size(), 2u);
  EXPECT_EQ((*stores)[0].store, "Berlin");
  EXPECT_EQ((*stores)[0].items, 2);
  EXPECT_EQ((*stores)[0].out_of_stock, 1);
  EXPECT_EQ((*stores)[0].last_updated, T0());
  EXPECT_EQ((*stores)[1].store, "Pusan");
  EXPECT_EQ((*stores)[1].items, 1);
  EXPECT_EQ((*stores)[1].out_of_stock, 0);
  EXPECT_EQ((*stores)[1].last_updated, T0() + seconds(10));
}

TYPED_TEST(InventoryStoreContractTest, StoresKnowTheirLastUploadChangedOrNot) {
  this->MustUpload(1, T0(), {{"Pusan", "A", 0}, {"Berlin", "A", 3}});
  // Berlin's row changes nothing, Pusan has no row: only Berlin's last upload moves.
  this->MustUpload(2, T0() + seconds(10), {{"Berlin", "A", 3}});
  this->MustUpload(3, T0() + seconds(20), {{"Paris", "A", 1}});
  if constexpr (TypeParam::kDurable) this->env_.Reopen();
  auto stores = this->store().Stores();
  ASSERT_TRUE(stores.ok());
  ASSERT_EQ(stores->size(), 3u);
  EXPECT_EQ((*stores)[0].store, "Berlin");
  EXPECT_EQ((*stores)[0].last_upload_id, 2);
  EXPECT_EQ((*stores)[0].last_upload, T0() + seconds(10));
  EXPECT_EQ((*stores)[0].last_updated, T0());  // the upload changed nothing
  EXPECT_EQ((*stores)[1].store, "Paris");
  EXPECT_EQ((*stores)[1].last_upload_id, 3);
  EXPECT_EQ((*stores)[2].store, "Pusan");
  EXPECT_EQ((*stores)[2].last_upload_id, 1);
  EXPECT_EQ((*stores)[2].last_upload, T0());
}

TYPED_TEST(InventoryStoreContractTest, ReadAndItemHistory) {
  for (int u = 1; u <= 4; ++u) {
    this->MustUpload(u, T0() + seconds(u), {{"Berlin", "A", u * 10}, {"Berlin", "B", 1}});
  }
  // Records: A@1, B@1 (seqs 1-2), then A only in uploads 2..4 (seqs 3..5).
  auto read = this->changes().Read(1, 2);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].sequence, 2u);
  EXPECT_EQ((*read)[1].sequence, 3u);
  EXPECT_TRUE(this->changes().Read(5, 10)->empty());
  EXPECT_TRUE(this->changes().Read(0, 0)->empty());

  auto history = this->changes().ItemHistory("Berlin", "A", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const int u = 4 - i;
    EXPECT_EQ((*history)[i].upload_id, u);
    EXPECT_EQ((*history)[i].new_count, u * 10);
    EXPECT_EQ((*history)[i].old_count, u > 1 ? std::optional<int64_t>((u - 1) * 10) : std::nullopt);
    EXPECT_EQ((*history)[i].at, T0() + seconds(u));
  }
  EXPECT_EQ((*history)[0].sequence, 5u);
  EXPECT_EQ(this->changes().ItemHistory("Berlin", "A", 2)->size(), 2u);
  EXPECT_EQ(this->changes().ItemHistory("Berlin", "B", 10)->size(), 1u);
  EXPECT_TRUE(this->changes().ItemHistory("Berlin", "Z", 10)->empty());
  EXPECT_TRUE(this->changes().ItemHistory("Nowhere", "A", 10)->empty());
}

TYPED_TEST(InventoryStoreContractTest, ThresholdsSetAndRemove) {
  using core::Threshold;
  EXPECT_TRUE(this->store().Thresholds()->empty());
  ASSERT_TRUE(this->store().SetThreshold(Threshold{"Berlin", "Echo", 0}, 1).ok());
  ASSERT_TRUE(this->store().SetThreshold(Threshold{std::nullopt, std::nullopt, 0}, 5).ok());
  ASSERT_TRUE(this->store().SetThreshold(Threshold{"Berlin", std::nullopt, 0}, 3).ok());
  ASSERT_TRUE(this->store().SetThreshold(Threshold{std::nullopt, "Echo", 0}, 2).ok());
  ASSERT_TRUE(this->store().SetThreshold(Threshold{"Berlin", std::nullopt, 0}, 4).ok());
  EXPECT_EQ(*this->store().Thresholds(), (std::vector<Threshold>{{std::nullopt, std::nullopt, 5},
                                                                 {std::nullopt, "Echo", 2},
                                                                 {"Berlin", std::nullopt, 4},
                                                                 {"Berlin", "Echo", 1}}));
  ASSERT_TRUE(this->store().SetThreshold(Threshold{std::nullopt, "Echo", 0}, std::nullopt).ok());
  ASSERT_TRUE(this->store().SetThreshold(Threshold{"Nowhere", "Echo", 0}, std::nullopt).ok());
  EXPECT_EQ(this->store().Thresholds()->size(), 3u);
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->store().SetThreshold(Threshold{"Berlin", std::nullopt, 0}, -1)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->store().SetThreshold(Threshold{"Berlin", std::nullopt, 0}, core::kMaxCount + 1)));
  EXPECT_TRUE(
      absl::IsInvalidArgument(this->store().SetThreshold(Threshold{"", std::nullopt, 0}, 1)));
}

TYPED_TEST(InventoryStoreContractTest, ItemsSpanningManyIdsKeepTheirCounts) {
  // Thousands of items per store, refreshed with scattered changes, exercise the packing of
  // items by id in the SQLite adapter.
  std::vector<Row> rows;
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < 2000; ++i) {
      rows.push_back({"Store " + std::to_string(s), "Item " + std::to_string(i), i % 13});
    }
  }
  this->MustUpload(1, T0(), rows);
  std::vector<Row> refresh = rows;
  int changed = 0;
  for (size_t r = 0; r < refresh.size(); r += 97) {
    refresh[r].count += 1;
    ++changed;
  }
  refresh.push_back({"Store 1", "Item new", 4});
  refresh.push_back({"Store 9", "Item 5", 4});
  const LoadReport report = this->MustUpload(2, T0() + seconds(1), refresh);
  EXPECT_EQ(report.rows_loaded, changed + 2);
  EXPECT_EQ(report.rows_unchanged, static_cast<int64_t>(rows.size()) - changed);
  InventoryQuery query;
  query.limit = 10000;
  const std::vector<InventoryItem> all = QueryAll(this->store(), query);
  ASSERT_EQ(all.size(), refresh.size());
  std::map<std::pair<std::string, std::string>, int64_t> expected;
  for (const Row& r : refresh) expected[{r.store, r.item}] = r.count;
  for (const InventoryItem& item : all) {
    EXPECT_EQ(item.count, (expected[{item.store, item.item}])) << item.store << "/" << item.item;
  }
}

TYPED_TEST(InventoryStoreContractTest, ReopenKeepsEverything) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not durable";
  } else {
    this->MustUpload(1, T0(), {{"Berlin", "A", 5}, {"Berlin", "B", 0}, {"Pusan", "A", 1}});
    this->MustUpload(2, T0() + seconds(1), {{"Berlin", "B", 3}});
    ASSERT_TRUE(this->store().SetThreshold(core::Threshold{"Berlin", std::nullopt, 0}, 2).ok());
    InventoryQuery query;
    const auto page_before = this->store().Query(query);
    const auto stores_before = this->store().Stores();
    const auto records_before = ReadAll(this->changes());
    const auto history_before = this->changes().ItemHistory("Berlin", "B", 10);

    this->env_.Reopen();
    EXPECT_EQ(this->store().Query(query)->items, page_before->items);
    EXPECT_EQ(this->store().Stores()->size(), stores_before->size());
    EXPECT_EQ((*this->store().Stores())[0].out_of_stock, (*stores_before)[0].out_of_stock);
    EXPECT_EQ(ReadAll(this->changes()), records_before);
    EXPECT_EQ(*this->changes().ItemHistory("Berlin", "B", 10), *history_before);
    EXPECT_EQ(*this->store().LastAppliedUpload(), 2);
    EXPECT_EQ(this->store().GetReport(2)->rows_loaded, 1);
    EXPECT_EQ(this->store().Thresholds()->size(), 1u);

    // The rebuilt index diffs the next upload correctly and the stream continues.
    const LoadReport report = this->MustUpload(
        3, T0() + seconds(2), {{"Berlin", "A", 5}, {"Berlin", "B", 4}, {"Pusan", "C", 1}});
    EXPECT_EQ(report.rows_loaded, 2);
    EXPECT_EQ(report.rows_unchanged, 1);
    auto later = this->changes().Read(4, 10);
    ASSERT_TRUE(later.ok());
    ASSERT_EQ(later->size(), 2u);
    EXPECT_EQ((*later)[0].sequence, 5u);
    EXPECT_EQ(
        ByUploadAndKey(*later),
        (std::vector<ChangeRecord>{
            Record(ChangeKind::kModify, "Berlin", "B", 3, 4, 3, T0() + seconds(2)),
            Record(ChangeKind::kInsert, "Pusan", "C", std::nullopt, 1, 3, T0() + seconds(2))}));
    EXPECT_TRUE(absl::IsAlreadyExists(Upload(this->store(), 2, T0(), {{"X", "Y", 1}}).status()));
  }
}

TYPED_TEST(InventoryStoreContractTest, ReadersSeeWholeUploadsWhileLoading) {
  std::atomic<bool> done{false};
  std::thread loader([&] {
    for (int u = 1; u <= 15; ++u) {
      std::vector<Row> rows;
      for (int i = 0; i < 300; ++i) {
        rows.push_back(
            {"Store " + std::to_string(i % 3), "Item " + std::to_string(i), (i * u) % 11});
      }
      EXPECT_TRUE(Upload(this->store(), u, T0() + seconds(u), rows).ok());
    }
    done = true;
  });
  auto reader = [&] {
    while (!done) {
      InventoryQuery query;
      query.limit = 64;
      const size_t items = QueryAll(this->store(), query).size();
      EXPECT_TRUE(items == 0 || items == 300) << items;
      auto records = this->changes().Read(0, 100000);
      ASSERT_TRUE(records.ok());
      for (size_t i = 0; i < records->size(); ++i) ASSERT_EQ((*records)[i].sequence, i + 1);
      // What a reader sees of the stream ends at an upload boundary, after its report.
      if (!records->empty()) {
        const int64_t last = records->back().upload_id;
        const auto of_last =
            std::count_if(records->begin(), records->end(),
                          [&](const ChangeRecord& r) { return r.upload_id == last; });
        auto report = this->store().GetReport(last);
        ASSERT_TRUE(report.ok()) << report.status();
        EXPECT_EQ(report->rows_loaded, of_last);
      }
    }
  };
  std::thread first(reader), second(reader);
  loader.join();
  first.join();
  second.join();
  EXPECT_EQ(*this->store().LastAppliedUpload(), 15);
}

// Random uploads (new and changed items, duplicates, new stores, reopening) applied to both
// adapters must leave the same table, stream, histories and summaries.
TEST(InventoryStoreDifferentialTest, SqliteMatchesMemory) {
  MemoryInventory memory;
  SqliteInventory sqlite;
  std::mt19937_64 rng(2024);
  auto name = [&](const char* prefix, int n) { return prefix + std::to_string(rng() % n); };
  for (int u = 1; u <= 16; ++u) {
    std::vector<Row> rows;
    if (u % 3 == 0) {
      // A refresh: every item of the table (so whole stores are staged), a few changed,
      // a few new, in a shuffled order.
      InventoryQuery everything;
      everything.limit = 10000;
      for (const InventoryItem& item : QueryAll(memory.store(), everything)) {
        rows.push_back({item.store, item.item,
                        rng() % 20 == 0 ? static_cast<int64_t>(rng() % 20) : item.count});
      }
      for (int r = 0; r < 50; ++r) rows.push_back({name("Store ", 3 + u), name("Item ", 900), 1});
      std::shuffle(rows.begin(), rows.end(), rng);
    } else {
      const int n = static_cast<int>(rng() % 3000);
      for (int r = 0; r < n; ++r) {
        // Skewed so that some (store, item) pairs repeat within an upload and across them.
        rows.push_back({name("Store ", 3 + u), name("Item ", 50 + 40 * u),
                        static_cast<int64_t>(rng() % 4 == 0 ? 0 : rng() % 20)});
      }
    }
    std::vector<int64_t> replaced_memory, replaced_sqlite;
    auto a = Upload(memory.store(), u, T0() + seconds(u), rows, &replaced_memory);
    auto b = Upload(sqlite.store(), u, T0() + seconds(u), rows, &replaced_sqlite);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
    EXPECT_EQ(a->rows_loaded, b->rows_loaded) << "upload " << u;
    EXPECT_EQ(a->rows_unchanged, b->rows_unchanged) << "upload " << u;
    EXPECT_EQ(replaced_memory, replaced_sqlite);
    if (u % 4 == 0) sqlite.Reopen();
  }
  sqlite.Reopen();
  InventoryQuery query;
  query.limit = 333;
  EXPECT_EQ(QueryAll(memory.store(), query), QueryAll(sqlite.store(), query));
  query.max_count = 0;
  EXPECT_EQ(QueryAll(memory.store(), query), QueryAll(sqlite.store(), query));
  const auto records = ReadAll(sqlite.changes());
  for (size_t i = 0; i < records.size(); ++i) ASSERT_EQ(records[i].sequence, i + 1);
  EXPECT_EQ(ByUploadAndKey(ReadAll(memory.changes())), ByUploadAndKey(records));
  auto summaries = [](core::InventoryStore& s) {
    std::vector<std::tuple<std::string, int64_t, int64_t, TimePoint>> out;
    const auto stores = s.Stores();
    EXPECT_TRUE(stores.ok());
    for (const auto& x : *stores) {
      out.emplace_back(x.store, x.items, x.out_of_stock, x.last_updated);
    }
    return out;
  };
  EXPECT_EQ(summaries(memory.store()), summaries(sqlite.store()));
  for (int i = 0; i < 50; ++i) {
    const std::string s = name("Store ", 6);
    const std::string item = name("Item ", 200);
    auto h1 = memory.changes().ItemHistory(s, item, 100);
    auto h2 = sqlite.changes().ItemHistory(s, item, 100);
    ASSERT_TRUE(h1.ok() && h2.ok());
    ASSERT_EQ(h1->size(), h2->size()) << s << "/" << item;
    for (size_t k = 0; k < h1->size(); ++k) {
      ChangeRecord x = (*h1)[k], y = (*h2)[k];
      x.sequence = y.sequence = 0;
      EXPECT_EQ(x, y);
    }
  }
}

}  // namespace
}  // namespace stockwatch::contract
