#include "core/pipeline/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/metrics.h"

namespace stockwatch::core {
namespace {

// After a failed round (a store unavailable, a disk full) a stage waits this long before
// trying again, unless woken earlier by new work.
constexpr std::chrono::seconds kErrorPause{1};

}  // namespace

Pipeline::Pipeline(Loader& loader, Checker& checker, Dispatcher& dispatcher, Clock& clock)
    : loader_(loader), checker_(checker), dispatcher_(dispatcher), clock_(clock) {}

Pipeline::~Pipeline() { Stop(); }

void Pipeline::Start() {
  load_signal_.Notify();
  check_signal_.Notify();
  deliver_signal_.Notify();
  load_thread_ = std::thread([this] { RunLoader(); });
  check_thread_ = std::thread([this] { RunChecker(); });
  deliver_thread_ = std::thread([this] { RunDispatcher(); });
}

void Pipeline::Stop() {
  load_signal_.Stop();
  check_signal_.Stop();
  deliver_signal_.Stop();
  for (std::thread* t : {&load_thread_, &check_thread_, &deliver_thread_}) {
    if (t->joinable()) t->join();
  }
}

void Pipeline::RunLoader() {
  auto& metrics = base::Metrics::Get();
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (load_signal_.WaitUntil(deadline)) {
    deadline = std::chrono::steady_clock::time_point::max();
    auto reports = loader_.LoadPending();
    if (!reports.ok()) {
      spdlog::error("loader: {}", reports.status().ToString());
      deadline = std::chrono::steady_clock::now() + kErrorPause;
      continue;
    }
    for (const LoadReport& r : *reports) {
      if (r.status == LoadStatus::kLoaded) {
        metrics.uploads_loaded.fetch_add(1, std::memory_order_relaxed);
      } else {
        metrics.uploads_rejected.fetch_add(1, std::memory_order_relaxed);
      }
      metrics.rows_loaded.fetch_add(static_cast<uint64_t>(r.rows_loaded));
      metrics.rows_unchanged.fetch_add(static_cast<uint64_t>(r.rows_unchanged));
      metrics.rows_rejected.fetch_add(static_cast<uint64_t>(r.rows_rejected));
      metrics.load_seconds.Observe(std::chrono::duration<double>(r.duration_us / 1e6).count());
      spdlog::info("loaded upload {} ({}): {} rows read, {} loaded, {} unchanged, {} rejected",
                   r.upload_id, LoadStatusName(r.status), r.rows_read, r.rows_loaded,
                   r.rows_unchanged, r.rows_rejected);
    }
    if (!reports->empty()) check_signal_.Notify();
  }
}

void Pipeline::RunChecker() {
  auto& metrics = base::Metrics::Get();
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (check_signal_.WaitUntil(deadline)) {
    deadline = std::chrono::steady_clock::time_point::max();
    const auto started = clock_.Monotonic();
    auto result = checker_.CheckPending();
    if (!result.ok()) {
      spdlog::error("checker: {}", result.status().ToString());
      deadline = std::chrono::steady_clock::now() + kErrorPause;
      continue;
    }
    if (result->records == 0) continue;
    metrics.changes_checked.fetch_add(result->records, std::memory_order_relaxed);
    metrics.alerts_published.fetch_add(result->messages, std::memory_order_relaxed);
    metrics.check_seconds.Observe(
        std::chrono::duration<double>(clock_.Monotonic() - started).count());
    if (result->messages > 0) deliver_signal_.Notify();
  }
}

void Pipeline::RunDispatcher() {
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (deliver_signal_.WaitUntil(deadline)) {
    deadline = std::chrono::steady_clock::time_point::max();
    auto result = dispatcher_.DispatchDue();
    if (!result.ok()) {
      spdlog::error("dispatcher: {}", result.status().ToString());
      deadline = std::chrono::steady_clock::now() + kErrorPause;
      continue;
    }
    if (result->next_due) {
      // Wall-clock due time to a monotonic deadline, so clock jumps do not stall retries.
      const auto wait = std::max<std::chrono::system_clock::duration>(
          *result->next_due - clock_.Now(), std::chrono::milliseconds(1));
      deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait);
    }
  }
}

}  // namespace stockwatch::core
