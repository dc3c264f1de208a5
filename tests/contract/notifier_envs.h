// The notifier adapters as contract-suite environments: each gives a fresh notifier on a
// manual clock; Reopen() closes and reopens a durable one on the same data (a no-op for
// the in-memory one, whose kDurable is false).
#pragma once

#include <memory>
#include <utility>

#include "adapters/memory/in_memory_notifier.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_notifier.h"
#include "contract_env.h"
#include "core/ports/notifier.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {

class MemoryNotifierEnv {
 public:
  static constexpr bool kDurable = false;
  core::Notifier& notifier() { return notifier_; }
  ManualClock& clock() { return clock_; }
  void Reopen() {}

 private:
  ManualClock clock_{T0()};
  adapters::InMemoryNotifier notifier_{clock_};
};

class SqliteNotifierEnv {
 public:
  static constexpr bool kDurable = true;
  SqliteNotifierEnv() { Reopen(); }
  core::Notifier& notifier() { return *notifier_; }
  ManualClock& clock() { return clock_; }
  void Reopen() {
    notifier_.reset();
    db_.reset();
    db_ = OpenDatabase(dir_.path());
    auto notifier = adapters::SqliteNotifier::Open(db_, clock_);
    ASSERT_TRUE(notifier.ok()) << notifier.status();
    notifier_ = *std::move(notifier);
  }

 private:
  TempDir dir_;
  ManualClock clock_{T0()};
  std::shared_ptr<adapters::SqliteDatabase> db_;
  std::unique_ptr<adapters::SqliteNotifier> notifier_;
};

}  // namespace stockwatch::contract
