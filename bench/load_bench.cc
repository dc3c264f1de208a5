// Loading an inventory file into the SQLite inventory store: Begin, one Upsert per row,
// Commit (writing the rows, one change record per changed item and the report), on real
// files in /tmp. BM_NaiveSqliteUpsert is the straightforward program, for comparison.
//
//   build/store-rel/bench/load_bench --benchmark_filter=BM_Load
//
// Rows are generated here (distinct (store, item) pairs with realistic names, ordered by
// store then item as exports are) so the figures measure the store, not the CSV parser.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_inventory_store.h"

namespace stockwatch::bench {
namespace {

using adapters::SqliteDatabase;
using adapters::SqliteInventoryStore;

constexpr int kItemsPerStore = 3400;

struct Dataset {
  std::vector<std::string> stores;
  std::vector<std::string> items;
  struct Row {
    uint32_t store;
    uint32_t item;
    int32_t count;
  };
  std::vector<Row> rows;
};

std::vector<std::string> StoreNames(int n, std::mt19937_64& rng) {
  static const char* const kCities[] = {
      "Berlin",    "Calcutta", "Karachi",   "Pusan",     "Shanghai", "Springfield",
      "São Paulo", "Zürich",   "New York",  "Lagos",     "Osaka",    "Buenos Aires",
      "Kraków",    "Montréal", "Cape Town", "Reykjavík", "Lima",     "Hanoi"};
  static const char* const kKinds[] = {"Central",  "Mall",  "Airport", "Harbour",
                                       "Old Town", "North", "South"};
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(std::string(kCities[rng() % std::size(kCities)]) + " " +
                  kKinds[rng() % std::size(kKinds)] + " " + std::to_string(i + 1));
  }
  return out;
}

std::vector<std::string> ItemNames(int n, std::mt19937_64& rng) {
  static const char* const kBrands[] = {"Acme",  "Echo", "Kindle", "Fire", "Ring",
                                        "Blink", "Eero", "Luna",   "Halo", "Astro"};
  static const char* const kProducts[] = {"Dot",      "Show",   "Paperwhite", "TV Stick",
                                          "Doorbell", "Camera", "Router",     "Cable 2m",
                                          "Charger",  "Case",   "Remote",     "Speaker"};
  static const char* const kVariants[] = {"(3rd Gen)", "Black", "White", "Pro",
                                          "Mini",      "XL",    "Kids",  "\"braided\""};
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(std::string(kBrands[rng() % std::size(kBrands)]) + " " +
                  kProducts[rng() % std::size(kProducts)] + " " +
                  kVariants[rng() % std::size(kVariants)] + " #" + std::to_string(i));
  }
  return out;
}

// `rows` distinct pairs; with changed_fraction > 0, the same file with that fraction of
// counts changed (some to or from 0).
Dataset MakeDataset(int64_t rows, double changed_fraction) {
  std::mt19937_64 names_rng(42);
  Dataset data;
  const int stores = static_cast<int>((rows + kItemsPerStore - 1) / kItemsPerStore);
  data.stores = StoreNames(stores, names_rng);
  data.items = ItemNames(kItemsPerStore, names_rng);
  std::mt19937_64 counts(7);
  std::mt19937_64 changes(11);
  std::uniform_real_distribution<double> unit(0, 1);
  data.rows.reserve(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int32_t count = unit(counts) < 0.01 ? 0 : static_cast<int32_t>(counts() % 500 + 1);
    if (changed_fraction > 0 && unit(changes) < changed_fraction) {
      count = count == 0 ? 5 : (changes() % 4 == 0 ? 0 : count + 1);
    }
    data.rows.push_back({static_cast<uint32_t>(r / kItemsPerStore),
                         static_cast<uint32_t>(r % kItemsPerStore), count});
  }
  return data;
}

const Dataset& First(int64_t rows) {
  static auto* data = new Dataset(MakeDataset(rows, 0));
  return *data;
}
const Dataset& Refresh(int64_t rows) {
  static auto* data = new Dataset(MakeDataset(rows, 0.01));
  return *data;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/sw_load_bench_XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Opened {
  std::shared_ptr<SqliteDatabase> db;
  std::unique_ptr<SqliteInventoryStore> store;
};

Opened Open(const std::string& dir) {
  Opened out;
  out.db = SqliteDatabase::Open(dir).value();
  out.store = SqliteInventoryStore::Open(out.db).value();
  return out;
}

void Require(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::abort();
  }
}

// Begin, Upsert every row, Commit; returns the report's rows_loaded.
int64_t Load(SqliteInventoryStore& store, const Dataset& data, int64_t upload_id) {
  auto writer = store.BeginUpload(upload_id, std::chrono::system_clock::now()).value();
  int64_t line = 2;
  for (const Dataset::Row& row : data.rows) {
    writer->Upsert(data.stores[row.store], data.items[row.item], row.count, line++);
  }
  core::LoadReport report;
  report.status = core::LoadStatus::kLoaded;
  report.rows_read = static_cast<int64_t>(data.rows.size());
  Require(writer->Commit(report));
  return report.rows_loaded;
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_LoadFirst(benchmark::State& state) {
  const Dataset& data = First(state.range(0));
  int64_t loaded = 0;
  size_t index_bytes = 0;
  for (auto _ : state) {
    TempDir dir;
    Opened opened = Open(dir.path());
    const auto start = std::chrono::steady_clock::now();
    loaded = Load(*opened.store, data, 1);
    state.SetIterationTime(Seconds(start));
    const auto memory = opened.store->Memory();
    index_bytes = memory.index_bytes;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["changes"] = static_cast<double>(loaded);
  state.counters["index_MB"] = static_cast<double>(index_bytes) / 1e6;
}
BENCHMARK(BM_LoadFirst)->Arg(1000000)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_LoadRefresh(benchmark::State& state) {
  const Dataset& first = First(state.range(0));
  const Dataset& refresh = Refresh(state.range(0));
  int64_t loaded = 0;
  for (auto _ : state) {
    TempDir dir;
    Opened opened = Open(dir.path());
    Load(*opened.store, first, 1);
    // Yesterday's load has long been checkpointed by the time today's file arrives.
    Require(opened.db->Checkpoint());
    const auto start = std::chrono::steady_clock::now();
    loaded = Load(*opened.store, refresh, 2);
    state.SetIterationTime(Seconds(start));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["changes"] = static_cast<double>(loaded);
}
BENCHMARK(BM_LoadRefresh)->Arg(1000000)->UseManualTime()->Unit(benchmark::kMillisecond);

// Reopening rebuilds the in-memory index from the table.
void BM_Reopen(benchmark::State& state) {
  const Dataset& data = First(state.range(0));
  TempDir dir;
  {
    Opened opened = Open(dir.path());
    Load(*opened.store, data, 1);
  }
  for (auto _ : state) {
    Opened opened = Open(dir.path());
    benchmark::DoNotOptimize(opened.store.get());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Reopen)->Arg(1000000)->Unit(benchmark::kMillisecond);

// One page of 100 items from the middle of a store, and one page of out-of-stock items
// across all stores, with 1M items in the table.
void BM_QueryPage(benchmark::State& state) {
  const Dataset& data = First(1000000);
  TempDir dir;
  Opened opened = Open(dir.path());
  Load(*opened.store, data, 1);
  core::InventoryQuery query;
  query.limit = 100;
  if (state.range(0) == 0) {
    query.store = data.stores[150];
    query.item_prefix = "Echo";
  } else {
    query.max_count = 0;
  }
  (void)opened.store->Query(query);  // builds the sorted orders once
  for (auto _ : state) {
    auto page = opened.store->Query(query).value();
    benchmark::DoNotOptimize(page);
  }
  // The index once every store's sorted order is built, and the interned names.
  core::InventoryQuery all;
  all.max_count = -1;  // matches nothing: visits every store
  (void)opened.store->Query(all);
  const auto memory = opened.store->Memory();
  state.counters["index_B_per_item"] =
      static_cast<double>(memory.index_bytes) / static_cast<double>(memory.items);
  state.counters["names_KB"] = static_cast<double>(memory.name_bytes) / 1e3;
}
BENCHMARK(BM_QueryPage)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The straightforward program: one transaction; per row, read the old count, INSERT OR
// REPLACE the row, INSERT a change row.
void Check(int rc, sqlite3* db) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
    std::abort();
  }
}

void BM_NaiveSqliteUpsert(benchmark::State& state) {
  const Dataset& data = First(state.range(0));
  for (auto _ : state) {
    TempDir dir;
    sqlite3* db = nullptr;
    Check(sqlite3_open((dir.path() + "/naive.db").c_str(), &db), db);
    Check(sqlite3_exec(db,
                       "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                       "PRAGMA cache_size = -262144;"
                       "CREATE TABLE inventory (store TEXT, item TEXT, count INTEGER, "
                       "updated_at INTEGER, PRIMARY KEY (store, item));"
                       "CREATE TABLE changes (seq INTEGER PRIMARY KEY, store TEXT, item TEXT, "
                       "old_count INTEGER, new_count INTEGER, upload_id INTEGER, at INTEGER);",
                       nullptr, nullptr, nullptr),
          db);
    sqlite3_stmt* select = nullptr;
    sqlite3_stmt* upsert = nullptr;
    sqlite3_stmt* change = nullptr;
    Check(sqlite3_prepare_v2(db, "SELECT count FROM inventory WHERE store = ? AND item = ?", -1,
                             &select, nullptr),
          db);
    Check(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO inventory VALUES (?, ?, ?, ?)", -1,
                             &upsert, nullptr),
          db);
    Check(sqlite3_prepare_v2(db,
                             "INSERT INTO changes (store, item, old_count, new_count, upload_id, "
                             "at) VALUES (?, ?, ?, ?, 1, ?)",
                             -1, &change, nullptr),
          db);
    const auto start = std::chrono::steady_clock::now();
    const int64_t now = std::chrono::system_clock::now().time_since_epoch().count();
    Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db);
    for (const Dataset::Row& row : data.rows) {
      const std::string& store = data.stores[row.store];
      const std::string& item = data.items[row.item];
      sqlite3_bind_text(select, 1, store.data(), static_cast<int>(store.size()), SQLITE_STATIC);
      sqlite3_bind_text(select, 2, item.data(), static_cast<int>(item.size()), SQLITE_STATIC);
      int64_t old = -1;
      if (sqlite3_step(select) == SQLITE_ROW) old = sqlite3_column_int64(select, 0);
      sqlite3_reset(select);
      if (old == row.count) continue;
      sqlite3_bind_text(upsert, 1, store.data(), static_cast<int>(store.size()), SQLITE_STATIC);
      sqlite3_bind_text(upsert, 2, item.data(), static_cast<int>(item.size()), SQLITE_STATIC);
      sqlite3_bind_int64(upsert, 3, row.count);
      sqlite3_bind_int64(upsert, 4, now);
      Check(sqlite3_step(upsert), db);
      sqlite3_reset(upsert);
      sqlite3_bind_text(change, 1, store.data(), static_cast<int>(store.size()), SQLITE_STATIC);
      sqlite3_bind_text(change, 2, item.data(), static_cast<int>(item.size()), SQLITE_STATIC);
      if (old < 0) {
        sqlite3_bind_null(change, 3);
      } else {
        sqlite3_bind_int64(change, 3, old);
      }
      sqlite3_bind_int64(change, 4, row.count);
      sqlite3_bind_int64(change, 5, now);
      Check(sqlite3_step(change), db);
      sqlite3_reset(change);
    }
    Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db);
    state.SetIterationTime(Seconds(start));
    sqlite3_finalize(select);
    sqlite3_finalize(upsert);
    sqlite3_finalize(change);
    sqlite3_close(db);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_NaiveSqliteUpsert)->Arg(1000000)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace stockwatch::bench
