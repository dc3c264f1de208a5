#include "core/checker/checker.h"

#include <vector>

#include "base/status.h"
#include "core/checker/stock_rules.h"
#include "core/checker/topic_routes.h"

namespace stockwatch::core {

Checker::Checker(ChangeStream& changes, InventoryStore& inventory, Notifier& notifier,
                 CheckerOptions options)
    : changes_(changes), inventory_(inventory), notifier_(notifier), options_(options) {}

absl::Status Checker::EndAtUploadBoundary(std::vector<ChangeRecord>& records) {
  // A short read reached the end of the stream, and a load commits all its records at
  // once, so every upload in it is whole.
  if (records.size() < options_.batch) return absl::OkStatus();
  const int64_t last_upload = records.back().upload_id;
  size_t start = records.size();
  while (start > 0 && records[start - 1].upload_id == last_upload) --start;
  if (start > 0) {
    // The last upload may go on after this batch: leave it whole for the next one.
    records.resize(start);
    return absl::OkStatus();
  }
  // One upload fills the batch: read on to its end (its records are contiguous).
  while (true) {
    SW_ASSIGN_OR_RETURN(std::vector<ChangeRecord> more,
                        changes_.Read(records.back().sequence, options_.batch));
    for (ChangeRecord& record : more) {
      if (record.upload_id != last_upload) return absl::OkStatus();
      records.push_back(std::move(record));
    }
    if (more.size() < options_.batch) return absl::OkStatus();
  }
}

absl::StatusOr<CheckResult> Checker::CheckPending() {
  CheckResult result;
  SW_ASSIGN_OR_RETURN(uint64_t checkpoint, notifier_.Checkpoint());
  // Thresholds are few; reading them once per call keeps every batch consistent.
  SW_ASSIGN_OR_RETURN(std::vector<Threshold> thresholds, inventory_.Thresholds());
  const ThresholdTable table(thresholds);
  // So are the user topics and the rules that publish to them.
  SW_ASSIGN_OR_RETURN(std::vector<TopicInfo> topics, notifier_.TopicInfos());
  const TopicRouter router(topics);
  while (true) {
    SW_ASSIGN_OR_RETURN(std::vector<ChangeRecord> records,
                        changes_.Read(checkpoint, options_.batch));
    if (records.empty()) return result;
    SW_RETURN_IF_ERROR(EndAtUploadBoundary(records));
    std::vector<Message> messages;
    for (const ChangeRecord& record : records) {
      std::vector<Message> produced = EvaluateChange(record, table.For(record.store, record.item));
      for (Message& m : produced) m.upload_id = record.upload_id;
      std::vector<Message> copies = router.RouteAll(produced);
      for (Message& m : produced) messages.push_back(std::move(m));
      for (Message& m : copies) messages.push_back(std::move(m));
    }
    const uint64_t next = records.back().sequence;
    SW_RETURN_IF_ERROR(notifier_.Publish(messages, checkpoint, next));
    checkpoint = next;
    result.records += records.size();
    result.messages += messages.size();
  }
}

}  // namespace stockwatch::core
