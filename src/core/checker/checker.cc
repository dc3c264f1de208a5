#include "core/checker/checker.h"

#include <vector>

#include "base/status.h"
#include "core/checker/stock_rules.h"

namespace stockwatch::core {

Checker::Checker(ChangeStream& changes, InventoryStore& inventory, Notifier& notifier,
                 CheckerOptions options)
    : changes_(changes), inventory_(inventory), notifier_(notifier), options_(options) {}

absl::StatusOr<CheckResult> Checker::CheckPending() {
  CheckResult result;
  SW_ASSIGN_OR_RETURN(uint64_t checkpoint, notifier_.Checkpoint());
  // Thresholds are few; reading them once per call keeps every batch consistent.
  SW_ASSIGN_OR_RETURN(std::vector<Threshold> thresholds, inventory_.Thresholds());
  const ThresholdTable table(thresholds);
  while (true) {
    SW_ASSIGN_OR_RETURN(std::vector<ChangeRecord> records,
                        changes_.Read(checkpoint, options_.batch));
    if (records.empty()) return result;
    std::vector<Message> messages;
    for (const ChangeRecord& record : records) {
      std::vector<Message> produced = EvaluateChange(record, table.For(record.store, record.item));
      for (Message& m : produced) messages.push_back(std::move(m));
    }
    const uint64_t next = records.back().sequence;
    SW_RETURN_IF_ERROR(notifier_.Publish(messages, checkpoint, next));
    checkpoint = next;
    result.records += records.size();
    result.messages += messages.size();
  }
}

}  // namespace stockwatch::core
