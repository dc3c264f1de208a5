#include "core/model/json.h"

#include <gtest/gtest.h>

namespace stockwatch::core {
namespace {

TEST(JsonTest, TimeRoundTripsWithMilliseconds) {
  auto t = ParseTime("2026-11-25T15:21:50.123Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatTime(*t), "2026-11-25T15:21:50.123Z");
  auto offset = ParseTime("2026-11-25T16:21:50+01:00");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(FormatTime(*offset), "2026-11-25T15:21:50.000Z");
  EXPECT_FALSE(ParseTime("2026-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseTime("yesterday").ok());
}

TEST(JsonTest, FormatTimeIsUtcWithMillisecondsAroundTheEpochAndLeapDays) {
  using namespace std::chrono;
  EXPECT_EQ(FormatTime(sys_days(2024y / May / 1) + 12h + 34min + 56s + 789ms),
            "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(FormatTime(TimePoint{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTime(TimePoint{} - 1ms), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatTime(sys_days(2024y / February / 29) + 23h + 59min + 59s + 999999us),
            "2024-02-29T23:59:59.999Z");
}

TEST(JsonTest, TopicInfoShowsRulesPolicyAndCreation) {
  TopicInfo user{"BerlinOutages",
                 false,
                 true,
                 {"LowStock", "NoStock"},
                 R"({"store":["Berlin"]})",
                 *ParseTime("2026-11-25T15:21:50.123Z")};
  EXPECT_EQ(ToJson(user).dump(),
            R"({"builtin":false,"created_at":"2026-11-25T15:21:50.123Z","filter_policy":)"
            R"({"store":["Berlin"]},"name":"BerlinOutages","rules":["LowStock","NoStock"],)"
            R"("urgent":true})");
  TopicInfo builtin{"NoStock", true, false, {"NoStock"}, "", {}};
  EXPECT_EQ(ToJson(builtin).dump(),
            R"({"builtin":true,"created_at":null,"filter_policy":null,"name":"NoStock",)"
            R"("rules":["NoStock"],"urgent":false})");
}

TEST(JsonTest, ReportStorageRoundTrips) {
  LoadReport r;
  r.upload_id = 7;
  r.file_name = "berlin.csv";
  r.status = LoadStatus::kLoaded;
  r.rows_read = 10;
  r.rows_loaded = 7;
  r.rows_rejected = 1;
  r.errors.push_back({Severity::kError, 3, 14, "count is empty"});
  r.warnings.push_back({Severity::kWarning, 2, 1, "superseded"});
  r.ignored_columns = {"price"};
  r.loaded_at = TimePoint(std::chrono::microseconds(1'700'000'000'123'456));
  auto back = ReportFromStorageJson(ReportToStorageJson(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->errors, r.errors);
  EXPECT_EQ(back->warnings, r.warnings);
  EXPECT_EQ(back->loaded_at, r.loaded_at);
  EXPECT_EQ(back->rows_loaded, 7);
  EXPECT_EQ(ToJson(r)["errors"][0], "berlin.csv:3:14: count is empty");
}

TEST(JsonTest, S3EventRecordHasS3Fields) {
  ObjectCreatedEvent e;
  e.sequence = 255;
  e.object.id = 1;
  e.object.bucket = "inventory";
  e.object.key = "stores/Berlin inventory+1.csv";
  e.object.size = 141;
  e.object.sha256_hex = "ab";
  e.object.etag = "cd";
  e.object.uploader = "admin";
  const auto j = S3EventJson(e, "us-east-1");
  const auto& r = j["Records"][0];
  EXPECT_EQ(r["eventSource"], "aws:s3");
  EXPECT_EQ(r["eventName"], "ObjectCreated:Put");
  EXPECT_EQ(r["s3"]["bucket"]["name"], "inventory");
  EXPECT_EQ(r["s3"]["object"]["key"], "stores/Berlin+inventory%2B1.csv");
  EXPECT_EQ(r["s3"]["object"]["size"], 141);
  EXPECT_EQ(r["s3"]["object"]["sequencer"], "00000000000000FF");
  EXPECT_EQ(r["userIdentity"]["principalId"], "admin");
}

}  // namespace
}  // namespace stockwatch::core
