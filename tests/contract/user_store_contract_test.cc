// The UserStore contract, run against InMemoryUserStore and SqliteUserStore.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "adapters/memory/in_memory_user_store.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "contract_env.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

core::SessionLimits Limits() {
  core::SessionLimits limits;
  limits.idle = minutes(30);
  limits.absolute = hours(12);
  limits.touch_granularity = seconds(60);
  return limits;
}

class MemoryUsers {
 public:
  static constexpr bool kDurable = false;
  core::UserStore& store() { return store_; }

 private:
  adapters::InMemoryUserStore store_{Limits()};
};

class SqliteUsers {
 public:
  static constexpr bool kDurable = true;
  SqliteUsers() { Reopen(); }
  core::UserStore& store() { return *store_; }
  const std::string& dir() const { return dir_.path(); }
  void Reopen() {
    store_.reset();
    db_.reset();
    db_ = OpenDatabase(dir_.path());
    auto store = adapters::SqliteUserStore::Open(db_, Limits());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void Close() {
    store_.reset();
    db_.reset();
  }

 private:
  TempDir dir_;
  std::shared_ptr<adapters::SqliteDatabase> db_;
  std::unique_ptr<adapters::SqliteUserStore> store_;
};

core::ObjectScope Stores(std::vector<std::string> stores) {
  core::ObjectScope scope;
  scope.all_stores = false;
  scope.stores = std::move(stores);
  return scope;
}

core::User NewUser(std::string name, core::Role role = core::Role::kViewer,
                   core::ObjectScope scope = {}) {
  core::User user;
  user.name = std::move(name);
  user.role = role;
  user.scope = std::move(scope);
  user.password_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA";
  user.created_at = T0();
  return user;
}

// A 32-byte id hash that differs by `n`.
std::string IdHash(char n) { return std::string(31, 'h') + n; }

template <typename Env>
class UserStoreContractTest : public ::testing::Test {
 protected:
  core::UserStore& store() { return env_.store(); }
  Env env_;
};

using Envs = ::testing::Types<MemoryUsers, SqliteUsers>;
TYPED_TEST_SUITE(UserStoreContractTest, Envs);

TYPED_TEST(UserStoreContractTest, AddsAndGetsUsers) {
  auto alice = this->store().AddUser(NewUser("alice", core::Role::kAdmin));
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_GT(alice->id, 0);
  auto bob =
      this->store().AddUser(NewUser("bob", core::Role::kManager, Stores({"Paris", "Berlin"})));
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_NE(bob->id, alice->id);
  EXPECT_EQ(bob->scope, Stores({"Berlin", "Paris"}));

  auto got = this->store().GetUser("bob");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, bob->id);
  EXPECT_EQ(got->name, "bob");
  EXPECT_EQ(got->role, core::Role::kManager);
  EXPECT_EQ(got->scope, Stores({"Berlin", "Paris"}));
  EXPECT_EQ(got->password_hash, NewUser("x").password_hash);
  EXPECT_EQ(got->created_at, T0());
  EXPECT_FALSE(got->disabled);
  // Names are looked up ignoring case, and kept as given.
  EXPECT_EQ(this->store().GetUser("ALICE")->name, "alice");
  EXPECT_TRUE(absl::IsNotFound(this->store().GetUser("carol").status()));
  // By id too; a deleted user's id finds nobody.
  auto by_id = this->store().GetUserById(bob->id);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->name, "bob");
  EXPECT_EQ(by_id->scope, Stores({"Berlin", "Paris"}));
  EXPECT_TRUE(absl::IsNotFound(this->store().GetUserById(bob->id + 100).status()));

  auto all = this->store().ListUsers();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alice");
  EXPECT_EQ((*all)[1].name, "bob");
}

TYPED_TEST(UserStoreContractTest, RefusesTakenAndInvalidUsers) {
  ASSERT_TRUE(this->store().AddUser(NewUser("alice")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(this->store().AddUser(NewUser("alice")).status()));
  EXPECT_TRUE(absl::IsAlreadyExists(this->store().AddUser(NewUser("Alice")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().AddUser(NewUser("")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().AddUser(NewUser("a b")).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(this->store().AddUser(NewUser(std::string(65, 'a'))).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(this->store().AddUser(NewUser("m", core::Role::kManager)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->store().AddUser(NewUser("v", core::Role::kViewer, Stores({"Berlin"}))).status()));
  EXPECT_EQ(this->store().ListUsers()->size(), 1u);
}

TYPED_TEST(UserStoreContractTest, ChangesPasswordRoleAndDisabled) {
  ASSERT_TRUE(this->store().AddUser(NewUser("alice")).ok());
  ASSERT_TRUE(this->store().SetPassword("alice", "$argon2id$new").ok());
  EXPECT_EQ(this->store().GetUser("alice")->password_hash, "$argon2id$new");
  ASSERT_TRUE(this->store().SetRole("alice", core::Role::kManager, Stores({"Rome"})).ok());
  EXPECT_EQ(this->store().GetUser("alice")->role, core::Role::kManager);
  EXPECT_EQ(this->store().GetUser("alice")->scope, Stores({"Rome"}));
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->store().SetRole("alice", core::Role::kAdmin, Stores({"Rome"}))));
  ASSERT_TRUE(this->store().SetRole("alice", core::Role::kAdmin, {}).ok());
  EXPECT_EQ(this->store().GetUser("alice")->scope, core::ObjectScope{});
  ASSERT_TRUE(this->store().DisableUser("alice").ok());
  EXPECT_TRUE(this->store().GetUser("alice")->disabled);
  ASSERT_TRUE(this->store().EnableUser("alice").ok());
  EXPECT_FALSE(this->store().GetUser("alice")->disabled);

  EXPECT_TRUE(absl::IsNotFound(this->store().SetPassword("nobody", "x")));
  EXPECT_TRUE(absl::IsNotFound(this->store().SetRole("nobody", core::Role::kViewer, {})));
  EXPECT_TRUE(absl::IsNotFound(this->store().DisableUser("nobody")));
  EXPECT_TRUE(absl::IsNotFound(this->store().EnableUser("nobody")));
  EXPECT_TRUE(absl::IsNotFound(this->store().DeleteUser("nobody")));
}

TYPED_TEST(UserStoreContractTest, SessionsAuthenticateTheirUser) {
  auto alice = this->store().AddUser(NewUser("alice", core::Role::kManager, Stores({"Berlin"})));
  ASSERT_TRUE(alice.ok());
  auto session = this->store().CreateSession("alice", IdHash('1'), "csrf-1", T0());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->user_id, alice->id);
  EXPECT_EQ(session->created_at, T0());

  auto touched = this->store().Touch(IdHash('1'), T0() + seconds(5));
  ASSERT_TRUE(touched.ok()) << touched.status();
  EXPECT_EQ(touched->user.name, "alice");
  EXPECT_EQ(touched->user.role, core::Role::kManager);
  EXPECT_EQ(touched->user.scope, Stores({"Berlin"}));
  EXPECT_EQ(touched->session.csrf_token, "csrf-1");
  EXPECT_EQ(touched->session.created_at, T0());
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('2'), T0()).status()));

  EXPECT_TRUE(absl::IsAlreadyExists(
      this->store().CreateSession("alice", IdHash('1'), "csrf-2", T0()).status()));
  EXPECT_TRUE(
      absl::IsNotFound(this->store().CreateSession("bob", IdHash('3'), "c", T0()).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(this->store().CreateSession("alice", "short", "c", T0()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->store().CreateSession("alice", IdHash('4'), "", T0()).status()));
}

TYPED_TEST(UserStoreContractTest, IdleSessionsExpire) {
  ASSERT_TRUE(this->store().AddUser(NewUser("alice")).ok());
  ASSERT_TRUE(this->store().CreateSession("alice", IdHash('1'), "c", T0()).ok());
  // Used every 20 minutes, it lives past the 30-minute idle limit.
  core::TimePoint now = T0();
  for (int i = 0; i < 4; ++i) {
    now += minutes(20);
    auto touched = this->store().Touch(IdHash('1'), now);
    ASSERT_TRUE(touched.ok()) << i << ": " << touched.status();
    EXPECT_EQ(touched->session.last_seen_at, now);
  }
  // Within the granularity, last_seen_at stays where it was.
  EXPECT_EQ(this->store().Touch(IdHash('1'), now + seconds(30))->session.last_seen_at, now);
  EXPECT_TRUE(
      absl::IsUnauthenticated(this->store().Touch(IdHash('1'), now + minutes(30)).status()));
  // And it is gone, even at an earlier time.
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('1'), now).status()));
}

TYPED_TEST(UserStoreContractTest, SessionsEndAtTheAbsoluteLimit) {
  ASSERT_TRUE(this->store().AddUser(NewUser("alice")).ok());
  ASSERT_TRUE(this->store().CreateSession("alice", IdHash('1'), "c", T0()).ok());
  core::TimePoint now = T0();
  while (now + minutes(20) < T0() + hours(12)) {
    now += minutes(20);
    ASSERT_TRUE(this->store().Touch(IdHash('1'), now).ok());
  }
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('1'), T0() + hours(12)).status()));
}

TYPED_TEST(UserStoreContractTest, LogoutAndRotationEndSessions) {
  ASSERT_TRUE(this->store().AddUser(NewUser("alice")).ok());
  ASSERT_TRUE(this->store().AddUser(NewUser("bob")).ok());
  for (char n : {'1', '2', '3'}) {
    ASSERT_TRUE(this->store().CreateSession("alice", IdHash(n), "c", T0()).ok());
  }
  ASSERT_TRUE(this->store().CreateSession("bob", IdHash('9'), "c", T0()).ok());

  ASSERT_TRUE(this->store().DeleteSession(IdHash('1')).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('1'), T0()).status()));
  EXPECT_TRUE(this->store().DeleteSession(IdHash('1')).ok());  // already gone

  // A password change keeps the session that made it.
  auto ended = this->store().DeleteSessionsOf("alice", IdHash('2'));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(*ended, 1);
  EXPECT_TRUE(this->store().Touch(IdHash('2'), T0()).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('3'), T0()).status()));
  EXPECT_EQ(*this->store().DeleteSessionsOf("ALICE", ""), 1);
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('2'), T0()).status()));
  EXPECT_TRUE(this->store().Touch(IdHash('9'), T0()).ok());
  EXPECT_TRUE(absl::IsNotFound(this->store().DeleteSessionsOf("nobody", "").status()));
}

TYPED_TEST(UserStoreContractTest, DisablingOrDeletingAUserEndsItsSessions) {
  ASSERT_TRUE(this->store().AddUser(NewUser("alice")).ok());
  ASSERT_TRUE(this->store().AddUser(NewUser("bob")).ok());
  ASSERT_TRUE(this->store().CreateSession("alice", IdHash('1'), "c", T0()).ok());
  ASSERT_TRUE(this->store().CreateSession("bob", IdHash('2'), "c", T0()).ok());

  ASSERT_TRUE(this->store().DisableUser("alice").ok());
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('1'), T0()).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      this->store().CreateSession("alice", IdHash('3'), "c", T0()).status()));
  ASSERT_TRUE(this->store().EnableUser("alice").ok());
  // Enabling does not bring old sessions back.
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('1'), T0()).status()));

  ASSERT_TRUE(this->store().DeleteUser("bob").ok());
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('2'), T0()).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().GetUser("bob").status()));
  // A new "bob" is another account: the old session does not come back to life.
  auto new_bob = this->store().AddUser(NewUser("bob"));
  ASSERT_TRUE(new_bob.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Touch(IdHash('2'), T0()).status()));
}

TYPED_TEST(UserStoreContractTest, PurgesExpiredSessions) {
  ASSERT_TRUE(this->store().AddUser(NewUser("alice")).ok());
  ASSERT_TRUE(this->store().CreateSession("alice", IdHash('1'), "c", T0()).ok());
  ASSERT_TRUE(this->store().CreateSession("alice", IdHash('2'), "c", T0() + minutes(20)).ok());
  auto purged = this->store().PurgeExpiredSessions(T0() + minutes(40));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
  EXPECT_TRUE(this->store().Touch(IdHash('2'), T0() + minutes(40)).ok());
  EXPECT_EQ(*this->store().PurgeExpiredSessions(T0() + minutes(40)), 0);
}

TYPED_TEST(UserStoreContractTest, SurvivesReopen) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not durable";
  } else {
    auto alice = this->store().AddUser(NewUser("alice", core::Role::kManager, Stores({"Berlin"})));
    ASSERT_TRUE(alice.ok());
    ASSERT_TRUE(this->store().CreateSession("alice", IdHash('1'), "csrf-1", T0()).ok());
    this->env_.Reopen();
    auto user = this->store().GetUser("alice");
    ASSERT_TRUE(user.ok());
    EXPECT_EQ(user->id, alice->id);
    EXPECT_EQ(user->scope, Stores({"Berlin"}));
    auto touched = this->store().Touch(IdHash('1'), T0() + minutes(1));
    ASSERT_TRUE(touched.ok()) << touched.status();
    EXPECT_EQ(touched->session.csrf_token, "csrf-1");
    // Ids are not reused after a delete.
    ASSERT_TRUE(this->store().DeleteUser("alice").ok());
    this->env_.Reopen();
    auto again = this->store().AddUser(NewUser("alice"));
    ASSERT_TRUE(again.ok());
    EXPECT_GT(again->id, alice->id);
  }
}

}  // namespace
}  // namespace stockwatch::contract
