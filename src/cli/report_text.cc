#include "cli/report_text.h"

#include <fmt/format.h>

namespace stockwatch::cli {

std::string ReportText(const std::string& name, const nlohmann::json& report) {
  std::string out;
  const std::string status = report.value("status", "pending");
  if (status == "rejected") {
    out += fmt::format("{}: rejected: {}\n", name, report.value("reject_reason", ""));
  } else {
    out += fmt::format("{}: {}: {} rows read, {} loaded, {} unchanged, {} rejected ({} ms)\n", name,
                       status, report.value("rows_read", 0), report.value("rows_loaded", 0),
                       report.value("rows_unchanged", 0), report.value("rows_rejected", 0),
                       report.value("duration_us", 0) / 1000);
  }
  for (const auto& e : report.value("errors", nlohmann::json::array())) {
    out += "  " + e.get<std::string>() + "\n";
  }
  const int64_t errors_shown =
      static_cast<int64_t>(report.value("errors", nlohmann::json::array()).size());
  if (report.value("error_count", int64_t{0}) > errors_shown) {
    out += fmt::format("  ... and {} more errors\n",
                       report.value("error_count", int64_t{0}) - errors_shown);
  }
  for (const auto& w : report.value("warnings", nlohmann::json::array())) {
    out += "  warning: " + w.get<std::string>() + "\n";
  }
  const auto ignored = report.value("ignored_columns", std::vector<std::string>{});
  if (!ignored.empty()) {
    std::string joined;
    for (const auto& c : ignored) joined += (joined.empty() ? "" : ", ") + c;
    out += "  ignored columns: " + joined + "\n";
  }
  return out;
}

}  // namespace stockwatch::cli
