#pragma once

#include <chrono>

#include "core/model/types.h"

namespace stockwatch::core {

// Wall-clock time for records and monotonic time for waiting and backoff. Tests inject a
// manual clock. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() = 0;
  virtual std::chrono::steady_clock::time_point Monotonic() = 0;
};

// The real clocks.
class SystemClock final : public Clock {
 public:
  TimePoint Now() override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Monotonic() override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace stockwatch::core
