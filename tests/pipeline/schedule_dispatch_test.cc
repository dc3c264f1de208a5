// Digests, quiet hours and throttling: the loader, checker, in-memory notifier and
// dispatcher together on a virtual clock. The channel is a recording test double; the
// integration test drives the real binary and webhook channel.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <mutex>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "adapters/memory/in_memory_inventory_store.h"
#include "adapters/memory/in_memory_notifier.h"
#include "adapters/memory/in_memory_object_store.h"
#include "core/checker/checker.h"
#include "core/delivery/dispatcher.h"
#include "core/loader/loader.h"

namespace stockwatch::core {
namespace {

using adapters::InMemoryInventoryStore;
using adapters::InMemoryNotifier;
using adapters::InMemoryObjectStore;

TimePoint Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return std::chrono::time_point_cast<TimePoint::duration>(absl::ToChronoTime(
      absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone())));
}

class VirtualClock final : public Clock {
 public:
  TimePoint Now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point Monotonic() override {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Set(TimePoint t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }
  void Advance(TimePoint::duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  TimePoint now_ = Utc(2026, 1, 10, 12, 2);
};

class Recorder final : public Channel {
 public:
  SendResult Send(const Delivery& delivery) override {
    std::lock_guard lock(mu_);
    sent_.push_back(delivery);
    if (script_.empty()) return {};
    SendResult r = script_.front();
    script_.erase(script_.begin());
    return r;
  }
  void Script(std::vector<SendResult> results) {
    std::lock_guard lock(mu_);
    script_ = std::move(results);
  }
  std::vector<Delivery> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;
  std::vector<Delivery> sent_;
  std::vector<SendResult> script_;
};

// "store,item,count" with `n` items of `store` at `count`.
std::string Csv(const std::string& store, int n, int count, const std::string& prefix = "Item") {
  std::string out = "store,item,count\n";
  for (int i = 0; i < n; ++i) {
    out += store + "," + prefix + " " + std::to_string(i) + "," + std::to_string(count) + "\n";
  }
  return out;
}

size_t Lines(const std::string& text) {
  return text.empty() ? 0 : static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

class ScheduleDispatchTest : public ::testing::Test {
 protected:
  void Upload(const std::string& name, const std::string& content) {
    auto writer = objects_.BeginPut("inventory", name, "test");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(content).ok());
    auto event = (*writer)->Commit();
    ASSERT_TRUE(event.ok()) << event.status();
    auto report = loader_.Load(*event);
    ASSERT_TRUE(report.ok()) << report.status();
  }
  void Check(Checker& checker) {
    auto result = checker.CheckPending();
    ASSERT_TRUE(result.ok()) << result.status();
  }
  int64_t Subscribe(Protocol protocol, const std::string& endpoint, DeliverySchedule schedule,
                    const std::string& topic = "NoStock") {
    auto s = notifier_.Subscribe(topic, protocol, endpoint, clock_.Now(), "",
                                 Confirmation::kNotRequired, schedule);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id : 0;
  }
  DispatchResult Dispatch(Dispatcher& dispatcher) {
    auto result = dispatcher.DispatchDue();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : DispatchResult{};
  }
  std::vector<Delivery> In(DeliveryState state) {
    auto found = notifier_.Deliveries(state, 100000);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() ? *std::move(found) : std::vector<Delivery>();
  }
  size_t Pending() { return notifier_.Deliveries(DeliveryState::kPending, 100000)->size(); }
  size_t Delivered() { return notifier_.Deliveries(DeliveryState::kDelivered, 100000)->size(); }

  VirtualClock clock_;
  InMemoryObjectStore objects_{clock_};
  InMemoryInventoryStore inventory_;
  InMemoryNotifier notifier_{clock_};
  Loader loader_{objects_, inventory_, clock_, LoaderOptions{}};
  Checker checker_{inventory_, inventory_, notifier_, CheckerOptions{}};
  Recorder channel_;
};

TEST_F(ScheduleDispatchTest, PerUploadDigestSendsOneMessageForAFileOf500Alerts) {
  Subscribe(Protocol::kWebhook, "http://digest/", {"per-upload", "", ""});
  Subscribe(Protocol::kWebhook, "http://each/", {});
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel_}}, clock_, {});
  Upload("berlin.csv", Csv("Berlin", 500, 0));
  Check(checker_);
  DispatchResult result = Dispatch(dispatcher);
  EXPECT_EQ(result.delivered, 1000u);
  EXPECT_EQ(Pending(), 0u);
  std::vector<Delivery> digests;
  size_t singles = 0;
  for (const Delivery& d : channel_.sent()) {
    if (d.subscription.endpoint == "http://digest/") {
      digests.push_back(d);
    } else {
      ++singles;
    }
  }
  EXPECT_EQ(singles, 500u) << "an immediate subscription still gets one message per alert";
  ASSERT_EQ(digests.size(), 1u);
  EXPECT_EQ(digests[0].message.subject, "Stockwatch: 500 alerts (Berlin)");
  EXPECT_EQ(Lines(digests[0].message.body), 500u);
  // The key is the smallest delivery id of the group.
  int64_t smallest = INT64_MAX;
  for (const Delivery& d : In(DeliveryState::kDelivered)) {
    if (d.subscription.endpoint == "http://digest/") smallest = std::min(smallest, d.id);
  }
  EXPECT_EQ(digests[0].id, smallest);

  // The next file is its own digest.
  Upload("hamburg.csv", Csv("Hamburg", 3, 0));
  Check(checker_);
  Dispatch(dispatcher);
  size_t hamburg = 0;
  for (const Delivery& d : channel_.sent()) {
    if (d.subscription.endpoint == "http://digest/" && d.message.store == "Hamburg") {
      ++hamburg;
      EXPECT_EQ(d.message.subject, "Stockwatch: 3 alerts (Hamburg)");
    }
  }
  EXPECT_EQ(hamburg, 1u);
}

// A change stream that runs `before_read` before every read: the dispatcher then runs
// between the checker's Publish calls, as the stage threads may interleave.
class InterleavingStream final : public ChangeStream {
 public:
  InterleavingStream(ChangeStream& inner, std::function<void()> before_read)
      : inner_(inner), before_read_(std::move(before_read)) {}
  absl::StatusOr<std::vector<ChangeRecord>> Read(uint64_t after, size_t limit) override {
    before_read_();
    return inner_.Read(after, limit);
  }
  absl::StatusOr<std::vector<ChangeRecord>> ItemHistory(std::string_view store,
                                                        std::string_view item,
                                                        size_t limit) override {
    return inner_.ItemHistory(store, item, limit);
  }

 private:
  ChangeStream& inner_;
  std::function<void()> before_read_;
};

TEST_F(ScheduleDispatchTest, CheckerPublishesUploadsWholeSoDigestsDoNotSplit) {
  Subscribe(Protocol::kWebhook, "http://digest/", {"per-upload", "", ""});
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel_}}, clock_, {});
  InterleavingStream stream(inventory_, [&] { Dispatch(dispatcher); });
  // Batches of 10 change records: the 25-item upload is longer than a batch, the others
  // straddle batch ends.
  Checker small_batches(stream, inventory_, notifier_, CheckerOptions{10});
  Upload("first.csv", Csv("Berlin", 25, 0));
  Upload("second.csv", Csv("Paris", 5, 0));
  Upload("third.csv", Csv("Rome", 7, 0));
  Upload("fourth.csv", Csv("Oslo", 1, 0));
  Check(small_batches);
  Dispatch(dispatcher);
  std::vector<size_t> sizes;
  for (const Delivery& d : channel_.sent()) sizes.push_back(Lines(d.message.body));
  // Sends run on concurrent workers, so they may finish in any order.
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 5, 7, 25}));
  const std::vector<Message> messages = *notifier_.RecentMessages(std::nullopt, 1000);
  for (const Message& m : messages) {
    EXPECT_GT(m.upload_id, 0) << m.id;
  }
}

TEST_F(ScheduleDispatchTest, WindowDigestIsHeldUntilTheWindowEnds) {
  clock_.Set(Utc(2026, 1, 10, 12, 2));
  Subscribe(Protocol::kEmail, "ops@example.com", {"5m", "", ""});
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, {});
  Upload("a.csv", Csv("Berlin", 4, 0));
  Check(checker_);
  DispatchResult first = Dispatch(dispatcher);
  EXPECT_EQ(first.deferred, 4u);
  EXPECT_TRUE(channel_.sent().empty());
  ASSERT_TRUE(first.next_due.has_value());
  EXPECT_EQ(*first.next_due, Utc(2026, 1, 10, 12, 5));
  // Held, not attempted.
  for (const Delivery& d : In(DeliveryState::kPending)) {
    EXPECT_EQ(d.attempts, 0);
  }
  // More alerts in the same window join the digest.
  clock_.Set(Utc(2026, 1, 10, 12, 4));
  Upload("b.csv", Csv("Paris", 2, 0));
  Check(checker_);
  Dispatch(dispatcher);
  EXPECT_TRUE(channel_.sent().empty());
  clock_.Set(Utc(2026, 1, 10, 12, 5));
  DispatchResult due = Dispatch(dispatcher);
  EXPECT_EQ(due.delivered, 6u);
  ASSERT_EQ(channel_.sent().size(), 1u);
  EXPECT_EQ(channel_.sent()[0].message.subject, "Stockwatch: 6 alerts (Berlin, Paris)");
}

TEST_F(ScheduleDispatchTest, ChangedScheduleIsFollowedByARunningDispatcher) {
  clock_.Set(Utc(2026, 1, 10, 12, 2));
  const int64_t id = Subscribe(Protocol::kEmail, "ops@example.com", {});
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, {});
  Upload("a.csv", Csv("Berlin", 2, 0));
  Check(checker_);
  EXPECT_EQ(Dispatch(dispatcher).delivered, 2u);  // immediate: the dispatcher has seen it

  // Now a window digest: the same dispatcher holds the next alerts until the window ends.
  SubscriptionUpdate update;
  update.digest = "1h";
  ASSERT_TRUE(notifier_.UpdateSubscription(id, update).ok());
  Upload("b.csv", Csv("Paris", 3, 0));
  Check(checker_);
  DispatchResult held = Dispatch(dispatcher);
  EXPECT_EQ(held.delivered, 0u);
  EXPECT_EQ(held.deferred, 3u);
  ASSERT_TRUE(held.next_due.has_value());
  EXPECT_EQ(*held.next_due, Utc(2026, 1, 10, 13, 0));
  EXPECT_EQ(channel_.sent().size(), 2u);

  // And quiet hours added later hold the digest past its window end.
  SubscriptionUpdate quiet;
  quiet.quiet_hours = "12:30-14:00";
  ASSERT_TRUE(notifier_.UpdateSubscription(id, quiet).ok());
  clock_.Set(Utc(2026, 1, 10, 13, 0));
  DispatchResult quieted = Dispatch(dispatcher);
  EXPECT_EQ(quieted.delivered, 0u);
  ASSERT_TRUE(quieted.next_due.has_value());
  EXPECT_EQ(*quieted.next_due, Utc(2026, 1, 10, 14, 0));
  clock_.Set(Utc(2026, 1, 10, 14, 0));
  EXPECT_EQ(Dispatch(dispatcher).delivered, 3u);
  ASSERT_EQ(channel_.sent().size(), 3u);
  EXPECT_EQ(channel_.sent()[2].message.subject, "Stockwatch: 3 alerts (Paris)");
}

TEST_F(ScheduleDispatchTest, DigestFailureIsRetriedForEveryDeliveryWithTheSameKey) {
  Subscribe(Protocol::kWebhook, "http://digest/", {"per-upload", "", ""});
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel_}}, clock_, {}, 3);
  channel_.Script({SendResult{SendResult::Kind::kRetryable, "http 503", std::nullopt}});
  Upload("a.csv", Csv("Berlin", 10, 0));
  Check(checker_);
  DispatchResult failed = Dispatch(dispatcher);
  EXPECT_EQ(failed.retried, 10u);
  for (const Delivery& d : In(DeliveryState::kPending)) {
    EXPECT_EQ(d.attempts, 1);
    EXPECT_EQ(d.last_error, "http 503");
  }
  ASSERT_TRUE(failed.next_due.has_value());
  clock_.Set(*failed.next_due);
  DispatchResult retried = Dispatch(dispatcher);
  EXPECT_EQ(retried.delivered, 10u);
  ASSERT_EQ(channel_.sent().size(), 2u);
  EXPECT_EQ(channel_.sent()[0].id, channel_.sent()[1].id);
  EXPECT_EQ(Lines(channel_.sent()[1].message.body), 10u);
}

TEST_F(ScheduleDispatchTest, QuietHoursHoldUntilTheyEndUnlessTheTopicIsUrgent) {
  // 21:30 UTC is 22:30 in Berlin (CET): inside 22:00-07:00.
  clock_.Set(Utc(2026, 1, 10, 21, 30));
  Subscribe(Protocol::kEmail, "night@example.com", {"", "22:00-07:00", "Europe/Berlin"});
  Subscribe(Protocol::kEmail, "back@example.com", {"", "22:00-07:00", "Europe/Berlin"},
            "BackInStock");
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, {});
  ASSERT_TRUE(notifier_.SetTopicUrgent("BackInStock", true).ok());
  Upload("a.csv", Csv("Berlin", 2, 0));
  Check(checker_);
  Upload("b.csv", Csv("Berlin", 2, 5));
  Check(checker_);
  DispatchResult night = Dispatch(dispatcher);
  EXPECT_EQ(night.deferred, 2u);
  EXPECT_EQ(night.delivered, 2u);  // BackInStock is urgent
  for (const Delivery& d : channel_.sent()) EXPECT_EQ(d.message.topic, "BackInStock");
  ASSERT_TRUE(night.next_due.has_value());
  EXPECT_EQ(*night.next_due, Utc(2026, 1, 11, 6, 0));  // 07:00 CET
  clock_.Set(Utc(2026, 1, 11, 5, 59));
  EXPECT_EQ(Dispatch(dispatcher).delivered, 0u);
  clock_.Set(Utc(2026, 1, 11, 6, 0));
  EXPECT_EQ(Dispatch(dispatcher).delivered, 2u);
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(notifier_.UrgentTopics()->size(), 1u);
}

TEST_F(ScheduleDispatchTest, EmailsToOneAddressAreThrottledNotFailed) {
  Subscribe(Protocol::kEmail, "ops@example.com", {});
  Subscribe(Protocol::kEmail, "other@example.com", {}, "LowStock");
  DispatcherOptions options;
  options.email_rate_per_address = 10;
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, options);
  Upload("a.csv", Csv("Berlin", 25, 0));
  Check(checker_);
  DispatchResult first = Dispatch(dispatcher);
  EXPECT_EQ(first.delivered, 10u);
  EXPECT_EQ(first.deferred, 15u);
  for (const Delivery& d : In(DeliveryState::kPending)) {
    EXPECT_EQ(d.attempts, 0) << "a deferral is not an attempt";
  }
  ASSERT_TRUE(first.next_due.has_value());
  EXPECT_GT(*first.next_due, clock_.Now());
  EXPECT_LE(*first.next_due, clock_.Now() + std::chrono::milliseconds(100));
  // Over each virtual second at most 10 go out, and all go out in the end.
  size_t rounds = 0;
  while (Pending() > 0) {
    clock_.Advance(std::chrono::seconds(1));
    EXPECT_EQ(Dispatch(dispatcher).delivered, std::min<size_t>(10, 15 - rounds * 10));
    ASSERT_LT(++rounds, 5u);
  }
  EXPECT_EQ(rounds, 2u);
  EXPECT_EQ(Delivered(), 25u);
  EXPECT_EQ(notifier_.Deliveries(DeliveryState::kFailed, 10)->size(), 0u);
}

// Deliveries that wait for the rate limit keep their place: retries of failed ones, due
// again and again after a short backoff, must not take every free slot from them.
TEST_F(ScheduleDispatchTest, ThrottledDeliveriesAreServedInTurnNotStarvedByRetries) {
  Subscribe(Protocol::kEmail, "ops@example.com", {});
  DispatcherOptions options;
  options.email_rate_per_address = 10;
  RetryPolicy fast;
  fast.max_attempts = 1000;
  fast.initial_backoff = std::chrono::milliseconds(10);
  fast.max_backoff = std::chrono::milliseconds(50);
  options.policies[Protocol::kEmail] = fast;
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, options);
  // The server is down: every send fails and is retried soon.
  channel_.Script(std::vector<SendResult>(
      5000, SendResult{SendResult::Kind::kRetryable, "connection refused", std::nullopt}));
  Upload("a.csv", Csv("Berlin", 30, 0));
  Check(checker_);
  // 30 first attempts at 10 per second take 3 s; give them 4 in 50 ms steps.
  for (int step = 0; step < 80; ++step) {
    Dispatch(dispatcher);
    clock_.Advance(std::chrono::milliseconds(50));
  }
  const std::vector<Delivery> pending = In(DeliveryState::kPending);
  ASSERT_EQ(pending.size(), 30u);
  for (const Delivery& d : pending) {
    EXPECT_GE(d.attempts, 1) << "delivery " << d.id << " never got a slot";
  }
  // And the rate held: at most 10 per second, plus the first burst of 10.
  EXPECT_LE(channel_.sent().size(), 10u + 4 * 10u);
}

TEST_F(ScheduleDispatchTest, ThrottlingIsPerAddress) {
  Subscribe(Protocol::kEmail, "a@example.com", {});
  Subscribe(Protocol::kEmail, "b@example.com", {});
  DispatcherOptions options;
  options.email_rate_per_address = 5;
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, options);
  Upload("a.csv", Csv("Berlin", 8, 0));
  Check(checker_);
  DispatchResult first = Dispatch(dispatcher);
  EXPECT_EQ(first.delivered, 10u);  // 5 to each address
  EXPECT_EQ(first.deferred, 6u);
}

TEST_F(ScheduleDispatchTest, ThrottlingPerChannelSpansEveryEndpoint) {
  Subscribe(Protocol::kEmail, "a@example.com", {});
  Subscribe(Protocol::kEmail, "b@example.com", {});
  Subscribe(Protocol::kEmail, "c@example.com", {});
  DispatcherOptions options;
  options.email_rate_per_address = 0;
  options.rate_per_channel[Protocol::kEmail] = 4;
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, options);
  Upload("a.csv", Csv("Berlin", 4, 0));
  Check(checker_);
  DispatchResult first = Dispatch(dispatcher);
  EXPECT_EQ(first.delivered, 4u);  // 4 per second across the three addresses
  EXPECT_EQ(first.deferred, 8u);
  size_t rounds = 0;
  while (Pending() > 0) {
    clock_.Advance(std::chrono::seconds(1));
    EXPECT_EQ(Dispatch(dispatcher).delivered, 4u);
    ASSERT_LT(++rounds, 5u);
  }
  EXPECT_EQ(rounds, 2u);
  EXPECT_EQ(Delivered(), 12u);
}

TEST_F(ScheduleDispatchTest, ChannelAndEndpointLimitsBothHold) {
  Subscribe(Protocol::kEmail, "a@example.com", {});
  Subscribe(Protocol::kEmail, "b@example.com", {});
  DispatcherOptions options;
  options.email_rate_per_address = 2;
  options.rate_per_channel[Protocol::kEmail] = 3;
  options.rate_per_channel[Protocol::kWebhook] = 1;  // another channel's limit is not ours
  Dispatcher dispatcher(notifier_, {{Protocol::kEmail, &channel_}}, clock_, options);
  Upload("a.csv", Csv("Berlin", 6, 0));
  Check(checker_);
  EXPECT_EQ(Dispatch(dispatcher).delivered, 3u);  // the channel's 3, not the endpoints' 2 + 2
  size_t total = 3;
  while (Pending() > 0) {
    clock_.Advance(std::chrono::seconds(1));
    const size_t sent = Dispatch(dispatcher).delivered;
    EXPECT_LE(sent, 3u);
    total += sent;
    ASSERT_LT(total, 100u);
  }
  EXPECT_EQ(Delivered(), 12u);
  std::map<std::string, size_t> per_address;
  for (const auto& d : channel_.sent()) ++per_address[d.subscription.endpoint];
  EXPECT_EQ(per_address["a@example.com"], 6u);
  EXPECT_EQ(per_address["b@example.com"], 6u);
}

TEST(TokenBucketTest, ReservesSuccessiveSlotsAtItsRate) {
  const TimePoint t0 = Utc(2026, 1, 1, 0, 0);
  TokenBucket bucket(2, t0);
  // A burst of 2 goes at once; then each reservation is the next slot, 1/rate apart.
  EXPECT_EQ(bucket.Reserve(t0), t0);
  EXPECT_EQ(bucket.Reserve(t0), t0);
  EXPECT_EQ(bucket.Reserve(t0), t0 + std::chrono::milliseconds(500));
  EXPECT_EQ(bucket.Reserve(t0), t0 + std::chrono::milliseconds(1000));
  EXPECT_FALSE(bucket.Full(t0 + std::chrono::milliseconds(1500)));
  // The debt is repaid by t0 + 1 s; by t0 + 2 s the burst is back.
  EXPECT_TRUE(bucket.Full(t0 + std::chrono::seconds(2)));
  EXPECT_EQ(bucket.Reserve(t0 + std::chrono::seconds(2)), t0 + std::chrono::seconds(2));
  TokenBucket unlimited(0, t0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(unlimited.Reserve(t0), t0);
}

}  // namespace
}  // namespace stockwatch::core
