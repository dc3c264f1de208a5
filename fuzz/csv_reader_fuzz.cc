// Fuzz target for InventoryCsvParser. Besides "no crash, no sanitizer report" it asserts:
// - consistency: the input parsed whole, in 1-byte chunks and in chunks whose sizes are
//   derived from the data gives identical rows, issues, counters and status;
// - every delivered row obeys the rules (trimmed, non-empty, <= 256 bytes, valid UTF-8 by
//   an independent decoder, count in range, lines increasing);
// - issues are well-formed (located, bounded, valid UTF-8) and the counters add up;
// - kReject delivers a prefix of what kSkip delivers, and the same when nothing is bad;
// - round trip: the delivered rows written back as canonical CSV parse to the same rows
//   with no issues.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/csv/inventory_csv.h"

namespace {

using stockwatch::core::BadRowPolicy;
using stockwatch::core::InventoryCsvParser;
using stockwatch::core::InventoryRow;
using stockwatch::core::kMaxCount;
using stockwatch::core::kMaxNameBytes;
using stockwatch::core::kMaxReportedIssues;
using stockwatch::core::RowSink;

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

struct Row {
  std::string store;
  std::string item;
  int64_t count = 0;
  int64_t line = 0;
  bool operator==(const Row&) const = default;
};

struct Result {
  std::vector<Row> rows;
  std::vector<std::string> issues;
  std::string status;
  int64_t rows_read = 0;
  int64_t rows_rejected = 0;
  int64_t error_count = 0;
  std::vector<std::string> ignored;
  bool rejected = false;
  bool operator==(const Result&) const = default;
};

class CopyingSink : public RowSink {
 public:
  explicit CopyingSink(std::vector<Row>& rows) : rows_(rows) {}
  void OnRow(const InventoryRow& row) override {
    rows_.push_back(Row{std::string(row.store), std::string(row.item), row.count, row.line});
  }

 private:
  std::vector<Row>& rows_;
};

// Feeds `input` in chunks of the sizes `next_size()` returns (0 is allowed: an empty chunk).
template <typename NextSize>
Result Parse(std::string_view input, BadRowPolicy policy, NextSize next_size) {
  Result result;
  CopyingSink sink(result.rows);
  InventoryCsvParser parser("fuzz.csv", policy);
  absl::Status status;
  size_t at = 0;
  while (status.ok() && at < input.size()) {
    const size_t size = std::min(next_size(), input.size() - at);
    status = parser.Feed(input.substr(at, size), sink);
    at += size;
  }
  if (status.ok()) status = parser.Finish(sink);
  result.status = status.ok() ? "" : std::string(status.message());
  FUZZ_CHECK(status.ok() || status.code() == absl::StatusCode::kInvalidArgument);
  for (const auto& issue : parser.errors()) result.issues.push_back(issue.Format("fuzz.csv"));
  result.rows_read = parser.rows_read();
  result.rows_rejected = parser.rows_rejected();
  result.error_count = parser.error_count();
  result.ignored = parser.ignored_columns();
  result.rejected = parser.rejected();
  FUZZ_CHECK(result.rejected == !status.ok());
  // The issues as RowIssue values, for the structural checks below.
  for (const auto& issue : parser.errors()) {
    FUZZ_CHECK(issue.line >= 0 && issue.column >= 0);
    FUZZ_CHECK((issue.line == 0) == (issue.column == 0));
    FUZZ_CHECK(!issue.reason.empty() && issue.reason.size() <= 256);
  }
  return result;
}

// Independent UTF-8 check: decodes each code point and rejects overlong forms, surrogates
// and values above U+10FFFF.
bool ReferenceUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    uint32_t min;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool IsTrimmedName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameBytes && s.front() != ' ' && s.front() != '\t' &&
         s.back() != ' ' && s.back() != '\t' && ReferenceUtf8(s);
}

void CheckResult(const Result& r, BadRowPolicy policy) {
  int64_t last_line = 0;
  for (const Row& row : r.rows) {
    FUZZ_CHECK(IsTrimmedName(row.store));
    FUZZ_CHECK(IsTrimmedName(row.item));
    FUZZ_CHECK(row.count >= 0 && row.count <= kMaxCount);
    FUZZ_CHECK(row.line > last_line && row.line >= 2);
    last_line = row.line;
  }
  for (const std::string& issue : r.issues) FUZZ_CHECK(ReferenceUtf8(issue));
  for (const std::string& name : r.ignored) FUZZ_CHECK(ReferenceUtf8(name));
  FUZZ_CHECK(r.issues.size() <= kMaxReportedIssues);
  FUZZ_CHECK(static_cast<int64_t>(r.issues.size()) <= r.error_count);
  FUZZ_CHECK(r.error_count >= r.rows_rejected);
  FUZZ_CHECK(r.rows_rejected <= r.rows_read);
  FUZZ_CHECK(static_cast<int64_t>(r.rows.size()) == r.rows_read - r.rows_rejected);
  if (r.rejected) {
    FUZZ_CHECK(!r.issues.empty());  // the rejecting error is always among the first issues
  } else {
    FUZZ_CHECK(r.rows_read > 0);
  }
  if (policy == BadRowPolicy::kReject) FUZZ_CHECK(r.rows_rejected <= 1);
  if (!r.rejected && policy == BadRowPolicy::kReject) FUZZ_CHECK(r.error_count == 0);
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Writes rows as canonical CSV; parsing it must give the same rows back.
void CheckRoundTrip(const std::vector<Row>& rows) {
  if (rows.empty()) return;
  std::string csv = "store,item,count\r\n";
  for (const Row& row : rows) {
    csv += Quote(row.store) + "," + Quote(row.item) + "," + std::to_string(row.count) + "\r\n";
  }
  const Result again = Parse(csv, BadRowPolicy::kReject, [] { return size_t{1} << 16; });
  FUZZ_CHECK(again.status.empty() && again.issues.empty());
  FUZZ_CHECK(again.rows.size() == rows.size());
  int64_t line = 2;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& a = again.rows[i];
    const Row& b = rows[i];
    FUZZ_CHECK(a.store == b.store && a.item == b.item && a.count == b.count);
    // Line numbers count physical lines, and names may hold line breaks.
    FUZZ_CHECK(a.line == line);
    for (char c : b.store) line += c == '\n';
    for (char c : b.item) line += c == '\n';
    ++line;
  }
}

// Small deterministic generator for chunk sizes, seeded from the input.
struct SplitMix {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (BadRowPolicy policy : {BadRowPolicy::kSkip, BadRowPolicy::kReject}) {
    const Result whole = Parse(input, policy, [&] { return input.size(); });
    CheckResult(whole, policy);
    FUZZ_CHECK(Parse(input, policy, [] { return size_t{1}; }) == whole);
    // Chunk sizes from the data: mostly small (0..16), sometimes larger, so splits land in
    // quotes, between CR and LF, inside UTF-8 sequences and across long records.
    SplitMix rng{Fnv1a(input) ^ static_cast<uint64_t>(policy)};
    const auto next_size = [&] {
      const uint64_t r = rng.Next();
      return (r & 7) == 0 ? static_cast<size_t>((r >> 8) % 70000)
                          : static_cast<size_t>((r >> 8) % 17);
    };
    FUZZ_CHECK(Parse(input, policy, next_size) == whole);
    if (policy == BadRowPolicy::kSkip) {
      CheckRoundTrip(whole.rows);
    }
  }
  // kReject delivers a prefix of kSkip's rows, and the same result when nothing is bad.
  const Result skip = Parse(input, BadRowPolicy::kSkip, [&] { return input.size(); });
  const Result reject = Parse(input, BadRowPolicy::kReject, [&] { return input.size(); });
  FUZZ_CHECK(reject.rows.size() <= skip.rows.size());
  for (size_t i = 0; i < reject.rows.size(); ++i) FUZZ_CHECK(reject.rows[i] == skip.rows[i]);
  if (skip.error_count == 0) FUZZ_CHECK(reject == skip);
  if (!skip.issues.empty() && reject.rejected) {
    FUZZ_CHECK(reject.issues.front() == skip.issues.front());
  }
  return 0;
}
