#include "core/delivery/reminders.h"

#include <gtest/gtest.h>

namespace stockwatch::core {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const TimePoint kStart = TimePoint(seconds(1795620110)) + std::chrono::milliseconds(123);

Message Alert(std::string_view topic, std::string_view rule) {
  Message m;
  m.id = "7-" + std::string(topic);
  m.topic = std::string(topic);
  m.rule = std::string(rule);
  m.store = "Berlin";
  m.item = "Echo Plus";
  m.at = kStart;
  return m;
}

TEST(RemindersTest, OnlyTheBuiltInNoStockAlertOpensAnOutage) {
  EXPECT_TRUE(OpensOutage(Alert("NoStock", "NoStock")));
  EXPECT_TRUE(OpensOutage(Alert("NoStock", "")));  // stored before rules were recorded
  EXPECT_FALSE(OpensOutage(Alert("BerlinOutages", "NoStock")));  // a copy on a user topic
  EXPECT_FALSE(OpensOutage(Alert("LowStock", "LowStock")));
  EXPECT_FALSE(OpensOutage(Alert("BackInStock", "BackInStock")));
  Message reminder = Alert("NoStock", "NoStock");
  reminder.since = kStart;
  EXPECT_FALSE(OpensOutage(reminder));
  Message confirmation = Alert("NoStock", "");
  confirmation.kind = MessageKind::kSubscriptionConfirmation;
  EXPECT_FALSE(OpensOutage(confirmation));
}

TEST(RemindersTest, BackInStockClosesAnOutageOnAnyTopic) {
  EXPECT_TRUE(ClosesOutage(Alert("BackInStock", "BackInStock")));
  EXPECT_TRUE(ClosesOutage(Alert("BackInStock", "")));
  EXPECT_TRUE(ClosesOutage(Alert("BerlinOutages", "BackInStock")));
  EXPECT_FALSE(ClosesOutage(Alert("NoStock", "NoStock")));
  EXPECT_FALSE(ClosesOutage(Alert("LowStock", "LowStock")));
}

TEST(RemindersTest, ReminderMessageSaysSinceWhen) {
  const TimePoint now = kStart + hours(6);
  const Message m = ReminderMessage(12, 2, "Berlin", "Echo Plus", kStart, now);
  EXPECT_EQ(m.id, "reminder-12-2");
  EXPECT_EQ(m.kind, MessageKind::kAlert);
  EXPECT_EQ(m.topic, "NoStock");
  EXPECT_EQ(m.rule, "NoStock");
  EXPECT_EQ(m.subject, "Inventory Alert!");
  EXPECT_EQ(m.body, "Berlin is still out of stock of Echo Plus since 2026-11-25T15:21:50.123Z");
  EXPECT_EQ(m.store, "Berlin");
  EXPECT_EQ(m.item, "Echo Plus");
  EXPECT_EQ(m.since, kStart);
  EXPECT_EQ(m.at, now);
  EXPECT_EQ(m.new_count, 0);
  EXPECT_EQ(m.old_count, 0);
  EXPECT_EQ(m.upload_id, 0);
  EXPECT_FALSE(OpensOutage(m));
}

TEST(RemindersTest, ScheduleKeepsItsGridUnlessItFellBehind) {
  const seconds after = hours(6);
  // On time, or late by less than an interval: the next is due on the grid.
  EXPECT_EQ(NextReminderBase(kStart, kStart + after, after), kStart + after);
  EXPECT_EQ(NextReminderBase(kStart, kStart + after + hours(5), after), kStart + after);
  // Late by a whole interval or more (the server was down): one reminder now, the next one
  // interval later, not a burst of the missed ones.
  const TimePoint late = kStart + after + hours(6);
  EXPECT_EQ(NextReminderBase(kStart, late, after), late);
  EXPECT_EQ(NextReminderBase(kStart, kStart + hours(100), after), kStart + hours(100));
}

TEST(RemindersTest, ValidatesTheSettings) {
  EXPECT_TRUE(ValidateReminderOptions({}).ok());
  ReminderOptions options;
  options.limit = 101;
  EXPECT_EQ(ValidateReminderOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options.limit = -1;
  EXPECT_EQ(ValidateReminderOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options.limit = 0;
  EXPECT_TRUE(ValidateReminderOptions(options).ok());
  options.after = seconds(-1);
  EXPECT_EQ(ValidateReminderOptions(options).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stockwatch::core
