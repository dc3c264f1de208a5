#include "adapters/dynamodb/dynamodb_stream_mirror.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>
#include <vector>

#include "aws/aws_error.h"
#include "base/status.h"

namespace stockwatch::adapters {
namespace {

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(std::string(what));
}

// Store and Item of `image`, checked as a name of the inventory.
absl::Status ReadKey(const nlohmann::json& image, std::string& store, std::string& item) {
  std::optional<std::string> s = aws::GetDynamoS(image, "Store");
  std::optional<std::string> i = aws::GetDynamoS(image, "Item");
  if (!s || s->empty()) return Invalid("no string Store");
  if (!i || i->empty()) return Invalid("no string Item");
  if (s->size() > core::kMaxNameBytes || i->size() > core::kMaxNameBytes) {
    return Invalid("Store or Item longer than 256 bytes");
  }
  store = *std::move(s);
  item = *std::move(i);
  return absl::OkStatus();
}

std::string Explain(const absl::Status& status) {
  std::string out = status.ToString();
  if (std::optional<std::string> code = aws::AwsErrorCode(status)) out += " (" + *code + ")";
  return out;
}

bool IsTrimmed(const absl::Status& status) {
  const std::optional<std::string> code = aws::AwsErrorCode(status);
  return code && *code == "TrimmedDataAccessException";
}

bool IsExpired(const absl::Status& status) {
  const std::optional<std::string> code = aws::AwsErrorCode(status);
  return absl::IsOutOfRange(status) && !(code && *code == "TrimmedDataAccessException");
}

}  // namespace

absl::StatusOr<std::optional<MirroredItem>> DecodeMirrorItem(const nlohmann::json& item,
                                                             core::TimePoint at) {
  if (!item.is_object()) return Invalid("item is not an object");
  MirroredItem out;
  // The load-state and threshold rows have no Count: recognise them before asking for one.
  if (aws::GetDynamoS(item, "Store").value_or("").starts_with(kMirrorReservedStorePrefix))
    return std::nullopt;
  SW_RETURN_IF_ERROR(ReadKey(item, out.store, out.item));
  const std::optional<int64_t> count = aws::GetDynamoN(item, "Count");
  if (!count || *count < 0 || *count > core::kMaxCount) {
    return Invalid("\"" + out.store + "\"/\"" + out.item +
                   "\": Count is not a whole number within 0..2147483647");
  }
  out.count = *count;
  out.at = at;
  if (const std::optional<int64_t> upload = aws::GetDynamoN(item, "UploadId");
      upload && *upload > 0) {
    out.upload_id = *upload;
  }
  return out;
}

absl::StatusOr<std::optional<MirroredItem>> DecodeMirrorRecord(const nlohmann::json& record,
                                                               core::TimePoint fallback) {
  if (!record.is_object()) return Invalid("record is not an object");
  const auto name = record.find("eventName");
  const auto body = record.find("dynamodb");
  if (name == record.end() || !name->is_string()) return Invalid("record has no eventName");
  if (body == record.end() || !body->is_object()) return Invalid("record has no dynamodb");
  core::TimePoint at = fallback;
  if (const auto time = body->find("ApproximateCreationDateTime");
      time != body->end() && time->is_number()) {
    const double seconds = time->get<double>();
    if (std::isfinite(seconds) && seconds > 0 && seconds < 1e11) {
      at = core::TimePoint(std::chrono::duration_cast<core::TimePoint::duration>(
          std::chrono::duration<double>(seconds)));
    }
  }
  const std::string& event = name->get_ref<const std::string&>();
  if (event == "INSERT" || event == "MODIFY") {
    const auto image = body->find("NewImage");
    if (image == body->end() || !image->is_object()) return Invalid(event + " has no NewImage");
    return DecodeMirrorItem(*image, at);
  }
  if (event == "REMOVE") {
    auto keys = body->find("Keys");
    if (keys == body->end() || !keys->is_object()) keys = body->find("OldImage");
    if (keys == body->end() || !keys->is_object()) return Invalid("REMOVE has no Keys");
    if (aws::GetDynamoS(*keys, "Store").value_or("").starts_with(kMirrorReservedStorePrefix)) {
      return std::nullopt;
    }
    MirroredItem out;
    SW_RETURN_IF_ERROR(ReadKey(*keys, out.store, out.item));
    out.at = at;
    return out;
  }
  return Invalid("eventName \"" + event + "\" is not INSERT, MODIFY or REMOVE");
}

DynamoDbStreamMirror::DynamoDbStreamMirror(const aws::DynamoDbClient& dynamo,
                                           const aws::DynamoDbStreamsClient& streams,
                                           std::shared_ptr<SqliteDatabase> db,
                                           SqliteInventoryStore& store, core::Clock& clock,
                                           DynamoDbStreamMirrorOptions options)
    : dynamo_(dynamo),
      streams_(streams),
      db_(std::move(db)),
      store_(store),
      clock_(clock),
      options_(std::move(options)) {}

absl::Status DynamoDbStreamMirror::Start(MirrorPassStats* stats) {
  MirrorPassStats local;
  MirrorPassStats& out = stats != nullptr ? *stats : local;
  started_ = false;
  shards_.clear();
  SW_ASSIGN_OR_RETURN(nlohmann::json table, dynamo_.DescribeTable(options_.table));
  const std::string& name = options_.table;
  const nlohmann::json spec = table.value("StreamSpecification", nlohmann::json::object());
  const std::string arn = table.value("LatestStreamArn", "");
  if (arn.empty() || (spec.is_object() && spec.value("StreamEnabled", true) == false)) {
    return absl::FailedPreconditionError(
        "dynamodb mirror: table " + name +
        " has no stream; enable one with StreamViewType NEW_AND_OLD_IMAGES");
  }
  SW_ASSIGN_OR_RETURN(aws::StreamDescription stream, streams_.DescribeStream(arn));
  const std::string& view = stream.stream_view_type;
  if (view != "NEW_AND_OLD_IMAGES" && view != "NEW_IMAGE") {
    return absl::FailedPreconditionError("dynamodb mirror: the stream of table " + name +
                                         " has StreamViewType " + (view.empty() ? "?" : view) +
                                         "; it needs NEW_AND_OLD_IMAGES or NEW_IMAGE");
  }
  if (stream.stream_status == "DISABLED" || stream.stream_status == "DISABLING") {
    return absl::FailedPreconditionError("dynamodb mirror: the stream of table " + name + " is " +
                                         stream.stream_status);
  }
  stream_arn_ = arn;

  // The checkpoint: this stream's shards, and whether another stream left rows.
  bool other_stream = false;
  const absl::Status read = db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
    SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        conn.Prepare("SELECT stream_arn, shard_id, parent_shard_id, "
                                     "sequence_number, state FROM stream_shards"));
    while (true) {
      SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      if (stmt.Text(0) != arn) {
        other_stream = true;
        continue;
      }
      Shard shard;
      shard.parent = std::string(stmt.Text(2));
      shard.sequence = std::string(stmt.Text(3));
      const int64_t state = stmt.Int64(4);
      shard.state = state == 0   ? ShardState::kFromLatest
                    : state == 2 ? ShardState::kEnded
                                 : ShardState::kFromTrimHorizon;
      shards_.emplace(std::string(stmt.Text(1)), std::move(shard));
    }
  });
  if (!read.ok()) return read;
  std::string reason;
  if (shards_.empty()) {
    reason = other_stream ? "the checkpoint is of another stream" : "no checkpoint";
  } else {
    for (const auto& [id, shard] : shards_) {
      if (shard.state == ShardState::kFromLatest && shard.sequence.empty()) {
        reason = "no position kept for shard " + id;
        break;
      }
    }
  }
  next_describe_ = std::chrono::steady_clock::time_point::min();
  if (!reason.empty()) {
    SW_RETURN_IF_ERROR(Resync(reason, out));
  } else {
    spdlog::info("dynamodb mirror: resuming stream {} of table {} from {} shard checkpoints", arn,
                 name, shards_.size());
  }
  started_ = true;
  return absl::OkStatus();
}

absl::Status DynamoDbStreamMirror::Resync(std::string_view reason, MirrorPassStats& stats) {
  spdlog::warn("dynamodb mirror: resyncing table {} with a Scan: {}", options_.table, reason);
  // Iterators first, then the Scan: every change after the iterators is read again from the
  // stream, so none falls between the two.
  SW_ASSIGN_OR_RETURN(aws::StreamDescription stream, streams_.DescribeStream(stream_arn_));
  std::map<std::string, Shard> shards;
  for (const aws::StreamShard& s : stream.shards) {
    Shard shard;
    shard.parent = s.parent_shard_id;
    if (!s.ending_sequence_number.empty()) {
      // Closed before the Scan: its changes are in the Scan. Kept (as ended) so that a
      // later DescribeStream does not take it for a new shard.
      shard.state = ShardState::kEnded;
    } else {
      shard.state = ShardState::kFromLatest;
      SW_ASSIGN_OR_RETURN(
          shard.iterator,
          streams_.GetShardIterator(stream_arn_, s.shard_id, aws::ShardIteratorType::kLatest));
    }
    shards.emplace(s.shard_id, std::move(shard));
  }
  std::vector<MirroredItem> items;
  const core::TimePoint now = clock_.Now();
  int64_t skipped = 0;
  aws::QueryRequest scan;
  scan.table = options_.table;
  // Consistent reads: a write acknowledged before the LATEST iterators were taken must be
  // in the Scan, since the stream from those iterators does not carry it.
  scan.consistent_read = true;
  SW_RETURN_IF_ERROR(dynamo_
                         .Scan(scan,
                               [&](const nlohmann::json& page) -> absl::Status {
                                 const auto found = page.find("Items");
                                 if (found == page.end() || !found->is_array())
                                   return absl::OkStatus();
                                 for (const nlohmann::json& item : *found) {
                                   absl::StatusOr<std::optional<MirroredItem>> decoded =
                                       DecodeMirrorItem(item, now);
                                   if (!decoded.ok()) {
                                     ++skipped;
                                     if (skipped <= 10) {
                                       spdlog::warn(
                                           "dynamodb mirror: skipping an item of table {}: {}",
                                           options_.table, std::string(decoded.status().message()));
                                     }
                                   } else if (decoded->has_value()) {
                                     items.push_back(**std::move(decoded));
                                   }
                                 }
                                 return absl::OkStatus();
                               })
                         .status());
  // An empty mirror is seeded silently (see the header); a mirror with items records what
  // the checker missed.
  const MirrorChanges mode =
      store_.Memory().items == 0 ? MirrorChanges::kSilent : MirrorChanges::kRecord;
  SW_ASSIGN_OR_RETURN(
      MirrorResult result,
      store_.ApplyMirrored(
          items, mode, MirrorScope::kWholeTable, [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement clear, conn.Prepare("DELETE FROM stream_shards"));
            SW_RETURN_IF_ERROR(clear.Run());
            for (const auto& [id, shard] : shards) {
              SW_RETURN_IF_ERROR(SaveShard(conn, id, shard));
            }
            return absl::OkStatus();
          }));
  shards_ = std::move(shards);
  stats.resynced = true;
  stats.skipped += skipped;
  stats.changed += result.inserted + result.modified + result.removed;
  if (mode == MirrorChanges::kRecord) stats.recorded += result.inserted + result.modified;
  spdlog::info(
      "dynamodb mirror: {} table {}: {} items ({} new, {} changed, {} removed, {} skipped), "
      "{} shards",
      mode == MirrorChanges::kSilent ? "seeded from" : "resynced with", options_.table,
      items.size(), result.inserted, result.modified, result.removed, skipped, shards_.size());
  return absl::OkStatus();
}

absl::Status DynamoDbStreamMirror::SaveShard(SqliteConnection& conn, const std::string& id,
                                             const Shard& shard) {
  SW_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      conn.Prepare("INSERT INTO stream_shards (stream_arn, shard_id, parent_shard_id, "
                   "sequence_number, state) VALUES (?, ?, ?, ?, ?) ON CONFLICT (stream_arn, "
                   "shard_id) DO UPDATE SET sequence_number = excluded.sequence_number, "
                   "state = excluded.state"));
  stmt.BindText(1, stream_arn_)
      .BindText(2, id)
      .BindText(3, shard.parent)
      .BindText(4, shard.sequence)
      .Bind(5, static_cast<int64_t>(shard.state));
  return stmt.Run();
}

absl::Status DynamoDbStreamMirror::Describe(MirrorPassStats& stats) {
  SW_ASSIGN_OR_RETURN(aws::StreamDescription stream, streams_.DescribeStream(stream_arn_));
  std::map<std::string, Shard> fresh;
  std::vector<std::string> listed;
  for (const aws::StreamShard& s : stream.shards) {
    listed.push_back(s.shard_id);
    if (shards_.contains(s.shard_id)) continue;
    // Born after the seed (every shard then was recorded): read it whole, after its parent.
    Shard shard;
    shard.parent = s.parent_shard_id;
    shard.state = ShardState::kFromTrimHorizon;
    fresh.emplace(s.shard_id, std::move(shard));
  }
  std::sort(listed.begin(), listed.end());
  std::vector<std::string> gone;
  for (const auto& [id, shard] : shards_) {
    if (std::binary_search(listed.begin(), listed.end(), id)) continue;
    if (shard.state != ShardState::kEnded) {
      return Resync("shard " + id + " was trimmed before it was read to its end", stats);
    }
    gone.push_back(id);  // trimmed after we read it all: forget it
  }
  if (fresh.empty() && gone.empty()) return absl::OkStatus();
  const absl::Status saved =
      db_->WithWriteTransaction(Durability::kNormal, [&](SqliteConnection& conn) -> absl::Status {
        for (const auto& [id, shard] : fresh) SW_RETURN_IF_ERROR(SaveShard(conn, id, shard));
        SW_ASSIGN_OR_RETURN(
            SqliteStatement drop,
            conn.Prepare("DELETE FROM stream_shards WHERE stream_arn = ? AND shard_id = ?"));
        for (const std::string& id : gone) {
          drop.BindText(1, stream_arn_).BindText(2, id);
          SW_RETURN_IF_ERROR(drop.Run());
          drop.Reset();
        }
        return absl::OkStatus();
      });
  if (!saved.ok()) return saved;
  for (auto& [id, shard] : fresh) {
    spdlog::info("dynamodb mirror: new shard {} (parent {})", id,
                 shard.parent.empty() ? "none" : shard.parent);
    shards_.emplace(id, std::move(shard));
  }
  for (const std::string& id : gone) shards_.erase(id);
  return absl::OkStatus();
}

absl::Status DynamoDbStreamMirror::ReadShard(const std::string& id, Shard& shard,
                                             MirrorPassStats& stats, std::string& resync) {
  if (shard.iterator.empty()) {
    absl::StatusOr<std::string> iterator;
    if (!shard.sequence.empty()) {
      iterator = streams_.GetShardIterator(
          stream_arn_, id, aws::ShardIteratorType::kAfterSequenceNumber, shard.sequence);
    } else if (shard.state == ShardState::kFromTrimHorizon) {
      iterator = streams_.GetShardIterator(stream_arn_, id, aws::ShardIteratorType::kTrimHorizon);
    } else {
      resync = "no position kept for shard " + id;
      return absl::OkStatus();
    }
    if (!iterator.ok()) {
      if (absl::IsOutOfRange(iterator.status()) || absl::IsNotFound(iterator.status())) {
        resync = "the checkpoint of shard " + id + " is gone: " + Explain(iterator.status());
        return absl::OkStatus();
      }
      return iterator.status();
    }
    shard.iterator = *std::move(iterator);
  }
  absl::StatusOr<aws::GetRecordsResult> got =
      streams_.GetRecords(shard.iterator, options_.records_per_call);
  if (!got.ok()) {
    if (IsTrimmed(got.status()) || absl::IsNotFound(got.status())) {
      resync = "shard " + id + " was trimmed past the checkpoint: " + Explain(got.status());
      return absl::OkStatus();
    }
    if (IsExpired(got.status())) {
      // An iterator lives 15 minutes; a position in the checkpoint gets a new one.
      shard.iterator.clear();
      if (shard.sequence.empty() && shard.state == ShardState::kFromLatest) {
        resync = "the iterator of shard " + id + " expired before any record";
      }
      spdlog::info("dynamodb mirror: iterator of shard {} expired; renewing it", id);
      return absl::OkStatus();
    }
    return got.status();
  }
  std::vector<MirroredItem> items;
  const core::TimePoint now = clock_.Now();
  std::string last_sequence = shard.sequence;
  for (const nlohmann::json& record : got->records) {
    ++stats.records;
    const nlohmann::json* body =
        record.is_object() && record.contains("dynamodb") ? &record["dynamodb"] : nullptr;
    if (body != nullptr && body->is_object()) {
      if (auto seq = body->find("SequenceNumber"); seq != body->end() && seq->is_string()) {
        last_sequence = seq->get<std::string>();
      }
    }
    absl::StatusOr<std::optional<MirroredItem>> decoded = DecodeMirrorRecord(record, now);
    if (!decoded.ok()) {
      ++stats.skipped;
      spdlog::warn("dynamodb mirror: skipping record {} of shard {}: {}", last_sequence, id,
                   std::string(decoded.status().message()));
    } else if (!decoded->has_value()) {
      ++stats.ignored;
    } else {
      items.push_back(**std::move(decoded));
    }
  }
  Shard next = shard;
  next.sequence = last_sequence;
  next.iterator = got->next_shard_iterator.value_or("");
  if (!got->next_shard_iterator) next.state = ShardState::kEnded;
  if (got->records.empty() && next.state == shard.state) {
    shard.iterator = next.iterator;
    return absl::OkStatus();
  }
  SW_ASSIGN_OR_RETURN(
      MirrorResult result,
      store_.ApplyMirrored(items, MirrorChanges::kRecord, MirrorScope::kItems,
                           [&](SqliteConnection& conn) { return SaveShard(conn, id, next); }));
  stats.changed += result.inserted + result.modified + result.removed;
  stats.recorded += result.inserted + result.modified;
  shard = std::move(next);
  if (shard.state == ShardState::kEnded) {
    spdlog::info("dynamodb mirror: shard {} is closed and read to its end", id);
    next_describe_ = std::chrono::steady_clock::time_point::min();  // find its children
  }
  return absl::OkStatus();
}

absl::StatusOr<MirrorPassStats> DynamoDbStreamMirror::PollOnce() {
  MirrorPassStats stats;
  if (!started_) SW_RETURN_IF_ERROR(Start(&stats));
  const auto now = clock_.Monotonic();
  if (now >= next_describe_) {
    SW_RETURN_IF_ERROR(Describe(stats));
    next_describe_ = now + options_.describe_interval;
  }
  std::vector<std::string> ids;
  for (const auto& [id, shard] : shards_) ids.push_back(id);
  for (const std::string& id : ids) {
    auto it = shards_.find(id);
    if (it == shards_.end() || it->second.state == ShardState::kEnded) continue;
    // Parent before child: a child waits until its parent (if we know it) is read to its end.
    if (auto parent = shards_.find(it->second.parent);
        parent != shards_.end() && parent->second.state != ShardState::kEnded) {
      continue;
    }
    std::string resync;
    SW_RETURN_IF_ERROR(ReadShard(id, it->second, stats, resync));
    if (!resync.empty()) {
      SW_RETURN_IF_ERROR(Resync(resync, stats));
      break;  // the shards were replaced; the next pass reads them
    }
  }
  return stats;
}

void DynamoDbStreamMirror::Run(base::WorkSignal& wakeup, base::WorkSignal* on_change) {
  auto deadline = std::chrono::steady_clock::now();
  std::chrono::milliseconds backoff{0};
  while (wakeup.WaitUntil(deadline)) {
    absl::StatusOr<MirrorPassStats> pass;
    try {
      pass = PollOnce();
    } catch (const std::exception& e) {
      // Nothing below should throw; a bug must not end the mirror silently.
      pass = absl::InternalError(std::string("dynamodb mirror: ") + e.what());
    }
    if (!pass.ok()) {
      backoff = std::clamp(backoff * 2, options_.min_backoff, options_.max_backoff);
      spdlog::warn("dynamodb mirror: {}; retrying in {} ms", Explain(pass.status()),
                   backoff.count());
      deadline = std::chrono::steady_clock::now() + backoff;
      continue;
    }
    backoff = std::chrono::milliseconds{0};
    if (pass->recorded > 0 && on_change != nullptr) on_change->Notify();
    deadline = std::chrono::steady_clock::now() +
               (pass->records > 0 ? std::chrono::milliseconds{0} : options_.poll_interval);
  }
}

}  // namespace stockwatch::adapters
