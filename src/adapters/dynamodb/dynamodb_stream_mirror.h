// Keeps a SqliteInventoryStore a mirror of the DynamoDB inventory table by consuming the
// table's stream, for `stockwatch serve --backend aws`: the table (written by the Lambda
// load-inventory, the original Python function or the server's own loader) is the source of
// truth; the mirror serves the dashboard's queries and feeds the local checker through the
// store's ChangeStream.
//
// Start-up. DescribeTable gives the stream; the table must have one whose view type carries
// new images (NEW_AND_OLD_IMAGES or NEW_IMAGE). With a checkpoint of that stream the mirror
// resumes every shard AFTER_SEQUENCE_NUMBER. Without one (first start, another stream, a
// checkpoint trimmed away, a shard whose position is unknown) it resyncs: it takes LATEST
// iterators of every open shard FIRST, then Scans the whole table (consistent reads) and
// applies it as the whole table (items the table lacks are removed), then continues from
// those iterators. A change made between the iterators and the Scan arrives both ways;
// applying an absolute new image twice is harmless, so nothing is lost or doubled.
//
// The seed appends no change records when the mirror is empty (a first start): stock that
// was already out before the server started is not news, and alerting for every empty
// shelf of a large table at start-up would flood the topics. A resync of a mirror that
// holds items (a lost or trimmed checkpoint, a database from embedded mode) records what
// differs, because those are changes the checker never saw (an item that ran out meanwhile
// alerts once); equal items record nothing.
//
// Checkpoint. Per shard of the stream, in the store's SQLite database (table
// stream_shards, migration 15): the sequence number of the last record applied, whether
// the shard was read from LATEST (a seed) or TRIM_HORIZON (a shard born after the seed),
// and whether it is closed and read to its end. Each batch of records is applied through
// SqliteInventoryStore::ApplyMirrored together with its shard's checkpoint in ONE
// transaction, so after a crash the mirror resumes exactly after the last applied record:
// no record is applied twice and no change record is duplicated. A seeded shard that got
// no record before a restart has no position to resume from, so the restart resyncs.
//
// Records. INSERT and MODIFY apply NewImage (Store S, Item S, Count N within 0..kMaxCount;
// an UploadId N attribute becomes the change's upload id); REMOVE removes the item (by
// Keys). Items of the reserved stores (kMirrorReservedStorePrefix: load state, thresholds)
// are ignored; a record or
// item that is not an inventory item is logged and skipped, never fatal.
//
// Shards are read parent before child; a closed shard read to its end is done; new shards
// are found by DescribeStream every `describe_interval` and as soon as a shard ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "aws/dynamodb_client.h"
#include "aws/dynamodb_streams_client.h"
#include "base/work_signal.h"
#include "core/ports/clock.h"
#include "nlohmann/json.hpp"

namespace stockwatch::adapters {

// The reserved Store under which load-inventory keeps its per-object load state (the
// same value as lambda::kLoadStateStore; this layer does not link the Lambda code).
inline constexpr std::string_view kMirrorLoadStateStore = "#stockwatch-load-state";
// Every Store starting so is stockwatch's own (load state, the api function's thresholds:
// lambda::IsReservedStore), never inventory.
inline constexpr std::string_view kMirrorReservedStorePrefix = "#stockwatch-";

// The state a table item (DynamoDB JSON: {"Store":{"S":..},"Item":{"S":..},"Count":{"N":..}},
// optional "UploadId":{"N":..}) gives, at time `at`. nullopt for an item of a reserved
// store (kMirrorReservedStorePrefix); kInvalidArgument (saying why) for an item without a non-empty
// string Store and Item of at most kMaxNameBytes and a whole Count within 0..kMaxCount.
absl::StatusOr<std::optional<MirroredItem>> DecodeMirrorItem(const nlohmann::json& item,
                                                             core::TimePoint at);

// The state a stream record (as GetRecords returns it) gives: its NewImage for INSERT and
// MODIFY, a removal (count nullopt, by Keys) for REMOVE, at its ApproximateCreationDateTime
// (`fallback` when it has none). nullopt for a reserved store; kInvalidArgument for a
// record that is not an inventory item change. Never throws.
absl::StatusOr<std::optional<MirroredItem>> DecodeMirrorRecord(const nlohmann::json& record,
                                                               core::TimePoint fallback);

struct DynamoDbStreamMirrorOptions {
  // The DynamoDB table. Default "Inventory".
  std::string table = "Inventory";
  // Run(): the wait after a pass that read no record. Default 1 s.
  std::chrono::milliseconds poll_interval{1000};
  // How often DescribeStream looks for new shards (also done at once when a shard ends).
  // Default 60 s.
  std::chrono::milliseconds describe_interval{60000};
  // GetRecords Limit per call (1..1000). Default 1000.
  int records_per_call = 1000;
  // Run(): the wait after a failed pass doubles from `min_backoff` to `max_backoff`.
  // Defaults 500 ms and 30 s.
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

// What one pass did.
struct MirrorPassStats {
  int64_t records = 0;   // stream records read
  int64_t skipped = 0;   // of them (or of a resync's items) not inventory items: logged
  int64_t ignored = 0;   // of them of the load-state store
  int64_t changed = 0;   // mirror items inserted, modified or removed
  int64_t recorded = 0;  // change records appended (inserted + modified, unless silent)
  bool resynced = false;
};

// Not thread-safe: one thread calls Start(), PollOnce() or Run(). The clients, `db`, `store`
// and `clock` must outlive it; `db` must be the database `store` was opened on.
class DynamoDbStreamMirror {
 public:
  DynamoDbStreamMirror(const aws::DynamoDbClient& dynamo, const aws::DynamoDbStreamsClient& streams,
                       std::shared_ptr<SqliteDatabase> db, SqliteInventoryStore& store,
                       core::Clock& clock, DynamoDbStreamMirrorOptions options = {});

  // Finds the stream and resumes from the checkpoint or resyncs (see above); `stats`, if
  // set, tells what a resync did. kFailedPrecondition if the table has no stream or its
  // view type has no new images; kNotFound for a missing table; the clients' errors
  // (kUnavailable for transient ones) otherwise. May be called again after a failure.
  absl::Status Start(MirrorPassStats* stats = nullptr);

  // One pass: Start() if not started, DescribeStream if due, then one GetRecords per
  // readable shard, each batch applied with its checkpoint. A trimmed checkpoint or an
  // expired iterator without a position resyncs (logged). Errors as Start() and
  // SqliteInventoryStore::ApplyMirrored (kFailedPrecondition while an upload writer is
  // alive); after an error the next pass retries from the last applied record.
  absl::StatusOr<MirrorPassStats> PollOnce();

  // Runs passes until `wakeup` is stopped: at once while records keep coming, after
  // poll_interval when a pass read none, at once when `wakeup` is notified, and with
  // backoff after a failure (logged; never gives up). Notifies `on_change` (the checker's
  // wake-up), if set, after a pass that appended change records.
  void Run(base::WorkSignal& wakeup, base::WorkSignal* on_change = nullptr);

  // The stream being mirrored; empty before Start() succeeds.
  const std::string& stream_arn() const { return stream_arn_; }

 private:
  enum class ShardState { kFromLatest = 0, kFromTrimHorizon = 1, kEnded = 2 };
  struct Shard {
    std::string parent;
    std::string sequence;  // last record applied; empty for none
    ShardState state = ShardState::kFromTrimHorizon;
    std::string iterator;  // empty: take one from the checkpoint
  };

  absl::Status Resync(std::string_view reason, MirrorPassStats& stats);
  absl::Status Describe(MirrorPassStats& stats);
  // Reads one batch of `id`; sets `resync` to the reason when the shard cannot continue.
  absl::Status ReadShard(const std::string& id, Shard& shard, MirrorPassStats& stats,
                         std::string& resync);
  absl::Status SaveShard(SqliteConnection& conn, const std::string& id, const Shard& shard);

  const aws::DynamoDbClient& dynamo_;
  const aws::DynamoDbStreamsClient& streams_;
  std::shared_ptr<SqliteDatabase> db_;
  SqliteInventoryStore& store_;
  core::Clock& clock_;
  const DynamoDbStreamMirrorOptions options_;

  bool started_ = false;
  std::string stream_arn_;
  std::map<std::string, Shard> shards_;  // by shard id
  std::chrono::steady_clock::time_point next_describe_;
};

}  // namespace stockwatch::adapters
