#include "cli/client_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace stockwatch::cli {
namespace {

constexpr std::string_view kEllipsis = "\u2026";

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string Sanitize(std::string_view text, bool keep_newlines) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 || byte == 0x7F) && !(keep_newlines && c == '\n')) c = '?';
  }
  return out;
}

std::string Pad(std::string_view text, size_t width, Align align) {
  const size_t shown = DisplayWidth(text);
  if (shown >= width) return std::string(text);
  const std::string fill(width - shown, ' ');
  return align == Align::kLeft ? std::string(text) + fill : fill + std::string(text);
}

}  // namespace

std::string SanitizeLine(std::string_view text) { return Sanitize(text, false); }

std::string SanitizeText(std::string_view text) { return Sanitize(text, true); }

size_t DisplayWidth(std::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !IsContinuationByte(c); }));
}

std::string Truncate(std::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  if (width == 0) return "";
  // Keep width - 1 code points: stop at the lead byte of the width-th one.
  size_t kept = 0;
  size_t end = 0;
  for (; end < text.size(); ++end) {
    if (!IsContinuationByte(text[end])) {
      if (kept == width - 1) break;
      ++kept;
    }
  }
  return std::string(text.substr(0, end)) + std::string(kEllipsis);
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {
  for (const Column& column : columns_) {
    widths_.push_back(std::min(DisplayWidth(column.header), kMaxColumnWidth));
  }
}

void Table::Fit(const std::vector<std::vector<std::string>>& rows) {
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths_.size(); ++i) {
      widths_[i] = std::max(widths_[i], std::min(DisplayWidth(row[i]), kMaxColumnWidth));
    }
  }
}

std::string Table::Header() const {
  std::vector<std::string> headers;
  headers.reserve(columns_.size());
  for (const Column& column : columns_) headers.push_back(column.header);
  return Line(headers);
}

std::string Table::Row(const std::vector<std::string>& cells) const {
  std::vector<std::string> clean;
  clean.reserve(cells.size());
  for (const std::string& cell : cells) clean.push_back(SanitizeLine(cell));
  return Line(clean);
}

std::string Table::Line(const std::vector<std::string>& cells) const {
  std::string out;
  for (size_t i = 0; i < columns_.size(); ++i) {
    const std::string_view cell = i < cells.size() ? std::string_view(cells[i]) : "";
    const bool last = i + 1 == columns_.size();
    if (i > 0) out += "  ";
    if (last) {
      // Nothing is aligned after the last column, so it is shown whole and not padded.
      out += columns_[i].align == Align::kRight ? Pad(cell, widths_[i], Align::kRight)
                                                : std::string(cell);
    } else {
      out += Pad(Truncate(cell, widths_[i]), widths_[i], columns_[i].align);
    }
  }
  out += '\n';
  return out;
}

std::string RenderTable(std::vector<Column> columns,
                        const std::vector<std::vector<std::string>>& rows) {
  Table table(std::move(columns));
  table.Fit(rows);
  std::string out = table.Header();
  for (const auto& row : rows) out += table.Row(row);
  return out;
}

std::string CsvField(std::string_view value) {
  std::string field;
  if (!value.empty() &&
      std::string_view("=+-@\t\r").find(value.front()) != std::string_view::npos) {
    field += '\'';
  }
  field += value;
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (const char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string CsvRecord(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += CsvField(fields[i]);
  }
  out += "\r\n";
  return out;
}

std::string FormatRate(double bytes_per_second) {
  const double rate = std::max(bytes_per_second, 0.0);
  if (rate < 1e3) return fmt::format("{:.0f} B/s", rate);
  if (rate < 1e6) return fmt::format("{:.1f} kB/s", rate / 1e3);
  if (rate < 1e9) return fmt::format("{:.1f} MB/s", rate / 1e6);
  return fmt::format("{:.1f} GB/s", rate / 1e9);
}

std::string RenderProgressBar(std::string_view name, uint64_t sent, uint64_t total,
                              double bytes_per_second, size_t width) {
  constexpr size_t kMinBar = 10;
  constexpr size_t kMaxBar = 50;
  sent = std::min(sent, total);
  const uint64_t percent = total == 0 ? 100 : sent * 100 / total;
  const std::string suffix = fmt::format("{:>4}%  {:>10}", percent, FormatRate(bytes_per_second));
  // Stay off the last column: some terminals wrap as soon as it is written.
  const size_t usable = width > 0 ? width - 1 : 0;
  const size_t name_width = std::min(DisplayWidth(name), std::max<size_t>(12, usable / 3));
  const size_t fixed = name_width + 3 + 1 + suffix.size();  // name, "  [", "]", suffix
  const size_t bar = std::clamp(usable > fixed ? usable - fixed : 0, kMinBar, kMaxBar);
  const size_t filled =
      total == 0 ? bar
                 : static_cast<size_t>(static_cast<double>(bar) * static_cast<double>(sent) /
                                       static_cast<double>(total));

  std::string out = Pad(Truncate(SanitizeLine(name), name_width), name_width, Align::kLeft);
  out += "  [";
  if (filled >= bar) {
    out.append(bar, '=');
  } else {
    out.append(filled, '=');
    out += '>';
    out.append(bar - filled - 1, ' ');
  }
  out += ']';
  out += suffix;
  return out;
}

std::string FormatApiError(const ApiError& error) {
  std::string out = fmt::format("{} (HTTP {})\n", SanitizeLine(error.message), error.status);
  for (const std::string& detail : error.details) {
    if (detail == error.message) continue;
    out += "  " + SanitizeLine(detail) + "\n";
  }
  return out;
}

std::string CellText(const nlohmann::json& doc, std::string_view key) {
  if (!doc.is_object()) return "-";
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "true" : "false";
  return it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace stockwatch::cli
