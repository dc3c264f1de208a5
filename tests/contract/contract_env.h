// Helpers shared by the contract suites: temp dirs, a manual clock, fixed times.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/sqlite/sqlite_database.h"
#include "core/ports/clock.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sw_contract_XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A clock tests move by hand.
class ManualClock final : public core::Clock {
 public:
  explicit ManualClock(core::TimePoint now) : now_(now) {}
  core::TimePoint Now() override { return now_; }
  std::chrono::steady_clock::time_point Monotonic() override {
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Advance(std::chrono::microseconds by) { now_ += by; }

 private:
  core::TimePoint now_;
};

// 2026-11-25T15:21:50.123456Z: microsecond precision, which every adapter keeps exactly.
inline core::TimePoint T0() { return core::TimePoint(std::chrono::microseconds(1795620110123456)); }

inline std::shared_ptr<adapters::SqliteDatabase> OpenDatabase(const std::string& dir) {
  auto db = adapters::SqliteDatabase::Open(dir);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *db : nullptr;
}

}  // namespace stockwatch::contract
