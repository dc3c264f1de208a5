// The Notifier contract for digests, quiet hours and throttling (subscription schedules,
// Message::upload_id, DueDeliveriesOf, Defer, urgent topics), run against InMemoryNotifier
// and SqliteNotifier.
#include <memory>
#include <string>
#include <vector>

#include "adapters/memory/in_memory_notifier.h"
#include "adapters/sqlite/sqlite_notifier.h"
#include "contract_env.h"
#include "gtest/gtest.h"
#include "notifier_envs.h"

namespace stockwatch::contract {
namespace {

using core::Delivery;
using core::DeliverySchedule;
using core::DeliveryState;
using core::Message;
using core::Protocol;
using core::TimePoint;
using std::chrono::seconds;

using MemoryEnv = MemoryNotifierEnv;
using SqliteEnv = SqliteNotifierEnv;

Message Alert(std::string id, TimePoint at, int64_t upload_id) {
  Message m;
  m.id = std::move(id);
  m.topic = "NoStock";
  m.subject = "Inventory Alert!";
  m.body = "Berlin is out of stock of Echo Dot";
  m.store = "Berlin";
  m.item = "Echo Dot";
  m.new_count = 0;
  m.at = at;
  m.upload_id = upload_id;
  return m;
}

template <typename Env>
class NotifierScheduleContractTest : public ::testing::Test {
 protected:
  core::Notifier& notifier() { return env_.notifier(); }
  int64_t MustSubscribe(std::string_view endpoint, DeliverySchedule schedule = {}) {
    auto s = notifier().Subscribe("NoStock", Protocol::kWebhook, endpoint, T0(), "",
                                  core::Confirmation::kNotRequired, schedule);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : 0;
  }
  void MustPublish(const std::vector<Message>& messages) {
    const uint64_t checkpoint = *notifier().Checkpoint();
    ASSERT_TRUE(notifier().Publish(messages, checkpoint, checkpoint + 1).ok());
  }
  Env env_;
};

using Envs = ::testing::Types<MemoryEnv, SqliteEnv>;
TYPED_TEST_SUITE(NotifierScheduleContractTest, Envs);

TYPED_TEST(NotifierScheduleContractTest, SubscribeKeepsTheScheduleInCanonicalForm) {
  auto s = this->notifier().Subscribe("NoStock", Protocol::kEmail, "ops@example.com", T0(), "",
                                      core::Confirmation::kNotRequired,
                                      {"120m", "22:00-07:00", "Europe/Berlin"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->digest, "2h");
  EXPECT_EQ(s->quiet_hours, "22:00-07:00");
  EXPECT_EQ(s->timezone, "Europe/Berlin");
  auto immediate =
      this->notifier().Subscribe("NoStock", Protocol::kEmail, "b@example.com", T0(), "",
                                 core::Confirmation::kNotRequired, {"immediate", "", ""});
  ASSERT_TRUE(immediate.ok());
  EXPECT_EQ(immediate->digest, "");
  this->env_.Reopen();
  auto listed = this->notifier().Subscriptions();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].digest, "2h");
  EXPECT_EQ((*listed)[0].quiet_hours, "22:00-07:00");
  EXPECT_EQ((*listed)[0].timezone, "Europe/Berlin");
}

TYPED_TEST(NotifierScheduleContractTest, SubscribeRefusesABadScheduleWritingNothing) {
  for (const DeliverySchedule& bad :
       {DeliverySchedule{"7x", "", ""}, DeliverySchedule{"", "22:00", ""},
        DeliverySchedule{"", "", "Nowhere/Land"}}) {
    auto s = this->notifier().Subscribe("NoStock", Protocol::kEmail, "ops@example.com", T0(), "",
                                        core::Confirmation::kNotRequired, bad);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(this->notifier().Subscriptions()->empty());
}

TYPED_TEST(NotifierScheduleContractTest, MessagesKeepTheirUploadId) {
  this->MustSubscribe("https://hooks.example.com/a");
  this->MustPublish({Alert("m1", T0(), 42)});
  EXPECT_EQ((*this->notifier().RecentMessages(std::nullopt, 10))[0].upload_id, 42);
  EXPECT_EQ((*this->notifier().DueDeliveries(T0(), 10))[0].message.upload_id, 42);
}

TYPED_TEST(NotifierScheduleContractTest, MessagesKeepTheirRuleThresholdAndSince) {
  this->MustSubscribe("https://hooks.example.com/a");
  Message low = Alert("m1", T0(), 1);
  low.rule = "LowStock";
  low.threshold = 5;
  Message reminder = Alert("m2", T0(), 0);
  reminder.rule = "NoStock";
  reminder.since = T0() - std::chrono::hours(6);
  Message plain = Alert("m3", T0(), 0);  // as published before rules were recorded
  this->MustPublish({low, reminder, plain});
  this->env_.Reopen();
  auto due = this->notifier().DueDeliveries(T0(), 10);
  ASSERT_TRUE(due.ok()) << due.status();
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ((*due)[0].message.rule, "LowStock");
  EXPECT_EQ((*due)[0].message.threshold, 5);
  EXPECT_EQ((*due)[0].message.since, std::nullopt);
  EXPECT_EQ((*due)[1].message.since, T0() - std::chrono::hours(6));
  EXPECT_EQ((*due)[1].message.threshold, std::nullopt);
  EXPECT_EQ((*due)[2].message.rule, "");
}

TYPED_TEST(NotifierScheduleContractTest, DueDeliveriesOfOneSubscription) {
  const int64_t a = this->MustSubscribe("https://hooks.example.com/a");
  const int64_t b = this->MustSubscribe("https://hooks.example.com/b");
  this->MustPublish(
      {Alert("m1", T0(), 1), Alert("m2", T0() + seconds(1), 1), Alert("m3", T0() + seconds(5), 1)});
  auto of_a = this->notifier().DueDeliveriesOf(a, T0() + seconds(1), 10);
  ASSERT_TRUE(of_a.ok());
  ASSERT_EQ(of_a->size(), 2u);
  for (const Delivery& d : *of_a) EXPECT_EQ(d.subscription.id, a);
  EXPECT_EQ((*of_a)[0].message.id, "m1");
  EXPECT_EQ(this->notifier().DueDeliveriesOf(b, T0() + seconds(9), 10)->size(), 3u);
  EXPECT_EQ(this->notifier().DueDeliveriesOf(b, T0() + seconds(9), 2)->size(), 2u);
  EXPECT_TRUE(this->notifier().DueDeliveriesOf(999, T0() + seconds(9), 10)->empty());
}

TYPED_TEST(NotifierScheduleContractTest, DeferMovesDueTimeWithoutCountingAnAttempt) {
  this->MustSubscribe("https://hooks.example.com/a");
  this->MustPublish({Alert("m1", T0(), 1), Alert("m2", T0(), 1)});
  auto due = *this->notifier().DueDeliveries(T0(), 10);
  ASSERT_EQ(due.size(), 2u);
  // One of them has been attempted once: its retry budget keeps its start.
  core::AttemptOutcome retry;
  retry.error = "http 503";
  retry.next_attempt_at = T0();
  ASSERT_TRUE(this->notifier().RecordAttempt(due[1].id, retry, T0()).ok());
  const TimePoint later = T0() + seconds(300);
  ASSERT_TRUE(this->notifier().Defer({due[0].id, due[1].id, 12345}, later).ok());
  EXPECT_TRUE(this->notifier().DueDeliveries(T0() + seconds(299), 10)->empty());
  EXPECT_EQ(*this->notifier().NextDue(), std::optional<TimePoint>(later));
  auto first = *this->notifier().GetDelivery(due[0].id);
  EXPECT_EQ(first.attempts, 0);
  EXPECT_EQ(first.state, DeliveryState::kPending);
  EXPECT_EQ(first.next_attempt_at, later);
  EXPECT_EQ(first.since, later);
  auto second = *this->notifier().GetDelivery(due[1].id);
  EXPECT_EQ(second.attempts, 1);
  EXPECT_EQ(second.since, T0());
  EXPECT_EQ(this->notifier().DueDeliveries(later, 10)->size(), 2u);
  // A delivery no longer pending is left as it is.
  core::AttemptOutcome delivered;
  delivered.delivered = true;
  ASSERT_TRUE(this->notifier().RecordAttempt(due[0].id, delivered, later).ok());
  ASSERT_TRUE(this->notifier().Defer({due[0].id}, later + seconds(60)).ok());
  EXPECT_EQ(this->notifier().GetDelivery(due[0].id)->state, DeliveryState::kDelivered);
  EXPECT_EQ(this->notifier().GetDelivery(due[0].id)->next_attempt_at, later);
}

TYPED_TEST(NotifierScheduleContractTest, TopicsStartNonUrgentAndCanBeMarkedUrgent) {
  EXPECT_TRUE(this->notifier().UrgentTopics()->empty());
  ASSERT_TRUE(this->notifier().SetTopicUrgent("NoStock", true).ok());
  ASSERT_TRUE(this->notifier().SetTopicUrgent("LowStock", true).ok());
  EXPECT_EQ(*this->notifier().UrgentTopics(), (std::vector<std::string>{"LowStock", "NoStock"}));
  ASSERT_TRUE(this->notifier().SetTopicUrgent("LowStock", false).ok());
  this->env_.Reopen();
  EXPECT_EQ(*this->notifier().UrgentTopics(), (std::vector<std::string>{"NoStock"}));
  EXPECT_EQ(this->notifier().SetTopicUrgent("Nope", true).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stockwatch::contract
