#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Collects the rows of one upload and applies them in one transaction. Not thread-safe.
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  // Stages a row; a later row for the same (store, item) replaces an earlier one. Returns
  // the `line` of the row it replaced, or 0. Nothing is visible before Commit().
  // REQUIRES: store and item valid (non-empty, trimmed, UTF-8, <= kMaxNameBytes), count in
  // 0..kMaxCount.
  virtual int64_t Upsert(std::string_view store, std::string_view item, int64_t count,
                         int64_t line) = 0;
  // Atomically: writes every staged row whose count differs from the table (or is new),
  // appends one ChangeRecord per such item to the change stream, fills the row counters
  // `rows_loaded` and `rows_unchanged` of `report`, stores `report` and marks the upload
  // done. For a rejected file, call with no rows staged and `report.status == kRejected`.
  // Returns kAlreadyExists, changing nothing, if this upload was already applied.
  // REQUIRES: called at most once.
  virtual absl::Status Commit(LoadReport& report) = 0;
};

// The order of a query's items. Ties break on (store, item), so the order is total; kDesc
// reverses the whole order.
enum class InventorySort { kStore, kItem, kCount, kUpdatedAt };
enum class SortOrder { kAsc, kDesc };
// kOut: count 0. kLow: 0 < count <= the LowStock threshold in force for the item
// (ThresholdTable in core/checker/stock_rules.h); items without one are never low.
enum class StockStatus { kOut, kLow };

// Query over the inventory table.
struct InventoryQuery {
  std::optional<std::string> store;        // exact store name
  std::optional<std::string> item_prefix;  // items starting with this
  std::optional<int64_t> max_count;        // count <= max_count
  size_t limit = 100;                      // 1..10000
  std::string cursor;                      // opaque, from a previous page; empty = first
  // Default (kStore, kAsc): by (store, item) bytewise. kStore: (store, item); kItem: (item,
  // store); kCount: (count, store, item); kUpdatedAt: (updated_at, store, item).
  InventorySort sort = InventorySort::kStore;
  SortOrder order = SortOrder::kAsc;
  // Items whose name or store contains this, ignoring ASCII case. Default: any.
  std::optional<std::string> q;
  std::optional<StockStatus> status;       // default: any
  std::optional<TimePoint> changed_since;  // updated_at >= this; default: any
  // The stores the caller may see; items of other stores are left out. Default: all.
  ObjectScope scope;
};

struct InventoryPage {
  std::vector<InventoryItem> items;  // in the query's order
  std::string next_cursor;           // empty when this is the last page
  int64_t total = 0;                 // items matching the query (every page), exact
};

struct StoreSummary {
  std::string store;
  int64_t items = 0;
  int64_t out_of_stock = 0;
  TimePoint last_updated;
  // The latest applied upload with a row of this store, whether the row changed its item or
  // not, and the time given to BeginUpload for it; 0 and nullopt when none is recorded (a
  // store loaded before the record existed).
  int64_t last_upload_id = 0;
  std::optional<TimePoint> last_upload;
};

// The inventory table (modelled on a DynamoDB table keyed by store and item), the load
// reports, and the thresholds. The table writes its own change stream, as DynamoDB does.
// Thread-safe.
class InventoryStore {
 public:
  virtual ~InventoryStore() = default;

  // Starts applying upload `upload_id` (an ObjectCreated event sequence); `at` becomes the
  // time of its change records and the updated_at of the items it changes. One writer at a
  // time: kFailedPrecondition while another writer of this store is alive (destroying a
  // writer ends it). kInvalidArgument if `upload_id` <= 0. The writer must not outlive the
  // store.
  virtual absl::StatusOr<std::unique_ptr<UploadWriter>> BeginUpload(int64_t upload_id,
                                                                    TimePoint at) = 0;
  // The highest upload id whose report is stored, 0 if none. Uploads are applied in order.
  virtual absl::StatusOr<int64_t> LastAppliedUpload() = 0;
  // The stored report of `upload_id`; kNotFound if the upload is not applied yet.
  virtual absl::StatusOr<LoadReport> GetReport(int64_t upload_id) = 0;

  // kInvalidArgument for a limit outside 1..10000 or a cursor not from this store.
  virtual absl::StatusOr<InventoryPage> Query(const InventoryQuery& query) = 0;
  // kNotFound if the item does not exist.
  virtual absl::StatusOr<InventoryItem> Get(std::string_view store, std::string_view item) = 0;
  virtual absl::StatusOr<std::vector<StoreSummary>> Stores() = 0;

  // Sets (or with an empty value, removes) the threshold of one scope; `scope.value` is
  // ignored. Removing an absent threshold is OK. kInvalidArgument for a value outside
  // 0..kMaxCount or an empty (rather than absent) store or item.
  virtual absl::Status SetThreshold(const Threshold& scope, std::optional<int64_t> value) = 0;
  // Ordered by (store, item), a wildcard before any name.
  virtual absl::StatusOr<std::vector<Threshold>> Thresholds() = 0;
};

}  // namespace stockwatch::core
