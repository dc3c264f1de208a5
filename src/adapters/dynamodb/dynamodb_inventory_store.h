// DynamoDbInventoryStore: the inventory table of `stockwatch serve --backend aws`. Uploads are
// written to the DynamoDB table (`Store`, `Item`, `Count`, plus `UploadId`), the table the
// Lambda functions and the original Python ones use; everything else is read from the local
// mirror of that table (SqliteInventoryStore kept current from the table's stream by
// DynamoDbStreamMirror), so the dashboard's queries stay as fast as in the embedded mode.
//
// The change stream is the table's: an upload's changes reach the mirror (and so the local
// ChangeStream, the checker and the alerts) through DynamoDB Streams, like anyone else's
// writes to the table, never twice and always in the table's order per item.
//
// What is and is not atomic: as in the Lambda loader (lambda/load_inventory.h), DynamoDB has
// no transaction for a whole file. Commit() writes the changed rows with BatchWriteItem, then
// records the report locally. A failure in between leaves the rows written so far and the
// upload not done: the loader tries it again and writes the same final values again.
// Thresholds live in the mirror's database, local to this server.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "aws/dynamodb_client.h"
#include "core/ports/inventory_store.h"

namespace stockwatch::adapters {

struct DynamoDbInventoryOptions {
  // The table: `Store` (partition key, S), `Item` (sort key, S), `Count` (N). Default
  // "Inventory", the original stack's.
  std::string table = "Inventory";
  // Rows per round of BatchWriteItem calls (25 per call), bounding the memory a commit holds
  // in requests. Default 1000.
  size_t rows_per_round = 1000;
};

// Thread-safe, with one upload writer at a time.
class DynamoDbInventoryStore final : public core::InventoryStore {
 public:
  // `db` and `mirror` must outlive the store.
  DynamoDbInventoryStore(const aws::DynamoDbClient& db, SqliteInventoryStore& mirror,
                         DynamoDbInventoryOptions options);

  // The writer stages rows (last wins); Commit() compares them with the mirror, writes only
  // the rows that insert or change an item to the table (`rows_loaded`; the others are
  // `rows_unchanged`), then stores the report in the mirror's database. kAlreadyExists if the
  // upload was applied before; kFailedPrecondition while another writer is alive;
  // kInvalidArgument if `upload_id` <= 0. Errors of DynamoDB (kUnavailable after the client's
  // retries, kPermissionDenied, kNotFound for a missing table) leave the upload pending.
  absl::StatusOr<std::unique_ptr<core::UploadWriter>> BeginUpload(int64_t upload_id,
                                                                  core::TimePoint at) override;
  absl::StatusOr<int64_t> LastAppliedUpload() override;
  absl::StatusOr<core::LoadReport> GetReport(int64_t upload_id) override;

  // The mirror's answers.
  absl::StatusOr<core::InventoryPage> Query(const core::InventoryQuery& query) override;
  absl::StatusOr<core::InventoryItem> Get(std::string_view store, std::string_view item) override;
  absl::StatusOr<std::vector<core::StoreSummary>> Stores() override;
  absl::Status SetThreshold(const core::Threshold& scope, std::optional<int64_t> value) override;
  absl::StatusOr<std::vector<core::Threshold>> Thresholds() override;

  // BatchWriteItem calls made by commits since construction (for tests and benchmarks).
  int64_t BatchWriteCalls() const { return batch_write_calls_.load(); }

 private:
  class Writer;

  const aws::DynamoDbClient& db_;
  SqliteInventoryStore& mirror_;
  const DynamoDbInventoryOptions options_;
  std::atomic<bool> writer_alive_{false};
  std::atomic<int64_t> batch_write_calls_{0};
};

}  // namespace stockwatch::adapters
