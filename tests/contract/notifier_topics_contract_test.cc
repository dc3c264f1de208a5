// The Notifier contract for user topics (CreateTopic, DeleteTopic, TopicInfos, and how
// Publish, Subscribe and the other topic calls treat them), run against InMemoryNotifier and
// SqliteNotifier.
#include <string>
#include <vector>

#include "adapters/memory/in_memory_notifier.h"
#include "adapters/sqlite/sqlite_notifier.h"
#include "contract_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notifier_envs.h"

namespace stockwatch::contract {
namespace {

using core::DeliveryState;
using core::Message;
using core::Protocol;
using core::TopicInfo;
using ::testing::ElementsAre;

Message Alert(std::string id, std::string topic, std::string rule) {
  Message m;
  m.id = std::move(id);
  m.topic = std::move(topic);
  m.rule = std::move(rule);
  m.subject = "Inventory Alert!";
  m.body = "Berlin is out of stock of Echo Dot";
  m.store = "Berlin";
  m.item = "Echo Dot";
  m.old_count = 2;
  m.new_count = 0;
  m.change_sequence = 17;
  m.at = T0();
  m.upload_id = 3;
  return m;
}

std::vector<std::string> Names(const std::vector<TopicInfo>& topics) {
  std::vector<std::string> out;
  for (const TopicInfo& t : topics) out.push_back(t.name);
  return out;
}

template <typename Env>
class NotifierTopicsContractTest : public ::testing::Test {
 protected:
  core::Notifier& notifier() { return env_.notifier(); }
  TopicInfo MustCreate(std::string_view name, std::vector<std::string> rules,
                       std::string_view policy = "") {
    auto created = notifier().CreateTopic(name, rules, policy, T0());
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : TopicInfo{};
  }
  int64_t MustSubscribe(std::string_view topic, std::string_view endpoint) {
    auto s = notifier().Subscribe(topic, Protocol::kWebhook, endpoint, T0());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : 0;
  }
  absl::Status Publish(const std::vector<Message>& messages) {
    const uint64_t checkpoint = *notifier().Checkpoint();
    return notifier().Publish(messages, checkpoint, checkpoint + 1);
  }
  std::vector<core::Delivery> All() { return *notifier().Deliveries(std::nullopt, 1000); }
  Env env_;
};

using Envs = ::testing::Types<MemoryNotifierEnv, SqliteNotifierEnv>;
TYPED_TEST_SUITE(NotifierTopicsContractTest, Envs);

TYPED_TEST(NotifierTopicsContractTest, BuiltinTopicsAreListedWithTheirRule) {
  auto topics = this->notifier().TopicInfos();
  ASSERT_TRUE(topics.ok()) << topics.status();
  ASSERT_THAT(Names(*topics), ElementsAre("BackInStock", "LowStock", "NoStock"));
  for (const TopicInfo& t : *topics) {
    EXPECT_TRUE(t.builtin);
    EXPECT_FALSE(t.urgent);
    EXPECT_THAT(t.rules, ElementsAre(t.name));
    EXPECT_EQ(t.filter_policy, "");
  }
  ASSERT_TRUE(this->notifier().SetTopicUrgent("NoStock", true).ok());
  EXPECT_TRUE(this->notifier().TopicInfos()->back().urgent);
}

TYPED_TEST(NotifierTopicsContractTest, CreatesAUserTopicWithCanonicalRulesAndPolicy) {
  TopicInfo created = this->MustCreate("BerlinOutages", {"NoStock", "LowStock", "NoStock"},
                                       R"({ "store": ["Berlin"] })");
  EXPECT_EQ(created.name, "BerlinOutages");
  EXPECT_FALSE(created.builtin);
  EXPECT_FALSE(created.urgent);
  EXPECT_THAT(created.rules, ElementsAre("LowStock", "NoStock"));
  EXPECT_EQ(created.filter_policy, R"({"store":["Berlin"]})");
  EXPECT_EQ(created.created_at, T0());
  this->env_.Reopen();
  EXPECT_THAT(*this->notifier().Topics(),
              ElementsAre("BackInStock", "BerlinOutages", "LowStock", "NoStock"));
  auto topics = this->notifier().TopicInfos();
  ASSERT_TRUE(topics.ok());
  ASSERT_EQ(topics->size(), 4u);
  EXPECT_EQ((*topics)[1], created);
  // A user topic can be urgent, and subscribed to, like a built-in one.
  ASSERT_TRUE(this->notifier().SetTopicUrgent("BerlinOutages", true).ok());
  EXPECT_THAT(*this->notifier().UrgentTopics(), ElementsAre("BerlinOutages"));
  EXPECT_TRUE((*this->notifier().TopicInfos())[1].urgent);
  this->MustSubscribe("BerlinOutages", "https://hooks.example/berlin");
}

TYPED_TEST(NotifierTopicsContractTest, RefusesBadNamesRulesAndPolicies) {
  auto& n = this->notifier();
  for (std::string_view name : {"", "Berlin Outages", "a.b", "Ünicode"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(n.CreateTopic(name, {"NoStock"}, "", T0()).status()))
        << name;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(
      n.CreateTopic(std::string(257, 'x'), {"NoStock"}, "", T0()).status()));
  EXPECT_TRUE(n.CreateTopic(std::string(256, 'x'), {"NoStock"}, "", T0()).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(n.CreateTopic("T", {}, "", T0()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(n.CreateTopic("T", {"OutOfStock"}, "", T0()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(n.CreateTopic("T", {"NoStock"}, "{", T0()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      n.CreateTopic("T", {"NoStock"}, R"({"store":[{"cidr":"10.0.0.0/8"}]})", T0()).status()));
  EXPECT_THAT(*n.Topics(),
              ElementsAre("BackInStock", "LowStock", "NoStock", std::string(256, 'x')));
}

TYPED_TEST(NotifierTopicsContractTest, RefusesANameTakenIgnoringCase) {
  auto& n = this->notifier();
  for (std::string_view name : {"NoStock", "nostock", "LOWSTOCK"}) {
    EXPECT_TRUE(absl::IsAlreadyExists(n.CreateTopic(name, {"NoStock"}, "", T0()).status())) << name;
  }
  this->MustCreate("BerlinOutages", {"NoStock"});
  EXPECT_TRUE(
      absl::IsAlreadyExists(n.CreateTopic("BerlinOutages", {"LowStock"}, "", T0()).status()));
  EXPECT_TRUE(
      absl::IsAlreadyExists(n.CreateTopic("berlinoutages", {"LowStock"}, "", T0()).status()));
  EXPECT_THAT((*n.TopicInfos())[1].rules, ElementsAre("NoStock"));  // unchanged
}

TYPED_TEST(NotifierTopicsContractTest, BuiltinTopicsCannotBeDeleted) {
  EXPECT_TRUE(absl::IsFailedPrecondition(this->notifier().DeleteTopic("NoStock")));
  EXPECT_TRUE(absl::IsNotFound(this->notifier().DeleteTopic("Nope")));
  EXPECT_TRUE(absl::IsNotFound(this->notifier().DeleteTopic("nostock")));
  EXPECT_EQ(this->notifier().Topics()->size(), 3u);
}

TYPED_TEST(NotifierTopicsContractTest, PublishDeliversToSubscribersOfAUserTopic) {
  this->MustCreate("BerlinOutages", {"NoStock"});
  const int64_t berlin = this->MustSubscribe("BerlinOutages", "https://hooks.example/berlin");
  const int64_t all = this->MustSubscribe("NoStock", "https://hooks.example/all");
  Message copy = Alert("17-BerlinOutages", "BerlinOutages", "NoStock");
  ASSERT_TRUE(this->Publish({Alert("17-NoStock", "NoStock", "NoStock"), copy}).ok());
  this->env_.Reopen();
  auto deliveries = this->All();
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].subscription.id, berlin);
  EXPECT_EQ(deliveries[0].message, copy);  // kept whole: rule, upload, counts
  EXPECT_EQ(deliveries[1].subscription.id, all);
  auto recent = this->notifier().RecentMessages(std::string("BerlinOutages"), 10);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].rule, "NoStock");
}

TYPED_TEST(NotifierTopicsContractTest, DeleteTopicUnsubscribesAndKeepsItsMessages) {
  this->MustCreate("BerlinOutages", {"NoStock"});
  ASSERT_TRUE(this->notifier().SetTopicUrgent("BerlinOutages", true).ok());
  const int64_t gone = this->MustSubscribe("BerlinOutages", "https://hooks.example/berlin");
  const int64_t kept = this->MustSubscribe("NoStock", "https://hooks.example/all");
  ASSERT_TRUE(this->Publish({Alert("17-NoStock", "NoStock", "NoStock"),
                             Alert("17-BerlinOutages", "BerlinOutages", "NoStock")})
                  .ok());
  this->env_.clock().Advance(std::chrono::seconds(5));
  ASSERT_TRUE(this->notifier().DeleteTopic("BerlinOutages").ok());
  this->env_.Reopen();

  EXPECT_THAT(*this->notifier().Topics(), ElementsAre("BackInStock", "LowStock", "NoStock"));
  EXPECT_THAT(Names(*this->notifier().TopicInfos()),
              ElementsAre("BackInStock", "LowStock", "NoStock"));
  EXPECT_TRUE(this->notifier().UrgentTopics()->empty());
  auto subscriptions = this->notifier().Subscriptions();
  ASSERT_EQ(subscriptions->size(), 1u);
  EXPECT_EQ((*subscriptions)[0].id, kept);
  for (const core::Delivery& d : this->All()) {
    if (d.subscription.id == gone) {
      EXPECT_EQ(d.state, DeliveryState::kFailed);
      EXPECT_EQ(d.last_error, "topic deleted");
      EXPECT_EQ(d.updated_at, T0() + std::chrono::seconds(5));
    } else {
      EXPECT_EQ(d.state, DeliveryState::kPending);
    }
  }
  // Its messages stay, naming it.
  EXPECT_EQ(this->notifier().RecentMessages(std::string("BerlinOutages"), 10)->size(), 1u);
  // It is unknown from now on, but a checker that routed to it before is not failed.
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->notifier()
          .Subscribe("BerlinOutages", Protocol::kWebhook, "https://x.example", T0())
          .status()));
  EXPECT_FALSE(this->notifier().SetTopicUrgent("BerlinOutages", true).ok());
  EXPECT_TRUE(absl::IsNotFound(this->notifier().DeleteTopic("BerlinOutages")));
  ASSERT_TRUE(this->Publish({Alert("18-NoStock", "NoStock", "NoStock"),
                             Alert("18-BerlinOutages", "BerlinOutages", "NoStock")})
                  .ok());
  EXPECT_EQ(this->notifier().RecentMessages(std::string("BerlinOutages"), 10)->size(), 1u);
  EXPECT_EQ(this->notifier().RecentMessages(std::string("NoStock"), 10)->size(), 2u);
  EXPECT_EQ(*this->notifier().Checkpoint(), 2u);
  // A topic never created is still refused.
  EXPECT_TRUE(absl::IsInvalidArgument(this->Publish({Alert("19-Nope", "Nope", "NoStock")})));
}

TYPED_TEST(NotifierTopicsContractTest, CreatingADeletedTopicAgainRevivesIt) {
  this->MustCreate("BerlinOutages", {"NoStock"}, R"({"store":["Berlin"]})");
  ASSERT_TRUE(this->notifier().SetTopicUrgent("BerlinOutages", true).ok());
  const int64_t old = this->MustSubscribe("BerlinOutages", "https://hooks.example/berlin");
  ASSERT_TRUE(this->Publish({Alert("17-BerlinOutages", "BerlinOutages", "NoStock")}).ok());
  ASSERT_TRUE(this->notifier().DeleteTopic("BerlinOutages").ok());
  // Another spelling is another topic; the same spelling is the old one, anew.
  this->MustCreate("BERLINOUTAGES", {"LowStock"});
  EXPECT_TRUE(absl::IsAlreadyExists(
      this->notifier().CreateTopic("BerlinOutages", {"NoStock"}, "", T0()).status()));
  ASSERT_TRUE(this->notifier().DeleteTopic("BERLINOUTAGES").ok());
  TopicInfo revived = this->MustCreate("BerlinOutages", {"BackInStock"});
  this->env_.Reopen();
  auto topics = this->notifier().TopicInfos();
  ASSERT_THAT(Names(*topics), ElementsAre("BackInStock", "BerlinOutages", "LowStock", "NoStock"));
  EXPECT_EQ((*topics)[1], revived);
  EXPECT_THAT(revived.rules, ElementsAre("BackInStock"));
  EXPECT_EQ(revived.filter_policy, "");
  EXPECT_FALSE((*topics)[1].urgent);
  // No subscription comes back, and the old messages are still there.
  EXPECT_TRUE(this->notifier().Subscriptions()->empty());
  const int64_t fresh = this->MustSubscribe("BerlinOutages", "https://hooks.example/berlin");
  EXPECT_NE(fresh, old);
  EXPECT_EQ(this->notifier().RecentMessages(std::string("BerlinOutages"), 10)->size(), 1u);
}

}  // namespace
}  // namespace stockwatch::contract
