#include "core/delivery/schedule.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"

namespace stockwatch::core {
namespace {

bool StartsWith(const absl::Status& status, std::string_view prefix) {
  return std::string(status.message()).rfind(prefix, 0) == 0;
}

// The instant of a UTC civil time.
TimePoint Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return std::chrono::time_point_cast<TimePoint::duration>(absl::ToChronoTime(
      absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone())));
}

absl::TimeZone Berlin() {
  absl::StatusOr<absl::TimeZone> zone = LoadZone("Europe/Berlin");
  EXPECT_TRUE(zone.ok()) << zone.status() << " (is tzdata installed?)";
  return zone.ok() ? *zone : absl::UTCTimeZone();
}

TEST(DigestSpecTest, ParsesEveryFormAndCanonicalizes) {
  EXPECT_EQ(ParseDigest("")->kind, DigestSpec::Kind::kImmediate);
  EXPECT_EQ(ParseDigest("immediate")->Canonical(), "");
  EXPECT_EQ(ParseDigest("per-upload")->Canonical(), "per-upload");
  EXPECT_EQ(ParseDigest("5m")->window, std::chrono::minutes(5));
  EXPECT_EQ(ParseDigest("5m")->Canonical(), "5m");
  EXPECT_EQ(ParseDigest("1h")->Canonical(), "1h");
  EXPECT_EQ(ParseDigest("90m")->Canonical(), "90m");
  EXPECT_EQ(ParseDigest("120m")->Canonical(), "2h");
  absl::StatusOr<DigestSpec> daily = ParseDigest("daily 08:00 Europe/Berlin");
  ASSERT_TRUE(daily.ok()) << daily.status();
  EXPECT_EQ(daily->kind, DigestSpec::Kind::kDaily);
  EXPECT_EQ(daily->Canonical(), "daily 08:00 Europe/Berlin");
  EXPECT_EQ(ParseDigest("daily 23:59")->Canonical(), "daily 23:59 UTC");
}

TEST(DigestSpecTest, RefusesBadSpecsNamingTheField) {
  for (const char* bad : {"0m", "25h", "1441m", "5", "m", "5s", "-5m", "5 m", "daily", "daily 8:00",
                          "daily 24:00 UTC", "daily 08:60 UTC", "daily 08:00 Mars/Olympus",
                          "daily 08:00 ../../etc/passwd", "weekly", "per_upload"}) {
    absl::StatusOr<DigestSpec> spec = ParseDigest(bad);
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(StartsWith(spec.status(), "digest \"")) << spec.status();
  }
}

TEST(DigestSpecTest, WindowsEndAtTheNextMultipleOfTheWindow) {
  const DigestSpec five = *ParseDigest("5m");
  EXPECT_EQ(five.DueAt(Utc(2026, 11, 25, 10, 2, 30)), Utc(2026, 11, 25, 10, 5));
  // A message exactly at a window's start belongs to that window.
  EXPECT_EQ(five.DueAt(Utc(2026, 11, 25, 10, 5)), Utc(2026, 11, 25, 10, 10));
  EXPECT_EQ(five.DueAt(Utc(2026, 11, 25, 23, 59, 59)), Utc(2026, 11, 26, 0, 0));
  const DigestSpec hour = *ParseDigest("1h");
  EXPECT_EQ(hour.DueAt(Utc(2026, 11, 25, 10, 0, 1)), Utc(2026, 11, 25, 11, 0));
  const DigestSpec immediate = *ParseDigest("");
  EXPECT_EQ(immediate.DueAt(Utc(2026, 11, 25, 10, 0, 1)), Utc(2026, 11, 25, 10, 0, 1));
  EXPECT_EQ(ParseDigest("per-upload")->DueAt(Utc(2026, 1, 1, 0, 0)), Utc(2026, 1, 1, 0, 0));
}

TEST(DigestSpecTest, DailyFollowsBerlinLocalTimeAcrossDstChanges) {
  const DigestSpec daily = *ParseDigest("daily 08:00 Europe/Berlin");
  // Winter (CET, UTC+1): 08:00 local is 07:00 UTC.
  EXPECT_EQ(daily.DueAt(Utc(2026, 3, 27, 12, 0)), Utc(2026, 3, 28, 7, 0));
  // Before 08:00 local on the same day.
  EXPECT_EQ(daily.DueAt(Utc(2026, 3, 28, 6, 59)), Utc(2026, 3, 28, 7, 0));
  // 2026-03-29 clocks go 02:00 -> 03:00: 08:00 CEST is 06:00 UTC, 23 hours after the day
  // before's 07:00 UTC.
  EXPECT_EQ(daily.DueAt(Utc(2026, 3, 28, 7, 0)), Utc(2026, 3, 29, 6, 0));
  // 2026-10-25 clocks go 03:00 -> 02:00: back to 07:00 UTC, 25 hours later.
  EXPECT_EQ(daily.DueAt(Utc(2026, 10, 24, 6, 0)), Utc(2026, 10, 25, 7, 0));
}

TEST(DigestSpecTest, DailyAtASkippedOrRepeatedLocalTime) {
  // 02:30 does not exist in Berlin on 2026-03-29: the instant of the change (01:00 UTC).
  const DigestSpec skipped = *ParseDigest("daily 02:30 Europe/Berlin");
  EXPECT_EQ(skipped.DueAt(Utc(2026, 3, 28, 23, 0)), Utc(2026, 3, 29, 1, 0));
  // 02:30 happens twice on 2026-10-25: the first time (00:30 UTC, still CEST).
  EXPECT_EQ(skipped.DueAt(Utc(2026, 10, 24, 23, 0)), Utc(2026, 10, 25, 0, 30));
}

TEST(QuietHoursTest, ParsesAndRefuses) {
  absl::StatusOr<QuietHours> quiet = ParseQuietHours("22:00-07:00", Berlin());
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(quiet->Canonical(), "22:00-07:00");
  for (const char* bad : {"22:00", "22-07", "22:00-07:00 ", "7:00-8:00", "22:00-22:00",
                          "25:00-01:00", "22:00/07:00"}) {
    absl::StatusOr<QuietHours> parsed = ParseQuietHours(bad, Berlin());
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_TRUE(StartsWith(parsed.status(), "quiet_hours \"")) << parsed.status();
  }
}

TEST(QuietHoursTest, HoldsUntilTheWindowEndsInLocalTime) {
  const QuietHours quiet = *ParseQuietHours("22:00-07:00", Berlin());
  // 12:00 UTC is 13:00 CET: outside.
  EXPECT_EQ(quiet.Release(Utc(2026, 1, 10, 12, 0)), Utc(2026, 1, 10, 12, 0));
  // 21:30 UTC is 22:30 CET: held until 07:00 CET next morning (06:00 UTC).
  EXPECT_EQ(quiet.Release(Utc(2026, 1, 10, 21, 30)), Utc(2026, 1, 11, 6, 0));
  // 03:00 CET, after midnight: until 07:00 the same day.
  EXPECT_EQ(quiet.Release(Utc(2026, 1, 11, 2, 0)), Utc(2026, 1, 11, 6, 0));
  // 07:00 CET itself is outside.
  EXPECT_EQ(quiet.Release(Utc(2026, 1, 11, 6, 0)), Utc(2026, 1, 11, 6, 0));
  // A night with the spring-forward change: 23:00 CET on 2026-03-28 is held until 07:00
  // CEST, which is 05:00 UTC.
  EXPECT_EQ(quiet.Release(Utc(2026, 3, 28, 22, 0)), Utc(2026, 3, 29, 5, 0));
  // A daytime window that does not wrap.
  const QuietHours lunch = *ParseQuietHours("12:00-13:00", absl::UTCTimeZone());
  EXPECT_EQ(lunch.Release(Utc(2026, 1, 10, 12, 30)), Utc(2026, 1, 10, 13, 0));
  EXPECT_EQ(lunch.Release(Utc(2026, 1, 10, 13, 30)), Utc(2026, 1, 10, 13, 30));
}

TEST(ScheduleTest, CanonicalScheduleNamesTheBadField) {
  absl::StatusOr<DeliverySchedule> ok =
      CanonicalSchedule({"immediate", "22:00-07:00", "Europe/Berlin"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, (DeliverySchedule{"", "22:00-07:00", "Europe/Berlin"}));
  absl::StatusOr<DeliverySchedule> bad_zone = CanonicalSchedule({"", "22:00-07:00", "Nowhere/X"});
  ASSERT_FALSE(bad_zone.ok());
  EXPECT_TRUE(StartsWith(bad_zone.status(), "timezone \"")) << bad_zone.status();
  EXPECT_FALSE(CanonicalSchedule({"", "", "localtime"}).ok());
  EXPECT_FALSE(CanonicalSchedule({"", "", "/etc/localtime"}).ok());
  absl::StatusOr<DeliverySchedule> bad_digest = CanonicalSchedule({"3x", "", ""});
  ASSERT_FALSE(bad_digest.ok());
  EXPECT_TRUE(StartsWith(bad_digest.status(), "digest \"")) << bad_digest.status();
}

std::vector<Message> Alerts(int n, const std::string& store) {
  std::vector<Message> out;
  for (int i = 0; i < n; ++i) {
    Message m;
    m.id = "m" + std::to_string(i);
    m.topic = "NoStock";
    m.store = store;
    m.item = "Item " + std::to_string(i);
    m.body = store + " is out of stock of Item " + std::to_string(i);
    m.upload_id = 7;
    out.push_back(m);
  }
  return out;
}

TEST(DigestMessageTest, OneLinePerAlertWithCountAndStores) {
  std::vector<Message> alerts = Alerts(500, "Berlin");
  const Message digest = DigestMessage(alerts, Protocol::kWebhook, "41");
  EXPECT_EQ(digest.id, "digest-41");
  EXPECT_EQ(digest.subject, "Stockwatch: 500 alerts (Berlin)");
  EXPECT_EQ(digest.store, "Berlin");
  EXPECT_EQ(digest.topic, "NoStock");
  EXPECT_EQ(digest.upload_id, 7);
  EXPECT_EQ(std::count(digest.body.begin(), digest.body.end(), '\n'), 499);
  EXPECT_TRUE(digest.body.starts_with("Berlin is out of stock of Item 0\n"));
  EXPECT_TRUE(digest.body.ends_with("Berlin is out of stock of Item 499"));

  std::vector<Message> mixed = Alerts(2, "Berlin");
  for (const char* store : {"Hamburg", "Paris", "Rome"}) {
    mixed.push_back(Alerts(1, store).front());
  }
  const Message several = DigestMessage(mixed, Protocol::kEmail, "1");
  EXPECT_EQ(several.subject, "Stockwatch: 5 alerts (Berlin, Hamburg, Paris, ...)");
  EXPECT_EQ(several.store, "");
}

TEST(DigestMessageTest, SmsIsCappedWithAndNMore) {
  const Message digest = DigestMessage(Alerts(500, "Berlin"), Protocol::kSms, "1");
  const size_t total = digest.subject.size() + 1 + digest.body.size();  // ASCII here
  EXPECT_LE(total, kMaxSmsDigestChars);
  EXPECT_GT(total, kMaxSmsDigestChars - 60);  // filled, not cut early
  const size_t last_line = digest.body.rfind('\n');
  const std::string tail = digest.body.substr(last_line + 1);
  const size_t lines =
      static_cast<size_t>(std::count(digest.body.begin(), digest.body.end(), '\n'));
  EXPECT_EQ(tail, "... and " + std::to_string(500 - lines) + " more");
  // A digest that fits is not cut.
  const Message small = DigestMessage(Alerts(3, "Berlin"), Protocol::kSms, "1");
  EXPECT_EQ(small.body.find("more"), std::string::npos);
}

}  // namespace
}  // namespace stockwatch::core
