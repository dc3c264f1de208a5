// The inventory table, its change stream, load reports and thresholds in SQLite, built to
// load a million-row file in well under a second.
//
// Store and item names are interned to dense ids; an item's key is
// (store_id << 32 | item_id). The whole table is mirrored in memory (per store, an
// open-addressing table item_id -> count and last change), so staging and diffing a file
// needs no reads, and Query/Get/Stores are served from memory. On disk the table is the
// durable image of that mirror, packed in chunks (one row per store and 256 item ids),
// because a row per item costs SQLite ~0.5 us of B-tree work each, half the budget of a
// million-row load. Change records are packed in blocks, one row per block of consecutive
// sequence numbers, and each record links to the previous record of its item, so
// ItemHistory follows a chain.
//
// Memory: 16 bytes per table slot, tables kept 37-75% full (21-43 bytes per item; 38.6
// with 3400 items per store), plus 4 bytes per item once its store has been queried, plus
// the names (their bytes + ~20 bytes each). About 43 MB per million items. See Memory().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/sqlite/sqlite_database.h"
#include "core/checker/inventory_order.h"
#include "core/ports/change_stream.h"
#include "core/ports/inventory_store.h"

namespace stockwatch::adapters {

// One absolute state of an item as the DynamoDB table holds it, for ApplyMirrored.
struct MirroredItem {
  std::string store;
  std::string item;
  std::optional<int64_t> count;  // nullopt: the item was removed from the table
  core::TimePoint at;            // when the table changed (the stream record's time)
  int64_t upload_id = 0;         // the upload that wrote it (its UploadId attribute), 0: unknown
};

// What ApplyMirrored does beside writing the items.
enum class MirrorChanges {
  kRecord,  // one ChangeRecord per changed item (kInsert or kModify)
  kSilent,  // no ChangeRecord: the items are written as they are (a seed)
};
enum class MirrorScope {
  kItems,       // the batch touches only the items it names
  kWholeTable,  // the batch is the whole table: every other item is removed
};

struct MirrorResult {
  int64_t inserted = 0;   // items new to the mirror
  int64_t modified = 0;   // items whose count changed
  int64_t removed = 0;    // items removed from the mirror
  int64_t unchanged = 0;  // items (or removals) that matched the mirror already
};

struct SqliteInventoryOptions {
  // Change records packed into one change_blocks row. Default 1024.
  int records_per_block = 1024;
};

// Implements both ports over the shared database: the table writes its own stream, in the
// same transaction, as DynamoDB does. Thread-safe, with one upload writer at a time.
// Upload commits use Durability::kNormal: a commit lost to a power cut is recomputed by
// loading its (durable) upload again.
class SqliteInventoryStore final : public core::InventoryStore, public core::ChangeStream {
 public:
  // Opens the store and loads the in-memory index from `db`. kDataLoss if the stored tables
  // are inconsistent.
  static absl::StatusOr<std::unique_ptr<SqliteInventoryStore>> Open(
      std::shared_ptr<SqliteDatabase> db, const SqliteInventoryOptions& options = {});
  ~SqliteInventoryStore() override;

  // kInvalidArgument if `upload_id` <= 0; kFailedPrecondition while another writer of this
  // store is alive (uploads are applied one at a time, in order). The writer must not
  // outlive the store.
  // Commit() returns kAborted, writing nothing, if another process changed the inventory
  // since this store was opened.
  absl::StatusOr<std::unique_ptr<core::UploadWriter>> BeginUpload(int64_t upload_id,
                                                                  core::TimePoint at) override;
  absl::StatusOr<int64_t> LastAppliedUpload() override;
  absl::StatusOr<core::LoadReport> GetReport(int64_t upload_id) override;
  // kInvalidArgument for a limit outside 1..10000 or a malformed cursor.
  absl::StatusOr<core::InventoryPage> Query(const core::InventoryQuery& query) override;
  absl::StatusOr<core::InventoryItem> Get(std::string_view store, std::string_view item) override;
  absl::StatusOr<std::vector<core::StoreSummary>> Stores() override;
  // kInvalidArgument for a value outside 0..kMaxCount or an empty store/item name. Removing
  // a threshold that is not set is not an error. Thresholds() orders by (store, item) with
  // wildcards first.
  absl::Status SetThreshold(const core::Threshold& scope, std::optional<int64_t> value) override;
  absl::StatusOr<std::vector<core::Threshold>> Thresholds() override;

  absl::StatusOr<std::vector<core::ChangeRecord>> Read(uint64_t after, size_t limit) override;
  absl::StatusOr<std::vector<core::ChangeRecord>> ItemHistory(std::string_view store,
                                                              std::string_view item,
                                                              size_t limit) override;

  // Makes the store a mirror of a DynamoDB table (`serve --backend aws`): applies `items`,
  // absolute states in table order, in ONE write transaction, then to the in-memory index.
  // An item whose count differs from the mirror's (or that is new) is written and, with
  // kRecord, appends a ChangeRecord (kInsert or kModify; its upload_id and `at` are the
  // item's); the same item may appear more than once, each state applied in turn. An equal
  // count changes nothing and appends nothing. A removal (count nullopt) removes the item
  // and appends no ChangeRecord, as ChangeKind has no REMOVE and the stock rules (like
  // check-stock's) have nothing to say about it; a later insert of the item starts its
  // history anew; a store left without items is no longer listed by Stores(). kWholeTable
  // also removes every item the batch does not name.
  // Item times (updated_at, TimeOfSeq) come from `at`, also with kSilent.
  // Uploads are untouched: LastAppliedUpload(), GetReport() and the stores' last upload
  // do not move. `also`, if set, runs in the same transaction after the mirror's writes
  // (the stream checkpoint), so the batch and its checkpoint commit together; its failure
  // rolls back the batch.
  // kInvalidArgument, writing nothing, for an empty or longer than kMaxNameBytes name or a
  // count outside 0..kMaxCount; kFailedPrecondition while an upload writer is alive (retry
  // later); kAborted if another process changed the inventory (reopen). Thread-safe; one
  // writer (upload or mirror batch) at a time: BeginUpload() fails with
  // kFailedPrecondition while a batch is applied.
  // For `serve --backend aws`, whose uploads go to the DynamoDB table and reach this mirror
  // through the stream: stores `report` (its upload_id set to `upload_id`) as the report of
  // upload `upload_id`, applied at `at`, changing no item and appending no change record;
  // LastAppliedUpload() and GetReport() then see it, and `stores` (the stores with a row in
  // the file) get it as their last upload, a store new to the mirror included.
  // kAlreadyExists if the upload is applied; kInvalidArgument for an id <= 0 or a bad store
  // name; kFailedPrecondition while an upload writer or a mirror batch is running (retry);
  // kAborted if another process changed the inventory. Thread-safe.
  absl::Status RecordReport(int64_t upload_id, core::TimePoint at, core::LoadReport& report,
                            const std::vector<std::string>& stores);

  absl::StatusOr<MirrorResult> ApplyMirrored(
      const std::vector<MirroredItem>& items, MirrorChanges changes,
      MirrorScope scope = MirrorScope::kItems,
      const std::function<absl::Status(SqliteConnection&)>& also = nullptr);

  struct MemoryUsage {
    size_t items = 0;        // items in the table
    size_t index_bytes = 0;  // per-store tables and sorted orders
    size_t name_bytes = 0;   // interned store and item names
  };
  MemoryUsage Memory() const;

  // Items that queries looked at since Open(), for tests and benchmarks: a page through an
  // index looks at about `limit` items, a scan at every item of the stores in question.
  uint64_t ItemsExamined() const;

 private:
  class Impl;
  class Writer;
  explicit SqliteInventoryStore(std::unique_ptr<Impl> impl);
  // Query in an order other than (store, item) ascending.
  absl::StatusOr<core::InventoryPage> QueryOrdered(const core::InventoryQuery& query);
  // QueryOrdered without filters but the store, the scope and status=out: through the
  // per-store sorted orders, from `after` (the decoded cursor).
  absl::StatusOr<core::InventoryPage> QueryIndexed(
      const core::InventoryQuery& query, const std::optional<core::InventorySortKey>& after);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stockwatch::adapters
