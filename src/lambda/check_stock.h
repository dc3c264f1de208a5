// The check-stock function's logic: DynamoDB stream records (NEW_AND_OLD_IMAGES) of the
// inventory table through the embedded mode's stock rules (core/checker/stock_rules.h), each
// message handed to an AlertPublisher (SnsAlertPublisher on AWS).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"
#include "lambda/events.h"
#include "nlohmann/json.hpp"

namespace stockwatch::lambda {

// The Store value of the rows load-inventory keeps its per-object state in when it has no
// STATE_TABLE (load_inventory.h). The checker skips them and the loader refuses CSV rows
// naming this store, so they never show up as inventory.
inline constexpr std::string_view kLoadStateStore = "#stockwatch-load-state";
// The Store value of the LowStock thresholds the dashboard sets (DynamoDbThresholds).
inline constexpr std::string_view kThresholdStore = "#stockwatch-thresholds";

// Whether `store` is one of stockwatch's own (the two above, and any later one: every name
// starting "#stockwatch-"): never inventory, refused in a CSV row, skipped by check-stock.
inline constexpr std::string_view kReservedStorePrefix = "#stockwatch-";
inline bool IsReservedStore(std::string_view store) {
  return store.starts_with(kReservedStorePrefix);
}

// Publishes one alert. Implementations decide the topic from message.topic (NoStock,
// LowStock, BackInStock).
class AlertPublisher {
 public:
  virtual ~AlertPublisher() = default;
  // Returns OK once the message is published; any error makes its stream record a batch
  // item failure (retried by Lambda).
  virtual absl::Status Publish(const core::Message& message) = 0;
};

struct CheckStockOptions {
  // The global LowStock threshold (env LOW_STOCK_THRESHOLD). Default none: no LowStock.
  std::optional<int64_t> low_stock_threshold;
  // The thresholds set in the dashboard (kThresholdStore items), as the embedded mode's:
  // (store, item) beats (any, item) beats (store, any) beats a global one, which beats
  // low_stock_threshold.
  std::vector<core::Threshold> thresholds;
};

struct CheckStockResult {
  // SequenceNumbers of the records that failed, for ReportBatchItemFailures: the first
  // record that failed (nothing after it was processed, so Lambda retries from it and no
  // alert after it is published twice). Empty when every record was handled.
  std::vector<std::string> failed_sequence_numbers;
  std::vector<std::string> failure_messages;  // why, one per failed record (for the log)
  int64_t published = 0;                      // messages published
  int64_t ignored = 0;  // records that change no count (equal images, REMOVE, state rows)

  // {"batchItemFailures":[{"itemIdentifier":"<SequenceNumber>"}, ...]}
  nlohmann::json ToJson() const;
};

// The change a stream record makes to an item's count, or nullopt when it makes none: a
// REMOVE, a reserved store's row (IsReservedStore), an image without Count, equal old and new
// counts (a loader writing an unchanged row). kInvalidArgument for a record whose new image is not
// an inventory item (Store/Item missing, bad Count).
absl::StatusOr<std::optional<core::ChangeRecord>> ChangeFromStreamRecord(
    const StreamRecord& record);

// Runs `records` (in stream order) through the stock rules, publishing every message.
// Stops at the first record that fails (bad image or a publish error) and reports it.
CheckStockResult CheckStock(const std::vector<StreamRecord>& records,
                            const CheckStockOptions& options, AlertPublisher& publisher);

}  // namespace stockwatch::lambda
