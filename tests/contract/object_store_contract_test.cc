// The ObjectStore contract, run against InMemoryObjectStore and LocalObjectStore.
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "adapters/local/local_object_store.h"
#include "adapters/memory/in_memory_object_store.h"
#include "contract_env.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {
namespace {

using core::ObjectCreatedEvent;

class MemoryObjects {
 public:
  static constexpr bool kDurable = false;
  MemoryObjects() : store_(std::make_unique<adapters::InMemoryObjectStore>(clock_)) {}
  core::ObjectStore& store() { return *store_; }
  ManualClock& clock() { return clock_; }

 private:
  ManualClock clock_{T0()};
  std::unique_ptr<adapters::InMemoryObjectStore> store_;
};

class LocalObjects {
 public:
  static constexpr bool kDurable = true;
  LocalObjects() { Reopen(); }
  core::ObjectStore& store() { return *store_; }
  ManualClock& clock() { return clock_; }
  adapters::LocalObjectStore& local() { return *store_; }
  const std::string& dir() const { return dir_.path(); }
  // Closes everything and opens the data directory again, as after a restart.
  void Reopen() {
    store_.reset();
    db_.reset();
    db_ = OpenDatabase(dir_.path());
    auto store = adapters::LocalObjectStore::Open(db_, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

 private:
  TempDir dir_;
  ManualClock clock_{T0()};
  std::shared_ptr<adapters::SqliteDatabase> db_;
  std::unique_ptr<adapters::LocalObjectStore> store_;
};

template <typename Env>
class ObjectStoreContractTest : public ::testing::Test {
 protected:
  core::ObjectStore& store() { return env_.store(); }

  ObjectCreatedEvent Put(std::string_view key, std::string_view content,
                         std::string_view uploader = "admin") {
    auto writer = store().BeginPut("inventory", key, uploader);
    EXPECT_TRUE(writer.ok()) << writer.status();
    EXPECT_TRUE((*writer)->Write(content).ok());
    auto event = (*writer)->Commit();
    EXPECT_TRUE(event.ok()) << event.status();
    return event.ok() ? *event : ObjectCreatedEvent{};
  }

  std::string ReadAll(int64_t object_id, size_t chunk = 7) {
    auto reader = store().Open(object_id);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return "";
    std::string out;
    std::vector<char> buffer(chunk);
    while (true) {
      auto n = (*reader)->Read(std::span<char>(buffer));
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) return out;
      out.append(buffer.data(), *n);
    }
  }

  std::vector<int64_t> Sequences(const std::vector<ObjectCreatedEvent>& events) {
    std::vector<int64_t> out;
    for (const auto& e : events) out.push_back(e.sequence);
    return out;
  }

  Env env_;
};

using Envs = ::testing::Types<MemoryObjects, LocalObjects>;
TYPED_TEST_SUITE(ObjectStoreContractTest, Envs);

TYPED_TEST(ObjectStoreContractTest, CommitReturnsEventWithDigestsOfContent) {
  auto writer = this->store().BeginPut("inventory", "berlin.csv", "admin");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("hello").ok());
  ASSERT_TRUE((*writer)->Write(" ").ok());
  ASSERT_TRUE((*writer)->Write("world").ok());
  auto event = (*writer)->Commit();
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->sequence, 1);
  EXPECT_EQ(event->event_name, "ObjectCreated:Put");
  EXPECT_GT(event->object.id, 0);
  EXPECT_EQ(event->object.bucket, "inventory");
  EXPECT_EQ(event->object.key, "berlin.csv");
  EXPECT_EQ(event->object.size, 11u);
  EXPECT_EQ(event->object.sha256_hex,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(event->object.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(event->object.uploader, "admin");
  EXPECT_EQ(event->object.created_at, T0());
  EXPECT_EQ(this->ReadAll(event->object.id), "hello world");
}

TYPED_TEST(ObjectStoreContractTest, EmptyObjectHasDigestsOfNothing) {
  const ObjectCreatedEvent event = this->Put("empty.csv", "");
  EXPECT_EQ(event.object.size, 0u);
  EXPECT_EQ(event.object.sha256_hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(event.object.etag, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(this->ReadAll(event.object.id), "");
}

TYPED_TEST(ObjectStoreContractTest, NothingIsVisibleBeforeCommit) {
  auto writer = this->store().BeginPut("inventory", "a.csv", "admin");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("store,item,count\n").ok());
  EXPECT_TRUE(this->store().EventsAfter(0, 10)->empty());
  EXPECT_TRUE(this->store().RecentEvents(0, 10)->empty());
  EXPECT_TRUE(absl::IsNotFound(this->store().GetEvent(1).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().Open(1).status()));
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(this->store().EventsAfter(0, 10)->size(), 1u);
}

TYPED_TEST(ObjectStoreContractTest, AbortLeavesNothing) {
  {
    auto writer = this->store().BeginPut("inventory", "a.csv", "admin");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("partial").ok());
    (*writer)->Abort();
    EXPECT_FALSE((*writer)->Commit().ok());
    EXPECT_FALSE((*writer)->Write("more").ok());
  }
  {
    // Destroying an uncommitted writer aborts it.
    auto writer = this->store().BeginPut("inventory", "b.csv", "admin");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write("partial").ok());
  }
  EXPECT_TRUE(this->store().EventsAfter(0, 10)->empty());
  if constexpr (TypeParam::kDurable) {
    EXPECT_TRUE(std::filesystem::is_empty(this->env_.dir() + "/objects/tmp"));
  }
  EXPECT_EQ(this->Put("c.csv", "x").sequence, 1);
}

TYPED_TEST(ObjectStoreContractTest, CommitTwiceFails) {
  auto writer = this->store().BeginPut("inventory", "a.csv", "admin");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_FALSE((*writer)->Commit().ok());
  EXPECT_EQ(this->store().EventsAfter(0, 10)->size(), 1u);
}

TYPED_TEST(ObjectStoreContractTest, EventsAreTotallyOrdered) {
  for (const char* key : {"a.csv", "b.csv", "c.csv", "d.csv"}) {
    this->Put(key, key);
    this->env_.clock().Advance(std::chrono::seconds(1));
  }
  auto all = this->store().EventsAfter(0, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(this->Sequences(*all), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ((*all)[2].object.key, "c.csv");
  EXPECT_EQ((*all)[2].object.created_at, T0() + std::chrono::seconds(2));
  EXPECT_EQ(this->Sequences(*this->store().EventsAfter(1, 2)), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(this->store().EventsAfter(4, 10)->empty());
  EXPECT_TRUE(this->store().EventsAfter(1, 0)->empty());

  auto third = this->store().GetEvent(3);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->object.key, "c.csv");
  EXPECT_TRUE(absl::IsNotFound(this->store().GetEvent(5).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().GetEvent(0).status()));

  EXPECT_EQ(this->Sequences(*this->store().RecentEvents(0, 2)), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(this->Sequences(*this->store().RecentEvents(3, 10)), (std::vector<int64_t>{2, 1}));
  EXPECT_TRUE(this->store().RecentEvents(1, 10)->empty());
}

TYPED_TEST(ObjectStoreContractTest, LargeContentRoundTrips) {
  std::string content;
  for (int i = 0; content.size() < (3u << 20); ++i) {
    content += "Store " + std::to_string(i % 97) + ",Item " + std::to_string(i) + "," +
               std::to_string(i % 1000) + "\n";
  }
  auto writer = this->store().BeginPut("inventory", "big.csv", "admin");
  ASSERT_TRUE(writer.ok());
  for (size_t at = 0; at < content.size(); at += 65521) {
    ASSERT_TRUE((*writer)->Write(std::string_view(content).substr(at, 65521)).ok());
  }
  auto event = (*writer)->Commit();
  ASSERT_TRUE(event.ok());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  ASSERT_EQ(EVP_Digest(content.data(), content.size(), digest, &n, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  EXPECT_EQ(event->object.sha256_hex, hex);
  EXPECT_EQ(event->object.size, content.size());
  EXPECT_EQ(this->ReadAll(event->object.id, 1 << 16), content);
}

TYPED_TEST(ObjectStoreContractTest, KeysAreOpaqueBytes) {
  const std::string key = std::string("../../etc/passwd\xff\xfe") + '\0' + "x";
  const ObjectCreatedEvent event = this->Put(key, "content");
  EXPECT_EQ(this->store().GetEvent(event.sequence)->object.key, key);
  if constexpr (TypeParam::kDurable) {
    // The bytes live under the object id, never under a path made from the key.
    EXPECT_TRUE(std::filesystem::exists(this->env_.local().ObjectPath(event.object.id)));
    EXPECT_EQ(this->env_.local().ObjectPath(event.object.id),
              this->env_.dir() + "/objects/0000000000000001");
    EXPECT_FALSE(std::filesystem::exists(this->env_.dir() + "/etc"));
  }
}

TYPED_TEST(ObjectStoreContractTest, RejectsEmptyBucketOrKey) {
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().BeginPut("", "a.csv", "admin").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(this->store().BeginPut("inventory", "", "admin").status()));
}

TYPED_TEST(ObjectStoreContractTest, OpenUnknownObjectIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(this->store().Open(42).status()));
}

TYPED_TEST(ObjectStoreContractTest, ReopenKeepsObjectsAndEvents) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not durable";
  } else {
    const ObjectCreatedEvent first = this->Put("a.csv", "alpha");
    this->Put("b.csv", "beta");
    this->env_.Reopen();
    auto events = this->store().EventsAfter(0, 10);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 2u);
    EXPECT_EQ((*events)[0].object.sha256_hex, first.object.sha256_hex);
    EXPECT_EQ((*events)[0].object.created_at, first.object.created_at);
    EXPECT_EQ(this->ReadAll(first.object.id), "alpha");
    EXPECT_EQ(this->Put("c.csv", "gamma").sequence, 3);
  }
}

TYPED_TEST(ObjectStoreContractTest, OpenRemovesCrashLeftovers) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not durable";
  } else {
    const ObjectCreatedEvent kept = this->Put("a.csv", "alpha");
    const std::string dir = this->env_.dir();
    // A temp file of an upload in progress, and an object file renamed into place whose
    // transaction never committed.
    std::ofstream(dir + "/objects/tmp/0123456789abcdef.part") << "partial";
    std::ofstream(dir + "/objects/0000000000000002") << "orphan";
    this->env_.Reopen();
    EXPECT_TRUE(std::filesystem::is_empty(dir + "/objects/tmp"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/objects/0000000000000002"));
    EXPECT_EQ(this->ReadAll(kept.object.id), "alpha");
    const ObjectCreatedEvent next = this->Put("b.csv", "beta");
    EXPECT_EQ(next.object.id, 2);
    EXPECT_EQ(this->ReadAll(next.object.id), "beta");
  }
}

}  // namespace
}  // namespace stockwatch::contract
