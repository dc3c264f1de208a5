#include "lambda/load_inventory.h"

#include <chrono>
#include <utility>

#include "base/status.h"
#include "core/model/json.h"
#include "lambda/check_stock.h"

namespace stockwatch::lambda {
namespace {

std::string ReservedStoreReason(std::string_view store) {
  return "store \"" + std::string(store) + "\" is reserved";
}

void AddError(core::LoadReport& report, int64_t line, std::string reason) {
  ++report.rows_rejected;
  ++report.error_count;
  if (report.errors.size() < core::kMaxReportedIssues) {
    report.errors.push_back({core::Severity::kError, line, 1, std::move(reason)});
  }
}

// Checks rows without writing them (the first pass under kReject).
class ValidateSink final : public core::RowSink {
 public:
  void OnRow(const core::InventoryRow& row) override {
    if (IsReservedStore(row.store) && first_reserved_line == 0) {
      first_reserved_line = row.line;
      first_reserved_store = row.store;
    }
  }
  int64_t first_reserved_line = 0;
  std::string first_reserved_store;
};

// Writes rows in batches of distinct (store, item); a later row for the same item in the
// batch replaces the earlier one, which becomes a warning as in the embedded loader.
class BatchSink final : public core::RowSink {
 public:
  BatchSink(InventoryWriter& writer, size_t batch_items, core::LoadReport& report)
      : writer_(writer), batch_items_(batch_items), report_(report) {}

  void OnRow(const core::InventoryRow& row) override {
    if (!status_.ok()) return;
    if (IsReservedStore(row.store)) {
      AddError(report_, row.line, ReservedStoreReason(row.store));
      return;
    }
    for (size_t i = 0; i < batch_.size(); ++i) {
      if (batch_[i].store == row.store && batch_[i].item == row.item) {
        ++report_.rows_superseded;
        ++report_.warning_count;
        if (report_.warnings.size() < core::kMaxReportedIssues) {
          report_.warnings.push_back({core::Severity::kWarning, lines_[i], 1,
                                      "row for store \"" + std::string(row.store) +
                                          "\" and item \"" + std::string(row.item) +
                                          "\" is superseded by line " + std::to_string(row.line)});
        }
        batch_[i].count = row.count;
        lines_[i] = row.line;
        return;
      }
    }
    batch_.push_back({std::string(row.store), std::string(row.item), row.count, {}});
    lines_.push_back(row.line);
    if (batch_.size() >= batch_items_) Flush();
  }

  void Flush() {
    if (!status_.ok() || batch_.empty()) return;
    status_ = writer_.Write(batch_);
    if (status_.ok()) report_.rows_loaded += static_cast<int64_t>(batch_.size());
    batch_.clear();
    lines_.clear();
  }

  const absl::Status& status() const { return status_; }

 private:
  InventoryWriter& writer_;
  size_t batch_items_;
  core::LoadReport& report_;
  std::vector<core::InventoryItem> batch_;
  std::vector<int64_t> lines_;
  absl::Status status_;
};

}  // namespace

nlohmann::json RecordResult::ToJson() const {
  nlohmann::json out = {{"bucket", record.bucket},
                        {"key", record.key},
                        {"eTag", record.etag},
                        {"sequencer", record.sequencer},
                        {"outcome", outcome}};
  if (!reason.empty()) out["reason"] = reason;
  if (has_report) out["report"] = core::ToJson(report);
  return out;
}

InventoryLoader::InventoryLoader(ObjectStorage& storage, InventoryWriter& writer,
                                 LoadStateStore& state, LoadInventoryOptions options)
    : storage_(storage), writer_(writer), state_(state), options_(std::move(options)) {
  if (options_.batch_items == 0) options_.batch_items = 1;
}

absl::Status InventoryLoader::ParseObject(const S3EventRecord& record,
                                          core::InventoryCsvParser& parser, core::RowSink* sink,
                                          absl::Status& verdict) {
  ValidateSink discard;
  core::RowSink& target = sink != nullptr ? *sink : discard;
  BatchSink* batch = dynamic_cast<BatchSink*>(sink);
  verdict = absl::OkStatus();
  absl::Status read = storage_.Read(record.bucket, record.key, [&](std::string_view chunk) {
    if (!verdict.ok()) return absl::OkStatus();  // rejected: ignore the rest
    verdict = parser.Feed(chunk, target);
    if (batch != nullptr) return batch->status();
    return absl::OkStatus();
  });
  SW_RETURN_IF_ERROR(read);
  if (verdict.ok()) verdict = parser.Finish(target);
  if (batch != nullptr) {
    if (verdict.ok()) batch->Flush();
    SW_RETURN_IF_ERROR(batch->status());
  }
  if (!verdict.ok() && !absl::IsInvalidArgument(verdict)) return verdict;
  return absl::OkStatus();
}

absl::StatusOr<RecordResult> InventoryLoader::Handle(const S3EventRecord& record) {
  RecordResult result;
  result.record = record;
  if (!record.event_name.starts_with("ObjectCreated:")) {
    result.outcome = "skipped";
    result.reason = "not an ObjectCreated event";
    return result;
  }
  if (record.key.starts_with(options_.reports_prefix)) {
    result.outcome = "skipped";
    result.reason = "a load report";
    return result;
  }
  const std::string object = record.bucket + "/" + record.key;
  const std::string sequencer = PadSequencer(record.sequencer);
  SW_ASSIGN_OR_RETURN(ClaimOutcome claim, state_.Claim(object, sequencer, record.etag));
  if (claim == ClaimOutcome::kStale) {
    result.outcome = "stale";
    result.reason = "an event as new or newer was applied to this key";
    return result;
  }
  if (claim == ClaimOutcome::kUnchanged) {
    SW_RETURN_IF_ERROR(state_.Complete(object, sequencer, record.etag));
    result.outcome = "unchanged";
    result.reason = "same ETag as the last load of this key";
    return result;
  }

  const auto started = std::chrono::steady_clock::now();
  core::LoadReport& report = result.report;
  result.has_report = true;
  report.file_name = record.key;
  absl::Status verdict;
  int64_t reserved_line = 0;
  if (options_.bad_row_policy == core::BadRowPolicy::kReject) {
    // Validate the whole file first, so a bad row near the end rejects it before any row
    // is written.
    core::InventoryCsvParser check(record.key, options_.bad_row_policy);
    ValidateSink validate;
    SW_RETURN_IF_ERROR(ParseObject(record, check, &validate, verdict));
    reserved_line = validate.first_reserved_line;
    if (!verdict.ok() || reserved_line != 0) {
      report.rows_read = check.rows_read();
      report.rows_rejected = check.rows_rejected();
      report.error_count = check.error_count();
      report.errors = check.errors();
      report.ignored_columns = check.ignored_columns();
      if (verdict.ok()) {
        AddError(report, reserved_line, ReservedStoreReason(validate.first_reserved_store));
        verdict =
            absl::InvalidArgumentError(record.key + ":" + std::to_string(reserved_line) +
                                       ":1: " + ReservedStoreReason(validate.first_reserved_store));
      }
    }
  }
  if (verdict.ok()) {
    core::InventoryCsvParser parser(record.key, options_.bad_row_policy);
    BatchSink sink(writer_, options_.batch_items, report);
    SW_RETURN_IF_ERROR(ParseObject(record, parser, &sink, verdict));
    const int64_t reserved_rows = report.rows_rejected;  // counted by the sink
    report.rows_read = parser.rows_read();
    report.rows_rejected = parser.rows_rejected() + reserved_rows;
    report.error_count = parser.error_count() + reserved_rows;
    std::vector<core::RowIssue> errors = parser.errors();
    for (const core::RowIssue& issue : report.errors) {
      if (errors.size() < core::kMaxReportedIssues) errors.push_back(issue);
    }
    report.errors = std::move(errors);
    report.ignored_columns = parser.ignored_columns();
  }
  if (!verdict.ok()) {
    report.status = core::LoadStatus::kRejected;
    report.reject_reason = std::string(verdict.message());
    report.rows_loaded = 0;
    report.rows_superseded = 0;
    report.warning_count = 0;
    report.warnings.clear();
    result.outcome = "rejected";
  } else {
    report.status = core::LoadStatus::kLoaded;
    result.outcome = "loaded";
  }
  report.loaded_at = std::chrono::system_clock::now();
  report.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  SW_RETURN_IF_ERROR(storage_.Write(record.bucket, options_.reports_prefix + record.key + ".json",
                                    "application/json", core::ToJson(report).dump(2) + "\n"));
  absl::Status completed = state_.Complete(object, sequencer, record.etag);
  if (absl::IsAborted(completed)) {
    // A newer event claimed the key while this one loaded; its load writes after ours.
    result.reason = std::string(completed.message());
  } else {
    SW_RETURN_IF_ERROR(completed);
  }
  return result;
}

absl::StatusOr<nlohmann::json> InventoryLoader::HandleAll(
    const std::vector<S3EventRecord>& records) {
  nlohmann::json results = nlohmann::json::array();
  absl::Status first_error;
  for (const S3EventRecord& record : records) {
    absl::StatusOr<RecordResult> result = Handle(record);
    if (!result.ok()) {
      if (first_error.ok()) {
        first_error =
            absl::Status(result.status().code(), record.bucket + "/" + record.key + ": " +
                                                     std::string(result.status().message()));
      }
      continue;
    }
    results.push_back(result->ToJson());
  }
  SW_RETURN_IF_ERROR(first_error);
  return nlohmann::json{{"records", std::move(results)}};
}

}  // namespace stockwatch::lambda
