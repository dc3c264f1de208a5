// The Notifier contract for subscription confirmation (SNS-style pending subscriptions and
// their tokens) and SMS opt-outs (STOP), run against InMemoryNotifier and SqliteNotifier.
#include <algorithm>
#include <cctype>
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

using core::Confirmation;
using core::Delivery;
using core::DeliveryState;
using core::Message;
using core::MessageKind;
using core::Protocol;
using core::SubscriptionStatus;
using core::TimePoint;
using std::chrono::hours;
using std::chrono::seconds;

using MemoryEnv = MemoryNotifierEnv;
using SqliteEnv = SqliteNotifierEnv;

Message Alert(std::string id, TimePoint at, uint64_t sequence) {
  Message m;
  m.id = std::move(id);
  m.topic = "NoStock";
  m.subject = "Inventory Alert!";
  m.body = "Berlin is out of stock of Echo Dot";
  m.store = "Berlin";
  m.item = "Echo Dot";
  m.old_count = 3;
  m.new_count = 0;
  m.change_sequence = sequence;
  m.at = at;
  return m;
}

template <typename Env>
class SubscriptionConfirmationContractTest : public ::testing::Test {
 protected:
  core::Notifier& notifier() { return env_.notifier(); }

  core::Subscription MustSubscribe(std::string_view endpoint, Protocol protocol,
                                   Confirmation confirmation, TimePoint at = T0()) {
    auto s = notifier().Subscribe("NoStock", protocol, endpoint, at, {}, confirmation);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : core::Subscription{};
  }

  void MustPublish(const std::vector<Message>& messages) {
    const uint64_t checkpoint = *notifier().Checkpoint();
    ASSERT_TRUE(notifier().Publish(messages, checkpoint, checkpoint + 1).ok());
  }

  std::vector<Delivery> All() { return *notifier().Deliveries(std::nullopt, 1000); }

  // The deliveries of `subscription_id` whose message is of `kind`, oldest first.
  std::vector<Delivery> Of(int64_t subscription_id, MessageKind kind) {
    std::vector<Delivery> out;
    for (const Delivery& d : All()) {
      if (d.subscription.id == subscription_id && d.message.kind == kind) out.push_back(d);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  // The token the last confirmation message of `subscription_id` carries.
  std::string TokenOf(int64_t subscription_id) {
    std::vector<Delivery> confirmations =
        Of(subscription_id, MessageKind::kSubscriptionConfirmation);
    EXPECT_FALSE(confirmations.empty());
    return confirmations.empty() ? std::string() : confirmations.back().message.body;
  }

  // The ids of the active subscriptions, in id order.
  std::vector<int64_t> ActiveIds() {
    const std::vector<core::Subscription> all = *notifier().Subscriptions();
    std::vector<int64_t> ids;
    for (const core::Subscription& s : all) ids.push_back(s.id);
    return ids;
  }

  SubscriptionStatus StatusOf(int64_t subscription_id) {
    const std::vector<core::Subscription> all = *notifier().Subscriptions();
    for (const core::Subscription& s : all) {
      if (s.id == subscription_id) return s.status;
    }
    ADD_FAILURE() << "no subscription " << subscription_id;
    return SubscriptionStatus::kConfirmed;
  }

  Env env_;
};

using Envs = ::testing::Types<MemoryEnv, SqliteEnv>;
TYPED_TEST_SUITE(SubscriptionConfirmationContractTest, Envs);

TYPED_TEST(SubscriptionConfirmationContractTest, SubscribeWithoutConfirmationStartsConfirmed) {
  const core::Subscription s = this->MustSubscribe("https://hooks.example.com/a",
                                                   Protocol::kWebhook, Confirmation::kNotRequired);
  EXPECT_EQ(s.status, SubscriptionStatus::kConfirmed);
  EXPECT_FALSE(s.confirmation_expires_at.has_value());
  EXPECT_TRUE(this->All().empty());
}

TYPED_TEST(SubscriptionConfirmationContractTest, PendingSubscriptionGetsOnlyItsConfirmation) {
  const core::Subscription s = this->MustSubscribe("https://hooks.example.com/a",
                                                   Protocol::kWebhook, Confirmation::kRequired);
  EXPECT_EQ(s.status, SubscriptionStatus::kPendingConfirmation);
  ASSERT_TRUE(s.confirmation_expires_at.has_value());
  EXPECT_EQ(*s.confirmation_expires_at, T0() + hours(48));

  // One confirmation message in the outbox, due at once, carrying a 64-hex-digit token.
  std::vector<Delivery> all = this->All();
  ASSERT_EQ(all.size(), 1u);
  const Delivery& confirmation = all[0];
  EXPECT_EQ(confirmation.subscription.id, s.id);
  EXPECT_EQ(confirmation.subscription.status, SubscriptionStatus::kPendingConfirmation);
  EXPECT_EQ(confirmation.state, DeliveryState::kPending);
  EXPECT_EQ(confirmation.next_attempt_at, T0());
  EXPECT_EQ(confirmation.message.kind, MessageKind::kSubscriptionConfirmation);
  EXPECT_EQ(confirmation.message.topic, "NoStock");
  EXPECT_EQ(confirmation.message.body.size(), 64u);
  EXPECT_EQ(confirmation.message.body.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(this->notifier().DueDeliveries(T0(), 10)->size(), 1u);

  // Alerts skip it while it is pending, and confirmations are never listed as alerts.
  this->MustPublish({Alert("m1", T0() + seconds(1), 1)});
  EXPECT_TRUE(this->Of(s.id, MessageKind::kAlert).empty());
  std::vector<Message> alerts = *this->notifier().RecentMessages(std::nullopt, 10);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].id, "m1");
  EXPECT_TRUE(this->notifier().RecentMessages(std::string("NoStock"), 10)->size() == 1u);
}

TYPED_TEST(SubscriptionConfirmationContractTest, ConfirmingWithTheTokenStartsDeliveries) {
  const core::Subscription s =
      this->MustSubscribe("mailto:ops@example.com", Protocol::kEmail, Confirmation::kRequired);
  const std::string token = this->TokenOf(s.id);
  if constexpr (TypeParam::kDurable) this->env_.Reopen();

  auto confirmed = this->notifier().ConfirmSubscription(token, T0() + hours(47));
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->id, s.id);
  EXPECT_EQ(confirmed->status, SubscriptionStatus::kConfirmed);
  EXPECT_FALSE(confirmed->confirmation_expires_at.has_value());
  if constexpr (TypeParam::kDurable) this->env_.Reopen();
  EXPECT_EQ(this->StatusOf(s.id), SubscriptionStatus::kConfirmed);

  this->MustPublish({Alert("m1", T0() + hours(47), 1)});
  EXPECT_EQ(this->Of(s.id, MessageKind::kAlert).size(), 1u);
  // A token works once.
  EXPECT_TRUE(
      absl::IsNotFound(this->notifier().ConfirmSubscription(token, T0() + hours(47)).status()));
  // Subscribing again returns the confirmed subscription, with no new confirmation.
  const core::Subscription again = this->MustSubscribe("mailto:ops@example.com", Protocol::kEmail,
                                                       Confirmation::kRequired, T0() + hours(100));
  EXPECT_EQ(again.id, s.id);
  EXPECT_EQ(again.status, SubscriptionStatus::kConfirmed);
  EXPECT_EQ(this->Of(s.id, MessageKind::kSubscriptionConfirmation).size(), 1u);
}

TYPED_TEST(SubscriptionConfirmationContractTest, TestMessageGoesToOneConfirmedSubscriptionOnly) {
  const core::Subscription target = this->MustSubscribe(
      "https://hooks.example.com/a", Protocol::kWebhook, Confirmation::kNotRequired);
  const core::Subscription other = this->MustSubscribe(
      "https://hooks.example.com/b", Protocol::kWebhook, Confirmation::kNotRequired);
  const core::Subscription pending =
      this->MustSubscribe("mailto:ops@example.com", Protocol::kEmail, Confirmation::kRequired);

  auto sent = this->notifier().SendTestMessage(target.id, T0() + seconds(5));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_GT(sent->id, 0);
  EXPECT_EQ(sent->subscription.id, target.id);
  EXPECT_EQ(sent->state, DeliveryState::kPending);
  EXPECT_EQ(sent->next_attempt_at, T0() + seconds(5));
  EXPECT_EQ(sent->message.kind, MessageKind::kTest);
  EXPECT_EQ(sent->message.subject, core::kTestMessageSubject);
  EXPECT_EQ(sent->message.topic, "NoStock");
  EXPECT_TRUE(sent->message.store.empty());
  EXPECT_TRUE(sent->message.item.empty());
  // Two in the same instant are two messages.
  auto again = this->notifier().SendTestMessage(target.id, T0() + seconds(5));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->message.id, sent->message.id);
  if constexpr (TypeParam::kDurable) this->env_.Reopen();

  EXPECT_EQ(this->Of(target.id, MessageKind::kTest).size(), 2u);
  EXPECT_TRUE(this->Of(other.id, MessageKind::kTest).empty());
  EXPECT_EQ(this->notifier().GetDelivery(sent->id)->message.kind, MessageKind::kTest);
  // Due as any delivery, and never an alert.
  EXPECT_EQ(this->notifier().DueDeliveries(T0() + seconds(5), 10)->size(), 3u);  // + confirmation
  EXPECT_TRUE(this->notifier().RecentMessages(std::nullopt, 10)->empty());
  EXPECT_EQ(*this->notifier().Checkpoint(), 0u);

  EXPECT_TRUE(absl::IsFailedPrecondition(
      this->notifier().SendTestMessage(pending.id, T0() + seconds(5)).status()));
  EXPECT_TRUE(absl::IsNotFound(this->notifier().SendTestMessage(9999, T0() + seconds(5)).status()));
  ASSERT_TRUE(this->notifier().Unsubscribe(other.id).ok());
  EXPECT_TRUE(
      absl::IsNotFound(this->notifier().SendTestMessage(other.id, T0() + seconds(5)).status()));
}

TYPED_TEST(SubscriptionConfirmationContractTest, ExpiredTokenChangesNothing) {
  const core::Subscription s = this->MustSubscribe("https://hooks.example.com/a",
                                                   Protocol::kWebhook, Confirmation::kRequired);
  const std::string old_token = this->TokenOf(s.id);
  auto expired = this->notifier().ConfirmSubscription(old_token, T0() + hours(48));
  EXPECT_TRUE(absl::IsNotFound(expired.status())) << expired.status();
  EXPECT_EQ(this->StatusOf(s.id), SubscriptionStatus::kPendingConfirmation);

  // Subscribing again after expiry sends a new token; only the new one works.
  const core::Subscription again = this->MustSubscribe(
      "https://hooks.example.com/a", Protocol::kWebhook, Confirmation::kRequired, T0() + hours(49));
  EXPECT_EQ(again.id, s.id);
  EXPECT_EQ(again.status, SubscriptionStatus::kPendingConfirmation);
  EXPECT_EQ(*again.confirmation_expires_at, T0() + hours(49 + 48));
  ASSERT_EQ(this->Of(s.id, MessageKind::kSubscriptionConfirmation).size(), 2u);
  const std::string new_token = this->TokenOf(s.id);
  EXPECT_NE(new_token, old_token);
  EXPECT_TRUE(
      absl::IsNotFound(this->notifier().ConfirmSubscription(old_token, T0() + hours(50)).status()));
  EXPECT_TRUE(this->notifier().ConfirmSubscription(new_token, T0() + hours(50)).ok());
  EXPECT_EQ(this->StatusOf(s.id), SubscriptionStatus::kConfirmed);
}

TYPED_TEST(SubscriptionConfirmationContractTest, MalformedAndUnknownTokensAreNotFound) {
  const core::Subscription s = this->MustSubscribe("https://hooks.example.com/a",
                                                   Protocol::kWebhook, Confirmation::kRequired);
  const std::string token = this->TokenOf(s.id);
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string other = token;
  other[0] = other[0] == 'a' ? 'b' : 'a';
  for (const std::string& bad :
       {std::string(), std::string("abc"), token + "0", token.substr(1), other, upper}) {
    if (bad == token) continue;  // an all-digit token has no upper case
    EXPECT_TRUE(absl::IsNotFound(this->notifier().ConfirmSubscription(bad, T0()).status())) << bad;
  }
  EXPECT_EQ(this->StatusOf(s.id), SubscriptionStatus::kPendingConfirmation);
  // The token of a deleted subscription no longer works.
  ASSERT_TRUE(this->notifier().Unsubscribe(s.id).ok());
  EXPECT_TRUE(absl::IsNotFound(this->notifier().ConfirmSubscription(token, T0()).status()));
}

TYPED_TEST(SubscriptionConfirmationContractTest, PurgeUnsubscribesOnlyExpiredPendingOnes) {
  const core::Subscription early = this->MustSubscribe("https://hooks.example.com/early",
                                                       Protocol::kWebhook, Confirmation::kRequired);
  const core::Subscription late = this->MustSubscribe("mailto:late@example.com", Protocol::kEmail,
                                                      Confirmation::kRequired, T0() + hours(10));
  const core::Subscription confirmed =
      this->MustSubscribe("mailto:yes@example.com", Protocol::kEmail, Confirmation::kRequired);
  ASSERT_TRUE(
      this->notifier().ConfirmSubscription(this->TokenOf(confirmed.id), T0() + hours(1)).ok());
  const core::Subscription vouched = this->MustSubscribe(
      "https://hooks.example.com/vouched", Protocol::kWebhook, Confirmation::kNotRequired);
  const std::string early_token = this->TokenOf(early.id);

  // Nothing has expired yet.
  auto none = this->notifier().PurgeExpiredSubscriptions(T0() + hours(47));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(this->notifier().Subscriptions()->size(), 4u);

  // At T0 + 48 h the first token has expired (as ConfirmSubscription counts it).
  auto purged = this->notifier().PurgeExpiredSubscriptions(T0() + hours(48));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
  if constexpr (TypeParam::kDurable) this->env_.Reopen();
  EXPECT_EQ(this->ActiveIds(), (std::vector<int64_t>{late.id, confirmed.id, vouched.id}));
  // Its confirmation message is failed, not left pending.
  const std::vector<Delivery> confirmations =
      this->Of(early.id, MessageKind::kSubscriptionConfirmation);
  ASSERT_EQ(confirmations.size(), 1u);
  EXPECT_EQ(confirmations[0].state, DeliveryState::kFailed);
  EXPECT_EQ(confirmations[0].last_error, "confirmation expired");
  EXPECT_EQ(this->Of(late.id, MessageKind::kSubscriptionConfirmation)[0].state,
            DeliveryState::kPending);
  EXPECT_TRUE(absl::IsNotFound(
      this->notifier().ConfirmSubscription(early_token, T0() + hours(1)).status()));
  EXPECT_TRUE(absl::IsNotFound(this->notifier().Unsubscribe(early.id)));
  // Again: nothing more to purge.
  EXPECT_EQ(*this->notifier().PurgeExpiredSubscriptions(T0() + hours(48)), 0);

  // Subscribing the endpoint again makes a new subscription with a new confirmation.
  const core::Subscription again =
      this->MustSubscribe("https://hooks.example.com/early", Protocol::kWebhook,
                          Confirmation::kRequired, T0() + hours(49));
  EXPECT_NE(again.id, early.id);
  EXPECT_EQ(again.status, SubscriptionStatus::kPendingConfirmation);
  EXPECT_EQ(this->Of(again.id, MessageKind::kSubscriptionConfirmation).size(), 1u);
  EXPECT_TRUE(this->notifier().ConfirmSubscription(this->TokenOf(again.id), T0() + hours(50)).ok());

  // Later the second one expires too; confirmed ones never do.
  EXPECT_EQ(*this->notifier().PurgeExpiredSubscriptions(T0() + hours(1000)), 1);
  EXPECT_EQ(this->ActiveIds(), (std::vector<int64_t>{confirmed.id, vouched.id, again.id}));
}

TYPED_TEST(SubscriptionConfirmationContractTest, OptedOutNumbersGetNoSms) {
  const core::Subscription stopped =
      this->MustSubscribe("+4930123456", Protocol::kSms, Confirmation::kNotRequired);
  const core::Subscription kept =
      this->MustSubscribe("+4930999999", Protocol::kSms, Confirmation::kNotRequired);
  const core::Subscription hook = this->MustSubscribe(
      "https://hooks.example.com/+4930123456", Protocol::kWebhook, Confirmation::kNotRequired);
  this->MustPublish({Alert("m1", T0(), 1)});
  ASSERT_EQ(this->All().size(), 3u);

  // STOP fails what is pending for that number (and nothing else).
  ASSERT_TRUE(this->notifier().OptOutSms("+4930123456", T0() + seconds(1)).ok());
  ASSERT_TRUE(this->notifier().OptOutSms("+4930123456", T0() + seconds(2)).ok());
  if constexpr (TypeParam::kDurable) this->env_.Reopen();
  std::vector<Delivery> first = this->Of(stopped.id, MessageKind::kAlert);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].state, DeliveryState::kFailed);
  EXPECT_EQ(first[0].last_error, "opted out (STOP)");
  EXPECT_EQ(this->Of(kept.id, MessageKind::kAlert)[0].state, DeliveryState::kPending);
  EXPECT_EQ(this->Of(hook.id, MessageKind::kAlert)[0].state, DeliveryState::kPending);
  EXPECT_EQ(*this->notifier().SmsOptOuts(),
            (std::vector<core::SmsOptOut>{{"+4930123456", T0() + seconds(1)}}));

  // Later alerts skip the number.
  this->MustPublish({Alert("m2", T0() + seconds(3), 2)});
  EXPECT_EQ(this->Of(stopped.id, MessageKind::kAlert).size(), 1u);
  EXPECT_EQ(this->Of(kept.id, MessageKind::kAlert).size(), 2u);
  EXPECT_EQ(this->Of(hook.id, MessageKind::kAlert).size(), 2u);

  // START lets it receive again.
  ASSERT_TRUE(this->notifier().OptInSms("+4930123456").ok());
  ASSERT_TRUE(this->notifier().OptInSms("+4930123456").ok());
  EXPECT_TRUE(this->notifier().SmsOptOuts()->empty());
  this->MustPublish({Alert("m3", T0() + seconds(4), 3)});
  std::vector<Delivery> after = this->Of(stopped.id, MessageKind::kAlert);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].state, DeliveryState::kPending);
  EXPECT_TRUE(absl::IsInvalidArgument(this->notifier().OptOutSms("", T0())));
}

}  // namespace
}  // namespace stockwatch::contract
