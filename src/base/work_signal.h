// WorkSignal wakes a pipeline stage as soon as the stage before it has committed work, so
// no stage polls on an interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace stockwatch::base {

// A level-triggered wake-up: Notify() marks work as pending; Wait() returns at once if
// work is pending (clearing it), otherwise when notified, stopped or at `deadline`.
// Thread-safe.
class WorkSignal {
 public:
  void Notify() {
    {
      std::lock_guard lock(mu_);
      pending_ = true;
    }
    cv_.notify_all();
  }

  // Makes every current and future Wait() return false.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  // Returns false once stopped, true otherwise (work pending or deadline reached).
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    auto ready = [&] { return pending_ || stopped_; };
    // wait_until overflows on time_point::max() in libstdc++, so an unbounded wait waits.
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lock, ready);
    } else {
      cv_.wait_until(lock, deadline, ready);
    }
    pending_ = false;
    return !stopped_;
  }

  bool Wait() { return WaitUntil(std::chrono::steady_clock::time_point::max()); }

  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stopped_ = false;
};

}  // namespace stockwatch::base
