#include "core/csv/inventory_csv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace stockwatch::core {
namespace {

constexpr size_t kMax = InventoryCsvParser::kMaxRecordBytes;

// Everything a parse produced, comparable as a whole.
struct ParseResult {
  std::vector<std::string> rows;    // "line:store|item|count"
  std::vector<std::string> errors;  // formatted issues
  std::string status;               // "" when OK, else the status message
  int64_t rows_read = 0;
  int64_t rows_rejected = 0;
  int64_t error_count = 0;
  std::vector<std::string> ignored;
  bool operator==(const ParseResult&) const = default;
};

void PrintTo(const ParseResult& r, std::ostream* os) {
  *os << "{rows:";
  for (const auto& s : r.rows) *os << " [" << s << "]";
  *os << " errors:";
  for (const auto& s : r.errors) *os << " [" << s << "]";
  *os << " status: [" << r.status << "] read=" << r.rows_read << " rejected=" << r.rows_rejected
      << " error_count=" << r.error_count << " ignored:";
  for (const auto& s : r.ignored) *os << " [" << s << "]";
  *os << "}";
}

class CollectingSink : public RowSink {
 public:
  explicit CollectingSink(std::vector<std::string>& rows) : rows_(rows) {}
  void OnRow(const InventoryRow& row) override {
    rows_.push_back(std::to_string(row.line) + ":" + std::string(row.store) + "|" +
                    std::string(row.item) + "|" + std::to_string(row.count));
  }

 private:
  std::vector<std::string>& rows_;
};

// Feeds `input` cut at `cuts` (ascending offsets), then finishes.
ParseResult ParseWithCuts(std::string_view input, const std::vector<size_t>& cuts,
                          BadRowPolicy policy = BadRowPolicy::kSkip) {
  ParseResult result;
  CollectingSink sink(result.rows);
  InventoryCsvParser parser("f.csv", policy);
  absl::Status status;
  size_t begin = 0;
  for (size_t i = 0; i <= cuts.size() && status.ok(); ++i) {
    const size_t end = i < cuts.size() ? cuts[i] : input.size();
    status = parser.Feed(input.substr(begin, end - begin), sink);
    begin = end;
  }
  if (status.ok()) status = parser.Finish(sink);
  if (!status.ok()) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(parser.rejected());
    result.status = std::string(status.message());
  } else {
    EXPECT_FALSE(parser.rejected());
  }
  for (const auto& issue : parser.errors()) result.errors.push_back(issue.Format("f.csv"));
  result.rows_read = parser.rows_read();
  result.rows_rejected = parser.rows_rejected();
  result.error_count = parser.error_count();
  result.ignored = parser.ignored_columns();
  return result;
}

ParseResult Parse(std::string_view input, BadRowPolicy policy = BadRowPolicy::kSkip) {
  return ParseWithCuts(input, {}, policy);
}

ParseResult ParseInChunksOf(std::string_view input, size_t size,
                            BadRowPolicy policy = BadRowPolicy::kSkip) {
  std::vector<size_t> cuts;
  for (size_t at = size; at < input.size(); at += size) cuts.push_back(at);
  return ParseWithCuts(input, cuts, policy);
}

constexpr std::string_view kHeader = "store,item,count\n";

std::string WithHeader(std::string_view body) { return std::string(kHeader) + std::string(body); }

struct CsvCase {
  std::string name;
  std::string input;
  std::vector<std::string> rows;
  std::vector<std::string> errors;
  std::string status;  // "" when the file is accepted
  BadRowPolicy policy = BadRowPolicy::kSkip;
};

// The table: good and bad inputs with the exact rows and errors expected.
std::vector<CsvCase> Cases() {
  const std::string name256(256, 'n');
  const std::string name257(257, 'n');
  return {
      // Good files.
      {"Minimal", WithHeader("Berlin,Echo Dot,12\n"), {"2:Berlin|Echo Dot|12"}, {}, ""},
      {"NoFinalLineBreak", WithHeader("Berlin,Echo Dot,12"), {"2:Berlin|Echo Dot|12"}, {}, ""},
      {"Crlf",
       "store,item,count\r\nBerlin,Echo Dot,12\r\nBerlin,Echo Show,0\r\n",
       {"2:Berlin|Echo Dot|12", "3:Berlin|Echo Show|0"},
       {},
       ""},
      {"MixedLineEndings",
       "store,item,count\r\nA,B,1\nC,D,2\r\nE,F,3",
       {"2:A|B|1", "3:C|D|2", "4:E|F|3"},
       {},
       ""},
      {"CrBeforeEndOfInput", "store,item,count\r\nA,B,1\r", {"2:A|B|1"}, {}, ""},
      {"Bom", "\xEF\xBB\xBFstore,item,count\r\nA,B,1\r\n", {"2:A|B|1"}, {}, ""},
      {"ColumnsAnyOrderAnyCase",
       " COUNT ,Item,STORE\n5,Echo,Berlin\n",
       {"2:Berlin|Echo|5"},
       {},
       ""},
      {"QuotedHeaderNames", "\"store\",\"item\",\"count\"\nA,B,1\n", {"2:A|B|1"}, {}, ""},
      {"QuotedCommaAndDoubledQuote",
       WithHeader("\"Portland, OR\",\"Cable 2m, \"\"braided\"\"\",7\n"),
       {"2:Portland, OR|Cable 2m, \"braided\"|7"},
       {},
       ""},
      {"MultiLineQuotedField",
       WithHeader("\"Multi\nLine\",Echo,3\nB,E,4\n"),
       {"2:Multi\nLine|Echo|3", "4:B|E|4"},
       {},
       ""},
      {"MultiLineQuotedFieldCrlf",
       "store,item,count\r\n\"Multi\r\nLine\",Echo,3\r\nB,E,4\r\n",
       {"2:Multi\r\nLine|Echo|3", "4:B|E|4"},
       {},
       ""},
      {"TrailingBlankLines", WithHeader("A,B,1\n\n\r\n\n"), {"2:A|B|1"}, {}, ""},
      {"BlankLinesBetweenRowsKeepLineNumbers",
       WithHeader("A,B,1\n\nC,D,2\r\n\r\nE,F,x\n"),
       {"2:A|B|1", "4:C|D|2"},
       {"f.csv:6:5: count \"x\" is not a whole number"},
       ""},
      {"BlankLinesBeforeHeader", "\n\r\nstore,item,count\nA,B,1\n", {"4:A|B|1"}, {}, ""},
      {"CountWithSpacesAndTabs",
       WithHeader("A,B, 12 \nC,D,\t7\t\n"),
       {"2:A|B|12", "3:C|D|7"},
       {},
       ""},
      {"CountZeroMaxAndLeadingZeros",
       WithHeader("A,B,0\nA,C,2147483647\nA,D,007\n"),
       {"2:A|B|0", "3:A|C|2147483647", "4:A|D|7"},
       {},
       ""},
      // Found by the fuzzer: the fast count parser gives up past 10 characters, but the
      // value is still a whole number in range.
      {"CountManyLeadingZeros",
       WithHeader("A,B,00000000002060704973\nA,C,000000000000\nA,D,00000000002147483648\n"),
       {"2:A|B|2060704973", "3:A|C|0"},
       {"f.csv:4:5: count \"00000000002147483648\" is out of range 0..2147483647"},
       ""},
      {"QuotedCount", WithHeader("A,B,\" 12\"\n"), {"2:A|B|12"}, {}, ""},
      {"NamesTrimmed", WithHeader("  Berlin  ,\tEcho Dot\t,1\n"), {"2:Berlin|Echo Dot|1"}, {}, ""},
      {"QuotedNamesTrimmed", WithHeader("\" Berlin \",\"Echo \",1\n"), {"2:Berlin|Echo|1"}, {}, ""},
      {"SpacesAroundQuotedField",
       WithHeader(" \"Berlin, Mitte\" , \"Echo\"\t,1\n"),
       {"2:Berlin, Mitte|Echo|1"},
       {},
       ""},
      {"QuoteInsideUnquotedFieldIsData",
       WithHeader("A,Tablet 10\" Case,2\n"),
       {"2:A|Tablet 10\" Case|2"},
       {},
       ""},
      {"ValidUtf8",
       WithHeader("K\xC3\xB6ln,\xE6\x9D\xB1\xE4\xBA\xAC,1\nA,Cart \xF0\x9F\x9B\x92,2\n"),
       {"2:K\xC3\xB6ln|\xE6\x9D\xB1\xE4\xBA\xAC|1", "3:A|Cart \xF0\x9F\x9B\x92|2"},
       {},
       ""},
      {"Name256Bytes", WithHeader(name256 + ",B,1\n"), {"2:" + name256 + "|B|1"}, {}, ""},
      {"IgnoredColumns", "sku,store,notes,item,count\n1,A,n,B,3\n", {"2:A|B|3"}, {}, ""},

      // Bad files: rejected whole.
      {"EmptyFile", "", {}, {"f.csv: missing header"}, "f.csv: missing header"},
      {"OnlyBlankLines", "\n\r\n\n", {}, {"f.csv: missing header"}, "f.csv: missing header"},
      {"OnlyBom", "\xEF\xBB\xBF", {}, {"f.csv: missing header"}, "f.csv: missing header"},
      {"HeaderOnly",
       "store,item,count\n",
       {},
       {"f.csv: file has no data rows"},
       "f.csv: file has no data rows"},
      {"MissingCountColumn",
       "store,item\nA,B\n",
       {},
       {"f.csv:1:1: missing column \"count\""},
       "f.csv:1:1: missing column \"count\""},
      {"MissingStoreColumn",
       "\xEF\xBB\xBFshop,item,count\r\nA,B,1\r\n",
       {},
       {"f.csv:1:1: missing column \"store\""},
       "f.csv:1:1: missing column \"store\""},
      {"MissingColumnAfterBlankLines",
       "\n\nstore,count\n",
       {},
       {"f.csv:3:1: missing column \"item\""},
       "f.csv:3:1: missing column \"item\""},
      {"DuplicateColumn",
       "store,item,Store ,count\nA,B,C,1\n",
       {},
       {"f.csv:1:12: duplicate column \"store\""},
       "f.csv:1:12: duplicate column \"store\""},
      {"UnterminatedQuoteInHeader",
       "store,\"item,count\nA,B,1\n",
       {},
       {"f.csv:1:7: unterminated quoted field"},
       "f.csv:1:7: unterminated quoted field"},
      {"JunkAfterQuoteInHeader",
       "store,\"item\"x,count\nA,B,1\n",
       {},
       {"f.csv:1:7: unexpected character after closing quote"},
       "f.csv:1:7: unexpected character after closing quote"},

      // Bad rows, skipped.
      {"CountLetterO",
       WithHeader("Berlin,Echo Dot,1O\nBerlin,Echo,2\n"),
       {"3:Berlin|Echo|2"},
       {"f.csv:2:17: count \"1O\" is not a whole number"},
       ""},
      {"CountNegative",
       WithHeader("A,B,-1\n"),
       {},
       {"f.csv:2:5: count \"-1\" is out of range 0..2147483647"},
       ""},
      {"CountTooBig",
       WithHeader("A,B,2147483648\n"),
       {},
       {"f.csv:2:5: count \"2147483648\" is out of range 0..2147483647"},
       ""},
      {"CountManyDigits",
       WithHeader("A,B,99999999999999999999999\n"),
       {},
       {"f.csv:2:5: count \"99999999999999999999999\" is out of range 0..2147483647"},
       ""},
      {"CountPlusSign",
       WithHeader("A,B,+1\n"),
       {},
       {"f.csv:2:5: count \"+1\" is not a whole number"},
       ""},
      {"CountDecimal",
       WithHeader("A,B,1.0\n"),
       {},
       {"f.csv:2:5: count \"1.0\" is not a whole number"},
       ""},
      {"CountExponent",
       WithHeader("A,B,1e3\n"),
       {},
       {"f.csv:2:5: count \"1e3\" is not a whole number"},
       ""},
      {"CountInnerSpace",
       WithHeader("A,B,1 2\n"),
       {},
       {"f.csv:2:5: count \"1 2\" is not a whole number"},
       ""},
      {"CountMinusOnly",
       WithHeader("A,B,-\n"),
       {},
       {"f.csv:2:5: count \"-\" is not a whole number"},
       ""},
      {"CountEmpty", WithHeader("A,B,\n"), {}, {"f.csv:2:5: count is empty"}, ""},
      {"CountBlank", WithHeader("A,B,   \r\n"), {}, {"f.csv:2:5: count is empty"}, ""},
      {"CountQuotedEmpty", WithHeader("A,B,\"\"\n"), {}, {"f.csv:2:5: count is empty"}, ""},
      {"CountValueEscapedAndTruncated",
       WithHeader("A,B,\"a\"\"b\\c\td\x01" + std::string(40, 'x') + "\"\n"),
       {},
       {"f.csv:2:5: count \"a\\\"b\\\\c\\td\\x01" + std::string(32, 'x') +
        "...\" is not a whole number"},
       ""},
      {"CountInvalidUtf8Escaped",
       WithHeader("A,B,1\xFF\xC3\xA9\n"),
       {},
       {"f.csv:2:5: count \"1\\xff\xC3\xA9\" is not a whole number"},
       ""},
      {"StoreEmpty", WithHeader(",B,1\n"), {}, {"f.csv:2:1: store is empty"}, ""},
      {"ItemBlank", WithHeader("A,  \t,1\n"), {}, {"f.csv:2:3: item is empty"}, ""},
      {"ItemQuotedEmpty", WithHeader("A,\"\",1\n"), {}, {"f.csv:2:3: item is empty"}, ""},
      {"StoreTooLong",
       WithHeader(name257 + ",B,1\n"),
       {},
       {"f.csv:2:1: store is longer than 256 bytes"},
       ""},
      {"ItemTooLongAfterUnescaping",
       WithHeader("A,\"" + std::string(200, 'q') + std::string(114, '"') + "\",1\n"),
       {},
       {"f.csv:2:3: item is longer than 256 bytes"},
       ""},
      {"StoreLoneContinuationByte",
       WithHeader("A\x80,B,1\n"),
       {},
       {"f.csv:2:1: store is not valid UTF-8"},
       ""},
      {"StoreOverlong",
       WithHeader("\xC0\xAF,B,1\n"),
       {},
       {"f.csv:2:1: store is not valid UTF-8"},
       ""},
      {"ItemOverlongThreeBytes",
       WithHeader("A,\xE0\x80\xAF,1\n"),
       {},
       {"f.csv:2:3: item is not valid UTF-8"},
       ""},
      {"ItemSurrogate",
       WithHeader("A,x\xED\xA0\x80,1\n"),
       {},
       {"f.csv:2:3: item is not valid UTF-8"},
       ""},
      {"ItemAboveMaxCodePoint",
       WithHeader("A,\xF4\x90\x80\x80,1\n"),
       {},
       {"f.csv:2:3: item is not valid UTF-8"},
       ""},
      {"ItemTruncatedSequence",
       WithHeader("A,\xE2\x82,1\n"),
       {},
       {"f.csv:2:3: item is not valid UTF-8"},
       ""},
      {"ItemF5Byte",
       WithHeader("A,\xF5\x80\x80\x80,1\n"),
       {},
       {"f.csv:2:3: item is not valid UTF-8"},
       ""},
      {"TooFewFields",
       WithHeader("A,B\nC,D,1\n"),
       {"3:C|D|1"},
       {"f.csv:2:1: expected 3 fields, found 2"},
       ""},
      {"TooManyFields", WithHeader("A,B,1,\n"), {}, {"f.csv:2:1: expected 3 fields, found 4"}, ""},
      {"WhitespaceOnlyLine",
       WithHeader("A,B,1\n  \n"),
       {"2:A|B|1"},
       {"f.csv:3:1: expected 3 fields, found 1"},
       ""},
      {"ExpectedFieldsFromHeader",
       "store,item,count,notes\nA,B,1\n",
       {},
       {"f.csv:2:1: expected 4 fields, found 3"},
       ""},
      {"UnterminatedQuoteAtEnd",
       WithHeader("A,B,1\nC,\"Echo,1\nD,E,2\n"),
       {"2:A|B|1"},
       {"f.csv:3:3: unterminated quoted field"},
       ""},
      {"JunkAfterClosingQuote",
       WithHeader("A,\"Echo\"x,1\nB,C,2\n"),
       {"3:B|C|2"},
       {"f.csv:2:3: unexpected character after closing quote"},
       ""},
      {"BareCrAfterClosingQuote",
       WithHeader("A,\"Echo\"\r,1\n"),
       {},
       {"f.csv:2:3: unexpected character after closing quote"},
       ""},
      {"ColumnCountsFromLastLineBreak",
       WithHeader("\"Multi\nLine\",Echo,1O\n"),
       {},
       {"f.csv:3:12: count \"1O\" is not a whole number"},
       ""},
      {"ErrorInFieldOnLaterLineOfRecord",
       WithHeader("A,\"x\n\ny\",\n"),
       {},
       {"f.csv:4:4: count is empty"},
       ""},
      {"LeftmostErrorReported",
       "count,item,store\nx,,\n",
       {},
       {"f.csv:2:1: count \"x\" is not a whole number"},
       ""},
      {"CrlfErrorColumns",
       "\xEF\xBB\xBFstore,item,count\r\nA,B,1\r\nBerlin,Echo,x1\r\n",
       {"2:A|B|1"},
       {"f.csv:3:13: count \"x1\" is not a whole number"},
       ""},
      {"SeveralBadRowsSkipped",
       WithHeader("A,B,x\n,B,1\nA,B,2\nA,B\n"),
       {"4:A|B|2"},
       {"f.csv:2:5: count \"x\" is not a whole number", "f.csv:3:1: store is empty",
        "f.csv:5:1: expected 3 fields, found 2"},
       ""},

      // kReject: the first bad row rejects the file.
      {"RejectPolicyFirstBadRow",
       WithHeader("A,B,1\nA,C,-5\nA,D,x\n"),
       {"2:A|B|1"},
       {"f.csv:3:5: count \"-5\" is out of range 0..2147483647"},
       "f.csv:3:5: count \"-5\" is out of range 0..2147483647",
       BadRowPolicy::kReject},
      {"RejectPolicyGoodFile",
       WithHeader("A,B,1\nA,C,5\n"),
       {"2:A|B|1", "3:A|C|5"},
       {},
       "",
       BadRowPolicy::kReject},
      {"RejectPolicyUnterminatedQuote",
       WithHeader("A,B,\"1\n"),
       {},
       {"f.csv:2:5: unterminated quoted field"},
       "f.csv:2:5: unterminated quoted field",
       BadRowPolicy::kReject},
  };
}

void PrintTo(const CsvCase& c, std::ostream* os) { *os << c.name; }

class CsvTableTest : public ::testing::TestWithParam<CsvCase> {};

TEST_P(CsvTableTest, ParsesWholeInput) {
  const CsvCase& c = GetParam();
  const ParseResult r = Parse(c.input, c.policy);
  EXPECT_EQ(r.rows, c.rows);
  EXPECT_EQ(r.errors, c.errors);
  EXPECT_EQ(r.status, c.status);
  EXPECT_EQ(r.error_count, static_cast<int64_t>(c.errors.size()));
}

TEST_P(CsvTableTest, EverySplitGivesSameResult) {
  const CsvCase& c = GetParam();
  const ParseResult whole = Parse(c.input, c.policy);
  for (size_t at = 0; at <= c.input.size(); ++at) {
    ASSERT_EQ(ParseWithCuts(c.input, {at}, c.policy), whole) << "split at " << at;
  }
}

TEST_P(CsvTableTest, EveryTwoSplitsGiveSameResult) {
  const CsvCase& c = GetParam();
  const ParseResult whole = Parse(c.input, c.policy);
  // Every pair of cut points for short inputs; a stride keeps long ones quick.
  const size_t step = std::max<size_t>(1, c.input.size() / 120);
  for (size_t a = 0; a <= c.input.size(); a += step) {
    for (size_t b = a; b <= c.input.size(); b += step) {
      ASSERT_EQ(ParseWithCuts(c.input, {a, b}, c.policy), whole) << "split at " << a << ", " << b;
    }
  }
}

TEST_P(CsvTableTest, OneByteChunksGiveSameResult) {
  const CsvCase& c = GetParam();
  EXPECT_EQ(ParseInChunksOf(c.input, 1, c.policy), Parse(c.input, c.policy));
}

std::string CaseName(const ::testing::TestParamInfo<CsvCase>& case_info) {
  return case_info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Cases, CsvTableTest, ::testing::ValuesIn(Cases()), CaseName);

TEST(CsvReaderTest, TableHasAtLeastFortyCases) { EXPECT_GE(Cases().size(), 40u); }

TEST(CsvReaderTest, CountsRowsAndIgnoredColumns) {
  const ParseResult r =
      Parse("sku,Store,notes,ITEM,count,\nx,A,n,B,3,\n\nx,A,n,C,y,\nx,A\n", BadRowPolicy::kSkip);
  EXPECT_EQ(r.rows, std::vector<std::string>{"2:A|B|3"});
  EXPECT_EQ(r.ignored, (std::vector<std::string>{"sku", "notes", ""}));
  EXPECT_EQ(r.rows_read, 3);
  EXPECT_EQ(r.rows_rejected, 2);
  EXPECT_EQ(r.error_count, 2);
  EXPECT_EQ(r.errors, (std::vector<std::string>{"f.csv:4:9: count \"y\" is not a whole number",
                                                "f.csv:5:1: expected 6 fields, found 2"}));
}

TEST(CsvReaderTest, IgnoredColumnNamesStayPrintable) {
  const ParseResult r = Parse("store,item,count,\"a\x01\",b\xFF\nA,B,1,x,y\n");
  EXPECT_EQ(r.ignored, (std::vector<std::string>{"a\\x01", "b\\xff"}));
}

TEST(CsvReaderTest, RejectsNegativeCount) {
  InventoryCsvParser parser("inventory-berlin.csv", BadRowPolicy::kReject);
  std::vector<std::string> rows;
  CollectingSink sink(rows);
  const absl::Status status = parser.Feed(WithHeader("Berlin,Echo,-3\nBerlin,Dot,1\n"), sink);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "inventory-berlin.csv:2:13: count \"-3\" is out of range 0..2147483647");
  EXPECT_TRUE(rows.empty());
  EXPECT_TRUE(parser.rejected());
  EXPECT_EQ(parser.rows_rejected(), 1);
  // Further input is ignored and the same error returned.
  EXPECT_EQ(parser.Feed("Berlin,Show,1\n", sink), status);
  EXPECT_EQ(parser.Finish(sink), status);
  EXPECT_TRUE(rows.empty());
}

TEST(CsvReaderTest, SkipPolicyReportsAndLoadsOthers) {
  const std::string input = WithHeader("A,B,1\nA,C,1O\nA,D,2\n");
  const ParseResult skip = Parse(input, BadRowPolicy::kSkip);
  EXPECT_EQ(skip.rows, (std::vector<std::string>{"2:A|B|1", "4:A|D|2"}));
  EXPECT_EQ(skip.status, "");
  const ParseResult reject = Parse(input, BadRowPolicy::kReject);
  EXPECT_EQ(reject.rows, (std::vector<std::string>{"2:A|B|1"}));
  EXPECT_EQ(reject.status, "f.csv:3:5: count \"1O\" is not a whole number");
}

TEST(CsvReaderTest, HeaderErrorsRejectUnderSkipPolicy) {
  EXPECT_EQ(Parse("store,item\nA,B\n", BadRowPolicy::kSkip).status,
            "f.csv:1:1: missing column \"count\"");
}

TEST(CsvReaderTest, KeepsFirstIssuesAndCountsAll) {
  std::string body;
  for (int i = 0; i < 250; ++i) body += "A,B,x\n";
  body += "A,B,1\n";
  const ParseResult r = Parse(WithHeader(body));
  EXPECT_EQ(r.errors.size(), kMaxReportedIssues);
  EXPECT_EQ(r.error_count, 250);
  EXPECT_EQ(r.rows_rejected, 250);
  EXPECT_EQ(r.rows_read, 251);
  EXPECT_EQ(r.errors.back(), "f.csv:101:5: count \"x\" is not a whole number");
  EXPECT_EQ(r.rows, std::vector<std::string>{"252:A|B|1"});
}

// A record of exactly `length` bytes (line ending excluded) under header
// "store,item,count,notes": the notes field pads it.
std::string RecordOfLength(size_t length) {
  const std::string prefix = "A,B,1,";
  return prefix + std::string(length - prefix.size(), 'n');
}

// Checks whole input, 1-byte chunks and a spread of splits agree; returns the whole result.
ParseResult ParseLargeConsistently(const std::string& input) {
  const ParseResult whole = Parse(input);
  EXPECT_EQ(ParseInChunksOf(input, 1), whole);
  for (size_t size : {7u, 4096u, 65536u, 65537u}) {
    EXPECT_EQ(ParseInChunksOf(input, size), whole) << "chunks of " << size;
  }
  for (size_t at = 0; at < input.size(); at += 997) {
    EXPECT_EQ(ParseWithCuts(input, {at}), whole) << "split at " << at;
  }
  for (size_t at = kMax - 4; at < kMax + 40 && at < input.size(); ++at) {
    EXPECT_EQ(ParseWithCuts(input, {at}), whole) << "split at " << at;
  }
  return whole;
}

TEST(CsvReaderTest, AcceptsRecordOfMaxLength) {
  const std::string header = "store,item,count,notes\r\n";
  const ParseResult r =
      ParseLargeConsistently(header + RecordOfLength(kMax) + "\r\n" + RecordOfLength(kMax));
  EXPECT_EQ(r.rows, (std::vector<std::string>{"2:A|B|1", "3:A|B|1"}));
  EXPECT_TRUE(r.errors.empty());
}

TEST(CsvReaderTest, RejectsRecordLongerThanMaxAndResyncs) {
  const std::string header = "store,item,count,notes\n";
  const ParseResult r =
      ParseLargeConsistently(header + RecordOfLength(kMax + 1) + "\r\n" + "C,D,2,x\n" +
                             RecordOfLength(kMax + 1) + "\nE,F,3,y");
  EXPECT_EQ(r.rows, (std::vector<std::string>{"3:C|D|2", "5:E|F|3"}));
  EXPECT_EQ(r.errors, (std::vector<std::string>{"f.csv:2:1: record is longer than 65536 bytes",
                                                "f.csv:4:1: record is longer than 65536 bytes"}));
  EXPECT_EQ(r.rows_read, 4);
  EXPECT_EQ(r.rows_rejected, 2);
}

TEST(CsvReaderTest, LongQuotedRecordCountsItsLineBreaks) {
  // A record over the limit made of a quoted field with many line breaks: parsing resyncs
  // at its end and later line numbers still count every physical line.
  std::string field = "\"";
  for (int i = 0; i < 10000; ++i) field += "abcdefg\n";
  field += "\"";
  const ParseResult r = ParseLargeConsistently(WithHeader("A," + field + ",1\nB,C,x\nB,D,2\n"));
  EXPECT_EQ(r.errors,
            (std::vector<std::string>{"f.csv:2:1: record is longer than 65536 bytes",
                                      "f.csv:10003:5: count \"x\" is not a whole number"}));
  EXPECT_EQ(r.rows, std::vector<std::string>{"10004:B|D|2"});
}

TEST(CsvReaderTest, UnterminatedQuoteSwallowsLongRestOfFile) {
  std::string body = "A,\"open\n";
  for (int i = 0; i < 20000; ++i) body += "B,C,1\n";
  const ParseResult r = ParseLargeConsistently(WithHeader(body));
  EXPECT_EQ(r.errors, std::vector<std::string>{"f.csv:2:1: record is longer than 65536 bytes"});
  EXPECT_TRUE(r.rows.empty());
}

TEST(CsvReaderTest, HeaderLongerThanMaxRejectsFile) {
  const std::string input = "store,item,count," + std::string(kMax, 'h') + "\nA,B,1\n";
  const ParseResult r = ParseLargeConsistently(input);
  EXPECT_EQ(r.status, "f.csv:1:1: record is longer than 65536 bytes");
}

TEST(CsvReaderTest, RowViewsPointIntoTheChunkWhenComplete) {
  // A record complete inside the chunk is delivered without a copy.
  struct PointerSink : RowSink {
    std::vector<const char*> stores;
    void OnRow(const InventoryRow& row) override { stores.push_back(row.store.data()); }
  } sink;
  const std::string input = WithHeader("Berlin,Echo,1\nPusan,Dot,2\n");
  InventoryCsvParser parser("f.csv", BadRowPolicy::kSkip);
  ASSERT_TRUE(parser.Feed(input, sink).ok());
  ASSERT_TRUE(parser.Finish(sink).ok());
  ASSERT_EQ(sink.stores.size(), 2u);
  EXPECT_EQ(sink.stores[0], input.data() + kHeader.size());
  EXPECT_EQ(sink.stores[1], input.data() + input.find("Pusan"));
}

TEST(CsvReaderTest, BomSplitAcrossChunks) {
  const std::string input = "\xEF\xBB\xBFstore,item,count\nA,B,1\n";
  for (size_t at = 0; at <= 4; ++at) {
    EXPECT_EQ(ParseWithCuts(input, {at}).rows, std::vector<std::string>{"2:A|B|1"});
  }
  // A BOM prefix that is not a BOM is data: the header's first name is then wrong.
  EXPECT_EQ(Parse("\xEF\xBBstore,item,count\nA,B,1\n").status,
            "f.csv:1:1: missing column \"store\"");
  EXPECT_EQ(ParseWithCuts("\xEF\xBBstore,item,count\nA,B,1\n", {1, 2}).status,
            "f.csv:1:1: missing column \"store\"");
}

TEST(CsvReaderTest, EmptyChunksAreHarmless) {
  InventoryCsvParser parser("f.csv", BadRowPolicy::kSkip);
  std::vector<std::string> rows;
  CollectingSink sink(rows);
  for (std::string_view part : {"", "store,item", "", ",count\n", "", "A,B,1", ""}) {
    ASSERT_TRUE(parser.Feed(part, sink).ok());
  }
  ASSERT_TRUE(parser.Finish(sink).ok());
  EXPECT_EQ(rows, std::vector<std::string>{"2:A|B|1"});
}

TEST(CsvReaderTest, SplitUtf8SequenceIsStillValid) {
  const std::string input = WithHeader("M\xC3\xBCnchen,Cart \xF0\x9F\x9B\x92,1\n");
  for (size_t at = 0; at <= input.size(); ++at) {
    EXPECT_EQ(ParseWithCuts(input, {at}).rows,
              std::vector<std::string>{"2:M\xC3\xBCnchen|Cart \xF0\x9F\x9B\x92|1"});
  }
}

// Whole chunks take the fast path for ordinary rows; 1-byte chunks never do. Both must
// agree on rows whose fields and quote pairs fall anywhere around the 64-byte windows the
// fast path classifies at a time.
TEST(CsvReaderTest, FastPathAgreesWithGeneralPathAcrossWindowBoundaries) {
  std::string body;
  std::vector<std::string> expected;
  int line = 2;
  for (int pad = 0; pad < 140; ++pad) {
    const std::string store = "S" + std::string(pad, 's');
    // An item with a "" pair at a position that moves across window boundaries.
    const std::string item = std::string(pad % 70, 'i') + "\"q\"" + std::string(pad / 2, 'j');
    std::string quoted_item = "\"";
    for (char c : item) {
      if (c == '"') quoted_item += '"';
      quoted_item += c;
    }
    quoted_item += "\"";
    body += store + "," + quoted_item + "," + std::to_string(pad) + (pad % 3 == 0 ? "\r\n" : "\n");
    expected.push_back(std::to_string(line++) + ":" + store + "|" + item + "|" +
                       std::to_string(pad));
    // And a plain row of the same length, unquoted, in a different column order is not
    // possible within one file, so vary the count's width instead.
    body += store + ",plain " + std::to_string(pad) + "," +
            std::to_string(pad * 1000003 % 2147483647) + "\n";
    expected.push_back(std::to_string(line++) + ":" + store + "|plain " + std::to_string(pad) +
                       "|" + std::to_string(pad * 1000003 % 2147483647));
  }
  const std::string input = WithHeader(body);
  const ParseResult whole = Parse(input);
  EXPECT_EQ(whole.rows, expected);
  EXPECT_TRUE(whole.errors.empty());
  EXPECT_EQ(ParseInChunksOf(input, 1), whole);
  for (size_t size : {63u, 64u, 65u, 100u, 4096u}) {
    EXPECT_EQ(ParseInChunksOf(input, size), whole) << "chunks of " << size;
  }
}

TEST(CsvReaderTest, CountColumnBeyondThirtyTwoColumns) {
  // The fast path handles the first 32 columns; later ones take the general path.
  std::string header;
  std::string row;
  for (int i = 0; i < 40; ++i) {
    header += "c" + std::to_string(i) + ",";
    row += std::to_string(i) + ",";
  }
  const std::string input =
      header + "store,item,count\n" + row + "A,B,7\n" + row + "A,C,x\n" + row + "A,D\n";
  const ParseResult r = Parse(input);
  EXPECT_EQ(r.rows, std::vector<std::string>{"2:A|B|7"});
  EXPECT_EQ(r.errors, (std::vector<std::string>{"f.csv:3:115: count \"x\" is not a whole number",
                                                "f.csv:4:1: expected 43 fields, found 42"}));
  EXPECT_EQ(r.ignored.size(), 40u);
  EXPECT_EQ(ParseInChunksOf(input, 1), r);
}

TEST(CsvReaderTest, WideHeaderWithColumnsOfInterestFirst) {
  std::string header = "store,item,count";
  std::string row = "A,\"B, b\",5";
  for (int i = 0; i < 50; ++i) {
    header += ",x" + std::to_string(i);
    row += ",\"v,\"\"" + std::to_string(i) + "\"";
  }
  const std::string input = header + "\n" + row + "\n" + row + "\r\n";
  const ParseResult r = Parse(input);
  EXPECT_EQ(r.rows, (std::vector<std::string>{"2:A|B, b|5", "3:A|B, b|5"}));
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(ParseInChunksOf(input, 1), r);
}

}  // namespace
}  // namespace stockwatch::core
