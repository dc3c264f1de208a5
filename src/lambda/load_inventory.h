// The load-inventory function's logic: every record of an S3 event, its object streamed
// through the embedded mode's CSV reader (core/csv/inventory_csv.h) and written to the
// inventory table in batches of 25 (BatchWriteItem), with per-object state so that loads are
// idempotent per key and ETag and an older event never overwrites newer data.
//
// What is and is not atomic: DynamoDB has no transaction for a whole file (BatchWriteItem
// is not one; TransactWriteItems stops at 100 items). So a file is validated before anything
// is written wherever a rejection could come after the first row (under kReject the object
// is read twice: once to validate, once to write); a header error or a file without data
// rows is known before any row. A failure while writing (S3 or DynamoDB unavailable after
// retries) leaves the rows written so far: the object is not marked done, so Lambda's retry
// of the event writes the whole file again (every write is an idempotent put of the final
// value). Rows are written as they are read, in file order, so the last of duplicate rows
// wins in the table as in the embedded mode.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/csv/inventory_csv.h"
#include "core/model/types.h"
#include "lambda/events.h"
#include "nlohmann/json.hpp"

namespace stockwatch::lambda {

// S3 as the loader needs it (S3ObjectStorage on AWS).
class ObjectStorage {
 public:
  virtual ~ObjectStorage() = default;
  // Streams the object's bytes to `on_chunk` in order; an error from `on_chunk` stops the
  // read and is returned. kNotFound when the object is gone; kUnavailable when S3 is.
  virtual absl::Status Read(const std::string& bucket, const std::string& key,
                            const std::function<absl::Status(std::string_view)>& on_chunk) = 0;
  // Writes a whole object (the load reports).
  virtual absl::Status Write(const std::string& bucket, const std::string& key,
                             std::string_view content_type, std::string body) = 0;
};

// The inventory table (DynamoDbInventoryWriter on AWS: Store, Item, Count).
class InventoryWriter {
 public:
  virtual ~InventoryWriter() = default;
  // Puts every item (at most 25, distinct (store, item)), retrying unprocessed items; OK
  // only when all are written.
  virtual absl::Status Write(std::span<const core::InventoryItem> items) = 0;
};

enum class ClaimOutcome {
  kClaimed,    // the event is newer than every event applied to the key: load it
  kUnchanged,  // newer, but the object's ETag is the one last applied: nothing to write
  kStale,      // the key's last applied or claimed event is this one or newer: skip it
};

// Per-object state: the last event (sequencer) and ETag applied to each bucket/key. On AWS
// it is an item per object in STATE_TABLE, or, without one, in the inventory table under
// Store = kLoadStateStore (DynamoDbLoadStateStore). Both operations are conditional
// writes, so two invocations racing on one key cannot both win.
class LoadStateStore {
 public:
  virtual ~LoadStateStore() = default;
  // Claims `object` (bucket/key) for the event `sequencer` (PadSequencer form) and `etag`:
  // succeeds when no event with a sequencer >= this one was claimed, or when this very
  // event was claimed but never completed (a retry after a failure).
  virtual absl::StatusOr<ClaimOutcome> Claim(const std::string& object,
                                             const std::string& sequencer,
                                             const std::string& etag) = 0;
  // Marks the claimed event done with `etag`. kAborted when a newer event claimed the key
  // in the meantime.
  virtual absl::Status Complete(const std::string& object, const std::string& sequencer,
                                const std::string& etag) = 0;
};

struct LoadInventoryOptions {
  // What a bad row does (env ON_BAD_ROW = skip|reject). Default kSkip.
  core::BadRowPolicy bad_row_policy = core::BadRowPolicy::kSkip;
  // Items per InventoryWriter::Write. Default 25, BatchWriteItem's limit.
  size_t batch_items = 25;
  // Where reports go, in the same bucket: <prefix><key>.json. Objects under it are never
  // loaded (so a report cannot trigger a load). Default "reports/".
  std::string reports_prefix = "reports/";
};

// What happened to one record.
struct RecordResult {
  S3EventRecord record;
  std::string outcome;  // "loaded", "rejected", "unchanged", "stale", "skipped"
  std::string reason;   // for "skipped" and "stale"
  bool has_report = false;
  core::LoadReport report;  // when has_report
  nlohmann::json ToJson() const;
};

class InventoryLoader {
 public:
  InventoryLoader(ObjectStorage& storage, InventoryWriter& writer, LoadStateStore& state,
                  LoadInventoryOptions options);

  // Handles one record: skips non-ObjectCreated events and report objects, claims the key,
  // loads the object, writes its report to reports/<key>.json and marks the key done.
  // Errors (S3, DynamoDB) are returned; the key stays claimed but not done, so a retry of
  // the same event loads it again.
  absl::StatusOr<RecordResult> Handle(const S3EventRecord& record);

  // Handles every record, in order; records after a failed one are still handled. Returns
  // {"records":[RecordResult...]}, or the first error (after handling the rest) so that
  // Lambda retries the event; records already done are then "stale" and skipped.
  absl::StatusOr<nlohmann::json> HandleAll(const std::vector<S3EventRecord>& records);

 private:
  // Streams the object through a parser, feeding good rows to `sink` (none when null).
  // Returns the parser's verdict in `verdict` and errors of S3 or the sink as the status.
  absl::Status ParseObject(const S3EventRecord& record, core::InventoryCsvParser& parser,
                           core::RowSink* sink, absl::Status& verdict);

  ObjectStorage& storage_;
  InventoryWriter& writer_;
  LoadStateStore& state_;
  LoadInventoryOptions options_;
};

}  // namespace stockwatch::lambda
