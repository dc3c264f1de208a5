#include "adapters/sqlite/read_cache.h"

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_credential_store.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class ReadCacheTest : public ::testing::Test {
 protected:
  ReadCache<int, std::string> MakeCache(Clock::duration ttl) {
    return ReadCache<int, std::string>(generation_, ttl, 4, [this] { return now_; });
  }
  std::atomic<uint64_t> generation_{0};
  Clock::time_point now_{};
};

TEST_F(ReadCacheTest, ServesAnEntryUntilItsTtlPasses) {
  auto cache = MakeCache(milliseconds(1000));
  EXPECT_FALSE(cache.Get(1));
  cache.Put(1, "one", cache.generation());
  now_ += milliseconds(999);
  EXPECT_EQ(cache.Get(1), "one");
  now_ += milliseconds(1);
  EXPECT_FALSE(cache.Get(1));
}

TEST_F(ReadCacheTest, AWriteDropsEveryEntry) {
  auto cache = MakeCache(milliseconds(1000));
  cache.Put(1, "one", cache.generation());
  cache.Put(2, "two", cache.generation());
  cache.Invalidate();
  EXPECT_FALSE(cache.Get(1));
  EXPECT_FALSE(cache.Get(2));
}

TEST_F(ReadCacheTest, AWriteThroughTheSharedCounterDropsEveryEntry) {
  auto cache = MakeCache(milliseconds(1000));
  auto other = MakeCache(milliseconds(1000));
  cache.Put(1, "one", cache.generation());
  other.Invalidate();  // another adapter wrote the same tables
  EXPECT_FALSE(cache.Get(1));
}

TEST_F(ReadCacheTest, KeepsNoReadThatAWriteOvertook) {
  auto cache = MakeCache(milliseconds(1000));
  const uint64_t before = cache.generation();  // a read starts...
  cache.Invalidate();                          // ...a write commits meanwhile...
  cache.Put(1, "stale", before);               // ...and the read finishes
  EXPECT_FALSE(cache.Get(1));
}

TEST_F(ReadCacheTest, AZeroTtlCachesNothing) {
  auto cache = MakeCache(Clock::duration::zero());
  cache.Put(1, "one", cache.generation());
  EXPECT_FALSE(cache.Get(1));
}

TEST_F(ReadCacheTest, AFullCacheStartsOver) {
  auto cache = MakeCache(milliseconds(1000));
  for (int i = 0; i < 5; ++i) cache.Put(i, std::to_string(i), cache.generation());
  EXPECT_EQ(cache.Get(4), "4");
  EXPECT_FALSE(cache.Get(0));
}

// The adapters that cache rows read on every request: a write applies to the next read.
class SqliteReadCacheTest : public ::testing::Test {
 protected:
  SqliteReadCacheTest() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sw_cache_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = pattern;
    auto db = SqliteDatabase::Open(dir_);
    EXPECT_TRUE(db.ok()) << db.status();
    db_ = *db;
  }
  ~SqliteReadCacheTest() override {
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  int64_t AddUser(SqliteUserStore& users, const std::string& name) {
    core::User user;
    user.name = name;
    user.role = core::Role::kViewer;
    auto added = users.AddUser(user);
    EXPECT_TRUE(added.ok()) << added.status();
    return added.ok() ? added->id : 0;
  }

  std::string dir_;
  std::shared_ptr<SqliteDatabase> db_;
};

constexpr char kToken[] = "sw_0123456789abcdef0123456789abcdef";

TEST_F(SqliteReadCacheTest, ADeletedTokenStopsAtOnce) {
  auto tokens = SqliteCredentialStore::Open(db_);
  ASSERT_TRUE(tokens.ok());
  auto added = (*tokens)->AddToken("ci", "admin", kToken, core::TimePoint());
  ASSERT_TRUE(added.ok());
  ASSERT_TRUE((*tokens)->Authenticate(kToken).ok());
  ASSERT_TRUE((*tokens)->Authenticate(kToken).ok());  // now cached
  ASSERT_TRUE((*tokens)->DeleteToken(added->id).ok());
  EXPECT_TRUE(absl::IsUnauthenticated((*tokens)->Authenticate(kToken).status()));
}

TEST_F(SqliteReadCacheTest, ATokenGoesAtOnceWithItsOwner) {
  auto tokens = SqliteCredentialStore::Open(db_);
  auto users = SqliteUserStore::Open(db_);
  ASSERT_TRUE(tokens.ok() && users.ok());
  const int64_t ops = AddUser(**users, "ops");
  ASSERT_TRUE((*tokens)->AddUserToken(ops, "cron", kToken, core::TimePoint()).ok());
  ASSERT_TRUE((*tokens)->Authenticate(kToken).ok());  // cached
  ASSERT_TRUE((*users)->DeleteUser("ops").ok());      // the token goes with it (cascade)
  EXPECT_TRUE(absl::IsUnauthenticated((*tokens)->Authenticate(kToken).status()));
}

TEST_F(SqliteReadCacheTest, AUsersChangesApplyAtOnce) {
  auto users = SqliteUserStore::Open(db_);
  ASSERT_TRUE(users.ok());
  const int64_t ops = AddUser(**users, "ops");
  ASSERT_EQ((*users)->GetUserById(ops)->role, core::Role::kViewer);  // cached
  ASSERT_TRUE((*users)->SetRole("ops", core::Role::kAdmin, {}).ok());
  EXPECT_EQ((*users)->GetUserById(ops)->role, core::Role::kAdmin);
  ASSERT_TRUE((*users)->DisableUser("ops").ok());
  EXPECT_TRUE((*users)->GetUserById(ops)->disabled);
  ASSERT_TRUE((*users)->DeleteUser("ops").ok());
  EXPECT_TRUE(absl::IsNotFound((*users)->GetUserById(ops).status()));
}

TEST_F(SqliteReadCacheTest, AThresholdChangeAppliesAtOnce) {
  auto inventory = SqliteInventoryStore::Open(db_);
  ASSERT_TRUE(inventory.ok());
  ASSERT_TRUE((*inventory)->Thresholds()->empty());  // cached
  ASSERT_TRUE((*inventory)->SetThreshold(core::Threshold{}, 5).ok());
  auto thresholds = (*inventory)->Thresholds();
  ASSERT_TRUE(thresholds.ok());
  ASSERT_EQ(thresholds->size(), 1u);
  EXPECT_EQ(thresholds->front().value, 5);
  ASSERT_TRUE((*inventory)->SetThreshold(core::Threshold{}, std::nullopt).ok());
  EXPECT_TRUE((*inventory)->Thresholds()->empty());
}

}  // namespace
}  // namespace stockwatch::adapters
