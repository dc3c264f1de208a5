#include "server/url.h"

#include <gtest/gtest.h>

#include <string>

namespace stockwatch::server {
namespace {

TEST(UrlTest, SplitsPathAndQuery) {
  TargetParts parts = SplitTarget("/api/v1/uploads?limit=5&before=9");
  EXPECT_EQ(parts.path, "/api/v1/uploads");
  EXPECT_EQ(parts.query, "limit=5&before=9");
  EXPECT_EQ(SplitTarget("/healthz").query, "");
}

TEST(UrlTest, PercentDecodesAnyBytes) {
  EXPECT_EQ(*PercentDecode("a%20b%2Fc%e2%82%AC", PlusMode::kLiteral), "a b/c\xe2\x82\xac");
  EXPECT_EQ(*PercentDecode("a+b", PlusMode::kLiteral), "a+b");
  EXPECT_EQ(*PercentDecode("a+b", PlusMode::kSpace), "a b");
  EXPECT_EQ(*PercentDecode("%00", PlusMode::kLiteral), std::string(1, '\0'));
}

TEST(UrlTest, RejectsBadEscapes) {
  EXPECT_EQ(PercentDecode("100%", PlusMode::kLiteral).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(PercentDecode("%4", PlusMode::kLiteral).ok());
  EXPECT_FALSE(PercentDecode("%zz", PlusMode::kLiteral).ok());
}

TEST(UrlTest, SplitsSegmentsWithoutDecoding) {
  std::vector<std::string_view> segments = PathSegments("/api/v1/inventory/a%2Fb/c");
  ASSERT_EQ(segments.size(), 5u);
  EXPECT_EQ(segments[3], "a%2Fb");
  EXPECT_EQ(PathSegments("/api/v1/uploads/").back(), "");
  EXPECT_TRUE(PathSegments("/").empty());
}

TEST(QueryParamsTest, FirstValueWinsAndEmptyIsAbsent) {
  absl::StatusOr<QueryParams> params = QueryParams::Parse("store=New+York&store=x&item_prefix=&a");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->Get("store"), "New York");
  EXPECT_EQ(params->Get("item_prefix"), std::nullopt);
  EXPECT_EQ(params->Get("a"), std::nullopt);
  EXPECT_EQ(params->Get("missing"), std::nullopt);
}

TEST(QueryParamsTest, ValidatesIntegers) {
  absl::StatusOr<QueryParams> params =
      QueryParams::Parse("limit=0&big=99999999999999999999&word=7x&neg=-3&ok=42");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->GetInt("limit", 1, 100, 5).status().message(),
            "limit 0 is out of range 1..100");
  EXPECT_EQ(params->GetInt("big", 1, 100, 5).status().message(),
            "big \"99999999999999999999\" is out of range 1..100");
  EXPECT_EQ(params->GetInt("word", 1, 100, 5).status().message(), "word \"7x\" is not an integer");
  EXPECT_FALSE(params->GetInt("neg", 0, 100, 5).ok());
  EXPECT_EQ(*params->GetInt("ok", 1, 100, 5), 42);
  EXPECT_EQ(*params->GetInt("absent", 1, 100, 5), 5);
  EXPECT_EQ(*params->GetOptionalInt("absent", 1, 100), std::nullopt);
}

TEST(QueryParamsTest, RejectsBadEscapeNamingTheParameter) {
  absl::StatusOr<QueryParams> params = QueryParams::Parse("cursor=%zz");
  ASSERT_FALSE(params.ok());
  EXPECT_NE(params.status().message().find("cursor"), absl::string_view::npos);
}

TEST(ParseIntegerTest, AcceptsOnlyWholeDecimalNumbers) {
  EXPECT_EQ(*ParseInteger("id", "7", 1, 10), 7);
  EXPECT_FALSE(ParseInteger("id", "", 1, 10).ok());
  EXPECT_FALSE(ParseInteger("id", "+7", 1, 10).ok());
  EXPECT_FALSE(ParseInteger("id", " 7", 1, 10).ok());
  EXPECT_FALSE(ParseInteger("id", "7.0", 1, 10).ok());
}

}  // namespace
}  // namespace stockwatch::server
