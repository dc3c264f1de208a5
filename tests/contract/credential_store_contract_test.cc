// The CredentialStore contract, run against InMemoryCredentialStore and
// SqliteCredentialStore.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "adapters/memory/in_memory_credential_store.h"
#include "adapters/sqlite/sqlite_credential_store.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "contract_env.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {
namespace {

constexpr char kToken[] = "swt_9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928";
constexpr char kOtherToken[] = "swt_00112233445566778899aabbccddeeff00112233445566778899";

class MemoryCredentials {
 public:
  static constexpr bool kDurable = false;
  core::CredentialStore& store() { return store_; }
  // The id of a new user to own tokens (the memory store keeps no users: any id will do).
  int64_t AddUser(const std::string&) { return ++last_user_; }

 private:
  adapters::InMemoryCredentialStore store_;
  int64_t last_user_ = 0;
};

class SqliteCredentials {
 public:
  static constexpr bool kDurable = true;
  SqliteCredentials() { Reopen(); }
  core::CredentialStore& store() { return *store_; }
  const std::string& dir() const { return dir_.path(); }
  void Reopen() {
    store_.reset();
    db_.reset();
    db_ = OpenDatabase(dir_.path());
    auto store = adapters::SqliteCredentialStore::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void Close() {
    store_.reset();
    db_.reset();
  }
  // A user in the same database (tokens reference users).
  int64_t AddUser(const std::string& name) {
    auto users = adapters::SqliteUserStore::Open(db_);
    EXPECT_TRUE(users.ok()) << users.status();
    core::User user;
    user.name = name;
    user.role = core::Role::kViewer;
    user.created_at = T0();
    auto added = (*users)->AddUser(user);
    EXPECT_TRUE(added.ok()) << added.status();
    return added.ok() ? added->id : 0;
  }
  absl::Status DeleteUser(const std::string& name) {
    auto users = adapters::SqliteUserStore::Open(db_);
    if (!users.ok()) return users.status();
    return (*users)->DeleteUser(name);
  }

 private:
  TempDir dir_;
  std::shared_ptr<adapters::SqliteDatabase> db_;
  std::unique_ptr<adapters::SqliteCredentialStore> store_;
};

template <typename Env>
class CredentialStoreContractTest : public ::testing::Test {
 protected:
  core::CredentialStore& store() { return env_.store(); }
  Env env_;
};

using Envs = ::testing::Types<MemoryCredentials, SqliteCredentials>;
TYPED_TEST_SUITE(CredentialStoreContractTest, Envs);

TYPED_TEST(CredentialStoreContractTest, AuthenticatesAddedTokens) {
  auto info = this->store().AddToken("admin", "admin", kToken, T0());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_GT(info->id, 0);
  EXPECT_EQ(info->name, "admin");
  EXPECT_EQ(info->role, "admin");
  EXPECT_EQ(info->created_at, T0());
  auto ci = this->store().AddToken("ci", "admin", kOtherToken, T0());
  ASSERT_TRUE(ci.ok());

  auto principal = this->store().Authenticate(kToken);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->token_id, info->id);
  EXPECT_EQ(principal->name, "admin");
  EXPECT_EQ(principal->role, "admin");
  EXPECT_EQ(this->store().Authenticate(kOtherToken)->name, "ci");
}

TYPED_TEST(CredentialStoreContractTest, RejectsUnknownTokens) {
  ASSERT_TRUE(this->store().AddToken("admin", "admin", kToken, T0()).ok());
  std::string almost = kToken;
  almost.back() = 'x';
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Authenticate(almost).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Authenticate("").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(
      this->store().Authenticate(std::string(kToken).substr(0, 10)).status()));
}

TYPED_TEST(CredentialStoreContractTest, NamesAndTokensAreUnique) {
  ASSERT_TRUE(this->store().AddToken("admin", "admin", kToken, T0()).ok());
  EXPECT_TRUE(
      absl::IsAlreadyExists(this->store().AddToken("admin", "admin", kOtherToken, T0()).status()));
  EXPECT_TRUE(
      absl::IsAlreadyExists(this->store().AddToken("other", "admin", kToken, T0()).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(this->store().AddToken("", "admin", kOtherToken, T0()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().AddToken("x", "admin", "", T0()).status()));
  auto tokens = this->store().Tokens();
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ((*tokens)[0].name, "admin");
}

TYPED_TEST(CredentialStoreContractTest, StoresOnlyHashesAndSurvivesReopen) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not durable";
  } else {
    ASSERT_TRUE(this->store().AddToken("admin", "admin", kToken, T0()).ok());
    this->env_.Reopen();
    EXPECT_EQ(this->store().Authenticate(kToken)->name, "admin");
    this->env_.Close();
    for (const auto& entry : std::filesystem::directory_iterator(this->env_.dir())) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      EXPECT_EQ(bytes.find(kToken), std::string::npos) << entry.path();
    }
  }
}

TYPED_TEST(CredentialStoreContractTest, UserTokensAreNamedPerOwner) {
  const int64_t ops = this->env_.AddUser("ops");
  const int64_t ci = this->env_.AddUser("ci");
  auto first = this->store().AddUserToken(ops, "cron", kToken, T0());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->user_id, ops);
  EXPECT_EQ(first->name, "cron");
  EXPECT_TRUE(
      absl::IsAlreadyExists(this->store().AddUserToken(ops, "cron", kOtherToken, T0()).status()));
  EXPECT_TRUE(absl::IsAlreadyExists(this->store().AddUserToken(ci, "x", kToken, T0()).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(this->store().AddUserToken(0, "x", kOtherToken, T0()).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(this->store().AddUserToken(ci, "", kOtherToken, T0()).status()));
  auto second = this->store().AddUserToken(ci, "cron", kOtherToken, T0());
  ASSERT_TRUE(second.ok()) << second.status();
  // An owner-less token may share a user token's name.
  ASSERT_TRUE(this->store().AddToken("cron", "admin", "swt_legacy_0123456789abcdef", T0()).ok());

  auto principal = this->store().Authenticate(kOtherToken);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->user_id, ci);
  EXPECT_EQ(principal->token_id, second->id);
  EXPECT_EQ(principal->role, "");
  auto tokens = this->store().Tokens();
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 3u);
  EXPECT_EQ((*tokens)[0].user_id, ops);
  EXPECT_EQ((*tokens)[1].user_id, ci);
  EXPECT_EQ((*tokens)[2].user_id, 0);
}

TYPED_TEST(CredentialStoreContractTest, DeletedTokensNoLongerAuthenticate) {
  const int64_t ops = this->env_.AddUser("ops");
  auto token = this->store().AddUserToken(ops, "cron", kToken, T0());
  ASSERT_TRUE(token.ok()) << token.status();
  ASSERT_TRUE(this->store().AddToken("admin", "admin", kOtherToken, T0()).ok());
  ASSERT_TRUE(this->store().DeleteToken(token->id).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(this->store().Authenticate(kToken).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().DeleteToken(token->id)));
  EXPECT_TRUE(this->store().Authenticate(kOtherToken).ok());
  // Ids are not reused.
  auto next = this->store().AddUserToken(ops, "cron", kToken, T0());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(next->id, token->id + 1);
}

TYPED_TEST(CredentialStoreContractTest, UnownedTokensCanBeGivenToAUser) {
  ASSERT_TRUE(this->store().AddToken("admin", "admin", kToken, T0()).ok());
  const int64_t admin = this->env_.AddUser("admin");
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().AssignUnownedTokens(0).status()));
  EXPECT_EQ(*this->store().AssignUnownedTokens(admin), 1);
  EXPECT_EQ(*this->store().AssignUnownedTokens(admin), 0);
  auto principal = this->store().Authenticate(kToken);
  ASSERT_TRUE(principal.ok());
  EXPECT_EQ(principal->user_id, admin);
  EXPECT_EQ(principal->role, "admin");
  EXPECT_EQ(principal->name, "admin");
}

TYPED_TEST(CredentialStoreContractTest, AUsersTokensGoWithIt) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "the memory store keeps no users; the router refuses a deleted owner";
  } else {
    const int64_t ops = this->env_.AddUser("ops");
    ASSERT_TRUE(this->store().AddUserToken(ops, "cron", kToken, T0()).ok());
    ASSERT_TRUE(this->env_.DeleteUser("ops").ok());
    EXPECT_TRUE(absl::IsUnauthenticated(this->store().Authenticate(kToken).status()));
    EXPECT_TRUE(this->store().Tokens()->empty());
  }
}

}  // namespace
}  // namespace stockwatch::contract
