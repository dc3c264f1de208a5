#include "lambda/check_stock.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "core/checker/stock_rules.h"

namespace stockwatch::lambda {

nlohmann::json CheckStockResult::ToJson() const {
  nlohmann::json failures = nlohmann::json::array();
  for (const std::string& sequence : failed_sequence_numbers) {
    failures.push_back({{"itemIdentifier", sequence}});
  }
  return {{"batchItemFailures", std::move(failures)}};
}

absl::StatusOr<std::optional<core::ChangeRecord>> ChangeFromStreamRecord(
    const StreamRecord& record) {
  if (record.event_name == StreamEventName::kRemove) return std::nullopt;
  absl::StatusOr<InventoryImage> now = ReadInventoryImage(record.new_image);
  if (!now.ok()) {
    return absl::InvalidArgumentError("record " + record.sequence_number +
                                      ": NewImage: " + std::string(now.status().message()));
  }
  if (IsReservedStore(now->store) || !now->count) return std::nullopt;
  core::ChangeRecord change;
  change.kind = record.event_name == StreamEventName::kInsert ? core::ChangeKind::kInsert
                                                              : core::ChangeKind::kModify;
  change.store = now->store;
  change.item = now->item;
  change.new_count = *now->count;
  if (record.event_name == StreamEventName::kModify && record.old_image.is_object()) {
    absl::StatusOr<InventoryImage> before = ReadInventoryImage(record.old_image);
    // An old image without a usable count is treated as a new item, as the embedded
    // checker treats an insert.
    if (before.ok() && before->count) change.old_count = *before->count;
  }
  if (change.old_count && *change.old_count == change.new_count) return std::nullopt;
  // Stream sequence numbers have up to 40 digits; the message id only needs them when they
  // fit (SNS does not deduplicate standard topics by id).
  uint64_t sequence = 0;
  const std::string& text = record.sequence_number;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), sequence);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) sequence = 0;
  change.sequence = sequence;
  change.at = core::TimePoint(std::chrono::duration_cast<core::TimePoint::duration>(
      std::chrono::duration<double>(record.approximate_creation_time)));
  return change;
}

CheckStockResult CheckStock(const std::vector<StreamRecord>& records,
                            const CheckStockOptions& options, AlertPublisher& publisher) {
  CheckStockResult result;
  std::vector<core::Threshold> thresholds = options.thresholds;
  const bool global_set = std::any_of(thresholds.begin(), thresholds.end(),
                                      [](const core::Threshold& t) { return !t.store && !t.item; });
  if (options.low_stock_threshold && !global_set) {
    thresholds.push_back(core::Threshold{std::nullopt, std::nullopt, *options.low_stock_threshold});
  }
  const core::ThresholdTable table(thresholds);
  for (const StreamRecord& record : records) {
    absl::Status failed;
    absl::StatusOr<std::optional<core::ChangeRecord>> change = ChangeFromStreamRecord(record);
    if (!change.ok()) {
      failed = change.status();
    } else if (!change->has_value()) {
      ++result.ignored;
    } else {
      for (const core::Message& message :
           core::EvaluateChange(**change, table.For((*change)->store, (*change)->item))) {
        failed = publisher.Publish(message);
        if (!failed.ok()) break;
        ++result.published;
      }
    }
    if (!failed.ok()) {
      result.failed_sequence_numbers.push_back(record.sequence_number);
      result.failure_messages.push_back(std::string(failed.message()));
      break;
    }
  }
  return result;
}

}  // namespace stockwatch::lambda
