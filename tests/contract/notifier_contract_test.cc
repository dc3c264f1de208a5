// The Notifier contract, run against InMemoryNotifier and SqliteNotifier.
#include <map>
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
using core::DeliveryState;
using core::Message;
using core::Protocol;
using core::TimePoint;
using std::chrono::seconds;

Message MakeMessage(std::string id, std::string_view topic, TimePoint at, uint64_t sequence = 1) {
  Message m;
  m.id = std::move(id);
  m.topic = std::string(topic);
  m.subject = "Out of stock: Echo Dot at Berlin";
  m.body = "Echo Dot at Berlin went from 3 to 0.";
  m.store = "Berlin";
  m.item = "Echo Dot";
  m.old_count = 3;
  m.new_count = 0;
  m.change_sequence = sequence;
  m.at = at;
  return m;
}

template <typename Env>
class NotifierContractTest : public ::testing::Test {
 protected:
  core::Notifier& notifier() { return env_.notifier(); }

  int64_t MustSubscribe(std::string_view topic, std::string_view endpoint,
                        Protocol protocol = Protocol::kWebhook) {
    auto s = notifier().Subscribe(topic, protocol, endpoint, T0());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : 0;
  }

  // Publishes after the current checkpoint, advancing it by one.
  void MustPublish(const std::vector<Message>& messages) {
    const uint64_t checkpoint = *notifier().Checkpoint();
    ASSERT_TRUE(notifier().Publish(messages, checkpoint, checkpoint + 1).ok());
  }

  std::vector<Delivery> All() { return *notifier().Deliveries(std::nullopt, 1000); }

  Env env_;
};

using Envs = ::testing::Types<MemoryNotifierEnv, SqliteNotifierEnv>;
TYPED_TEST_SUITE(NotifierContractTest, Envs);

TYPED_TEST(NotifierContractTest, BuiltInTopics) {
  EXPECT_EQ(*this->notifier().Topics(),
            (std::vector<std::string>{"BackInStock", "LowStock", "NoStock"}));
}

TYPED_TEST(NotifierContractTest, SubscribeIsIdempotentPerTopicAndEndpoint) {
  auto first =
      this->notifier().Subscribe("NoStock", Protocol::kEmail, "mailto:ops@example.com", T0());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->id, 0);
  EXPECT_EQ(first->topic, "NoStock");
  EXPECT_EQ(first->protocol, Protocol::kEmail);
  EXPECT_EQ(first->endpoint, "mailto:ops@example.com");
  EXPECT_EQ(first->created_at, T0());
  auto again = this->notifier().Subscribe("NoStock", Protocol::kEmail, "mailto:ops@example.com",
                                          T0() + seconds(5));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->created_at, T0());
  // A signing secret of 64 hex digits, kept and handed back with the subscription.
  EXPECT_EQ(first->secret.size(), 64u);
  EXPECT_EQ(first->secret.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(again->secret, first->secret);
  EXPECT_EQ((*this->notifier().Subscriptions())[0].secret, first->secret);
  const int64_t other = this->MustSubscribe("LowStock", "mailto:ops@example.com");
  EXPECT_NE(other, first->id);
  EXPECT_EQ(this->notifier().Subscriptions()->size(), 2u);
  EXPECT_NE((*this->notifier().Subscriptions())[1].secret, first->secret);
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->notifier().Subscribe("NoSuchTopic", Protocol::kWebhook, "https://x", T0()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->notifier().Subscribe("NoStock", Protocol::kWebhook, "", T0()).status()));
}

TYPED_TEST(NotifierContractTest, PublishFansOutToSubscriptionsOfTheTopicOnly) {
  const int64_t hook = this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  const int64_t mail = this->MustSubscribe("NoStock", "mailto:ops@example.com", Protocol::kEmail);
  const int64_t low = this->MustSubscribe("LowStock", "https://hooks.example.com/low");
  const Message no_stock = MakeMessage("1-NoStock", "NoStock", T0(), 1);
  const Message low_stock = MakeMessage("2-LowStock", "LowStock", T0() + seconds(1), 2);
  const Message back = MakeMessage("3-BackInStock", "BackInStock", T0() + seconds(2), 3);
  this->MustPublish({no_stock, low_stock, back});
  EXPECT_EQ(*this->notifier().Checkpoint(), 1u);

  const std::vector<Delivery> all = this->All();
  ASSERT_EQ(all.size(), 3u);
  // Newest first.
  EXPECT_GT(all[0].id, all[1].id);
  EXPECT_GT(all[1].id, all[2].id);
  EXPECT_EQ(all[0].message, low_stock);
  EXPECT_EQ(all[0].subscription.id, low);
  std::vector<int64_t> no_stock_subs = {all[1].subscription.id, all[2].subscription.id};
  std::sort(no_stock_subs.begin(), no_stock_subs.end());
  EXPECT_EQ(no_stock_subs, (std::vector<int64_t>{hook, mail}));
  for (const Delivery& d : all) {
    EXPECT_EQ(d.state, DeliveryState::kPending);
    EXPECT_EQ(d.attempts, 0);
    EXPECT_EQ(d.next_attempt_at, d.message.at);
    EXPECT_TRUE(d.last_error.empty());
  }
  EXPECT_EQ(all[1].message, no_stock);
  EXPECT_EQ(all[1].subscription.endpoint.empty(), false);

  EXPECT_EQ(*this->notifier().RecentMessages(std::nullopt, 10),
            (std::vector<Message>{back, low_stock, no_stock}));
  EXPECT_EQ(*this->notifier().RecentMessages("NoStock", 10), (std::vector<Message>{no_stock}));
  EXPECT_EQ(this->notifier().RecentMessages(std::nullopt, 2)->size(), 2u);
}

TYPED_TEST(NotifierContractTest, PublishIsConditionalOnTheCheckpoint) {
  this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  EXPECT_EQ(*this->notifier().Checkpoint(), 0u);
  ASSERT_TRUE(this->notifier().Publish({MakeMessage("m1", "NoStock", T0())}, 0, 5).ok());
  EXPECT_EQ(*this->notifier().Checkpoint(), 5u);
  // Another checker already moved the checkpoint: nothing is written.
  EXPECT_TRUE(
      absl::IsAborted(this->notifier().Publish({MakeMessage("m2", "NoStock", T0())}, 0, 7)));
  EXPECT_EQ(*this->notifier().Checkpoint(), 5u);
  EXPECT_EQ(this->notifier().RecentMessages(std::nullopt, 10)->size(), 1u);
  EXPECT_EQ(this->All().size(), 1u);
  // An empty batch still moves the checkpoint.
  ASSERT_TRUE(this->notifier().Publish({}, 5, 9).ok());
  EXPECT_EQ(*this->notifier().Checkpoint(), 9u);
}

TYPED_TEST(NotifierContractTest, PublishWithUnknownTopicWritesNothing) {
  this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  EXPECT_TRUE(absl::IsInvalidArgument(this->notifier().Publish(
      {MakeMessage("m1", "NoStock", T0()), MakeMessage("m2", "Bogus", T0())}, 0, 1)));
  EXPECT_EQ(*this->notifier().Checkpoint(), 0u);
  EXPECT_TRUE(this->notifier().RecentMessages(std::nullopt, 10)->empty());
  EXPECT_TRUE(this->All().empty());
}

TYPED_TEST(NotifierContractTest, RepublishedMessageIdIsSkipped) {
  this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  this->MustPublish({MakeMessage("m1", "NoStock", T0())});
  this->MustPublish({MakeMessage("m1", "NoStock", T0()), MakeMessage("m2", "NoStock", T0())});
  EXPECT_EQ(this->notifier().RecentMessages(std::nullopt, 10)->size(), 2u);
  EXPECT_EQ(this->All().size(), 2u);
  EXPECT_EQ(*this->notifier().Checkpoint(), 2u);
}

TYPED_TEST(NotifierContractTest, DueDeliveriesOldestFirst) {
  this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  EXPECT_EQ(*this->notifier().NextDue(), std::nullopt);
  this->MustPublish({MakeMessage("late", "NoStock", T0() + seconds(30)),
                     MakeMessage("early", "NoStock", T0() + seconds(10)),
                     MakeMessage("middle", "NoStock", T0() + seconds(20))});
  EXPECT_EQ(*this->notifier().NextDue(), T0() + seconds(10));
  EXPECT_TRUE(this->notifier().DueDeliveries(T0(), 10)->empty());
  auto due = this->notifier().DueDeliveries(T0() + seconds(20), 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].message.id, "early");
  EXPECT_EQ((*due)[1].message.id, "middle");
  due = this->notifier().DueDeliveries(T0() + seconds(60), 1);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].message.id, "early");
}

TYPED_TEST(NotifierContractTest, RecordAttemptOutcomes) {
  this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  this->MustPublish({MakeMessage("a", "NoStock", T0()), MakeMessage("b", "NoStock", T0()),
                     MakeMessage("c", "NoStock", T0())});
  auto due = *this->notifier().DueDeliveries(T0(), 10);
  ASSERT_EQ(due.size(), 3u);
  const int64_t retried = due[0].id, delivered = due[1].id, failed = due[2].id;

  core::AttemptOutcome retry;
  retry.error = "http 503";
  retry.next_attempt_at = T0() + seconds(30);
  ASSERT_TRUE(this->notifier().RecordAttempt(retried, retry, T0() + seconds(1)).ok());
  core::AttemptOutcome ok;
  ok.delivered = true;
  ASSERT_TRUE(this->notifier().RecordAttempt(delivered, ok, T0() + seconds(1)).ok());
  core::AttemptOutcome permanent;
  permanent.permanent_failure = true;
  permanent.error = "http 404";
  ASSERT_TRUE(this->notifier().RecordAttempt(failed, permanent, T0() + seconds(1)).ok());

  auto pending = *this->notifier().Deliveries(DeliveryState::kPending, 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, retried);
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_EQ(pending[0].last_error, "http 503");
  EXPECT_EQ(pending[0].next_attempt_at, T0() + seconds(30));
  EXPECT_EQ(pending[0].updated_at, T0() + seconds(1));
  auto done = *this->notifier().Deliveries(DeliveryState::kDelivered, 10);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].id, delivered);
  EXPECT_EQ(done[0].attempts, 1);
  EXPECT_TRUE(done[0].last_error.empty());
  auto dead = *this->notifier().Deliveries(DeliveryState::kFailed, 10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, failed);
  EXPECT_EQ(dead[0].last_error, "http 404");

  EXPECT_TRUE(this->notifier().DueDeliveries(T0() + seconds(29), 10)->empty());
  EXPECT_EQ(*this->notifier().NextDue(), T0() + seconds(30));
  EXPECT_EQ(this->notifier().DueDeliveries(T0() + seconds(30), 10)->size(), 1u);

  // A delivery that is no longer pending is left alone.
  ASSERT_TRUE(this->notifier().RecordAttempt(failed, ok, T0() + seconds(2)).ok());
  EXPECT_EQ(this->notifier().Deliveries(DeliveryState::kFailed, 10)->size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(this->notifier().RecordAttempt(999, ok, T0())));
}

TYPED_TEST(NotifierContractTest, FailedAttemptsAreKeptAndRedriveResetsAttempts) {
  this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  this->MustPublish({MakeMessage("a", "NoStock", T0()), MakeMessage("b", "NoStock", T0())});
  auto due = *this->notifier().DueDeliveries(T0(), 10);
  ASSERT_EQ(due.size(), 2u);
  const int64_t id = due[0].id, other = due[1].id;
  EXPECT_EQ(due[0].since, T0());
  EXPECT_EQ(due[0].redrives, 0);

  core::AttemptOutcome retry;
  retry.error = "http 503 from https://hooks.example.com/a";
  retry.next_attempt_at = T0() + seconds(5);
  core::AttemptOutcome gone;
  gone.permanent_failure = true;
  gone.error = "http 410 from https://hooks.example.com/a";
  ASSERT_TRUE(this->notifier().RecordAttempt(id, retry, T0() + seconds(1)).ok());
  ASSERT_TRUE(this->notifier().RecordAttempt(id, gone, T0() + seconds(6)).ok());

  auto attempts = this->notifier().Attempts(id);
  ASSERT_TRUE(attempts.ok()) << attempts.status();
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0], (core::DeliveryAttempt{T0() + seconds(1), retry.error}));
  EXPECT_EQ((*attempts)[1], (core::DeliveryAttempt{T0() + seconds(6), gone.error}));
  EXPECT_TRUE(this->notifier().Attempts(other)->empty());
  EXPECT_TRUE(absl::IsNotFound(this->notifier().Attempts(999).status()));

  // Only a failed delivery can be redriven.
  EXPECT_EQ(this->notifier().Redrive(other, T0() + seconds(7)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::IsNotFound(this->notifier().Redrive(999, T0()).status()));
  auto redriven = this->notifier().Redrive(id, T0() + seconds(100));
  ASSERT_TRUE(redriven.ok()) << redriven.status();
  EXPECT_EQ(*redriven, 1);

  auto delivery = this->notifier().GetDelivery(id);
  ASSERT_TRUE(delivery.ok()) << delivery.status();
  EXPECT_EQ(delivery->state, DeliveryState::kPending);
  EXPECT_EQ(delivery->attempts, 0);
  EXPECT_EQ(delivery->redrives, 1);
  EXPECT_EQ(delivery->since, T0() + seconds(100));
  EXPECT_EQ(delivery->next_attempt_at, T0() + seconds(100));
  EXPECT_EQ(delivery->message.id, "a");
  EXPECT_TRUE(absl::IsNotFound(this->notifier().GetDelivery(999).status()));
  // Due again at the redrive time; the history stays.
  auto again = *this->notifier().DueDeliveries(T0() + seconds(100), 10);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(this->notifier().Attempts(id)->size(), 2u);
  // Nothing is failed any more: --all finds nothing.
  EXPECT_EQ(*this->notifier().Redrive(std::nullopt, T0() + seconds(101)), 0);
}

TYPED_TEST(NotifierContractTest, RedriveAllSkipsDeletedSubscriptions) {
  const int64_t kept = this->MustSubscribe("NoStock", "https://hooks.example.com/kept");
  const int64_t gone = this->MustSubscribe("NoStock", "https://hooks.example.com/gone");
  this->MustPublish({MakeMessage("a", "NoStock", T0()), MakeMessage("b", "NoStock", T0())});
  core::AttemptOutcome refused;
  refused.permanent_failure = true;
  refused.error = "http 400";
  std::vector<core::AttemptRecord> records;
  const std::vector<Delivery> due = *this->notifier().DueDeliveries(T0(), 10);
  for (const Delivery& d : due) {
    if (d.subscription.id == kept) records.push_back({d.id, refused, T0() + seconds(1)});
  }
  ASSERT_EQ(records.size(), 2u);
  ASSERT_TRUE(this->notifier().RecordAttempts(records).ok());
  ASSERT_TRUE(this->notifier().Unsubscribe(gone).ok());  // fails its two pending ones
  EXPECT_EQ(this->notifier().Deliveries(DeliveryState::kFailed, 10)->size(), 4u);

  auto redriven = this->notifier().Redrive(std::nullopt, T0() + seconds(2));
  ASSERT_TRUE(redriven.ok()) << redriven.status();
  EXPECT_EQ(*redriven, 2);
  const std::vector<Delivery> pending = *this->notifier().Deliveries(DeliveryState::kPending, 10);
  for (const Delivery& d : pending) {
    EXPECT_EQ(d.subscription.id, kept);
  }
  const auto failed = *this->notifier().Deliveries(DeliveryState::kFailed, 10);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(this->notifier().Redrive(failed[0].id, T0()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TYPED_TEST(NotifierContractTest, FilterPoliciesChooseWhichMessagesASubscriptionGets) {
  auto berlin = this->notifier().Subscribe("NoStock", Protocol::kEmail, "berlin@example.com", T0(),
                                           R"({"store": ["Berlin"]})");
  ASSERT_TRUE(berlin.ok()) << berlin.status();
  EXPECT_EQ(berlin->filter_policy, R"({"store":["Berlin"]})");  // canonical form
  auto paris_prefix = this->notifier().Subscribe("NoStock", Protocol::kEmail, "p@example.com", T0(),
                                                 R"({"store": [{"prefix": "Par"}]})");
  ASSERT_TRUE(paris_prefix.ok()) << paris_prefix.status();
  const int64_t everyone = this->MustSubscribe("NoStock", "all@example.com");
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->notifier()
          .Subscribe("NoStock", Protocol::kEmail, "x@example.com", T0(), R"({"store": "Berlin"})")
          .status()));

  Message in_berlin = MakeMessage("b", "NoStock", T0());
  Message in_paris = MakeMessage("p", "NoStock", T0());
  in_paris.store = "Paris";
  this->MustPublish({in_berlin, in_paris});
  std::map<int64_t, std::vector<std::string>> got;
  const std::vector<Delivery> due = *this->notifier().DueDeliveries(T0(), 10);
  for (const Delivery& d : due) got[d.subscription.id].push_back(d.message.id);
  EXPECT_EQ(got[berlin->id], std::vector<std::string>{"b"});
  EXPECT_EQ(got[paris_prefix->id], std::vector<std::string>{"p"});
  EXPECT_EQ(got[everyone], (std::vector<std::string>{"b", "p"}));
  EXPECT_EQ((*this->notifier().Subscriptions())[0].filter_policy, R"({"store":["Berlin"]})");
}

TYPED_TEST(NotifierContractTest, RecordAttemptsIsAllOrNothing) {
  this->MustSubscribe("NoStock", "https://hooks.example.com/a");
  this->MustPublish({MakeMessage("a", "NoStock", T0())});
  const int64_t id = (*this->notifier().DueDeliveries(T0(), 10))[0].id;
  core::AttemptOutcome ok;
  ok.delivered = true;
  EXPECT_TRUE(
      absl::IsNotFound(this->notifier().RecordAttempts({{id, ok, T0()}, {id + 1000, ok, T0()}})));
  EXPECT_EQ(this->notifier().GetDelivery(id)->state, DeliveryState::kPending);
  EXPECT_TRUE(this->notifier().RecordAttempts({}).ok());
}

TYPED_TEST(NotifierContractTest, UnsubscribeFailsPendingDeliveries) {
  const int64_t gone = this->MustSubscribe("NoStock", "https://hooks.example.com/gone");
  const int64_t kept = this->MustSubscribe("NoStock", "https://hooks.example.com/kept");
  this->MustPublish({MakeMessage("m1", "NoStock", T0())});
  this->env_.clock().Advance(seconds(7));
  ASSERT_TRUE(this->notifier().Unsubscribe(gone).ok());
  EXPECT_TRUE(absl::IsNotFound(this->notifier().Unsubscribe(gone)));
  EXPECT_TRUE(absl::IsNotFound(this->notifier().Unsubscribe(12345)));
  auto subscriptions = *this->notifier().Subscriptions();
  ASSERT_EQ(subscriptions.size(), 1u);
  EXPECT_EQ(subscriptions[0].id, kept);

  auto failed = *this->notifier().Deliveries(DeliveryState::kFailed, 10);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].subscription.id, gone);
  EXPECT_EQ(failed[0].last_error, "unsubscribed");
  EXPECT_EQ(failed[0].updated_at, T0() + seconds(7));
  auto due = *this->notifier().DueDeliveries(T0() + seconds(10), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].subscription.id, kept);

  // Later messages do not fan out to it; subscribing again makes a new subscription.
  this->MustPublish({MakeMessage("m2", "NoStock", T0())});
  EXPECT_EQ(this->All().size(), 3u);
  EXPECT_NE(this->MustSubscribe("NoStock", "https://hooks.example.com/gone"), gone);
}

TYPED_TEST(NotifierContractTest, ReopenKeepsState) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not durable";
  } else {
    this->MustSubscribe("NoStock", "https://hooks.example.com/a");
    this->MustPublish({MakeMessage("m1", "NoStock", T0())});
    this->env_.Reopen();
    EXPECT_EQ(*this->notifier().Checkpoint(), 1u);
    EXPECT_EQ(this->notifier().Subscriptions()->size(), 1u);
    EXPECT_EQ(this->notifier().DueDeliveries(T0(), 10)->size(), 1u);
  }
}

}  // namespace
}  // namespace stockwatch::contract
