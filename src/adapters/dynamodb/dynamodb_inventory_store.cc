#include "adapters/dynamodb/dynamodb_inventory_store.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "adapters/dynamodb/dynamodb_stream_mirror.h"
#include "base/status.h"

namespace stockwatch::adapters {
namespace {

// The key of a staged row: the store's length first, so no (store, item) pair can collide
// with another whatever bytes the names hold.
std::string RowKey(std::string_view store, std::string_view item) {
  std::string key = std::to_string(store.size());
  key += ':';
  key += store;
  key += item;
  return key;
}

// How long a commit waits for the mirror to finish a stream batch before giving up (the
// loader then retries the upload).
constexpr std::chrono::seconds kRecordReportPatience{10};

}  // namespace

class DynamoDbInventoryStore::Writer final : public core::UploadWriter {
 public:
  Writer(DynamoDbInventoryStore& store, int64_t upload_id, core::TimePoint at)
      : store_(store), upload_id_(upload_id), at_(at) {}
  ~Writer() override { store_.writer_alive_.store(false); }

  int64_t Upsert(std::string_view store, std::string_view item, int64_t count,
                 int64_t line) override {
    auto [it, inserted] = index_.try_emplace(RowKey(store, item), rows_.size());
    if (inserted) {
      rows_.push_back(core::InventoryItem{std::string(store), std::string(item), count, at_});
      lines_.push_back(line);
      return 0;
    }
    rows_[it->second].count = count;
    return std::exchange(lines_[it->second], line);
  }

  absl::Status Commit(core::LoadReport& report) override {
    if (committed_) return absl::FailedPreconditionError("upload writer committed twice");
    committed_ = true;
    if (store_.mirror_.GetReport(upload_id_).ok()) {
      return absl::AlreadyExistsError("upload " + std::to_string(upload_id_) +
                                      " is already applied");
    }
    // Only rows that insert or change an item are written: the table's stream then carries
    // exactly the upload's changes, and an unchanged file costs no write capacity.
    std::vector<size_t> changed;
    int64_t unchanged = 0;
    for (size_t i = 0; i < rows_.size(); ++i) {
      // The Lambda functions keep their own items (load state, thresholds) under stores
      // named "#stockwatch-...": a row naming one would overwrite them. A bad row, as
      // load-inventory treats it.
      if (rows_[i].store.starts_with(kMirrorReservedStorePrefix)) {
        ++report.rows_rejected;
        ++report.error_count;
        if (report.errors.size() < core::kMaxReportedIssues) {
          report.errors.push_back({core::Severity::kError, lines_[i], 1,
                                   "store \"" + rows_[i].store + "\" is reserved"});
        }
        continue;
      }
      absl::StatusOr<core::InventoryItem> current =
          store_.mirror_.Get(rows_[i].store, rows_[i].item);
      if (current.ok() && current->count == rows_[i].count) {
        ++unchanged;
      } else if (current.ok() || absl::IsNotFound(current.status())) {
        changed.push_back(i);
      } else {
        return current.status();
      }
    }
    SW_RETURN_IF_ERROR(Write(changed));
    report.rows_loaded = static_cast<int64_t>(changed.size());
    report.rows_unchanged = unchanged;
    std::vector<std::string> stores;
    {
      std::unordered_set<std::string_view> seen;
      for (const core::InventoryItem& row : rows_) {
        if (seen.insert(row.store).second) stores.push_back(row.store);
      }
    }
    // The mirror refuses while it applies a stream batch (tens of milliseconds): wait for it
    // rather than fail the upload, whose rows are already in the table.
    const auto give_up = std::chrono::steady_clock::now() + kRecordReportPatience;
    while (true) {
      absl::Status recorded = store_.mirror_.RecordReport(upload_id_, at_, report, stores);
      if (!absl::IsFailedPrecondition(recorded) || std::chrono::steady_clock::now() > give_up) {
        return recorded;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  // Puts rows `indexes` into the table, `rows_per_round` at a time (25 per call).
  absl::Status Write(std::span<const size_t> indexes) {
    const size_t round = std::max<size_t>(store_.options_.rows_per_round, 1);
    std::vector<aws::DynamoWriteRequest> requests;
    for (size_t begin = 0; begin < indexes.size(); begin += round) {
      requests.clear();
      for (size_t i = begin; i < std::min(indexes.size(), begin + round); ++i) {
        const core::InventoryItem& row = rows_[indexes[i]];
        requests.push_back(aws::DynamoWriteRequest::Put({{"Store", aws::DynamoS(row.store)},
                                                         {"Item", aws::DynamoS(row.item)},
                                                         {"Count", aws::DynamoN(row.count)},
                                                         {"UploadId", aws::DynamoN(upload_id_)}}));
      }
      absl::StatusOr<aws::BatchWriteResult> written =
          store_.db_.BatchWriteItem(store_.options_.table, requests);
      if (!written.ok()) {
        return absl::Status(written.status().code(), "writing upload " +
                                                         std::to_string(upload_id_) + " to " +
                                                         store_.options_.table + ": " +
                                                         std::string(written.status().message()));
      }
      store_.batch_write_calls_.fetch_add(written->calls);
    }
    return absl::OkStatus();
  }

  DynamoDbInventoryStore& store_;
  const int64_t upload_id_;
  const core::TimePoint at_;
  std::vector<core::InventoryItem> rows_;  // staged, first-seen order
  std::vector<int64_t> lines_;             // the line of each staged row
  std::unordered_map<std::string, size_t> index_;
  bool committed_ = false;
};

DynamoDbInventoryStore::DynamoDbInventoryStore(const aws::DynamoDbClient& db,
                                               SqliteInventoryStore& mirror,
                                               DynamoDbInventoryOptions options)
    : db_(db), mirror_(mirror), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<core::UploadWriter>> DynamoDbInventoryStore::BeginUpload(
    int64_t upload_id, core::TimePoint at) {
  if (upload_id <= 0) return absl::InvalidArgumentError("upload id must be positive");
  if (writer_alive_.exchange(true)) {
    return absl::FailedPreconditionError("another upload is being applied");
  }
  return std::make_unique<Writer>(*this, upload_id, at);
}

absl::StatusOr<int64_t> DynamoDbInventoryStore::LastAppliedUpload() {
  return mirror_.LastAppliedUpload();
}

absl::StatusOr<core::LoadReport> DynamoDbInventoryStore::GetReport(int64_t upload_id) {
  return mirror_.GetReport(upload_id);
}

absl::StatusOr<core::InventoryPage> DynamoDbInventoryStore::Query(
    const core::InventoryQuery& query) {
  return mirror_.Query(query);
}

absl::StatusOr<core::InventoryItem> DynamoDbInventoryStore::Get(std::string_view store,
                                                                std::string_view item) {
  return mirror_.Get(store, item);
}

absl::StatusOr<std::vector<core::StoreSummary>> DynamoDbInventoryStore::Stores() {
  return mirror_.Stores();
}

absl::Status DynamoDbInventoryStore::SetThreshold(const core::Threshold& scope,
                                                  std::optional<int64_t> value) {
  return mirror_.SetThreshold(scope, value);
}

absl::StatusOr<std::vector<core::Threshold>> DynamoDbInventoryStore::Thresholds() {
  return mirror_.Thresholds();
}

}  // namespace stockwatch::adapters
