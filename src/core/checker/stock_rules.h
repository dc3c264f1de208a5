// The stock rules: which change of an item's count publishes which message.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/model/types.h"

namespace stockwatch::core {

// Resolves the LowStock threshold of an item: (store, item) beats (any store, item) beats
// (store, any item) beats the global default (any, any). None by default.
class ThresholdTable {
 public:
  ThresholdTable() = default;
  explicit ThresholdTable(const std::vector<Threshold>& thresholds);
  std::optional<int64_t> For(std::string_view store, std::string_view item) const;

 private:
  std::vector<Threshold> thresholds_;
};

// Messages `change` publishes (zero or one per topic):
//  - NoStock when the count becomes 0 from above 0, or a new item arrives at 0;
//  - LowStock when the count crosses from above `threshold` (or from nothing, for a new
//    item) to at or below it, and stays above 0;
//  - BackInStock when the count goes from 0 to above 0.
// An item that stays at 0 publishes nothing; nor does a change within the same band.
// Message ids are stable: "<change sequence>-<topic>", so a re-run publishes the same ids.
std::vector<Message> EvaluateChange(const ChangeRecord& change, std::optional<int64_t> threshold);

}  // namespace stockwatch::core
