// Message templates in the dispatcher: the in-memory notifier and the dispatcher together,
// with a recording channel. The integration test (tests/integration/test_templates.py)
// drives the real binary, webhook and SMTP channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/memory/in_memory_notifier.h"
#include "core/delivery/dispatcher.h"

namespace stockwatch::core {
namespace {

using adapters::InMemoryNotifier;

class FixedClock final : public Clock {
 public:
  TimePoint Now() override { return now_; }
  std::chrono::steady_clock::time_point Monotonic() override {
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }

 private:
  TimePoint now_ = TimePoint(std::chrono::seconds(1'790'000'000));
};

class Recorder final : public Channel {
 public:
  SendResult Send(const Delivery& delivery) override {
    std::lock_guard lock(mu_);
    sent_.push_back(delivery);
    return {};
  }
  // What was sent since the last call, by delivery id.
  std::vector<Delivery> Take() {
    std::lock_guard lock(mu_);
    std::vector<Delivery> out;
    out.swap(sent_);
    std::sort(out.begin(), out.end(),
              [](const Delivery& a, const Delivery& b) { return a.id < b.id; });
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Delivery> sent_;
};

class TemplateDispatchTest : public ::testing::Test {
 protected:
  int64_t Subscribe(std::string_view topic, Protocol protocol, std::string_view endpoint,
                    DeliverySchedule schedule = {},
                    Confirmation confirmation = Confirmation::kNotRequired) {
    auto s =
        notifier_.Subscribe(topic, protocol, endpoint, clock_.Now(), "", confirmation, schedule);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : 0;
  }
  // A message as the stock checker words it.
  Message Alert(std::string_view topic, std::string_view item, int64_t upload_id = 1) {
    Message m;
    m.id = std::to_string(++sequence_) + "-" + std::string(topic);
    m.topic = std::string(topic);
    m.rule = m.topic;
    m.store = "Berlin";
    m.item = std::string(item);
    m.change_sequence = sequence_;
    m.at = clock_.Now();
    m.upload_id = upload_id;
    if (topic == kTopicLowStock) {
      m.subject = "Low Stock Alert";
      m.old_count = 9;
      m.new_count = 3;
      m.threshold = 5;
      m.body = "Berlin is low on stock of " + m.item + ": 3 left (threshold 5)";
    } else {
      m.subject = "Inventory Alert!";
      m.old_count = 4;
      m.new_count = 0;
      m.body = "Berlin is out of stock of " + m.item;
    }
    return m;
  }
  void Publish(const std::vector<Message>& messages) {
    const uint64_t checkpoint = *notifier_.Checkpoint();
    const absl::Status published = notifier_.Publish(messages, checkpoint, checkpoint + 1);
    ASSERT_TRUE(published.ok()) << published;
  }
  void Dispatch() {
    auto result = dispatcher_.DispatchDue();
    ASSERT_TRUE(result.ok()) << result.status();
  }
  void SetTemplate(std::string_view topic, std::optional<Protocol> protocol,
                   std::string_view subject, std::string_view body) {
    const absl::Status set = notifier_.SetTemplate(topic, protocol, subject, body);
    ASSERT_TRUE(set.ok()) << set;
  }

  FixedClock clock_;
  InMemoryNotifier notifier_{clock_};
  Recorder webhook_;
  Recorder email_;
  Dispatcher dispatcher_{notifier_,
                         {{Protocol::kWebhook, &webhook_}, {Protocol::kEmail, &email_}},
                         clock_,
                         DispatcherOptions{}};
  uint64_t sequence_ = 0;
};

TEST_F(TemplateDispatchTest, TemplatedAlertsReachTheChannelRenderedOthersKeepTheirText) {
  Subscribe("NoStock", Protocol::kWebhook, "http://hook/");
  Subscribe("NoStock", Protocol::kEmail, "ops@example.com");
  Subscribe("LowStock", Protocol::kEmail, "ops@example.com");
  SetTemplate("NoStock", Protocol::kWebhook, "Out: {item}",
              "{store}/{item}/{old_count}->{new_count}");
  SetTemplate("LowStock", std::nullopt, "Low {item}", "{new_count} left, threshold {threshold}");
  ASSERT_NO_FATAL_FAILURE(Publish({Alert("NoStock", "Echo Dot"), Alert("LowStock", "Kindle")}));
  ASSERT_NO_FATAL_FAILURE(Dispatch());

  const std::vector<Delivery> hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].message.subject, "Out: Echo Dot");
  EXPECT_EQ(hooks[0].message.body, "Berlin/Echo Dot/4->0");
  // The rest of the message is as stored.
  EXPECT_EQ(hooks[0].message.store, "Berlin");
  EXPECT_EQ(hooks[0].message.new_count, 0);

  const std::vector<Delivery> mails = email_.Take();
  ASSERT_EQ(mails.size(), 2u);
  // No template for (NoStock, email) nor (NoStock, any): the stored wording, exactly.
  EXPECT_EQ(mails[0].message.subject, "Inventory Alert!");
  EXPECT_EQ(mails[0].message.body, "Berlin is out of stock of Echo Dot");
  // (LowStock, any) applies to email.
  EXPECT_EQ(mails[1].message.subject, "Low Kindle");
  EXPECT_EQ(mails[1].message.body, "3 left, threshold 5");

  // The outbox keeps the stored text: templates apply on the way to the channel.
  auto stored = notifier_.RecentMessages(std::nullopt, 10);
  ASSERT_TRUE(stored.ok());
  for (const Message& m : *stored) {
    EXPECT_TRUE(m.subject == "Inventory Alert!" || m.subject == "Low Stock Alert") << m.subject;
  }
}

TEST_F(TemplateDispatchTest, RemindersKeepTheirOwnWording) {
  Subscribe("NoStock", Protocol::kWebhook, "http://hook/");
  SetTemplate("NoStock", std::nullopt, "Out: {item}", "{store} has no {item}");
  Message reminder = Alert("NoStock", "Echo Dot");
  reminder.id = "reminder-1-1";
  reminder.since = clock_.Now() - std::chrono::hours(6);
  reminder.body = "Berlin is still out of stock of Echo Dot since 2026-11-25T09:00:00.000Z";
  ASSERT_NO_FATAL_FAILURE(Publish({Alert("NoStock", "Echo Dot"), reminder}));
  ASSERT_NO_FATAL_FAILURE(Dispatch());
  const std::vector<Delivery> hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 2u);
  std::vector<std::string> bodies = {hooks[0].message.body, hooks[1].message.body};
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies[0], "Berlin has no Echo Dot");
  EXPECT_EQ(bodies[1], reminder.body);
}

TEST_F(TemplateDispatchTest, ConfirmationsAreNeverTemplated) {
  SetTemplate("NoStock", std::nullopt, "T {store}", "B {item}");
  SetTemplate("NoStock", Protocol::kWebhook, "W {store}", "W {item}");
  Subscribe("NoStock", Protocol::kWebhook, "http://pending/", {}, Confirmation::kRequired);
  auto pending = notifier_.DueDeliveries(clock_.Now(), 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  const Message stored = pending->front().message;
  ASSERT_EQ(stored.kind, MessageKind::kSubscriptionConfirmation);
  ASSERT_NO_FATAL_FAILURE(Dispatch());
  const std::vector<Delivery> hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].message.kind, MessageKind::kSubscriptionConfirmation);
  EXPECT_EQ(hooks[0].message.subject, stored.subject);
  EXPECT_EQ(hooks[0].message.body, stored.body);  // the token
  EXPECT_EQ(hooks[0].message.body.size(), 64u);
}

TEST_F(TemplateDispatchTest, PicksUpTemplateChangesBetweenPasses) {
  Subscribe("NoStock", Protocol::kWebhook, "http://hook/");
  ASSERT_NO_FATAL_FAILURE(Publish({Alert("NoStock", "A")}));
  ASSERT_NO_FATAL_FAILURE(Dispatch());  // loads the (empty) templates
  std::vector<Delivery> hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].message.body, "Berlin is out of stock of A");

  SetTemplate("NoStock", std::nullopt, "{topic}", "{item} is gone");
  ASSERT_NO_FATAL_FAILURE(Publish({Alert("NoStock", "B")}));
  ASSERT_NO_FATAL_FAILURE(Dispatch());
  hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].message.subject, "NoStock");
  EXPECT_EQ(hooks[0].message.body, "B is gone");

  SetTemplate("NoStock", std::nullopt, "{topic}", "{item} is really gone");
  ASSERT_NO_FATAL_FAILURE(Publish({Alert("NoStock", "C")}));
  ASSERT_NO_FATAL_FAILURE(Dispatch());
  hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].message.body, "C is really gone");

  ASSERT_TRUE(notifier_.DeleteTemplate("NoStock", std::nullopt).ok());
  ASSERT_NO_FATAL_FAILURE(Publish({Alert("NoStock", "D")}));
  ASSERT_NO_FATAL_FAILURE(Dispatch());
  hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].message.subject, "Inventory Alert!");
  EXPECT_EQ(hooks[0].message.body, "Berlin is out of stock of D");
}

TEST_F(TemplateDispatchTest, DigestListsEachRenderedBody) {
  Subscribe("NoStock", Protocol::kWebhook, "http://digest/", {"per-upload", "", ""});
  SetTemplate("NoStock", Protocol::kWebhook, "ignored in a digest", "{item}: {old_count}->0");
  ASSERT_NO_FATAL_FAILURE(
      Publish({Alert("NoStock", "A", 7), Alert("NoStock", "B", 7), Alert("NoStock", "C", 7)}));
  ASSERT_NO_FATAL_FAILURE(Dispatch());
  const std::vector<Delivery> hooks = webhook_.Take();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].message.subject, "Stockwatch: 3 alerts (Berlin)");
  EXPECT_EQ(hooks[0].message.body, "A: 4->0\nB: 4->0\nC: 4->0");
}

}  // namespace
}  // namespace stockwatch::core
