// The stages together over the in-memory adapters: loader rules, checker rules over real
// change records, dispatcher retries, and the threaded pipeline. The channel here is a
// recording test double; the real webhook and SMTP channels are tested against real peers
// in src/adapters/notify/ and tests/integration/.
#include "core/pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "adapters/memory/in_memory_inventory_store.h"
#include "adapters/memory/in_memory_notifier.h"
#include "adapters/memory/in_memory_object_store.h"

namespace stockwatch::core {
namespace {

using adapters::InMemoryInventoryStore;
using adapters::InMemoryNotifier;
using adapters::InMemoryObjectStore;

class ManualClock final : public Clock {
 public:
  TimePoint Now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point Monotonic() override {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  TimePoint now_ = TimePoint(std::chrono::seconds(1'700'000'000));  // in the past
};

// Records deliveries and answers with scripted results (delivered when the script is empty).
class RecordingChannel final : public Channel {
 public:
  SendResult Send(const Delivery& delivery) override {
    std::lock_guard lock(mu_);
    sent_.push_back(delivery);
    cv_.notify_all();
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
  // Waits (bounded) until `n` sends happened.
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return sent_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> sent_;
  std::vector<SendResult> script_;
};

class PipelineTest : public ::testing::Test {
 protected:
  ObjectCreatedEvent Put(const std::string& name, const std::string& content) {
    auto writer = objects_.BeginPut("inventory", name, "test");
    EXPECT_TRUE(writer.ok());
    // Several writes, as an upload arrives.
    for (size_t i = 0; i < content.size(); i += 7) {
      EXPECT_TRUE((*writer)->Write(std::string_view(content).substr(i, 7)).ok());
    }
    auto event = (*writer)->Commit();
    EXPECT_TRUE(event.ok()) << event.status();
    return *event;
  }

  LoadReport LoadOne(const std::string& name, const std::string& content) {
    auto report = loader_.Load(Put(name, content));
    EXPECT_TRUE(report.ok()) << report.status();
    return *report;
  }

  std::vector<Message> Check() {
    auto before = notifier_.RecentMessages(std::nullopt, 100000);
    auto result = checker_.CheckPending();
    EXPECT_TRUE(result.ok()) << result.status();
    auto after = notifier_.RecentMessages(std::nullopt, 100000);
    // Newest first: the new ones are the first (after - before).
    return std::vector<Message>(after->begin(), after->begin() + (after->size() - before->size()));
  }

  int64_t CountOf(const std::string& store, const std::string& item) {
    auto got = inventory_.Get(store, item);
    return got.ok() ? got->count : -1;
  }

  ManualClock clock_;
  InMemoryObjectStore objects_{clock_};
  InMemoryInventoryStore inventory_;
  InMemoryNotifier notifier_{clock_};
  Loader loader_{objects_, inventory_, clock_, LoaderOptions{}};
  Checker checker_{inventory_, inventory_, notifier_, CheckerOptions{}};
};

const char kBerlin[] =
    "store,item,count\n"
    "Berlin,Echo Dot,12\n"
    "Berlin,Echo Plus,0\n"
    "Berlin,Echo Show,18\n";

TEST_F(PipelineTest, LoadsFileAndReportsRows) {
  LoadReport r = LoadOne("inventory-berlin.csv", kBerlin);
  EXPECT_EQ(r.status, LoadStatus::kLoaded);
  EXPECT_EQ(r.rows_read, 3);
  EXPECT_EQ(r.rows_loaded, 3);
  EXPECT_EQ(r.rows_unchanged, 0);
  EXPECT_EQ(CountOf("Berlin", "Echo Show"), 18);
  auto stored = inventory_.GetReport(r.upload_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->rows_loaded, 3);
}

TEST_F(PipelineTest, SameFileAgainChangesNothing) {
  LoadOne("inventory-berlin.csv", kBerlin);
  auto first = Check();
  LoadReport again = LoadOne("inventory-berlin.csv", kBerlin);
  EXPECT_EQ(again.rows_loaded, 0);
  EXPECT_EQ(again.rows_unchanged, 3);
  EXPECT_TRUE(Check().empty());
  EXPECT_EQ(first.size(), 1u);
}

TEST_F(PipelineTest, ApplyingTheSameEventTwiceReturnsTheStoredReport) {
  const ObjectCreatedEvent event = Put("inventory-berlin.csv", kBerlin);
  auto first = loader_.Load(event);
  ASSERT_TRUE(first.ok());
  auto second = loader_.Load(event);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->rows_loaded, 3);
  auto changes = inventory_.Read(0, 100);
  EXPECT_EQ(changes->size(), 3u);
}

TEST_F(PipelineTest, DuplicateRowLastWinsWithWarningOnEarlierLine) {
  LoadReport r = LoadOne("dup.csv",
                         "store,item,count\n"
                         "Berlin,Echo Dot,12\n"
                         "Berlin,Echo Dot,3\n");
  EXPECT_EQ(CountOf("Berlin", "Echo Dot"), 3);
  EXPECT_EQ(r.rows_superseded, 1);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].Format("dup.csv"),
            "dup.csv:2:1: row for store \"Berlin\" and item \"Echo Dot\" is superseded by line 3");
  // One change record for the item, with the final count.
  auto changes = inventory_.Read(0, 100);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].new_count, 3);
}

TEST_F(PipelineTest, BadRowSkippedByDefaultRejectsFileUnderRejectPolicy) {
  const std::string bad =
      "store,item,count\n"
      "Berlin,Echo Dot,12\n"
      "Berlin,Echo Show,1O\n";
  LoadReport skipped = LoadOne("a.csv", bad);
  EXPECT_EQ(skipped.status, LoadStatus::kLoaded);
  EXPECT_EQ(skipped.rows_loaded, 1);
  EXPECT_EQ(skipped.rows_rejected, 1);
  ASSERT_EQ(skipped.errors.size(), 1u);
  EXPECT_EQ(skipped.errors[0].Format("a.csv"), "a.csv:3:18: count \"1O\" is not a whole number");

  InMemoryInventoryStore strict_inventory;
  Loader strict(objects_, strict_inventory, clock_, LoaderOptions{BadRowPolicy::kReject});
  auto r = strict.Load(Put("b.csv", bad));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, LoadStatus::kRejected);
  EXPECT_EQ(r->reject_reason, "b.csv:3:18: count \"1O\" is not a whole number");
  // Nothing of a rejected file is applied, not even its good rows.
  EXPECT_FALSE(strict_inventory.Get("Berlin", "Echo Dot").ok());
  EXPECT_TRUE(strict_inventory.Read(0, 10)->empty());
  EXPECT_TRUE(strict_inventory.GetReport(r->upload_id).ok());
}

TEST_F(PipelineTest, MissingHeaderColumnRejectsFile) {
  LoadReport r = LoadOne("h.csv", "store,item\nBerlin,Echo Dot\n");
  EXPECT_EQ(r.status, LoadStatus::kRejected);
  EXPECT_EQ(r.reject_reason, "h.csv:1:1: missing column \"count\"");
}

TEST_F(PipelineTest, LoadPendingAppliesEventsInOrderOnce) {
  Put("1.csv", "store,item,count\nBerlin,Echo Dot,5\n");
  Put("2.csv", "store,item,count\nBerlin,Echo Dot,7\n");
  auto reports = loader_.LoadPending();
  ASSERT_TRUE(reports.ok());
  EXPECT_EQ(reports->size(), 2u);
  EXPECT_EQ(CountOf("Berlin", "Echo Dot"), 7);
  EXPECT_TRUE(loader_.LoadPending()->empty());
}

TEST_F(PipelineTest, CheckerAlertsOnceForItemStayingAtZero) {
  LoadOne("b1.csv", kBerlin);
  auto first = Check();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].body, "Berlin is out of stock of Echo Plus");
  EXPECT_EQ(first[0].subject, "Inventory Alert!");
  LoadOne("b2.csv", "store,item,count\nBerlin,Echo Plus,0\nBerlin,Echo Dot,11\n");
  EXPECT_TRUE(Check().empty());
}

TEST_F(PipelineTest, FiveThenZeroAlertsAgainAndBackInStockBetween) {
  LoadOne("b1.csv", kBerlin);
  Check();
  LoadOne("b2.csv", "store,item,count\nBerlin,Echo Plus,5\n");
  auto back = Check();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].topic, "BackInStock");
  LoadOne("b3.csv", "store,item,count\nBerlin,Echo Plus,0\n");
  auto out = Check();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].topic, "NoStock");
  EXPECT_EQ(out[0].old_count, 5);
}

TEST_F(PipelineTest, ThresholdCrossingPublishesLowStock) {
  ASSERT_TRUE(inventory_.SetThreshold({std::nullopt, std::string("Echo Dot"), 0}, 5).ok());
  LoadOne("b1.csv", kBerlin);
  Check();
  LoadOne("b2.csv", "store,item,count\nBerlin,Echo Dot,4\n");
  auto low = Check();
  ASSERT_EQ(low.size(), 1u);
  EXPECT_EQ(low[0].topic, "LowStock");
  LoadOne("b3.csv", "store,item,count\nBerlin,Echo Dot,3\n");
  EXPECT_TRUE(Check().empty());
}

TEST_F(PipelineTest, CheckerCopiesAlertsToTheUserTopicsOfTheirRule) {
  ASSERT_TRUE(
      notifier_.CreateTopic("BerlinOutages", {"NoStock"}, R"({"store":["Berlin"]})", clock_.Now())
          .ok());
  ASSERT_TRUE(notifier_.CreateTopic("Restocks", {"BackInStock"}, "", clock_.Now()).ok());
  LoadOne("b1.csv", kBerlin + std::string("Paris,Echo Plus,0\n"));
  std::vector<Message> published = Check();
  std::sort(published.begin(), published.end(),
            [](const Message& a, const Message& b) { return a.id < b.id; });
  ASSERT_EQ(published.size(), 3u);     // Berlin and Paris NoStock, and Berlin's copy
  const Message& copy = published[0];  // "<seq>-BerlinOutages" sorts before "<seq>-NoStock"
  const Message& original = published[1];
  EXPECT_EQ(original.topic, "NoStock");
  EXPECT_EQ(original.store, "Berlin");
  EXPECT_EQ(copy.topic, "BerlinOutages");
  EXPECT_EQ(copy.id, std::to_string(original.change_sequence) + "-BerlinOutages");
  EXPECT_EQ(copy.rule, "NoStock");
  EXPECT_EQ(copy.body, "Berlin is out of stock of Echo Plus");
  EXPECT_EQ(copy.subject, original.subject);
  EXPECT_EQ(copy.upload_id, original.upload_id);
  EXPECT_EQ(published[2].store, "Paris");
  EXPECT_EQ(published[2].topic, "NoStock");
  // Deleted topics get nothing more.
  ASSERT_TRUE(notifier_.DeleteTopic("BerlinOutages").ok());
  LoadOne("b2.csv", "store,item,count\nBerlin,Echo Plus,4\nBerlin,Echo Dot,0\n");
  std::vector<Message> next = Check();
  ASSERT_EQ(next.size(), 3u);
  std::vector<std::string> topics;
  for (const Message& m : next) topics.push_back(m.topic);
  std::sort(topics.begin(), topics.end());
  EXPECT_EQ(topics, (std::vector<std::string>{"BackInStock", "NoStock", "Restocks"}));
}

TEST_F(PipelineTest, DispatcherRetriesThenDeliversAndKeepsPermanentFailures) {
  RecordingChannel channel;
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel}}, clock_, DispatcherOptions{},
                        /*seed=*/3);
  ASSERT_TRUE(notifier_.Subscribe("NoStock", Protocol::kWebhook, "http://a/", clock_.Now()).ok());
  ASSERT_TRUE(
      notifier_.Subscribe("NoStock", Protocol::kEmail, "ops@example.com", clock_.Now()).ok());
  channel.Script({{SendResult::Kind::kRetryable, "http 503", std::chrono::seconds(2)}});
  LoadOne("b1.csv", kBerlin);
  Check();

  auto round1 = dispatcher.DispatchDue();
  ASSERT_TRUE(round1.ok());
  EXPECT_EQ(round1->retried, 1u);
  // No email channel is configured: that delivery is kept as failed, not dropped.
  EXPECT_EQ(round1->failed, 1u);
  ASSERT_TRUE(round1->next_due.has_value());
  EXPECT_GE(*round1->next_due, clock_.Now() + std::chrono::seconds(2));  // Retry-After

  // Not due yet: nothing is sent.
  EXPECT_EQ(dispatcher.DispatchDue()->delivered, 0u);
  clock_.Advance(
      std::chrono::duration_cast<std::chrono::milliseconds>(*round1->next_due - clock_.Now()) +
      std::chrono::milliseconds(1));
  auto round2 = dispatcher.DispatchDue();
  EXPECT_EQ(round2->delivered, 1u);
  EXPECT_FALSE(round2->next_due.has_value());
  const auto sent = channel.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].id, sent[1].id);  // the same delivery id: an idempotency key
  auto failed = notifier_.Deliveries(DeliveryState::kFailed, 10);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_NE((*failed)[0].last_error.find("no channel configured"), std::string::npos);
}

// Delivers everything; sends to "http://slow/" block until Release(). Counts the sends
// running at once.
class GatedChannel final : public Channel {
 public:
  SendResult Send(const Delivery& delivery) override {
    std::unique_lock lock(mu_);
    ++running_;
    max_running_ = std::max(max_running_, running_);
    if (delivery.subscription.endpoint == "http://slow/") {
      cv_.wait(lock, [&] { return released_; });
    } else {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      lock.lock();
    }
    --running_;
    sent_.push_back(delivery.id);
    if (delivery.subscription.endpoint != "http://slow/") ++fast_;
    cv_.notify_all();
    return {};
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool WaitForFast(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return fast_ >= n; });
  }
  std::vector<int64_t> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }
  int max_running() {
    std::lock_guard lock(mu_);
    return max_running_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int running_ = 0;
  int max_running_ = 0;
  size_t fast_ = 0;
  std::vector<int64_t> sent_;
};

// Publishes `n` NoStock messages straight to the notifier, ids `prefix` + number.
void PublishMany(Notifier& notifier, int n, TimePoint at, const std::string& prefix = "m") {
  std::vector<Message> messages;
  for (int i = 0; i < n; ++i) {
    Message m;
    m.id = prefix + std::to_string(i);
    m.topic = std::string(kTopicNoStock);
    m.subject = "Out of stock";
    m.body = "Berlin is out of stock of item " + std::to_string(i);
    m.store = "Berlin";
    m.item = "item " + std::to_string(i);
    m.at = at;
    messages.push_back(std::move(m));
  }
  const uint64_t checkpoint = *notifier.Checkpoint();
  ASSERT_TRUE(notifier.Publish(messages, checkpoint, checkpoint + 1).ok());
}

TEST_F(PipelineTest, DispatcherSendsConcurrentlyAndEachDeliveryOnce) {
  GatedChannel channel;
  channel.Release();
  DispatcherOptions options;
  options.concurrency = 8;
  options.batch = 32;
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel}}, clock_, options);
  ASSERT_TRUE(notifier_.Subscribe("NoStock", Protocol::kWebhook, "http://a/", clock_.Now()).ok());
  PublishMany(notifier_, 200, clock_.Now());
  auto result = dispatcher.DispatchDue();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->delivered, 200u);
  std::vector<int64_t> sent = channel.sent();
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(std::adjacent_find(sent.begin(), sent.end()), sent.end()) << "a delivery sent twice";
  EXPECT_EQ(sent.size(), 200u);
  EXPECT_GT(channel.max_running(), 1);
  EXPECT_LE(channel.max_running(), 8);
  EXPECT_TRUE(notifier_.Deliveries(DeliveryState::kPending, 10)->empty());
}

TEST_F(PipelineTest, ASlowReceiverDoesNotHoldBackTheOthers) {
  GatedChannel channel;
  DispatcherOptions options;
  options.concurrency = 8;
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel}}, clock_, options);
  ASSERT_TRUE(
      notifier_.Subscribe("NoStock", Protocol::kWebhook, "http://slow/", clock_.Now()).ok());
  ASSERT_TRUE(
      notifier_.Subscribe("NoStock", Protocol::kWebhook, "http://fast/", clock_.Now()).ok());
  PublishMany(notifier_, 3, clock_.Now());
  absl::StatusOr<DispatchResult> result;
  std::thread round([&] { result = dispatcher.DispatchDue(); });
  // Three of the eight workers are stuck on the slow receiver; the others deliver the fast
  // ones, including those of messages published while the round runs.
  ASSERT_TRUE(channel.WaitForFast(3));
  PublishMany(notifier_, 2, clock_.Now(), "late");
  ASSERT_TRUE(channel.WaitForFast(5));
  EXPECT_EQ(channel.sent().size(), 5u) << "nothing of the slow receiver got through yet";
  channel.Release();
  round.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->delivered, 10u);
}

TEST_F(PipelineTest, RetryScheduleStaysWithinItsBoundsOnAVirtualClock) {
  RecordingChannel channel;
  DispatcherOptions options;
  RetryPolicy& policy = options.policies[Protocol::kWebhook];
  policy.max_attempts = 40;
  policy.max_age = std::chrono::hours(24);
  policy.initial_backoff = std::chrono::milliseconds(1000);
  policy.max_backoff = std::chrono::minutes(10);
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel}}, clock_, options, 11);
  ASSERT_TRUE(notifier_.Subscribe("NoStock", Protocol::kWebhook, "http://a/", clock_.Now()).ok());
  PublishMany(notifier_, 1, clock_.Now());
  std::vector<SendResult> failures(100, SendResult{SendResult::Kind::kRetryable, "http 503", {}});
  channel.Script(failures);

  const TimePoint start = clock_.Now();
  int attempts = 0;
  while (true) {
    auto round = dispatcher.DispatchDue();
    ASSERT_TRUE(round.ok()) << round.status();
    ASSERT_EQ(round->delivered, 0u);
    ++attempts;
    if (round->failed == 1) break;
    ASSERT_EQ(round->retried, 1u);
    ASSERT_TRUE(round->next_due.has_value());
    const auto delay = *round->next_due - clock_.Now();
    const int64_t cap_ms = std::min<int64_t>(600'000, int64_t{1000} << std::min(attempts - 1, 30));
    ASSERT_GE(delay, std::chrono::milliseconds(0)) << "attempt " << attempts;
    ASSERT_LE(delay, std::chrono::milliseconds(cap_ms)) << "attempt " << attempts;
    clock_.Advance(std::chrono::duration_cast<std::chrono::milliseconds>(delay) +
                   std::chrono::milliseconds(1));
    ASSERT_LT(attempts, 100);
  }
  // Gave up at the attempt limit, or when the next retry would pass the age limit.
  EXPECT_LE(attempts, 40);
  if (attempts < 40) {
    EXPECT_GT(clock_.Now() - start, std::chrono::hours(20));
  }
  auto failed = notifier_.Deliveries(DeliveryState::kFailed, 10);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_NE((*failed)[0].last_error.find("gave up after"), std::string::npos);
  EXPECT_EQ(notifier_.Attempts((*failed)[0].id)->size(), static_cast<size_t>(attempts));
}

TEST_F(PipelineTest, ThreadedPipelineDeliversAnAlertAfterAnUpload) {
  SystemClock real_clock;
  RecordingChannel channel;
  Dispatcher dispatcher(notifier_, {{Protocol::kWebhook, &channel}}, real_clock,
                        DispatcherOptions{});
  Loader loader(objects_, inventory_, real_clock, LoaderOptions{});
  ASSERT_TRUE(
      notifier_.Subscribe("NoStock", Protocol::kWebhook, "http://a/", real_clock.Now()).ok());
  Pipeline pipeline(loader, checker_, dispatcher, real_clock);
  pipeline.Start();
  Put("inventory-berlin.csv", kBerlin);
  pipeline.loader_wakeup().Notify();
  ASSERT_TRUE(channel.WaitFor(1));
  EXPECT_EQ(channel.sent()[0].message.body, "Berlin is out of stock of Echo Plus");
  pipeline.Stop();
}

}  // namespace
}  // namespace stockwatch::core
