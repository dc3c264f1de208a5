// The Notifier contract for reminders ("still out of stock since ..."): outages opened and
// closed by Publish, PublishReminders and NextReminderDue, run against InMemoryNotifier and
// SqliteNotifier.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "contract_env.h"
#include "core/delivery/reminders.h"
#include "core/model/json.h"
#include "gtest/gtest.h"
#include "notifier_envs.h"

namespace stockwatch::contract {
namespace {

using core::Message;
using core::Protocol;
using core::TimePoint;
using std::chrono::hours;
using std::chrono::seconds;

constexpr seconds kAfter = hours(6);

Message Alert(std::string_view rule, std::string id, std::string_view store, std::string_view item,
              TimePoint at) {
  Message m;
  m.id = std::move(id);
  m.topic = std::string(rule);
  m.rule = std::string(rule);
  m.store = std::string(store);
  m.item = std::string(item);
  m.at = at;
  if (rule == "NoStock") {
    m.subject = "Inventory Alert!";
    m.body = std::string(store) + " is out of stock of " + std::string(item);
    m.old_count = 3;
    m.new_count = 0;
  } else if (rule == "BackInStock") {
    m.subject = "Back In Stock";
    m.body = std::string(store) + " has " + std::string(item) + " back in stock";
    m.old_count = 0;
    m.new_count = 5;
  } else {
    m.subject = "Low Stock Alert";
    m.body = std::string(store) + " is low on " + std::string(item);
    m.old_count = 9;
    m.new_count = 2;
  }
  return m;
}

template <typename Env>
class NotifierRemindersContractTest : public ::testing::Test {
 protected:
  core::Notifier& notifier() { return env_.notifier(); }
  void MustPublish(const std::vector<Message>& messages) {
    const uint64_t checkpoint = *notifier().Checkpoint();
    const absl::Status published = notifier().Publish(messages, checkpoint, checkpoint + 1);
    ASSERT_TRUE(published.ok()) << published;
  }
  void OutOfStock(std::string id, std::string_view item, TimePoint at,
                  std::string_view store = "Berlin") {
    MustPublish({Alert("NoStock", std::move(id), store, item, at)});
  }
  void BackInStock(std::string id, std::string_view item, TimePoint at,
                   std::string_view store = "Berlin") {
    MustPublish({Alert("BackInStock", std::move(id), store, item, at)});
  }
  int64_t Remind(TimePoint now, int limit = 3, size_t max = 100) {
    absl::StatusOr<int64_t> n = notifier().PublishReminders(now, kAfter, limit, max);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
  std::optional<TimePoint> NextDue(int limit = 3) {
    absl::StatusOr<std::optional<TimePoint>> due = notifier().NextReminderDue(kAfter, limit);
    EXPECT_TRUE(due.ok()) << due.status();
    return due.ok() ? *due : std::nullopt;
  }
  // The reminders stored, oldest first.
  std::vector<Message> Reminders() {
    auto recent = notifier().RecentMessages(std::nullopt, 1000);
    EXPECT_TRUE(recent.ok()) << recent.status();
    std::vector<Message> out;
    if (!recent.ok()) return out;
    for (auto it = recent->rbegin(); it != recent->rend(); ++it) {
      if (it->since) out.push_back(*it);
    }
    return out;
  }
  int64_t MustSubscribe(std::string_view topic, Protocol protocol, std::string_view endpoint,
                        std::string_view policy = {},
                        core::Confirmation confirmation = core::Confirmation::kNotRequired) {
    auto s = notifier().Subscribe(topic, protocol, endpoint, T0(), policy, confirmation);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : 0;
  }
  // The subscriptions that got a delivery of message `id`.
  std::vector<int64_t> DeliveredTo(const std::string& id) {
    auto deliveries = notifier().Deliveries(std::nullopt, 1000);
    EXPECT_TRUE(deliveries.ok()) << deliveries.status();
    std::vector<int64_t> out;
    if (!deliveries.ok()) return out;
    for (const core::Delivery& d : *deliveries) {
      if (d.message.id == id) out.push_back(d.subscription.id);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  Env env_;
};

using Envs = ::testing::Types<MemoryNotifierEnv, SqliteNotifierEnv>;
TYPED_TEST_SUITE(NotifierRemindersContractTest, Envs);

TYPED_TEST(NotifierRemindersContractTest, NothingIsDueWithoutAnOutage) {
  EXPECT_EQ(this->NextDue(), std::nullopt);
  EXPECT_EQ(this->Remind(T0() + hours(100)), 0);
  EXPECT_TRUE(this->Reminders().empty());
}

TYPED_TEST(NotifierRemindersContractTest, RefusesANonPositiveInterval) {
  EXPECT_EQ(this->notifier().PublishReminders(T0(), seconds(0), 3, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(NotifierRemindersContractTest, TheFirstReminderIsDueOneIntervalAfterTheAlert) {
  const int64_t sub = this->MustSubscribe("NoStock", Protocol::kWebhook, "https://hooks.test/a");
  this->OutOfStock("1-NoStock", "Echo Plus", T0());
  EXPECT_EQ(this->NextDue(), T0() + kAfter);
  EXPECT_EQ(this->Remind(T0() + kAfter - seconds(1)), 0);
  this->env_.Reopen();  // the outage is durable
  EXPECT_EQ(this->NextDue(), T0() + kAfter);
  const TimePoint now = T0() + kAfter + seconds(30);
  EXPECT_EQ(this->Remind(now), 1);
  const std::vector<Message> reminders = this->Reminders();
  ASSERT_EQ(reminders.size(), 1u);
  const Message& r = reminders[0];
  EXPECT_TRUE(r.id.starts_with("reminder-")) << r.id;
  EXPECT_TRUE(r.id.ends_with("-1")) << r.id;
  EXPECT_EQ(r.kind, core::MessageKind::kAlert);
  EXPECT_EQ(r.topic, "NoStock");
  EXPECT_EQ(r.rule, "NoStock");
  EXPECT_EQ(r.subject, "Inventory Alert!");
  EXPECT_EQ(r.body, "Berlin is still out of stock of Echo Plus since " + core::FormatTime(T0()));
  EXPECT_EQ(r.store, "Berlin");
  EXPECT_EQ(r.item, "Echo Plus");
  EXPECT_EQ(r.since, T0());
  EXPECT_EQ(r.at, now);
  EXPECT_EQ(r.new_count, 0);
  EXPECT_EQ(r.upload_id, 0);
  EXPECT_EQ(this->DeliveredTo(r.id), std::vector<int64_t>{sub});
  auto due = this->notifier().DueDeliveries(now, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);  // the alert and its reminder
  EXPECT_EQ((*due)[1].message.id, r.id);
  EXPECT_EQ((*due)[1].next_attempt_at, now);
}

TYPED_TEST(NotifierRemindersContractTest, RepeatsEveryIntervalUpToTheLimit) {
  this->OutOfStock("1-NoStock", "Echo Plus", T0());
  EXPECT_EQ(this->Remind(T0() + kAfter, 2), 1);
  // Published once: asking again at the same time (a retried pass) adds nothing.
  EXPECT_EQ(this->Remind(T0() + kAfter, 2), 0);
  EXPECT_EQ(this->NextDue(2), T0() + 2 * kAfter);
  this->env_.Reopen();
  EXPECT_EQ(this->Remind(T0() + 2 * kAfter - seconds(1), 2), 0);
  EXPECT_EQ(this->Remind(T0() + 2 * kAfter, 2), 1);
  // The limit reached: no more for this outage.
  EXPECT_EQ(this->NextDue(2), std::nullopt);
  EXPECT_EQ(this->Remind(T0() + 10 * kAfter, 2), 0);
  const std::vector<Message> reminders = this->Reminders();
  ASSERT_EQ(reminders.size(), 2u);
  EXPECT_TRUE(reminders[0].id.ends_with("-1"));
  EXPECT_TRUE(reminders[1].id.ends_with("-2"));
  EXPECT_EQ(reminders[0].id.substr(0, reminders[0].id.size() - 1),
            reminders[1].id.substr(0, reminders[1].id.size() - 1));
  EXPECT_EQ(reminders[1].since, T0());
  // A larger limit (the setting changed) lets the same outage go on.
  EXPECT_EQ(this->NextDue(3), T0() + 3 * kAfter);
}

TYPED_TEST(NotifierRemindersContractTest, ALateReminderDoesNotBringABurst) {
  this->OutOfStock("1-NoStock", "Echo Plus", T0());
  // Down for 30 hours: one reminder, not five, and the next one interval later.
  const TimePoint late = T0() + hours(30);
  EXPECT_EQ(this->Remind(late), 1);
  EXPECT_EQ(this->Remind(late), 0);
  EXPECT_EQ(this->NextDue(), late + kAfter);
  // Slightly late (less than an interval) keeps to the grid.
  EXPECT_EQ(this->Remind(late + kAfter + hours(1)), 1);
  EXPECT_EQ(this->NextDue(), late + 2 * kAfter);
}

TYPED_TEST(NotifierRemindersContractTest, BackInStockEndsTheOutage) {
  this->OutOfStock("1-NoStock", "Echo Plus", T0());
  EXPECT_EQ(this->Remind(T0() + kAfter), 1);
  this->BackInStock("2-BackInStock", "Echo Plus", T0() + kAfter + hours(1));
  EXPECT_EQ(this->NextDue(), std::nullopt);
  EXPECT_EQ(this->Remind(T0() + 5 * kAfter), 0);
  // Out of stock again: a new outage, counted from the new alert, with new reminder ids.
  const TimePoint again = T0() + 6 * kAfter;
  this->OutOfStock("3-NoStock", "Echo Plus", again);
  EXPECT_EQ(this->NextDue(), again + kAfter);
  EXPECT_EQ(this->Remind(again + kAfter), 1);
  const std::vector<Message> reminders = this->Reminders();
  ASSERT_EQ(reminders.size(), 2u);
  EXPECT_NE(reminders[0].id, reminders[1].id);
  EXPECT_TRUE(reminders[1].id.ends_with("-1"));
  EXPECT_EQ(reminders[1].since, again);
  EXPECT_EQ(reminders[1].body,
            "Berlin is still out of stock of Echo Plus since " + core::FormatTime(again));
}

TYPED_TEST(NotifierRemindersContractTest, AnOpenOutageKeepsItsStart) {
  this->OutOfStock("1-NoStock", "Echo Plus", T0());
  this->OutOfStock("2-NoStock", "Echo Plus", T0() + hours(2));
  // Publishing a stored message again changes nothing either.
  this->OutOfStock("1-NoStock", "Echo Plus", T0() + hours(3));
  EXPECT_EQ(this->NextDue(), T0() + kAfter);
  EXPECT_EQ(this->Remind(T0() + kAfter), 1);
  this->OutOfStock("1-NoStock", "Echo Plus", T0() + kAfter);
  EXPECT_EQ(this->NextDue(), T0() + 2 * kAfter);
  ASSERT_EQ(this->Reminders().size(), 1u);
  EXPECT_EQ(this->Reminders()[0].since, T0());
}

TYPED_TEST(NotifierRemindersContractTest, OnlyBuiltInNoStockAlertsOpenOutagesPerItem) {
  this->MustPublish({Alert("LowStock", "1-LowStock", "Berlin", "Echo Dot", T0())});
  EXPECT_EQ(this->NextDue(), std::nullopt);
  // A reminder published through Publish (never done, but harmless) opens nothing.
  Message reminder = core::ReminderMessage(99, 1, "Berlin", "Kindle", T0(), T0());
  this->MustPublish({reminder});
  EXPECT_EQ(this->NextDue(), std::nullopt);
  // Outages are per (store, item): another item's or store's BackInStock leaves them open.
  this->OutOfStock("2-NoStock", "Echo Plus", T0());
  this->OutOfStock("3-NoStock", "Echo Plus", T0() + hours(1), "Hamburg");
  this->BackInStock("4-BackInStock", "Echo Dot", T0() + hours(2));
  this->BackInStock("5-BackInStock", "Echo Plus", T0() + hours(2), "Munich");
  EXPECT_EQ(this->Remind(T0() + kAfter + hours(1)), 2);
  std::vector<std::string> bodies;
  for (const Message& m : this->Reminders()) {
    if (m.at > T0()) bodies.push_back(m.body);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{
                        "Berlin is still out of stock of Echo Plus since " + core::FormatTime(T0()),
                        "Hamburg is still out of stock of Echo Plus since " +
                            core::FormatTime(T0() + hours(1))}));
}

TYPED_TEST(NotifierRemindersContractTest, PublishesAtMostMaxOldestFirst) {
  this->OutOfStock("1-NoStock", "C", T0() + hours(2));
  this->OutOfStock("2-NoStock", "A", T0());
  this->OutOfStock("3-NoStock", "B", T0() + hours(1));
  const TimePoint now = T0() + kAfter + hours(2);
  EXPECT_EQ(this->Remind(now, 3, 2), 2);
  EXPECT_EQ(this->Remind(now, 3, 2), 1);
  EXPECT_EQ(this->Remind(now, 3, 2), 0);
  std::vector<std::string> items;
  for (const Message& m : this->Reminders()) items.push_back(m.item);
  EXPECT_EQ(items, (std::vector<std::string>{"A", "B", "C"}));
}

TYPED_TEST(NotifierRemindersContractTest, FansOutAsPublishDoes) {
  const int64_t plain =
      this->MustSubscribe("NoStock", Protocol::kWebhook, "https://hooks.test/plain");
  const int64_t only_reminders = this->MustSubscribe(
      "NoStock", Protocol::kWebhook, "https://hooks.test/reminders", R"({"reminder":["true"]})");
  const int64_t opted_out_of_reminders =
      this->MustSubscribe("NoStock", Protocol::kWebhook, "https://hooks.test/no-reminders",
                          R"({"reminder":[{"exists":false}]})");
  const int64_t hamburg = this->MustSubscribe(
      "NoStock", Protocol::kWebhook, "https://hooks.test/hamburg", R"({"store":["Hamburg"]})");
  const int64_t pending = this->MustSubscribe("NoStock", Protocol::kEmail, "ops@example.com", "",
                                              core::Confirmation::kRequired);
  const int64_t stopped = this->MustSubscribe("NoStock", Protocol::kSms, "+4930123456");
  ASSERT_TRUE(this->notifier().OptOutSms("+4930123456", T0()).ok());
  const int64_t sms = this->MustSubscribe("NoStock", Protocol::kSms, "+4930999999");
  const int64_t other_topic =
      this->MustSubscribe("BackInStock", Protocol::kWebhook, "https://hooks.test/back");
  this->OutOfStock("1-NoStock", "Echo Plus", T0());
  EXPECT_EQ(this->DeliveredTo("1-NoStock"),
            (std::vector<int64_t>{plain, opted_out_of_reminders, sms}));
  EXPECT_EQ(this->Remind(T0() + kAfter), 1);
  const std::vector<Message> reminders = this->Reminders();
  ASSERT_EQ(reminders.size(), 1u);
  EXPECT_EQ(this->DeliveredTo(reminders[0].id), (std::vector<int64_t>{plain, only_reminders, sms}));
  (void)hamburg;
  (void)pending;
  (void)stopped;
  (void)other_topic;
}

TYPED_TEST(NotifierRemindersContractTest, RemindersReachUserTopicsOfTheNoStockRule) {
  ASSERT_TRUE(this->notifier().CreateTopic("BerlinOutages", {"NoStock"}, "", T0()).ok());
  ASSERT_TRUE(this->notifier().CreateTopic("Comebacks", {"BackInStock"}, "", T0()).ok());
  ASSERT_TRUE(
      this->notifier()
          .CreateTopic("FirstAlertsOnly", {"NoStock"}, R"({"reminder":[{"exists":false}]})", T0())
          .ok());
  const int64_t outages =
      this->MustSubscribe("BerlinOutages", Protocol::kWebhook, "https://hooks.test/outages");
  const int64_t comebacks =
      this->MustSubscribe("Comebacks", Protocol::kWebhook, "https://hooks.test/comebacks");
  const int64_t first_only =
      this->MustSubscribe("FirstAlertsOnly", Protocol::kWebhook, "https://hooks.test/first");
  this->OutOfStock("1-NoStock", "Echo Plus", T0());
  EXPECT_EQ(this->Remind(T0() + kAfter), 1);
  std::vector<Message> reminders = this->Reminders();
  ASSERT_EQ(reminders.size(), 2u);  // on NoStock and its copy on BerlinOutages
  const Message& copy = reminders[0].topic == "NoStock" ? reminders[1] : reminders[0];
  EXPECT_EQ(copy.topic, "BerlinOutages");
  EXPECT_EQ(copy.rule, "NoStock");
  EXPECT_EQ(copy.since, T0());
  EXPECT_EQ(copy.body, "Berlin is still out of stock of Echo Plus since " + core::FormatTime(T0()));
  EXPECT_EQ(this->DeliveredTo(copy.id), std::vector<int64_t>{outages});
  (void)comebacks;
  (void)first_only;
}

TYPED_TEST(NotifierRemindersContractTest, TheReminderPassPublishesEverythingDue) {
  this->OutOfStock("1-NoStock", "A", T0());
  this->OutOfStock("2-NoStock", "B", T0() + seconds(10));
  this->OutOfStock("3-NoStock", "C", T0() + hours(1));
  core::ReminderOptions options;
  options.after = kAfter;
  options.batch = 1;
  const TimePoint now = T0() + kAfter + seconds(20);
  auto pass = core::RunReminderPass(this->notifier(), now, options);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->published, 2);
  // Next look: at most a minute away, though C is due later.
  EXPECT_EQ(pass->next, now + seconds(60));
  pass = core::RunReminderPass(this->notifier(), T0() + kAfter + hours(1) - seconds(30), options);
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->published, 0);
  EXPECT_EQ(pass->next, T0() + kAfter + hours(1));  // C's reminder, sooner than a minute
}

}  // namespace
}  // namespace stockwatch::contract
