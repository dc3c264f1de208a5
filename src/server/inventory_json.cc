#include "server/inventory_json.h"

#include <charconv>
#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/checker/inventory_order.h"
#include "core/model/json.h"
#include "nlohmann/json.hpp"

namespace stockwatch::server {
namespace {

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

}  // namespace stockwatch::server
