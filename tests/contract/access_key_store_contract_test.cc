// The AccessKeyStore contract, run against InMemoryAccessKeyStore and SqliteAccessKeyStore.
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "adapters/memory/in_memory_access_key_store.h"
#include "adapters/sqlite/sqlite_access_key_store.h"
#include "contract_env.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {
namespace {

using core::ObjectScope;

ObjectScope Scoped(std::vector<std::string> stores) {
  ObjectScope scope;
  scope.all_stores = false;
  scope.stores = std::move(stores);
  return scope;
}

bool IsKeyId(const std::string& id) {
  if (id.size() != 20 || id.compare(0, 2, "SW") != 0) return false;
  return id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 2) == std::string::npos;
}

bool IsSecret(const std::string& secret) {
  return secret.size() == 40 &&
         secret.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
             std::string::npos;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class MemoryAccessKeys {
 public:
  static constexpr bool kDurable = false;
  core::AccessKeyStore& store() { return store_; }

 private:
  adapters::InMemoryAccessKeyStore store_;
};

class SqliteAccessKeys {
 public:
  static constexpr bool kDurable = true;
  SqliteAccessKeys() { Reopen(); }
  core::AccessKeyStore& store() { return *store_; }
  const std::string& dir() const { return dir_.path(); }
  std::string key_path() const { return adapters::SqliteAccessKeyStore::KeyPath(dir_.path()); }
  void Reopen() {
    const absl::Status status = TryReopen();
    ASSERT_TRUE(status.ok()) << status;
  }
  absl::Status TryReopen() {
    Close();
    db_ = OpenDatabase(dir_.path());
    auto store = adapters::SqliteAccessKeyStore::Open(db_);
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    return absl::OkStatus();
  }
  void Close() {
    store_.reset();
    db_.reset();
  }

 private:
  TempDir dir_;
  std::shared_ptr<adapters::SqliteDatabase> db_;
  std::unique_ptr<adapters::SqliteAccessKeyStore> store_;
};

template <typename Env>
class AccessKeyStoreContractTest : public ::testing::Test {
 protected:
  core::AccessKeyStore& store() { return env_.store(); }
  Env env_;
};

using Envs = ::testing::Types<MemoryAccessKeys, SqliteAccessKeys>;
TYPED_TEST_SUITE(AccessKeyStoreContractTest, Envs);

TYPED_TEST(AccessKeyStoreContractTest, CreatesWellFormedKeys) {
  auto created = this->store().Create(ObjectScope{}, "ci pipeline", T0());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(IsKeyId(created->key.id)) << created->key.id;
  EXPECT_TRUE(IsSecret(created->secret));
  EXPECT_TRUE(created->key.scope.all_stores);
  EXPECT_EQ(created->key.description, "ci pipeline");
  EXPECT_EQ(created->key.created_at, T0());
  EXPECT_FALSE(created->key.revoked_at.has_value());
  // Ids and secrets are random: no two alike.
  std::set<std::string> ids = {created->key.id};
  std::set<std::string> secrets = {created->secret};
  for (int i = 0; i < 20; ++i) {
    auto more = this->store().Create(ObjectScope{}, "", T0());
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(IsKeyId(more->key.id));
    EXPECT_TRUE(IsSecret(more->secret));
    ids.insert(more->key.id);
    secrets.insert(more->secret);
  }
  EXPECT_EQ(ids.size(), 21u);
  EXPECT_EQ(secrets.size(), 21u);
}

TYPED_TEST(AccessKeyStoreContractTest, LookupReturnsTheSecret) {
  auto berlin = this->store().Create(Scoped({"Berlin"}), "berlin scanner", T0());
  ASSERT_TRUE(berlin.ok()) << berlin.status();
  auto all = this->store().Create(ObjectScope{}, "admin", T0() + std::chrono::seconds(1));
  ASSERT_TRUE(all.ok());
  auto found = this->store().Lookup(berlin->key.id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->secret, berlin->secret);
  EXPECT_EQ(found->key.id, berlin->key.id);
  EXPECT_EQ(found->key.scope, Scoped({"Berlin"}));
  EXPECT_EQ(found->key.description, "berlin scanner");
  EXPECT_EQ(found->key.created_at, T0());
  EXPECT_FALSE(found->key.revoked_at.has_value());
  EXPECT_EQ(this->store().Lookup(all->key.id)->secret, all->secret);
}

TYPED_TEST(AccessKeyStoreContractTest, UnknownKeysAreNotFound) {
  auto created = this->store().Create(ObjectScope{}, "", T0());
  ASSERT_TRUE(created.ok());
  std::string lower = created->key.id;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const std::string& id :
       {std::string("SWAAAAAAAAAAAAAAAAAA"), std::string(""), std::string("nope"), lower,
        created->key.id + "A", created->key.id.substr(0, 19), std::string(20, '\0')}) {
    EXPECT_TRUE(absl::IsNotFound(this->store().Lookup(id).status())) << id;
    EXPECT_TRUE(absl::IsNotFound(this->store().Revoke(id, T0()))) << id;
  }
}

TYPED_TEST(AccessKeyStoreContractTest, ListsOldestFirstWithRevokedKeys) {
  // Created out of time order: the list follows created_at.
  auto second = this->store().Create(ObjectScope{}, "second", T0() + std::chrono::seconds(1));
  auto first = this->store().Create(Scoped({"Hamburg"}), "first", T0());
  auto third = this->store().Create(ObjectScope{}, "third", T0() + std::chrono::seconds(2));
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  ASSERT_TRUE(this->store().Revoke(second->key.id, T0() + std::chrono::seconds(5)).ok());
  // Revoking again is fine and keeps the first time.
  ASSERT_TRUE(this->store().Revoke(second->key.id, T0() + std::chrono::seconds(9)).ok());
  auto keys = this->store().List();
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].id, first->key.id);
  EXPECT_EQ((*keys)[0].scope, Scoped({"Hamburg"}));
  EXPECT_EQ((*keys)[0].description, "first");
  EXPECT_FALSE((*keys)[0].revoked_at.has_value());
  EXPECT_EQ((*keys)[1].id, second->key.id);
  ASSERT_TRUE((*keys)[1].revoked_at.has_value());
  EXPECT_EQ(*(*keys)[1].revoked_at, T0() + std::chrono::seconds(5));
  EXPECT_EQ((*keys)[2].id, third->key.id);
  // A revoked key is still found, marked revoked, so the S3 API can say why it fails.
  auto revoked = this->store().Lookup(second->key.id);
  ASSERT_TRUE(revoked.ok());
  ASSERT_TRUE(revoked->key.revoked_at.has_value());
  EXPECT_EQ(*revoked->key.revoked_at, T0() + std::chrono::seconds(5));
  EXPECT_EQ(revoked->secret, second->secret);
  EXPECT_TRUE(this->store().Lookup(third->key.id).ok());
}

TYPED_TEST(AccessKeyStoreContractTest, ValidatesAndCanonicalizesScopes) {
  for (const ObjectScope& bad :
       {Scoped({}), Scoped({""}), Scoped({"Berlin", ""}), Scoped({std::string("a\0b", 3)}),
        Scoped({std::string(core::kMaxNameBytes + 1, 'x')})}) {
    EXPECT_TRUE(absl::IsInvalidArgument(this->store().Create(bad, "", T0()).status()));
  }
  EXPECT_TRUE(this->store().List()->empty());
  auto created =
      this->store().Create(Scoped({"Hamburg", "M\xc3\xbcnchen", "Berlin", "Hamburg", "line\nbreak",
                                   std::string(core::kMaxNameBytes, 'x')}),
                           "multi", T0());
  ASSERT_TRUE(created.ok()) << created.status();
  const ObjectScope expected = Scoped({"Berlin", "Hamburg", "M\xc3\xbcnchen", "line\nbreak",
                                       std::string(core::kMaxNameBytes, 'x')});
  EXPECT_EQ(created->key.scope, expected);
  EXPECT_EQ(this->store().Lookup(created->key.id)->key.scope, expected);
  EXPECT_EQ(this->store().List()->at(0).scope, expected);
  // An all-stores scope keeps no store list.
  ObjectScope all;
  all.stores = {"ignored"};
  auto unscoped = this->store().Create(all, "", T0());
  ASSERT_TRUE(unscoped.ok());
  EXPECT_EQ(unscoped->key.scope, ObjectScope{});
}

// --- SQLite only: the secrets at rest ---

TYPED_TEST(AccessKeyStoreContractTest, MasterKeyFileIsPrivate) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "no key file";
  } else {
    struct stat st;
    ASSERT_EQ(::stat(this->env_.key_path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_size, 32);
    // Reopening uses the same key: it is created once.
    const std::string key = ReadFile(this->env_.key_path());
    this->env_.Reopen();
    EXPECT_EQ(ReadFile(this->env_.key_path()), key);
    EXPECT_FALSE(std::filesystem::exists(this->env_.key_path() + ".new"));
  }
}

TYPED_TEST(AccessKeyStoreContractTest, SecretsAreEncryptedAtRest) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not stored";
  } else {
    std::vector<core::NewAccessKey> created;
    for (int i = 0; i < 3; ++i) {
      auto key = this->store().Create(ObjectScope{}, "key " + std::to_string(i), T0());
      ASSERT_TRUE(key.ok());
      created.push_back(*key);
    }
    auto scan = [&](const char* when) {
      bool saw_id = false;
      for (const auto& entry : std::filesystem::directory_iterator(this->env_.dir())) {
        if (!entry.is_regular_file()) continue;
        const std::string bytes = ReadFile(entry.path());
        for (const auto& key : created) {
          EXPECT_EQ(bytes.find(key.secret), std::string::npos) << entry.path() << " " << when;
          // The id is stored in the clear: finding it shows the scan reads the data.
          if (bytes.find(key.key.id) != std::string::npos) saw_id = true;
        }
      }
      EXPECT_TRUE(saw_id) << when;
    };
    scan("with the WAL");
    this->env_.Close();
    scan("after closing");
    this->env_.Reopen();
    for (const auto& key : created) {
      auto found = this->store().Lookup(key.key.id);
      ASSERT_TRUE(found.ok()) << found.status();
      EXPECT_EQ(found->secret, key.secret);
    }
  }
}

TYPED_TEST(AccessKeyStoreContractTest, LooseKeyFileModeIsTightened) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "no key file";
  } else {
    auto created = this->store().Create(ObjectScope{}, "", T0());
    ASSERT_TRUE(created.ok());
    this->env_.Close();
    ASSERT_EQ(::chmod(this->env_.key_path().c_str(), 0644), 0);
    this->env_.Reopen();
    struct stat st;
    ASSERT_EQ(::stat(this->env_.key_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(this->store().Lookup(created->key.id)->secret, created->secret);
  }
}

TYPED_TEST(AccessKeyStoreContractTest, WrongMasterKeyFailsCleanly) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "no key file";
  } else {
    auto created = this->store().Create(Scoped({"Berlin"}), "", T0());
    ASSERT_TRUE(created.ok());
    this->env_.Close();
    std::string other = ReadFile(this->env_.key_path());
    ASSERT_EQ(other.size(), 32u);
    for (char& c : other) c = static_cast<char>(c ^ 0x5a);
    std::ofstream(this->env_.key_path(), std::ios::binary | std::ios::trunc) << other;
    this->env_.Reopen();
    auto found = this->store().Lookup(created->key.id);
    EXPECT_TRUE(absl::IsDataLoss(found.status()) || absl::IsFailedPrecondition(found.status()))
        << found.status();
    EXPECT_EQ(std::string(found.status().message()).find(created->secret), std::string::npos);
    // Listing needs no secret and still works.
    auto keys = this->store().List();
    ASSERT_TRUE(keys.ok());
    EXPECT_EQ(keys->size(), 1u);
  }
}

TYPED_TEST(AccessKeyStoreContractTest, KeyFileOfWrongSizeIsRefused) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "no key file";
  } else {
    this->env_.Close();
    std::ofstream(this->env_.key_path(), std::ios::binary | std::ios::trunc)
        << std::string(31, 'k');
    const absl::Status short_key = this->env_.TryReopen();
    EXPECT_TRUE(absl::IsFailedPrecondition(short_key)) << short_key;
    std::ofstream(this->env_.key_path(), std::ios::binary | std::ios::trunc)
        << std::string(33, 'k');
    EXPECT_TRUE(absl::IsFailedPrecondition(this->env_.TryReopen()));
    std::filesystem::remove(this->env_.key_path());
    std::filesystem::create_directory(this->env_.key_path());
    EXPECT_TRUE(absl::IsFailedPrecondition(this->env_.TryReopen()));
  }
}

TYPED_TEST(AccessKeyStoreContractTest, MissingKeyFileWithStoredKeysIsRefused) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "no key file";
  } else {
    auto created = this->store().Create(ObjectScope{}, "", T0());
    ASSERT_TRUE(created.ok());
    this->env_.Close();
    const std::string key = ReadFile(this->env_.key_path());
    std::filesystem::rename(this->env_.key_path(), this->env_.dir() + "/saved.key");
    // No new key replaces the lost one while secrets sealed with it exist.
    const absl::Status lost = this->env_.TryReopen();
    EXPECT_TRUE(absl::IsFailedPrecondition(lost)) << lost;
    EXPECT_FALSE(std::filesystem::exists(this->env_.key_path()));
    // Restoring the file brings the secrets back.
    std::filesystem::rename(this->env_.dir() + "/saved.key", this->env_.key_path());
    this->env_.Reopen();
    EXPECT_EQ(this->store().Lookup(created->key.id)->secret, created->secret);
    EXPECT_EQ(ReadFile(this->env_.key_path()), key);
  }
}

}  // namespace
}  // namespace stockwatch::contract
