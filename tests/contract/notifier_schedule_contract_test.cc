// The Notifier contract for digests, quiet hours and throttling (subscription schedules,
// Message::upload_id, DueDeliveriesOf, Defer, urgent topics), run against InMemoryNotifier
// and SqliteNotifier.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/memory/in_memory_notifier.h"
#include "adapters/sqlite/sqlite_notifier.h"
#include "contract_env.h"
#include "core/delivery/filter_policy.h"
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

TYPED_TEST(NotifierScheduleContractTest, UpdateSubscriptionChangesOnlyTheFieldsGiven) {
  auto s = this->notifier().Subscribe("NoStock", Protocol::kEmail, "ops@example.com", T0(),
                                      R"({"store":["Berlin"]})", core::Confirmation::kNotRequired,
                                      {"5m", "22:00-07:00", "Europe/Berlin"});
  ASSERT_TRUE(s.ok()) << s.status();
  core::SubscriptionUpdate digest;
  digest.digest = "120m";
  auto updated = this->notifier().UpdateSubscription(s->id, digest);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->id, s->id);
  EXPECT_EQ(updated->digest, "2h");  // canonical
  EXPECT_EQ(updated->quiet_hours, "22:00-07:00");
  EXPECT_EQ(updated->timezone, "Europe/Berlin");
  EXPECT_EQ(updated->filter_policy, s->filter_policy);
  EXPECT_EQ(updated->endpoint, "ops@example.com");
  EXPECT_EQ(updated->status, core::SubscriptionStatus::kConfirmed);

  // Empty values remove: no policy, immediate, no quiet hours, UTC.
  core::SubscriptionUpdate clear{std::string(), std::string("immediate"), std::string(),
                                 std::string()};
  updated = this->notifier().UpdateSubscription(s->id, clear);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->filter_policy, "");
  EXPECT_EQ(updated->digest, "");
  EXPECT_EQ(updated->quiet_hours, "");
  EXPECT_EQ(updated->timezone, "");

  core::SubscriptionUpdate policy;
  policy.filter_policy = R"({ "store" : [ "Paris" ] })";
  policy.quiet_hours = "23:00-06:00";
  policy.timezone = "Asia/Tokyo";
  updated = this->notifier().UpdateSubscription(s->id, policy);
  ASSERT_TRUE(updated.ok()) << updated.status();
  auto canonical = core::CanonicalFilterPolicy(R"({"store":["Paris"]})");
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(updated->filter_policy, *canonical);
  this->env_.Reopen();
  auto listed = this->notifier().Subscriptions();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].filter_policy, *canonical);
  EXPECT_EQ((*listed)[0].digest, "");
  EXPECT_EQ((*listed)[0].quiet_hours, "23:00-06:00");
  EXPECT_EQ((*listed)[0].timezone, "Asia/Tokyo");
  EXPECT_EQ((*listed)[0].created_at, T0());

  // An empty update changes nothing.
  updated = this->notifier().UpdateSubscription(s->id, {});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->quiet_hours, "23:00-06:00");
}

TYPED_TEST(NotifierScheduleContractTest, UpdateSubscriptionRefusesBadValuesChangingNothing) {
  const int64_t id = this->MustSubscribe("https://hooks.example.com/a", {"5m", "", ""});
  const auto update = [](std::optional<std::string> policy, std::optional<std::string> digest,
                         std::optional<std::string> quiet, std::optional<std::string> zone) {
    return core::SubscriptionUpdate{std::move(policy), std::move(digest), std::move(quiet),
                                    std::move(zone)};
  };
  struct Case {
    core::SubscriptionUpdate update;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {update(std::nullopt, "7x", std::nullopt, std::nullopt), "digest"},
           {update(std::nullopt, std::nullopt, "22:00", std::nullopt), "quiet_hours"},
           {update(std::nullopt, std::nullopt, std::nullopt, "Nowhere/Land"), "timezone"},
           {update("{not json", std::nullopt, std::nullopt, std::nullopt), "filter policy"},
           // A valid digest does not carry a bad zone in with it.
           {update(std::nullopt, "1h", "22:00-07:00", "Nowhere/Land"), "timezone"}}) {
    auto updated = this->notifier().UpdateSubscription(id, c.update);
    ASSERT_FALSE(updated.ok());
    EXPECT_EQ(updated.status().code(), absl::StatusCode::kInvalidArgument) << updated.status();
    EXPECT_NE(updated.status().message().find(c.field), std::string_view::npos) << updated.status();
  }
  this->env_.Reopen();
  const core::Subscription s = (*this->notifier().Subscriptions())[0];
  EXPECT_EQ(s.digest, "5m");
  EXPECT_EQ(s.quiet_hours, "");
  EXPECT_EQ(s.timezone, "");
  EXPECT_EQ(s.filter_policy, "");
}

TYPED_TEST(NotifierScheduleContractTest, UpdateSubscriptionOfUnknownOrGoneIdIsNotFound) {
  core::SubscriptionUpdate update;
  update.digest = "5m";
  EXPECT_TRUE(absl::IsNotFound(this->notifier().UpdateSubscription(1, update).status()));
  const int64_t id = this->MustSubscribe("https://hooks.example.com/a");
  ASSERT_TRUE(this->notifier().Unsubscribe(id).ok());
  EXPECT_TRUE(absl::IsNotFound(this->notifier().UpdateSubscription(id, update).status()));
  EXPECT_TRUE(absl::IsNotFound(this->notifier().UpdateSubscription(id + 1, update).status()));
}

TYPED_TEST(NotifierScheduleContractTest, UpdateSubscriptionKeepsPendingDeliveries) {
  const int64_t id = this->MustSubscribe("https://hooks.example.com/a");
  this->MustPublish({Alert("m1", T0(), 1)});
  core::SubscriptionUpdate update;
  update.digest = "per-upload";
  update.filter_policy = R"({"store":["Paris"]})";
  ASSERT_TRUE(this->notifier().UpdateSubscription(id, update).ok());
  // The delivery already written stays, and carries the new schedule.
  auto due = this->notifier().DueDeliveries(T0(), 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].message.id, "m1");
  EXPECT_EQ((*due)[0].subscription.digest, "per-upload");
  // New messages go through the new policy: a Berlin alert no longer reaches it.
  this->MustPublish({Alert("m2", T0(), 2)});
  EXPECT_EQ(this->notifier().DueDeliveries(T0(), 10)->size(), 1u);
}

TYPED_TEST(NotifierScheduleContractTest, ChangingTheScheduleReleasesHeldDeliveries) {
  // The env's clock stands at T0: held deliveries become due then.
  const int64_t id = this->MustSubscribe("https://hooks.example.com/a", {"1h", "", ""});
  this->MustPublish({Alert("held", T0(), 1), Alert("retried", T0(), 1)});
  std::vector<Delivery> due = *this->notifier().DueDeliveries(T0(), 10);
  ASSERT_EQ(due.size(), 2u);
  const int64_t held = due[0].message.id == "held" ? due[0].id : due[1].id;
  const int64_t retried = due[0].message.id == "held" ? due[1].id : due[0].id;
  ASSERT_TRUE(this->notifier().Defer({held}, T0() + seconds(3600)).ok());
  core::AttemptOutcome outcome;
  outcome.error = "http 503";
  outcome.next_attempt_at = T0() + seconds(60);
  ASSERT_TRUE(this->notifier().RecordAttempt(retried, outcome, T0()).ok());
  EXPECT_TRUE(this->notifier().DueDeliveries(T0(), 10)->empty());

  // A filter policy change alone moves nothing.
  core::SubscriptionUpdate policy;
  policy.filter_policy = R"({"store":["Berlin"]})";
  ASSERT_TRUE(this->notifier().UpdateSubscription(id, policy).ok());
  EXPECT_TRUE(this->notifier().DueDeliveries(T0(), 10)->empty());

  core::SubscriptionUpdate immediate;
  immediate.digest = "immediate";
  ASSERT_TRUE(this->notifier().UpdateSubscription(id, immediate).ok());
  due = *this->notifier().DueDeliveries(T0(), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, held);
  EXPECT_EQ(due[0].subscription.digest, "");
  // The retry keeps its backoff.
  EXPECT_EQ(this->notifier().GetDelivery(retried)->next_attempt_at, T0() + seconds(60));
}

}  // namespace
}  // namespace stockwatch::contract
