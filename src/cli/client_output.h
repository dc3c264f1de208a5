// Text renderings for the client subcommands: aligned tables, RFC 4180 CSV that is safe to
// open in a spreadsheet, the upload progress bar, API error messages and lenient access to
// fields of the server's JSON documents. Pure functions; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/api_client.h"
#include "nlohmann/json.hpp"

namespace stockwatch::cli {

// `text` with each C0 control character, DEL, and '\n' too, replaced by '?', so a value from
// the server can neither break a table row nor send escape sequences to the terminal.
std::string SanitizeLine(std::string_view text);
// As SanitizeLine, but keeps '\n' (for multi-line text such as a load report).
std::string SanitizeText(std::string_view text);

// Number of UTF-8 code points in `text`, taken as its width on a terminal (true for most
// scripts; double-width characters count as one).
size_t DisplayWidth(std::string_view text);

// `text` if it is at most `width` code points wide, else its first `width - 1` code points
// followed by "…". Never splits a code point.
std::string Truncate(std::string_view text, size_t width);

enum class Align { kLeft, kRight };

struct Column {
  std::string header;          // e.g. "STORE"
  Align align = Align::kLeft;  // default left; numbers go right
};

// A plain-text table: columns separated by two spaces, cells padded to the column width and
// cut with "…" beyond it; the last column is neither padded (unless right-aligned) nor cut.
// Widths start at the header widths and grow with Fit, so a caller streaming pages can fit
// the first page and print the rest with the same widths.
class Table {
 public:
  static constexpr size_t kMaxColumnWidth = 40;

  explicit Table(std::vector<Column> columns);

  // Widens each column to its widest cell in `rows`, up to kMaxColumnWidth.
  void Fit(const std::vector<std::vector<std::string>>& rows);
  // The header line, ending in '\n'.
  std::string Header() const;
  // One row, ending in '\n'. Cells are sanitized (SanitizeLine); missing cells are empty.
  std::string Row(const std::vector<std::string>& cells) const;

 private:
  std::string Line(const std::vector<std::string>& cells) const;

  std::vector<Column> columns_;
  std::vector<size_t> widths_;
};

// Header, then every row, with widths fitted to all rows.
std::string RenderTable(std::vector<Column> columns,
                        const std::vector<std::vector<std::string>>& rows);

// One RFC 4180 field. A value starting with '=', '+', '-', '@', TAB or CR gets a leading
// "'" so a spreadsheet shows it as text instead of running it as a formula (OWASP's CSV
// injection advice). The field is then quoted, doubling its quotes, if it holds ',', '"',
// CR or LF.
std::string CsvField(std::string_view value);
// The fields joined by ',' and ended with CRLF.
std::string CsvRecord(const std::vector<std::string>& fields);

// Transfer rate in decimal units: "512 B/s", "12.5 kB/s", "120.3 MB/s", "1.2 GB/s".
std::string FormatRate(double bytes_per_second);

// One line of the upload progress bar, at most `width - 1` columns wide when `width` allows
// (the bar is never shorter than 10): "inventory.csv  [=======>     ]  52%  120.3 MB/s".
// `sent` above `total` counts as `total`; a `total` of 0 shows 100%.
std::string RenderProgressBar(std::string_view name, uint64_t sent, uint64_t total,
                              double bytes_per_second, size_t width);

// "<message> (HTTP <status>)" and then each of the details not equal to the message on its
// own line indented by two spaces; every line sanitized and ending in '\n'.
std::string FormatApiError(const ApiError& error);

// The field `key` of the object `doc` as table text: strings as they are, numbers and
// booleans printed, "-" when missing or null, other values as compact JSON.
std::string CellText(const nlohmann::json& doc, std::string_view key);

}  // namespace stockwatch::cli
