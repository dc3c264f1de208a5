#include "server/inventory_json.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/checker/inventory_order.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "server/ascii.h"

namespace stockwatch::server {
namespace {

// A threshold scope name: null/absent for "any", else a name as the CSV reader accepts it.
absl::StatusOr<std::optional<std::string>> ScopeName(const nlohmann::json& object,
                                                     std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    return absl::InvalidArgumentError(fmt::format("{} must be a string or null", name));
  }
  std::optional<std::string> value = it->get<std::string>();
  if (value->empty() || value->size() > core::kMaxNameBytes) {
    return absl::InvalidArgumentError(
        fmt::format("{} must be 1..{} bytes, or null for any", name, core::kMaxNameBytes));
  }
  if (TrimAsciiWhitespace(*value).size() != value->size()) {
    return absl::InvalidArgumentError(
        fmt::format("{} must not start or end with white space", name));
  }
  return value;
}

// `value`: required; an integer 0..kMaxCount, or null to remove the threshold.
absl::StatusOr<std::optional<int64_t>> ThresholdValue(const nlohmann::json& object) {
  const std::string range_hint =
      fmt::format("value must be an integer 0..{}, or null to remove", core::kMaxCount);
  auto it = object.find("value");
  if (it == object.end()) return absl::InvalidArgumentError("value is required: " + range_hint);
  if (it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) return absl::InvalidArgumentError(range_hint);
  if (it->is_number_unsigned()) {
    uint64_t value = it->get<uint64_t>();
    if (value > static_cast<uint64_t>(core::kMaxCount)) {
      return absl::InvalidArgumentError(range_hint);
    }
    return static_cast<int64_t>(value);
  }
  int64_t value = it->get<int64_t>();
  if (value < 0 || value > core::kMaxCount) return absl::InvalidArgumentError(range_hint);
  return value;
}

// The length of the well-formed UTF-8 sequence starting at `p` (a byte >= 0x80), or 0 if it
// is not one (Unicode table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = p[0];
  auto continuation = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const unsigned char lo = lead == 0xe0 ? 0xa0 : 0x80;
    const unsigned char hi = lead == 0xed ? 0x9f : 0xbf;
    return continuation(1, lo, hi) && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const unsigned char lo = lead == 0xf0 ? 0x90 : 0x80;
    const unsigned char hi = lead == 0xf4 ? 0x8f : 0xbf;
    return continuation(1, lo, hi) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

// Appends `text` as a JSON string, escaped as nlohmann does it (ensure_ascii off). Text
// that is not well-formed UTF-8 goes through nlohmann itself, which replaces what is
// invalid, so the output stays identical in every case. Runs of plain characters are
// copied at once.
void AppendString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t start_size = out.size();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  out += '"';
  const auto* run = p;
  while (p < end) {
    const unsigned char c = *p;
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++p;
      continue;
    }
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(p, end);
      if (n == 0) {
        out.resize(start_size);
        out += nlohmann::json(std::string(text))
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return;
      }
      p += n;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
    run = ++p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
  out += '"';
}

void AppendInt(std::string& out, int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

}  // namespace

std::string InventoryPageJson(const core::InventoryPage& page,
                              const core::ThresholdTable& thresholds) {
  std::string out;
  out.reserve(128 + page.items.size() * 128);
  out += "{\"items\":[";
  // The items of one upload share their time: format each distinct one once.
  std::optional<core::TimePoint> last_time;
  std::string last_formatted;
  bool first = true;
  for (const core::InventoryItem& item : page.items) {
    if (!first) out += ',';
    first = false;
    out += "{\"count\":";
    AppendInt(out, item.count);
    out += ",\"item\":";
    AppendString(out, item.item);
    out += ",\"store\":";
    AppendString(out, item.store);
    out += ",\"threshold\":";
    if (std::optional<int64_t> threshold = thresholds.For(item.store, item.item)) {
      AppendInt(out, *threshold);
    } else {
      out += "null";
    }
    out += ",\"updated_at\":";
    if (!last_time || *last_time != item.updated_at) {
      last_time = item.updated_at;
      last_formatted.clear();
      AppendString(last_formatted, core::FormatTime(item.updated_at));
    }
    out += last_formatted;
    out += '}';
  }
  out += "],\"next_cursor\":";
  if (page.next_cursor.empty()) {
    out += "null";
  } else {
    AppendString(out, page.next_cursor);
  }
  out += ",\"total\":";
  AppendInt(out, page.total);
  out += '}';
  return out;
}

absl::StatusOr<nlohmann::json> StoreSummariesJson(core::InventoryStore& inventory,
                                                  const core::ObjectScope& scope) {
  SW_ASSIGN_OR_RETURN(std::vector<core::StoreSummary> summaries, inventory.Stores());
  nlohmann::json stores = nlohmann::json::array();
  for (const core::StoreSummary& summary : summaries) {
    if (!core::ScopeCoversStore(scope, summary.store)) continue;
    // Low items depend on the thresholds in force: counted by a query of the store.
    core::InventoryQuery low;
    low.store = summary.store;
    low.status = core::StockStatus::kLow;
    low.limit = 1;
    SW_ASSIGN_OR_RETURN(core::InventoryPage page, inventory.Query(low));
    stores.push_back({{"store", summary.store},
                      {"items", summary.items},
                      {"out_of_stock", summary.out_of_stock},
                      {"low", page.total},
                      {"last_updated", core::FormatTime(summary.last_updated)},
                      {"last_upload", summary.last_upload
                                          ? nlohmann::json(core::FormatTime(*summary.last_upload))
                                          : nlohmann::json(nullptr)}});
  }
  return stores;
}

absl::StatusOr<ThresholdChange> ParseThresholdChange(const nlohmann::json& body,
                                                     const core::Principal& principal) {
  ThresholdChange change;
  SW_ASSIGN_OR_RETURN(change.scope.store, ScopeName(body, "store"));
  if (!principal.scope.all_stores &&
      (!change.scope.store ||
       std::find(principal.scope.stores.begin(), principal.scope.stores.end(),
                 *change.scope.store) == principal.scope.stores.end())) {
    return absl::PermissionDeniedError("a manager may set thresholds of its own stores only");
  }
  SW_ASSIGN_OR_RETURN(change.scope.item, ScopeName(body, "item"));
  SW_ASSIGN_OR_RETURN(change.value, ThresholdValue(body));
  return change;
}

nlohmann::json ThresholdChangeJson(const ThresholdChange& change) {
  core::Threshold threshold = change.scope;
  threshold.value = change.value.value_or(0);
  nlohmann::json json = core::ToJson(threshold);
  if (!change.value) json["value"] = nullptr;
  return json;
}

nlohmann::json ThresholdsJson(const std::vector<core::Threshold>& thresholds) {
  nlohmann::json list = nlohmann::json::array();
  for (const core::Threshold& threshold : thresholds) list.push_back(core::ToJson(threshold));
  return {{"thresholds", std::move(list)}};
}

}  // namespace stockwatch::server
