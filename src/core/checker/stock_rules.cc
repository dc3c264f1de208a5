#include "core/checker/stock_rules.h"

#include <string>

namespace stockwatch::core {
namespace {

int Specificity(const Threshold& t) { return (t.item ? 2 : 0) + (t.store ? 1 : 0); }

Message MakeMessage(const ChangeRecord& change, std::string_view topic, std::string subject,
                    std::string body) {
  Message m;
  m.id = std::to_string(change.sequence) + "-" + std::string(topic);
  m.topic = std::string(topic);
  m.rule = std::string(topic);
  m.subject = std::move(subject);
  m.body = std::move(body);
  m.store = change.store;
  m.item = change.item;
  m.old_count = change.old_count;
  m.new_count = change.new_count;
  m.change_sequence = change.sequence;
  m.at = change.at;
  return m;
}

}  // namespace

ThresholdTable::ThresholdTable(const std::vector<Threshold>& thresholds)
    : thresholds_(thresholds) {}

std::optional<int64_t> ThresholdTable::For(std::string_view store, std::string_view item) const {
  const Threshold* best = nullptr;
  for (const Threshold& t : thresholds_) {
    if (t.store && *t.store != store) continue;
    if (t.item && *t.item != item) continue;
    if (best == nullptr || Specificity(t) > Specificity(*best)) best = &t;
  }
  if (best == nullptr) return std::nullopt;
  return best->value;
}

std::vector<Message> EvaluateChange(const ChangeRecord& change, std::optional<int64_t> threshold) {
  std::vector<Message> out;
  const std::optional<int64_t>& old_count = change.old_count;
  const int64_t new_count = change.new_count;
  if (new_count == 0 && (!old_count || *old_count > 0)) {
    // The wording of the system stockwatch replaces; subscribers may match on it.
    out.push_back(MakeMessage(change, kTopicNoStock, "Inventory Alert!",
                              change.store + " is out of stock of " + change.item));
  }
  if (threshold && new_count > 0 && new_count <= *threshold &&
      (!old_count || *old_count > *threshold)) {
    out.push_back(MakeMessage(change, kTopicLowStock, "Low Stock Alert",
                              change.store + " is low on stock of " + change.item + ": " +
                                  std::to_string(new_count) + " left (threshold " +
                                  std::to_string(*threshold) + ")"));
    out.back().threshold = threshold;
  }
  if (old_count && *old_count == 0 && new_count > 0) {
    out.push_back(MakeMessage(change, kTopicBackInStock, "Back In Stock",
                              change.store + " is back in stock of " + change.item + ": " +
                                  std::to_string(new_count) + " available"));
  }
  return out;
}

}  // namespace stockwatch::core
