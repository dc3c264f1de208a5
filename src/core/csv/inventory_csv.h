// Streaming reader for inventory files: RFC 4180 CSV with a required header naming the
// columns store, item and count (case-insensitive, any order, other columns ignored).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/model/types.h"

namespace stockwatch::core {

// What to do with a bad row.
enum class BadRowPolicy {
  kSkip,    // report it and load the other rows (default)
  kReject,  // reject the whole file
};

// One good data row. The views are valid only during the OnRow() call.
struct InventoryRow {
  std::string_view store;  // trimmed, non-empty, valid UTF-8, <= kMaxNameBytes
  std::string_view item;   // same rules
  int64_t count = 0;       // 0..kMaxCount
  int64_t line = 0;        // 1-based physical line where the record starts
};

// Receives good rows in file order.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void OnRow(const InventoryRow& row) = 0;
};

// Parses an inventory file fed in chunks of any size (a quoted field, a CRLF or a UTF-8
// sequence may be split across chunks). Memory stays bounded by the longest record, which
// is itself bounded (kMaxRecordBytes). Not thread-safe.
//
// Errors are values, located as file:line:column with 1-based physical lines and 1-based
// byte columns of the field's first byte. Reasons (exact texts, tested):
//   header:  `missing header`, `missing column "count"` (and store, item),
//            `duplicate column "store"`
//   rows:    `count "1O" is not a whole number`, `count "-1" is out of range 0..2147483647`,
//            `count is empty`, `store is empty`, `item is empty`,
//            `store is not valid UTF-8`, `item is longer than 256 bytes`,
//            `expected 3 fields, found 2`, `unterminated quoted field`,
//            `unexpected character after closing quote`, `record is longer than N bytes`
//   file:    `file has no data rows`
class InventoryCsvParser {
 public:
  // Longest record accepted, in bytes; a longer one is a bad row.
  static constexpr size_t kMaxRecordBytes = 64 * 1024;

  InventoryCsvParser(std::string file_name, BadRowPolicy policy);

  // Parses `chunk`, calling `sink` for each good row. Returns kInvalidArgument when the
  // whole file is rejected (bad header; any bad row under kReject) with the first error as
  // the message ("file:line:column: reason"); after that, further calls return it again.
  absl::Status Feed(std::string_view chunk, RowSink& sink);
  // Ends the input: parses a last record without a line break, then returns
  // kInvalidArgument if the file is rejected or has no data rows.
  absl::Status Finish(RowSink& sink);

  // Counters and issues so far. rows_read counts good and bad data rows; blank lines
  // (a line with nothing on it) are skipped and not counted.
  int64_t rows_read() const { return rows_read_; }
  int64_t rows_rejected() const { return rows_rejected_; }
  int64_t error_count() const { return error_count_; }
  // First kMaxReportedIssues errors.
  const std::vector<RowIssue>& errors() const { return errors_; }
  // Columns of the header other than store, item and count, in file order.
  const std::vector<std::string>& ignored_columns() const { return ignored_columns_; }
  bool rejected() const { return rejected_; }
  const std::string& file_name() const { return file_name_; }

 private:
  // Implementation state; see inventory_csv.cc.
  std::string file_name_;
  BadRowPolicy policy_;
  int64_t rows_read_ = 0;
  int64_t rows_rejected_ = 0;
  int64_t error_count_ = 0;
  std::vector<RowIssue> errors_;
  std::vector<std::string> ignored_columns_;
  bool rejected_ = false;
};

}  // namespace stockwatch::core
