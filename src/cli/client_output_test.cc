#include "cli/client_output.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::cli {
namespace {

TEST(CsvFieldTest, LeavesPlainValuesAlone) {
  EXPECT_EQ(CsvField("Berlin"), "Berlin");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("12"), "12");
  EXPECT_EQ(CsvField("Echo Dot"), "Echo Dot");
  EXPECT_EQ(CsvField("2026-11-25T15:21:50.123Z"), "2026-11-25T15:21:50.123Z");
}

TEST(CsvFieldTest, QuotesSeparatorsQuotesAndLineBreaks) {
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\rhere"), "\"cr\rhere\"");
}

TEST(CsvFieldTest, PrefixesFormulaTriggersWithAQuote) {
  EXPECT_EQ(CsvField("=1+2"), "'=1+2");
  EXPECT_EQ(CsvField("+49 30"), "'+49 30");
  EXPECT_EQ(CsvField("-5"), "'-5");
  EXPECT_EQ(CsvField("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvField("\tx"), "'\tx");
  // The prefix is part of the value, so quoting applies to the whole.
  EXPECT_EQ(CsvField("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  EXPECT_EQ(CsvField("\rx"), "\"'\rx\"");
  // Only the first character matters.
  EXPECT_EQ(CsvField("a=b"), "a=b");
}

TEST(CsvRecordTest, JoinsWithCommasAndEndsWithCrlf) {
  EXPECT_EQ(CsvRecord({"store", "item", "count", "updated_at"}), "store,item,count,updated_at\r\n");
  EXPECT_EQ(CsvRecord({"Berlin", "Echo, Dot", "0", "=cmd"}), "Berlin,\"Echo, Dot\",0,'=cmd\r\n");
  EXPECT_EQ(CsvRecord({}), "\r\n");
}

TEST(DisplayWidthTest, CountsCodePoints) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("Berlin"), 6u);
  EXPECT_EQ(DisplayWidth("Düsseldorf"), 10u);
  EXPECT_EQ(DisplayWidth("東京"), 2u);
}

TEST(TruncateTest, CutsWithAnEllipsisOnACodePointBoundary) {
  EXPECT_EQ(Truncate("Berlin", 6), "Berlin");
  EXPECT_EQ(Truncate("Berlin", 5), "Berl…");
  EXPECT_EQ(Truncate("Düsseldorf", 3), "Dü…");
  EXPECT_EQ(Truncate("東京都", 2), "東…");
  EXPECT_EQ(Truncate("abc", 1), "…");
  EXPECT_EQ(Truncate("abc", 0), "");
}

TEST(SanitizeTest, ReplacesControlCharacters) {
  EXPECT_EQ(SanitizeLine("a\x1b[31mb\tc\nd\x7f"), "a?[31mb?c?d?");
  EXPECT_EQ(SanitizeText("a\nb\x1b"), "a\nb?");
  EXPECT_EQ(SanitizeLine("Düsseldorf"), "Düsseldorf");
}

TEST(TableTest, AlignsColumnsToTheWidestCell) {
  const std::string out =
      RenderTable({{"STORE"}, {"ITEM"}, {"COUNT", Align::kRight}, {"UPDATED"}},
                  {{"Berlin", "Echo Dot", "0", "2026-11-25T15:21:50.123Z"},
                   {"Springfield", "Kindle", "125", "2026-11-25T15:21:51.000Z"}});
  EXPECT_EQ(out,
            "STORE        ITEM      COUNT  UPDATED\n"
            "Berlin       Echo Dot      0  2026-11-25T15:21:50.123Z\n"
            "Springfield  Kindle      125  2026-11-25T15:21:51.000Z\n");
}

TEST(TableTest, HeaderOnlyWhenThereAreNoRows) {
  EXPECT_EQ(RenderTable({{"ID", Align::kRight}, {"TOPIC"}}, {}), "ID  TOPIC\n");
}

TEST(TableTest, CutsLongCellsAtFortyButNotInTheLastColumn) {
  const std::string long_name(50, 'x');
  const std::string out = RenderTable({{"A"}, {"B"}}, {{long_name, long_name}});
  const std::string cut = std::string(39, 'x') + "…";
  EXPECT_EQ(out, "A" + std::string(39, ' ') + "  B\n" + cut + "  " + long_name + "\n");
}

TEST(TableTest, KeepsTheWidthsOfTheFirstFitForLaterRows) {
  Table table({{"STORE"}, {"ITEM"}, {"COUNT", Align::kRight}});
  table.Fit({{"Berlin", "Echo", "1"}});
  EXPECT_EQ(table.Header(), "STORE   ITEM  COUNT\n");
  EXPECT_EQ(table.Row({"Berlin", "Echo", "1"}), "Berlin  Echo      1\n");
  EXPECT_EQ(table.Row({"Springfield", "Echo Dot", "1234567"}), "Sprin…  Ech…  1234567\n");
}

TEST(TableTest, SanitizesCellsAndPadsMissingOnes) {
  Table table({{"A"}, {"B"}, {"C"}});
  table.Fit({{"x\ny"}});
  EXPECT_EQ(table.Row({"x\ny"}), "x?y     \n");
}

TEST(TableTest, CountsUnicodeByCodePoints) {
  EXPECT_EQ(RenderTable({{"STORE"}, {"N"}}, {{"Düsseldorf", "1"}, {"東京", "2"}}),
            "STORE       N\n"
            "Düsseldorf  1\n"
            "東京          2\n");
}

TEST(FormatRateTest, UsesDecimalUnits) {
  EXPECT_EQ(FormatRate(0), "0 B/s");
  EXPECT_EQ(FormatRate(512), "512 B/s");
  EXPECT_EQ(FormatRate(12'500), "12.5 kB/s");
  EXPECT_EQ(FormatRate(120'300'000), "120.3 MB/s");
  EXPECT_EQ(FormatRate(1'234'000'000), "1.2 GB/s");
  EXPECT_EQ(FormatRate(-3), "0 B/s");
}

TEST(ProgressBarTest, RendersNameBarPercentAndRate) {
  const std::string line = RenderProgressBar("inventory.csv", 52, 100, 120'300'000, 80);
  EXPECT_EQ(line, "inventory.csv  [" + std::string(23, '=') + ">" + std::string(21, ' ') +
                      "]  52%  120.3 MB/s");
  EXPECT_EQ(line.size(), 79u);
}

TEST(ProgressBarTest, FullAndEmpty) {
  EXPECT_EQ(RenderProgressBar("a.csv", 0, 100, 0, 40), "a.csv  [>            ]   0%       0 B/s");
  EXPECT_EQ(RenderProgressBar("a.csv", 100, 100, 0, 40), "a.csv  [=============] 100%       0 B/s");
  EXPECT_EQ(RenderProgressBar("a.csv", 200, 100, 0, 40), "a.csv  [=============] 100%       0 B/s");
  EXPECT_EQ(RenderProgressBar("empty.csv", 0, 0, 0, 40),
            "empty.csv  [==========] 100%       0 B/s");
}

TEST(ProgressBarTest, ShortensLongNamesToFit) {
  const std::string name = "a-very-long-inventory-file-name-for-the-warehouse-in-springfield.csv";
  const std::string line = RenderProgressBar(name, 1, 2, 1000, 80);
  EXPECT_EQ(DisplayWidth(line), 79u);
  EXPECT_THAT(line, ::testing::StartsWith("a-very-long-inventory-fil…  ["));
  EXPECT_THAT(line, ::testing::EndsWith("]  50%    1.0 kB/s"));
}

TEST(ProgressBarTest, NeverNarrowerThanTenCells) {
  const std::string line = RenderProgressBar("inventory.csv", 1, 2, 0, 20);
  EXPECT_THAT(line, ::testing::HasSubstr("[=====>    ]"));
}

TEST(FormatApiErrorTest, PrintsMessageStatusAndOtherDetails) {
  ApiError error;
  error.status = 400;
  error.message = "a.csv:3:7: count \"x\" is not a whole number";
  error.details = {"a.csv:3:7: count \"x\" is not a whole number", "a.csv:4:1: store is empty"};
  EXPECT_EQ(FormatApiError(error),
            "a.csv:3:7: count \"x\" is not a whole number (HTTP 400)\n"
            "  a.csv:4:1: store is empty\n");
  error.status = 401;
  error.message = "bad\x1b token";
  error.details = {};
  EXPECT_EQ(FormatApiError(error), "bad? token (HTTP 401)\n");
}

TEST(CellTextTest, FormatsEachKindOfValue) {
  const nlohmann::json doc = {{"s", "Berlin"},   {"n", 12},   {"neg", -1},
                              {"null", nullptr}, {"b", true}, {"a", {1, 2}}};
  EXPECT_EQ(CellText(doc, "s"), "Berlin");
  EXPECT_EQ(CellText(doc, "n"), "12");
  EXPECT_EQ(CellText(doc, "neg"), "-1");
  EXPECT_EQ(CellText(doc, "null"), "-");
  EXPECT_EQ(CellText(doc, "missing"), "-");
  EXPECT_EQ(CellText(doc, "b"), "true");
  EXPECT_EQ(CellText(doc, "a"), "[1,2]");
  EXPECT_EQ(CellText(nlohmann::json::array(), "s"), "-");
}

}  // namespace
}  // namespace stockwatch::cli
