// Streaming reader for inventory files: RFC 4180 CSV with a required header naming the
// columns store, item and count (case-insensitive, any order, other columns ignored).
#pragma once

#include <cstddef>
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
// Dialect (RFC 4180 plus what spreadsheets write):
// - The first non-blank record is the header. Its names are trimmed of spaces and tabs and
//   matched case-insensitively; store, item and count are required, in any order; other
//   columns are ignored and listed in ignored_columns().
// - Records end with LF or CRLF (mixed is fine); a CR directly before the LF or the end of
//   the input belongs to the line ending, any other CR is data. A UTF-8 BOM at the very
//   start is skipped. Blank lines (nothing between line endings) are skipped anywhere.
// - A field is quoted if it starts with `"`, after optional spaces/tabs; inside, `""` is a
//   quote and commas and line breaks are data; only spaces/tabs may follow the closing
//   quote. A `"` inside an unquoted field is data (`Tablet 10" Case`).
// - Values (quoted or not) are trimmed of spaces and tabs. store and item must then be
//   non-empty, at most kMaxNameBytes bytes and valid UTF-8 (no overlong forms, surrogates
//   or code points above U+10FFFF). count must be a whole number 0..kMaxCount in decimal
//   digits only (no sign, point or exponent; leading zeros are fine).
//
// Errors are values, located as file:line:column with 1-based physical lines (where the
// record starts; the header is line 1 even after a BOM or with CRLF) and 1-based byte
// columns of the field's first byte (a leading space or the opening quote included), counted
// from the last line break before the field (after the BOM on line 1). Each bad row gets
// one error: the first structural problem, else the leftmost bad field. Reasons (exact
// texts; values in quotes are escaped as \", \\, \n, \r, \t, \xHH for control bytes and
// invalid UTF-8, and cut to 40 bytes followed by "..."):
//   file, no line:    `missing header` (no non-blank record), `file has no data rows`
//   header:           `missing column "store"` (or "item", "count"; column 1 of the header)
//   header:           `duplicate column "store"` (at the second one)
//   any record:       `unterminated quoted field` (at the field; only at the end of input),
//                     `unexpected character after closing quote` (at the field),
//                     `record is longer than 65536 bytes` (column 1; parsing resumes at the
//                     next record boundary)
//   data row:         `expected 3 fields, found 2` (column 1; 3 = fields in the header),
//                     `count is empty`, `count "1O" is not a whole number`,
//                     `count "-1" is out of range 0..2147483647`,
//                     `store is empty`, `store is longer than 256 bytes`,
//                     `store is not valid UTF-8` (same three for item)
// Any header or file error rejects the file whatever the policy.
class InventoryCsvParser {
 public:
  // Longest record accepted, in bytes; a longer one is a bad row.
  static constexpr size_t kMaxRecordBytes = 64 * 1024;

  // `file_name` prefixes every message.
  InventoryCsvParser(std::string file_name, BadRowPolicy policy);

  // Parses `chunk`, calling `sink` for each good row in file order. Returns
  // kInvalidArgument when the whole file is rejected (bad header; any bad row under
  // kReject) with the first error as the message ("file:line:column: reason"); after that,
  // further calls ignore their input and return it again. Rows delivered before a rejection
  // belong to the rejected file: the caller must discard them. `chunk` need not outlive the
  // call (a record split across chunks is copied, at most kMaxRecordBytes + 1 bytes).
  // REQUIRES: Finish() has not been called.
  absl::Status Feed(std::string_view chunk, RowSink& sink);
  // Ends the input: parses a last record without a line break, then returns
  // kInvalidArgument if the file is rejected, has no header or has no data rows.
  // REQUIRES: called once.
  absl::Status Finish(RowSink& sink);

  // Counters and issues so far. rows_read counts good and bad data rows; blank lines
  // (a line with nothing on it) are skipped and not counted. rows_rejected counts bad data
  // rows; error_count counts every error, header and file errors included.
  int64_t rows_read() const { return rows_read_; }
  int64_t rows_rejected() const { return rows_rejected_; }
  int64_t error_count() const { return error_count_; }
  // First kMaxReportedIssues errors.
  const std::vector<RowIssue>& errors() const { return errors_; }
  // Columns of the header other than store, item and count, in file order, trimmed; names
  // that are not printable UTF-8 of at most 256 bytes are kept escaped as in messages.
  const std::vector<std::string>& ignored_columns() const { return ignored_columns_; }
  bool rejected() const { return rejected_; }
  const std::string& file_name() const { return file_name_; }

 private:
  // Scanner state: where the current record's bytes stand. The scanner is a byte-driven
  // state machine that can stop at any byte and resume with the next chunk.
  enum class ScanState : uint8_t {
    kFieldStart,    // at the start of a field, or after leading spaces/tabs
    kUnquoted,      // inside an unquoted field
    kQuoted,        // inside a quoted field
    kQuotedQuote,   // just after a quote inside a quoted field (closing or first of "")
    kAfterQuote,    // after the closing quote and spaces/tabs
    kAfterQuoteCr,  // after the closing quote and a CR (a CRLF line ending if LF follows)
  };
  enum class RecordError : uint8_t { kNone, kAfterClosingQuote, kUnterminatedQuote };
  // One field of the current record; offsets are relative to the record's first byte.
  struct FieldSpan {
    size_t start = 0;        // first byte (a leading space or the opening quote included)
    size_t value_begin = 0;  // value: [value_begin, value_end), inside the quotes if quoted
    size_t value_end = 0;
    int64_t line = 0;    // line breaks in the record before the field
    int64_t column = 1;  // 1-based byte column of `start` in its physical line
    bool quoted = false;
    bool escaped = false;  // a quoted value holding "" pairs
  };

  absl::Status FeedBytes(const char* p, const char* end, RowSink& sink);
  // Scans the current record on from `p`. Returns the byte after the LF that ends the
  // record, or nullptr if [p, end) ended first (the state is kept for the next call).
  const char* Scan(const char* p, const char* end);
  // Fast path for a good one-line data row complete in [p, end): parses, checks and
  // delivers it, returning the byte after its LF. Returns nullptr, changing nothing, for
  // anything else (the general path then handles the record and reports its errors).
  const char* ParseSimpleRow(const char* p, const char* end, RowSink& sink);
  void StartField(size_t offset);
  void EndField(size_t end_offset);
  void SetRecordError(RecordError error);
  // Handles the record whose first `size` bytes (LF excluded) are at `data`; `data` holds
  // min(size, kMaxRecordBytes + 1) bytes. `at_eof` is true for a last record without LF.
  void FinishRecord(const char* data, size_t size, bool at_eof, RowSink& sink);
  void ResetRecord();
  void ProcessHeader(const char* data);
  void ProcessRow(const char* data, RowSink& sink);
  void ProcessRowSlow(const char* data, RowSink& sink);
  // Records an issue; under kReject (or when `reject_file`), rejects the file.
  void AddIssue(int64_t line, int64_t column, std::string reason, bool reject_file);
  std::string_view FieldValue(const char* data, const FieldSpan& field, std::string& scratch);

  std::string file_name_;
  BadRowPolicy policy_;
  int64_t rows_read_ = 0;
  int64_t rows_rejected_ = 0;
  int64_t error_count_ = 0;
  std::vector<RowIssue> errors_;
  std::vector<std::string> ignored_columns_;
  bool rejected_ = false;
  bool finished_ = false;
  absl::Status status_;  // returned once rejected_

  // BOM detection: the first up to 3 bytes while they match EF BB BF.
  bool bom_done_ = false;
  std::string bom_prefix_;

  // Header.
  bool header_done_ = false;
  size_t column_count_ = 0;  // fields in the header
  size_t store_col_ = 0;
  size_t item_col_ = 0;
  size_t count_col_ = 0;
  size_t role_cols_[3] = {0, 0, 0};               // store/item/count columns in file order
  size_t keep_fields_ = static_cast<size_t>(-1);  // fields of a record worth recording
  // ParseSimpleRow() handles rows whose columns of interest are among the first kFastFields.
  static constexpr size_t kFastFields = 32;
  bool fast_rows_ = false;  // header read and keep_fields_ <= kFastFields

  // Current record.
  int64_t line_ = 1;  // physical line where the current record starts
  ScanState state_ = ScanState::kFieldStart;
  ScanState end_state_ = ScanState::kFieldStart;  // state when the record ended
  size_t record_bytes_ = 0;                       // bytes of the record scanned so far
  int64_t record_lines_ = 0;                      // line breaks inside the record so far
  size_t line_begin_ = 0;                         // offset just after the record's last line break
  size_t field_count_ = 0;
  bool too_long_ = false;
  RecordError record_error_ = RecordError::kNone;
  FieldSpan error_field_;          // the field the record error is about
  FieldSpan field_;                // the field being scanned
  std::vector<FieldSpan> fields_;  // the first keep_fields_ fields of the record
  std::string carry_;       // the record's bytes when it spans chunks (at most kMaxRecordBytes + 1)
  std::string scratch_[3];  // unescaped quoted values
};

}  // namespace stockwatch::core
