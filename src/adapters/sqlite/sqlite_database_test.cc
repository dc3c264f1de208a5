#include "adapters/sqlite/sqlite_database.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  SqliteDatabaseTest() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sw_sqlite_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = pattern;
  }
  ~SqliteDatabaseTest() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
};

absl::Status Insert(SqliteConnection& conn, int64_t id) {
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("INSERT INTO t (id) VALUES (?)"));
  stmt.Bind(1, id);
  return stmt.Run();
}

// Concurrent writers share commits (group commit); each write must still commit or roll
// back on its own, also when it fails after writing or throws.
TEST_F(SqliteDatabaseTest, ConcurrentWritesCommitOrFailEachOnTheirOwn) {
  auto db = SqliteDatabase::Open(dir_);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)
                  ->WithWriteTransaction(Durability::kSynced,
                                         [](SqliteConnection& conn) {
                                           return conn.Exec(
                                               "CREATE TABLE t (id INTEGER PRIMARY "
                                               "KEY)");
                                         })
                  .ok());
  constexpr int kThreads = 16;
  constexpr int kWrites = 60;
  // What each write must return: by i % 4, OK, kAborted after inserting, a constraint
  // error (kAlreadyExists) after inserting, kInternal from an exception after inserting.
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        const int64_t id = t * 1000 + i;
        const Durability durability = i % 2 == 0 ? Durability::kSynced : Durability::kNormal;
        const absl::Status status =
            (*db)->WithWriteTransaction(durability, [&](SqliteConnection& conn) -> absl::Status {
              SW_RETURN_IF_ERROR(Insert(conn, id));
              switch (i % 4) {
                case 1:
                  return absl::AbortedError("changed my mind");
                case 2:
                  return Insert(conn, id);
                case 3:
                  throw std::runtime_error("thrown");
                default:
                  return absl::OkStatus();
              }
            });
        const absl::StatusCode expected[] = {absl::StatusCode::kOk, absl::StatusCode::kAborted,
                                             absl::StatusCode::kAlreadyExists,
                                             absl::StatusCode::kInternal};
        if (status.code() != expected[i % 4]) {
          ++wrong;
          ADD_FAILURE() << "write " << id << ": " << status;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);

  std::set<int64_t> ids;
  ASSERT_TRUE((*db)
                  ->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
                    SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("SELECT id FROM t"));
                    while (true) {
                      SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
                      if (!row) return absl::OkStatus();
                      ids.insert(stmt.Int64(0));
                    }
                  })
                  .ok());
  std::set<int64_t> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWrites; i += 4) expected.insert(t * 1000 + i);
  }
  EXPECT_EQ(ids, expected);
}

// on_lost runs exactly when a write's function succeeded but its changes did not commit,
// here because a deferred foreign key fails the COMMIT; never for a committed write or one
// whose own function failed.
TEST_F(SqliteDatabaseTest, OnLostRunsWhenASucceededWriteIsRolledBack) {
  auto db = SqliteDatabase::Open(dir_);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)
                  ->WithWriteTransaction(Durability::kSynced,
                                         [](SqliteConnection& conn) {
                                           return conn.Exec(
                                               "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                                               "CREATE TABLE child (id INTEGER PRIMARY KEY, "
                                               "parent INTEGER REFERENCES parent (id) "
                                               "DEFERRABLE INITIALLY DEFERRED)");
                                         })
                  .ok());
  int lost = 0;
  const std::function<void()> count_lost = [&] { ++lost; };

  // Committed: not lost.
  absl::Status status = (*db)->WithWriteTransaction(
      Durability::kSynced,
      [](SqliteConnection& conn) { return conn.Exec("INSERT INTO parent VALUES (1)"); },
      count_lost);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(lost, 0);

  // Its own function failed: the caller knows, on_lost does not run.
  status = (*db)->WithWriteTransaction(
      Durability::kSynced, [](SqliteConnection&) { return absl::AbortedError("no"); }, count_lost);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(lost, 0);

  // The function succeeded, the commit failed: lost.
  status = (*db)->WithWriteTransaction(
      Durability::kSynced,
      [](SqliteConnection& conn) { return conn.Exec("INSERT INTO child VALUES (1, 99)"); },
      count_lost);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(lost, 1);
}

}  // namespace
}  // namespace stockwatch::adapters
