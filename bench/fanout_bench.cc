// Fan-out: N alerts to one webhook subscription on loopback, through the real pieces: the
// SQLite outbox (SqliteNotifier), the concurrent Dispatcher and the libcurl WebhookChannel,
// to a Beast receiver (the server layer's HttpServer) that answers 204. Goal (issue #4):
// 10,000 alerts delivered at 5,000 per second or more, memory bounded.
//
// Counters: `alerts_per_s` (delivered alerts per wall-clock second, publish excluded) and
// `rss_growth_mib` (resident set growth over the run). Both processes share the machine's
// cores, so the figure includes the receiver's cost.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "adapters/notify/webhook_channel.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_notifier.h"
#include "core/delivery/dispatcher.h"
#include "core/ports/clock.h"
#include "server/http_server.h"
#include "server/router.h"

namespace stockwatch {
namespace {

class NowClock final : public core::Clock {
 public:
  core::TimePoint Now() override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Monotonic() override {
    return std::chrono::steady_clock::now();
  }
};

// Reads the body (so the connection stays reusable) and answers 204.
class Receiver final : public server::RequestHandler {
 public:
  server::HttpResponse Handle(server::HttpRequest& request) override {
    (void)server::ReadWholeBody(*request.body, 1 << 20);
    received.fetch_add(1, std::memory_order_relaxed);
    server::HttpResponse response;
    response.status = 204;
    response.content_type.clear();
    return response;
  }
  server::HttpResponse ErrorFor(const absl::Status&, const std::string&) override {
    server::HttpResponse response;
    response.status = 500;
    return response;
  }
  std::atomic<int64_t> received{0};
};

double RssMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

void BM_WebhookFanOut(benchmark::State& state) {
  const int alerts = static_cast<int>(state.range(0));
  const size_t concurrency = static_cast<size_t>(state.range(1));
  NowClock clock;
  Receiver receiver;
  server::ServerOptions server_options;
  server_options.listen = "127.0.0.1:0";
  server_options.max_connections = 1024;
  server::HttpServer http(receiver, server_options);
  if (!http.Start().ok()) {
    state.SkipWithError("receiver did not start");
    return;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(http.port()) + "/hook";
  adapters::WebhookChannelOptions channel_options;
  channel_options.allow_private_targets = true;  // the receiver is on loopback
  channel_options.max_idle_handles = concurrency;
  adapters::WebhookChannel channel(channel_options);

  int round = 0;
  double rss_growth = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const auto dir = std::filesystem::temp_directory_path() /
                     ("sw_fanout_" + std::to_string(::getpid()) + "_" + std::to_string(round++));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto db = adapters::SqliteDatabase::Open(dir.string());
    if (!db.ok()) {
      state.SkipWithError("cannot open the database");
      return;
    }
    auto notifier = *adapters::SqliteNotifier::Open(*db, clock);
    (void)notifier->Subscribe("NoStock", core::Protocol::kWebhook, url, clock.Now());
    std::vector<core::Message> messages;
    for (int i = 0; i < alerts; ++i) {
      core::Message m;
      m.id = "m" + std::to_string(i);
      m.topic = "NoStock";
      m.subject = "Out of stock";
      m.body = "Berlin is out of stock of item " + std::to_string(i);
      m.store = "Berlin";
      m.item = "item " + std::to_string(i);
      m.new_count = 0;
      m.at = clock.Now();
      messages.push_back(std::move(m));
    }
    const uint64_t checkpoint = *notifier->Checkpoint();
    if (!notifier->Publish(messages, checkpoint, checkpoint + 1).ok()) {
      state.SkipWithError("publish failed");
      return;
    }
    core::DispatcherOptions options;
    options.concurrency = concurrency;
    core::Dispatcher dispatcher(*notifier, {{core::Protocol::kWebhook, &channel}}, clock, options);
    const double rss_before = RssMiB();
    state.ResumeTiming();

    auto result = dispatcher.DispatchDue();

    state.PauseTiming();
    rss_growth = std::max(rss_growth, RssMiB() - rss_before);
    if (!result.ok() || result->delivered != static_cast<size_t>(alerts)) {
      state.SkipWithError("not every alert was delivered");
      return;
    }
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["alerts_per_s"] =
      benchmark::Counter(static_cast<double>(alerts) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["rss_growth_mib"] = rss_growth;
  http.Stop();
}
BENCHMARK(BM_WebhookFanOut)
    ->Args({10000, 16})
    ->Args({10000, 32})
    ->Args({10000, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace stockwatch
