// The ObjectStore contract, run against InMemoryObjectStore and LocalObjectStore.
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "adapters/local/local_object_store.h"
#include "adapters/memory/in_memory_object_store.h"
#include "base/status.h"
#include "contract_env.h"
#include "gtest/gtest.h"

namespace stockwatch::contract {
namespace {

using core::ObjectCreatedEvent;
using core::ObjectScope;
using core::PutOptions;

std::string HexDigest(const EVP_MD* md, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &n, md, nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

ObjectScope Scoped(std::vector<std::string> stores) {
  ObjectScope scope;
  scope.all_stores = false;
  scope.stores = std::move(stores);
  return scope;
}

PutOptions WithScope(ObjectScope scope) {
  PutOptions options;
  options.scope = std::move(scope);
  return options;
}

// Names of the files in `dir`.
std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

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
    // Tiny batches, so that filtered listings cross many batch boundaries.
    adapters::LocalObjectStoreOptions options;
    options.list_batch_rows = 2;
    auto store = adapters::LocalObjectStore::Open(db_, clock_, options);
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

  absl::StatusOr<ObjectCreatedEvent> TryPut(std::string_view key, std::string_view content,
                                            const PutOptions& options,
                                            std::string_view bucket = "inventory") {
    SW_ASSIGN_OR_RETURN(auto writer, store().BeginPut(bucket, key, "admin", options));
    SW_RETURN_IF_ERROR(writer->Write(content));
    return writer->Commit();
  }

  // Reads everything `reader` gives, in small chunks.
  std::string Drain(absl::StatusOr<std::unique_ptr<core::ObjectReader>> reader, size_t chunk = 3) {
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return "<error>";
    std::string out;
    std::vector<char> buffer(chunk);
    while (true) {
      auto n = (*reader)->Read(std::span<char>(buffer));
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok()) return "<error>";
      if (*n == 0) return out;
      out.append(buffer.data(), *n);
    }
  }

  std::vector<std::string> ListKeys(const core::ListQuery& query) {
    auto objects = store().List(query);
    EXPECT_TRUE(objects.ok()) << objects.status();
    std::vector<std::string> keys;
    if (objects.ok()) {
      for (const auto& object : *objects) keys.push_back(object.key);
    }
    return keys;
  }

  std::vector<std::string> ListKeys(std::string_view prefix, std::string_view start_after = "",
                                    size_t limit = 1000) {
    core::ListQuery query;
    query.bucket = "inventory";
    query.prefix = std::string(prefix);
    query.start_after = std::string(start_after);
    query.limit = limit;
    return ListKeys(query);
  }

  absl::StatusOr<core::PartInfo> PutPart(std::string_view upload_id, int number,
                                         std::string_view content) {
    SW_ASSIGN_OR_RETURN(auto writer, store().BeginPart(upload_id, number));
    SW_RETURN_IF_ERROR(writer->Write(content));
    return writer->Commit();
  }

  // How many part files the local store keeps; -1 for the memory store.
  int PartFileCount() {
    if constexpr (Env::kDurable) {
      return static_cast<int>(FilesIn(env_.local().parts_dir()).size());
    } else {
      return -1;
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
  EXPECT_TRUE(event->object.scope.all_stores);
  EXPECT_EQ(event->object.content_type, "");
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
  // Above the local store's inline threshold, so that its bytes are in a file.
  const std::string content(adapters::LocalObjectStoreOptions{}.inline_max_bytes + 1, 'c');
  const ObjectCreatedEvent event = this->Put(key, content);
  EXPECT_EQ(this->store().GetEvent(event.sequence)->object.key, key);
  if constexpr (TypeParam::kDurable) {
    // The bytes live under the object id, never under a path made from the key.
    EXPECT_TRUE(std::filesystem::exists(this->env_.local().ObjectPath(event.object.id)));
    EXPECT_EQ(this->env_.local().ObjectPath(event.object.id),
              this->env_.dir() + "/objects/0000000000000001");
    EXPECT_FALSE(std::filesystem::exists(this->env_.dir() + "/etc"));
  }
}

// The local store keeps objects of at most inline_max_bytes in their rows and larger ones
// in files; both kinds read back the same, whole and in ranges, also after a restart.
TYPED_TEST(ObjectStoreContractTest, ObjectsAroundTheInlineThresholdRoundTrip) {
  const size_t threshold = adapters::LocalObjectStoreOptions{}.inline_max_bytes;
  std::vector<std::pair<ObjectCreatedEvent, std::string>> stored;
  for (const size_t size : {size_t{1}, threshold - 1, threshold, threshold + 1, 2 * threshold}) {
    std::string content;
    for (size_t i = 0; content.size() < size; ++i) content += std::to_string(i) + ",";
    content.resize(size);
    auto writer = this->store().BeginPut("inventory", "size" + std::to_string(size), "admin");
    ASSERT_TRUE(writer.ok()) << writer.status();
    // Uneven pieces, so that one of them crosses the threshold.
    for (size_t at = 0; at < content.size(); at += 4099) {
      ASSERT_TRUE((*writer)->Write(std::string_view(content).substr(at, 4099)).ok());
    }
    auto event = (*writer)->Commit();
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->object.size, size);
    EXPECT_EQ(event->object.sha256_hex, HexDigest(EVP_sha256(), content));
    EXPECT_EQ(event->object.etag, HexDigest(EVP_md5(), content));
    if constexpr (TypeParam::kDurable) {
      const std::string path = this->env_.local().ObjectPath(event->object.id);
      if (size <= threshold) {
        EXPECT_FALSE(std::filesystem::exists(path)) << size;
      } else {
        EXPECT_EQ(std::filesystem::file_size(path), size);
      }
      EXPECT_TRUE(std::filesystem::is_empty(this->env_.dir() + "/objects/tmp"));
    }
    stored.emplace_back(*event, std::move(content));
  }
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [event, content] : stored) {
      const int64_t id = event.object.id;
      const size_t size = content.size();
      EXPECT_EQ(this->ReadAll(id, 1000), content) << size;
      EXPECT_EQ(this->Drain(this->store().OpenRange(id, size / 3, size / 2), 777),
                content.substr(size / 3, size / 2))
          << size;
      EXPECT_EQ(this->Drain(this->store().OpenRange(id, size - 1, 1)), content.substr(size - 1));
      EXPECT_EQ(this->Drain(this->store().OpenRange(id, size, 0)), "");
      EXPECT_TRUE(absl::IsOutOfRange(this->store().OpenRange(id, 1, size).status())) << size;
    }
    if constexpr (TypeParam::kDurable) {
      this->env_.Reopen();
    } else {
      break;
    }
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

// --- Seal ---

TYPED_TEST(ObjectStoreContractTest, SealReturnsDigestsThatCommitUses) {
  auto writer = this->store().BeginPut("inventory", "berlin.csv", "admin");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("hello ").ok());
  ASSERT_TRUE((*writer)->Write("world").ok());
  auto digests = (*writer)->Seal();
  ASSERT_TRUE(digests.ok()) << digests.status();
  EXPECT_EQ(digests->size, 11u);
  EXPECT_EQ(digests->sha256_hex,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(digests->md5_hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  // Sealed: no more bytes, no second seal; nothing visible yet.
  EXPECT_TRUE(absl::IsFailedPrecondition((*writer)->Write("!")));
  EXPECT_TRUE(absl::IsFailedPrecondition((*writer)->Seal().status()));
  EXPECT_TRUE(this->store().EventsAfter(0, 10)->empty());
  EXPECT_TRUE(absl::IsNotFound(this->store().Head("inventory", "berlin.csv").status()));
  auto event = (*writer)->Commit();
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->object.size, digests->size);
  EXPECT_EQ(event->object.sha256_hex, digests->sha256_hex);
  EXPECT_EQ(event->object.etag, digests->md5_hex);
  EXPECT_EQ(this->ReadAll(event->object.id), "hello world");
  EXPECT_TRUE(absl::IsFailedPrecondition((*writer)->Seal().status()));
}

TYPED_TEST(ObjectStoreContractTest, SealOfEmptyObjectAndAbortAfterSeal) {
  {
    auto writer = this->store().BeginPut("inventory", "empty.csv", "admin");
    ASSERT_TRUE(writer.ok());
    auto digests = (*writer)->Seal();
    ASSERT_TRUE(digests.ok());
    EXPECT_EQ(digests->size, 0u);
    EXPECT_EQ(digests->md5_hex, "d41d8cd98f00b204e9800998ecf8427e");
    // A caller whose declared checksum does not match aborts instead of committing.
    (*writer)->Abort();
    EXPECT_FALSE((*writer)->Commit().ok());
  }
  EXPECT_TRUE(this->store().EventsAfter(0, 10)->empty());
  if constexpr (TypeParam::kDurable) {
    EXPECT_TRUE(std::filesystem::is_empty(this->env_.dir() + "/objects/tmp"));
  }
}

// --- Options recorded with the object ---

TYPED_TEST(ObjectStoreContractTest, CommitRecordsPutOptions) {
  PutOptions options;
  options.scope = Scoped({"Hamburg", "Berlin", "Hamburg"});
  options.event_name = "ObjectCreated:CompleteMultipartUpload";
  options.etag = "9b2cf535f27731c974343645a3985328-2";
  options.content_type = "text/csv; charset=utf-8";
  options.metadata = {{"mtime", "1764083210.5"}, {"empty", ""}, {"note", "a b"}};
  auto event = this->TryPut("both.csv", "store,item,count\n", options);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->event_name, "ObjectCreated:CompleteMultipartUpload");
  EXPECT_EQ(event->object.etag, "9b2cf535f27731c974343645a3985328-2");
  EXPECT_EQ(event->object.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(event->object.scope, Scoped({"Berlin", "Hamburg"}));  // sorted, unique
  EXPECT_EQ(event->object.sha256_hex, HexDigest(EVP_sha256(), "store,item,count\n"));

  auto check = [&](const char* when) {
    auto stored = this->store().GetEvent(event->sequence);
    ASSERT_TRUE(stored.ok()) << when;
    EXPECT_EQ(stored->event_name, event->event_name) << when;
    EXPECT_EQ(stored->object.etag, event->object.etag) << when;
    EXPECT_EQ(stored->object.content_type, event->object.content_type) << when;
    EXPECT_EQ(stored->object.metadata, options.metadata) << when;
    EXPECT_EQ(stored->object.scope, event->object.scope) << when;
    auto head = this->store().Head("inventory", "both.csv");
    ASSERT_TRUE(head.ok()) << when;
    EXPECT_EQ(head->id, event->object.id) << when;
    EXPECT_EQ(head->etag, event->object.etag) << when;
    EXPECT_EQ(head->content_type, event->object.content_type) << when;
    EXPECT_EQ(head->metadata, options.metadata) << when;
    EXPECT_EQ(head->scope, event->object.scope) << when;
    EXPECT_EQ(head->created_at, event->object.created_at) << when;
  };
  check("before reopening");
  if constexpr (TypeParam::kDurable) {
    this->env_.Reopen();
    check("after reopening");
  }
}

TYPED_TEST(ObjectStoreContractTest, ScopesRoundTripExactly) {
  // Store names may hold any UTF-8 but NUL: newlines, separators, non-ASCII.
  const std::vector<ObjectScope> scopes = {
      ObjectScope{},
      Scoped({"Berlin"}),
      Scoped({"a\nb", "a", "b"}),
      Scoped({"M\xc3\xbcnchen", "*", "x,y", " "}),
      Scoped({std::string(core::kMaxNameBytes, 'z')}),
  };
  std::vector<ObjectScope> expected;
  for (size_t i = 0; i < scopes.size(); ++i) {
    auto event = this->TryPut("k" + std::to_string(i), "x", WithScope(scopes[i]));
    ASSERT_TRUE(event.ok()) << event.status();
    ObjectScope canonical = scopes[i];
    std::sort(canonical.stores.begin(), canonical.stores.end());
    expected.push_back(canonical);
  }
  auto check = [&] {
    for (size_t i = 0; i < scopes.size(); ++i) {
      auto head = this->store().Head("inventory", "k" + std::to_string(i));
      ASSERT_TRUE(head.ok());
      EXPECT_EQ(head->scope, expected[i]) << i;
    }
  };
  check();
  if constexpr (TypeParam::kDurable) {
    this->env_.Reopen();
    check();
  }
}

TYPED_TEST(ObjectStoreContractTest, RejectsInvalidScopes) {
  for (const ObjectScope& scope : {Scoped({}), Scoped({""}), Scoped({std::string("a\0b", 3)}),
                                   Scoped({std::string(core::kMaxNameBytes + 1, 'z')})}) {
    EXPECT_TRUE(absl::IsInvalidArgument(
        this->store().BeginPut("inventory", "a.csv", "admin", WithScope(scope)).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(
        this->store()
            .CreateMultipartUpload("inventory", "a.csv", "admin", WithScope(scope))
            .status()));
  }
  EXPECT_TRUE(this->store().ListMultipartUploads("inventory", "", 10)->empty());
}

// --- The key index ---

TYPED_TEST(ObjectStoreContractTest, NewestCommitOwnsTheKey) {
  const ObjectCreatedEvent first = this->Put("a.csv", "one");
  this->env_.clock().Advance(std::chrono::seconds(1));
  // Two writers for one key: the one committed last wins, whenever it began.
  auto slow = this->store().BeginPut("inventory", "a.csv", "admin");
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE((*slow)->Write("three").ok());
  const ObjectCreatedEvent second = this->Put("a.csv", "two");
  auto head = this->store().Head("inventory", "a.csv");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->id, second.object.id);
  auto third = (*slow)->Commit();
  ASSERT_TRUE(third.ok());
  head = this->store().Head("inventory", "a.csv");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->id, third->object.id);
  EXPECT_EQ(head->size, 5u);
  EXPECT_EQ(this->Drain(this->store().Open(head->id)), "three");
  EXPECT_EQ(this->ListKeys(""), (std::vector<std::string>{"a.csv"}));
  // Every version stays in the upload history.
  EXPECT_EQ(this->store().EventsAfter(0, 10)->size(), 3u);
  EXPECT_EQ(this->ReadAll(first.object.id), "one");
}

TYPED_TEST(ObjectStoreContractTest, BucketsHaveSeparateKeys) {
  ASSERT_TRUE(this->TryPut("a.csv", "inventory", {}).ok());
  ASSERT_TRUE(this->TryPut("a.csv", "other", {}, "other").ok());
  EXPECT_EQ(this->Drain(this->store().Open(this->store().Head("inventory", "a.csv")->id)),
            "inventory");
  EXPECT_EQ(this->Drain(this->store().Open(this->store().Head("other", "a.csv")->id)), "other");
  EXPECT_TRUE(absl::IsNotFound(this->store().Head("third", "a.csv").status()));
  EXPECT_EQ(this->ListKeys(""), (std::vector<std::string>{"a.csv"}));
  ASSERT_TRUE(*this->store().Delete("other", "a.csv"));
  EXPECT_TRUE(this->store().Head("inventory", "a.csv").ok());
}

TYPED_TEST(ObjectStoreContractTest, DeleteRemovesOnlyTheKey) {
  const ObjectCreatedEvent event = this->Put("a.csv", "alpha");
  this->Put("b.csv", "beta");
  auto removed = this->store().Delete("inventory", "a.csv");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(*removed);
  EXPECT_TRUE(absl::IsNotFound(this->store().Head("inventory", "a.csv").status()));
  EXPECT_EQ(this->ListKeys(""), (std::vector<std::string>{"b.csv"}));
  // Deleting again, or a key never stored, is fine and reports nothing removed.
  EXPECT_FALSE(*this->store().Delete("inventory", "a.csv"));
  EXPECT_FALSE(*this->store().Delete("inventory", "never.csv"));
  // The upload history keeps the event and the bytes.
  auto kept = this->store().GetEvent(event.sequence);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->object.key, "a.csv");
  EXPECT_EQ(this->ReadAll(event.object.id), "alpha");
  EXPECT_EQ(this->store().EventsAfter(0, 10)->size(), 2u);
  if constexpr (TypeParam::kDurable) {
    this->env_.Reopen();
    EXPECT_TRUE(absl::IsNotFound(this->store().Head("inventory", "a.csv").status()));
    EXPECT_EQ(this->ReadAll(event.object.id), "alpha");
  }
  // Putting the key again makes it current again.
  const ObjectCreatedEvent again = this->Put("a.csv", "gamma");
  EXPECT_EQ(this->store().Head("inventory", "a.csv")->id, again.object.id);
}

// Keys chosen to catch signed-char comparison, text (NUL-truncating) binding, and a prefix
// range that ends in 0xff bytes. Listed in the bytewise order S3 uses.
const std::vector<std::string>& OrderedKeys() {
  static const std::vector<std::string> keys = {
      "B",
      "a",
      std::string("a\0b", 3),
      "a\x01",
      "ab",
      "a\x7f",
      "a\xc3\xa4",  // "aä"
      "a\xff",
      std::string("a\xff\0", 3),
      "a\xff\xff",
      "b",
      "z",
      "\xe2\x82\xac",  // "€"
      "\xff",
      "\xff\xff",
  };
  return keys;
}

TYPED_TEST(ObjectStoreContractTest, ListOrdersKeysBytewise) {
  // Stored in a scrambled order.
  std::vector<std::string> keys = OrderedKeys();
  std::reverse(keys.begin(), keys.end());
  std::rotate(keys.begin(), keys.begin() + 5, keys.end());
  for (const std::string& key : keys) this->Put(key, key);
  EXPECT_EQ(this->ListKeys(""), OrderedKeys());
  auto objects = this->store().List(core::ListQuery{"inventory", "", "", 1000, std::nullopt});
  ASSERT_TRUE(objects.ok());
  for (const auto& object : *objects) {
    EXPECT_EQ(this->ReadAll(object.id), object.key);
    EXPECT_EQ(object.bucket, "inventory");
    EXPECT_EQ(object.size, object.key.size());
  }
  EXPECT_TRUE(this->store().Head("inventory", std::string("a\0b", 3)).ok());
  EXPECT_TRUE(absl::IsNotFound(this->store().Head("inventory", std::string("a\0", 2)).status()));
}

TYPED_TEST(ObjectStoreContractTest, ListByPrefix) {
  for (const std::string& key : OrderedKeys()) this->Put(key, key);
  using Keys = std::vector<std::string>;
  EXPECT_EQ(this->ListKeys("a"),
            (Keys{"a", std::string("a\0b", 3), "a\x01", "ab", "a\x7f", "a\xc3\xa4", "a\xff",
                  std::string("a\xff\0", 3), "a\xff\xff"}));
  // The end of the "a\xff" range is "b", excluded; "ab" sorts before the range.
  EXPECT_EQ(this->ListKeys("a\xff"), (Keys{"a\xff", std::string("a\xff\0", 3), "a\xff\xff"}));
  EXPECT_EQ(this->ListKeys("a\xff\xff"), (Keys{"a\xff\xff"}));
  // A prefix of only 0xff bytes has no end: the range runs to the end of the bucket.
  EXPECT_EQ(this->ListKeys("\xff"), (Keys{"\xff", "\xff\xff"}));
  EXPECT_EQ(this->ListKeys("\xff\xff"), (Keys{"\xff\xff"}));
  EXPECT_EQ(this->ListKeys("\xff\xff\xff"), Keys{});
  EXPECT_EQ(this->ListKeys(std::string("a\0", 2)), (Keys{std::string("a\0b", 3)}));
  EXPECT_EQ(this->ListKeys("\xe2\x82"), (Keys{"\xe2\x82\xac"}));
  EXPECT_EQ(this->ListKeys("B"), (Keys{"B"}));
  EXPECT_EQ(this->ListKeys("q"), Keys{});
  EXPECT_EQ(this->ListKeys("ab"), (Keys{"ab"}));
  EXPECT_EQ(this->ListKeys("abc"), Keys{});
}

TYPED_TEST(ObjectStoreContractTest, ListStartAfterAndLimit) {
  for (const std::string& key : OrderedKeys()) this->Put(key, key);
  using Keys = std::vector<std::string>;
  const Keys& all = OrderedKeys();
  // Strictly after, whether or not start_after is a key.
  EXPECT_EQ(this->ListKeys("", "a"), Keys(all.begin() + 2, all.end()));
  EXPECT_EQ(this->ListKeys("", std::string("a\0", 2)), Keys(all.begin() + 2, all.end()));
  EXPECT_EQ(this->ListKeys("", "A"), all);
  EXPECT_EQ(this->ListKeys("", "\xff\xff"), Keys{});
  EXPECT_EQ(this->ListKeys("a", "a\xff"), (Keys{std::string("a\xff\0", 3), "a\xff\xff"}));
  // start_after before the prefix changes nothing; after its range leaves nothing.
  EXPECT_EQ(this->ListKeys("a\xff", "B"), (Keys{"a\xff", std::string("a\xff\0", 3), "a\xff\xff"}));
  EXPECT_EQ(this->ListKeys("a", "b"), Keys{});
  EXPECT_EQ(this->ListKeys("\xff", "\xff"), (Keys{"\xff\xff"}));
  // Limits, and paging by the last key returned.
  EXPECT_EQ(this->ListKeys("", "", 3), Keys(all.begin(), all.begin() + 3));
  EXPECT_EQ(this->ListKeys("", "", 0), Keys{});
  Keys paged;
  std::string after;
  for (int page = 0; page < 100; ++page) {
    const Keys keys = this->ListKeys("", after, 4);
    EXPECT_LE(keys.size(), 4u);
    if (keys.empty()) break;
    paged.insert(paged.end(), keys.begin(), keys.end());
    after = keys.back();
  }
  EXPECT_EQ(paged, all);
}

TYPED_TEST(ObjectStoreContractTest, ListShowsOnlyWhatTheScopeCovers) {
  // k00..k29, scopes cycling through: all stores, Berlin, Hamburg, Berlin+Hamburg, Munich.
  const std::vector<ObjectScope> cycle = {ObjectScope{}, Scoped({"Berlin"}), Scoped({"Hamburg"}),
                                          Scoped({"Berlin", "Hamburg"}), Scoped({"Munich"})};
  std::vector<std::string> berlin, berlin_hamburg, all;
  for (int i = 0; i < 30; ++i) {
    const std::string key = (i < 10 ? "k0" : "k") + std::to_string(i);
    ASSERT_TRUE(this->TryPut(key, "x", WithScope(cycle[i % 5])).ok());
    all.push_back(key);
    if (i % 5 == 1) berlin.push_back(key);
    if (i % 5 >= 1 && i % 5 <= 3) berlin_hamburg.push_back(key);
  }
  auto query = [](ObjectScope scope, size_t limit = 1000, std::string start_after = "") {
    return core::ListQuery{"inventory", "k", std::move(start_after), limit, std::move(scope)};
  };
  EXPECT_EQ(this->ListKeys(query(Scoped({"Berlin"}))), berlin);
  EXPECT_EQ(this->ListKeys(query(Scoped({"Berlin", "Hamburg"}))), berlin_hamburg);
  EXPECT_EQ(this->ListKeys(query(Scoped({"Nowhere"}))), std::vector<std::string>{});
  EXPECT_EQ(this->ListKeys(query(ObjectScope{})), all);
  EXPECT_EQ(this->ListKeys(core::ListQuery{"inventory", "k", "", 1000, std::nullopt}), all);
  // The limit counts visible objects, however many invisible ones lie between them.
  EXPECT_EQ(this->ListKeys(query(Scoped({"Berlin"}), 4)),
            std::vector<std::string>(berlin.begin(), berlin.begin() + 4));
  EXPECT_EQ(this->ListKeys(query(Scoped({"Berlin"}), 2, berlin[3])),
            std::vector<std::string>(berlin.begin() + 4, berlin.begin() + 6));
  EXPECT_EQ(this->ListKeys(query(Scoped({"Berlin"}), 10, berlin.back())),
            std::vector<std::string>{});
}

TYPED_TEST(ObjectStoreContractTest, ScopedListFillsItsLimitPastLongInvisibleRuns) {
  for (int i = 0; i < 25; ++i) {
    char key[8];
    std::snprintf(key, sizeof(key), "m%03d", i);
    ASSERT_TRUE(this->TryPut(key, "x", WithScope(Scoped({"Munich"}))).ok());
  }
  ASSERT_TRUE(this->TryPut("m100", "x", WithScope(Scoped({"Berlin"}))).ok());
  ASSERT_TRUE(this->TryPut("m101", "x", {}).ok());
  ASSERT_TRUE(this->TryPut("m102", "x", WithScope(Scoped({"Berlin"}))).ok());
  ASSERT_TRUE(this->TryPut("n000", "x", WithScope(Scoped({"Berlin"}))).ok());
  const core::ListQuery query{"inventory", "m", "", 2, Scoped({"Berlin"})};
  EXPECT_EQ(this->ListKeys(query), (std::vector<std::string>{"m100", "m102"}));
  const core::ListQuery rest{"inventory", "m", "m100", 5, Scoped({"Berlin"})};
  EXPECT_EQ(this->ListKeys(rest), (std::vector<std::string>{"m102"}));
}

// --- Replays ---

TYPED_TEST(ObjectStoreContractTest, ReplayKeyIsStoredOnce) {
  PutOptions options;
  options.replay_key = "4f0e1c2a9b7d";
  options.replay_until = T0() + std::chrono::minutes(15);
  auto first = this->TryPut("a.csv", "first", options);
  ASSERT_TRUE(first.ok()) << first.status();
  this->env_.clock().Advance(std::chrono::seconds(5));
  // The same signed request again: refused, and nothing of it is stored.
  auto again = this->TryPut("a.csv", "again", options);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  auto other_key = this->TryPut("b.csv", "again", options);
  EXPECT_TRUE(absl::IsAlreadyExists(other_key.status())) << other_key.status();
  EXPECT_EQ(this->store().EventsAfter(0, 10)->size(), 1u);
  EXPECT_EQ(this->store().Head("inventory", "a.csv")->id, first->object.id);
  EXPECT_TRUE(absl::IsNotFound(this->store().Head("inventory", "b.csv").status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().Open(first->object.id + 1).status()));
  if constexpr (TypeParam::kDurable) {
    EXPECT_TRUE(std::filesystem::is_empty(this->env_.dir() + "/objects/tmp"));
    EXPECT_FALSE(std::filesystem::exists(this->env_.local().ObjectPath(first->object.id + 1)));
  }

  auto found = this->store().FindReplay("4f0e1c2a9b7d");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->sequence, first->sequence);
  EXPECT_EQ(found->object.id, first->object.id);
  EXPECT_EQ(found->object.sha256_hex, first->object.sha256_hex);
  EXPECT_TRUE(absl::IsNotFound(this->store().FindReplay("4f0e1c2a9b7e").status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().FindReplay("").status()));
  // Puts without a replay key are never refused as replays.
  EXPECT_TRUE(this->TryPut("c.csv", "x", {}).ok());
  EXPECT_TRUE(this->TryPut("c.csv", "x", {}).ok());

  if constexpr (TypeParam::kDurable) {
    this->env_.Reopen();
    EXPECT_TRUE(absl::IsAlreadyExists(this->TryPut("a.csv", "again", options).status()));
    EXPECT_EQ(this->store().FindReplay("4f0e1c2a9b7d")->sequence, first->sequence);
  }
}

TYPED_TEST(ObjectStoreContractTest, ExpireReplaysForgetsOldKeys) {
  PutOptions early;
  early.replay_key = "early";
  early.replay_until = T0() + std::chrono::minutes(5);
  PutOptions late;
  late.replay_key = "late";
  late.replay_until = T0() + std::chrono::minutes(15);
  ASSERT_TRUE(this->TryPut("a.csv", "a", early).ok());
  ASSERT_TRUE(this->TryPut("b.csv", "b", late).ok());
  // Kept up to and including replay_until.
  EXPECT_EQ(*this->store().ExpireReplays(T0() + std::chrono::minutes(5)), 0);
  EXPECT_EQ(*this->store().ExpireReplays(T0() + std::chrono::minutes(6)), 1);
  EXPECT_TRUE(absl::IsNotFound(this->store().FindReplay("early").status()));
  EXPECT_TRUE(this->store().FindReplay("late").ok());
  EXPECT_EQ(*this->store().ExpireReplays(T0() + std::chrono::minutes(6)), 0);
  // A forgotten key may be used again; the object itself stays.
  EXPECT_TRUE(this->store().Head("inventory", "a.csv").ok());
  EXPECT_TRUE(this->TryPut("a.csv", "a2", early).ok());
  EXPECT_EQ(*this->store().ExpireReplays(T0() + std::chrono::hours(1)), 2);
}

// --- Ranges ---

TYPED_TEST(ObjectStoreContractTest, OpenRangeReadsExactlyTheRange) {
  const ObjectCreatedEvent event = this->Put("digits.csv", "0123456789");
  const int64_t id = event.object.id;
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 2, 5)), "23456");
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 2, 5), 1), "23456");
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 2, 5), 100), "23456");
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 0, 10)), "0123456789");
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 9, 1)), "9");
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 0, 1)), "0");
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 10, 0)), "");
  EXPECT_EQ(this->Drain(this->store().OpenRange(id, 4, 0)), "");
  EXPECT_TRUE(absl::IsOutOfRange(this->store().OpenRange(id, 5, 6).status()));
  EXPECT_TRUE(absl::IsOutOfRange(this->store().OpenRange(id, 11, 0).status()));
  EXPECT_TRUE(absl::IsOutOfRange(this->store().OpenRange(id, 1, UINT64_MAX).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().OpenRange(id + 1, 0, 0).status()));
}

TYPED_TEST(ObjectStoreContractTest, OpenRangeOfLargeObject) {
  std::string content;
  for (int i = 0; content.size() < (3u << 20); ++i) content += std::to_string(i) + ",";
  auto writer = this->store().BeginPut("inventory", "big.csv", "admin");
  ASSERT_TRUE(writer.ok());
  for (size_t at = 0; at < content.size(); at += 100000) {
    ASSERT_TRUE((*writer)->Write(std::string_view(content).substr(at, 100000)).ok());
  }
  auto event = (*writer)->Commit();
  ASSERT_TRUE(event.ok());
  const uint64_t offset = (1u << 20) + 17;
  const uint64_t length = (1u << 20) + 4099;
  EXPECT_EQ(this->Drain(this->store().OpenRange(event->object.id, offset, length), 65536),
            content.substr(offset, length));
}

// --- Multipart uploads ---

TYPED_TEST(ObjectStoreContractTest, MultipartUploadFullCycle) {
  PutOptions create;
  create.scope = Scoped({"Berlin"});
  create.content_type = "text/csv";
  create.metadata = {{"mtime", "42"}};
  auto upload = this->store().CreateMultipartUpload("inventory", "big.csv", "SWKEY", create);
  ASSERT_TRUE(upload.ok()) << upload.status();
  // Unguessable: 32 random hex digits, new each time.
  EXPECT_EQ(upload->upload_id.size(), 32u);
  EXPECT_EQ(upload->upload_id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(upload->bucket, "inventory");
  EXPECT_EQ(upload->key, "big.csv");
  EXPECT_EQ(upload->uploader, "SWKEY");
  EXPECT_EQ(upload->options.scope, Scoped({"Berlin"}));
  EXPECT_EQ(upload->options.content_type, "text/csv");
  EXPECT_EQ(upload->initiated_at, T0());
  const std::string id = upload->upload_id;
  auto fetched = this->store().GetMultipartUpload(id);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->key, "big.csv");
  EXPECT_EQ(fetched->uploader, "SWKEY");
  EXPECT_EQ(fetched->options.scope, Scoped({"Berlin"}));
  EXPECT_EQ(fetched->options.content_type, "text/csv");
  EXPECT_EQ(fetched->options.metadata, create.metadata);
  EXPECT_EQ(fetched->initiated_at, T0());
  EXPECT_TRUE(this->store().ListParts(id)->empty());

  // Parts out of order; part 1 is uploaded twice and the second one counts.
  this->env_.clock().Advance(std::chrono::seconds(1));
  ASSERT_TRUE(this->PutPart(id, 3, "Berlin,Fire TV,2\n").ok());
  ASSERT_TRUE(this->PutPart(id, 1, "stale first part").ok());
  ASSERT_TRUE(this->PutPart(id, 2, "Berlin,Echo Dot,12\n").ok());
  this->env_.clock().Advance(std::chrono::seconds(1));
  auto writer = this->store().BeginPart(id, 1);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Write("store,item,").ok());
  ASSERT_TRUE((*writer)->Write("count\n").ok());
  auto digests = (*writer)->Seal();
  ASSERT_TRUE(digests.ok());
  EXPECT_EQ(digests->md5_hex, HexDigest(EVP_md5(), "store,item,count\n"));
  EXPECT_EQ(digests->sha256_hex, HexDigest(EVP_sha256(), "store,item,count\n"));
  EXPECT_TRUE(absl::IsFailedPrecondition((*writer)->Write("x")));
  auto part1 = (*writer)->Commit();
  ASSERT_TRUE(part1.ok()) << part1.status();
  EXPECT_EQ(part1->part_number, 1);
  EXPECT_EQ(part1->size, 17u);
  EXPECT_EQ(part1->etag, digests->md5_hex);
  EXPECT_EQ(part1->uploaded_at, T0() + std::chrono::seconds(2));
  if constexpr (TypeParam::kDurable) {
    EXPECT_EQ(this->PartFileCount(), 3);
  }

  auto parts = this->store().ListParts(id);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 3u);
  const std::vector<std::string> contents = {"store,item,count\n", "Berlin,Echo Dot,12\n",
                                             "Berlin,Fire TV,2\n"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*parts)[i].part_number, i + 1);
    EXPECT_EQ((*parts)[i].size, contents[i].size());
    EXPECT_EQ((*parts)[i].etag, HexDigest(EVP_md5(), contents[i]));
    EXPECT_EQ(this->Drain(this->store().OpenPart(id, i + 1)), contents[i]);
  }
  EXPECT_EQ((*parts)[1].uploaded_at, T0() + std::chrono::seconds(1));
  EXPECT_TRUE(absl::IsNotFound(this->store().OpenPart(id, 4).status()));

  // Complete: the S3 layer streams the parts into one put that names the upload.
  PutOptions complete;
  complete.scope = fetched->options.scope;
  complete.content_type = fetched->options.content_type;
  complete.event_name = "ObjectCreated:CompleteMultipartUpload";
  complete.etag = "0c5b7b6f2a0ce5bb64bbeb1e9aa4d2b8-3";
  complete.completes_upload_id = id;
  auto put = this->store().BeginPut("inventory", "big.csv", "SWKEY", complete);
  ASSERT_TRUE(put.ok());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE((*put)->Write(this->Drain(this->store().OpenPart(id, i))).ok());
  }
  auto event = (*put)->Commit();
  ASSERT_TRUE(event.ok()) << event.status();
  const std::string whole = contents[0] + contents[1] + contents[2];
  EXPECT_EQ(event->event_name, "ObjectCreated:CompleteMultipartUpload");
  EXPECT_EQ(event->object.etag, "0c5b7b6f2a0ce5bb64bbeb1e9aa4d2b8-3");
  EXPECT_EQ(event->object.sha256_hex, HexDigest(EVP_sha256(), whole));
  EXPECT_EQ(event->object.size, whole.size());
  EXPECT_EQ(event->object.uploader, "SWKEY");
  EXPECT_EQ(event->object.scope, Scoped({"Berlin"}));
  EXPECT_EQ(event->object.content_type, "text/csv");
  EXPECT_EQ(this->store().Head("inventory", "big.csv")->id, event->object.id);
  EXPECT_EQ(this->ReadAll(event->object.id), whole);

  // The upload and its parts are gone.
  EXPECT_TRUE(absl::IsNotFound(this->store().GetMultipartUpload(id).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().ListParts(id).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().OpenPart(id, 1).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().BeginPart(id, 4).status()));
  EXPECT_TRUE(this->store().ListMultipartUploads("inventory", "", 10)->empty());
  if constexpr (TypeParam::kDurable) {
    EXPECT_EQ(this->PartFileCount(), 0);
  }

  // Completing twice stores nothing.
  auto twice = this->store().BeginPut("inventory", "big.csv", "SWKEY", complete);
  ASSERT_TRUE(twice.ok());
  ASSERT_TRUE((*twice)->Write("other").ok());
  EXPECT_TRUE(absl::IsNotFound((*twice)->Commit().status()));
  EXPECT_EQ(this->store().EventsAfter(0, 10)->size(), 1u);
  EXPECT_EQ(this->store().Head("inventory", "big.csv")->id, event->object.id);
  if constexpr (TypeParam::kDurable) {
    EXPECT_TRUE(std::filesystem::is_empty(this->env_.dir() + "/objects/tmp"));
    EXPECT_FALSE(std::filesystem::exists(this->env_.local().ObjectPath(event->object.id + 1)));
  }
}

TYPED_TEST(ObjectStoreContractTest, PartWriterAfterAbortIsNotFound) {
  auto upload = this->store().CreateMultipartUpload("inventory", "a.csv", "admin", {});
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE(this->PutPart(upload->upload_id, 1, "one").ok());
  auto writer = this->store().BeginPart(upload->upload_id, 2);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("two").ok());
  ASSERT_TRUE(this->store().AbortMultipartUpload(upload->upload_id).ok());
  EXPECT_TRUE(absl::IsNotFound((*writer)->Commit().status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().GetMultipartUpload(upload->upload_id).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().ListParts(upload->upload_id).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().OpenPart(upload->upload_id, 1).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().BeginPart(upload->upload_id, 1).status()));
  EXPECT_TRUE(absl::IsNotFound(this->store().AbortMultipartUpload(upload->upload_id)));
  if constexpr (TypeParam::kDurable) {
    EXPECT_EQ(this->PartFileCount(), 0);
  }
  // Completing an aborted upload stores nothing.
  PutOptions complete;
  complete.completes_upload_id = upload->upload_id;
  EXPECT_TRUE(absl::IsNotFound(this->TryPut("a.csv", "x", complete).status()));
  EXPECT_TRUE(this->store().EventsAfter(0, 10)->empty());
  EXPECT_TRUE(absl::IsNotFound(this->store().Head("inventory", "a.csv").status()));
}

TYPED_TEST(ObjectStoreContractTest, ListMultipartUploadsByKeyThenInitiation) {
  auto create = [&](std::string_view bucket, std::string_view key) {
    auto upload = this->store().CreateMultipartUpload(bucket, key, "admin", {});
    EXPECT_TRUE(upload.ok()) << upload.status();
    this->env_.clock().Advance(std::chrono::seconds(1));
    return upload.ok() ? upload->upload_id : "";
  };
  const std::string b = create("inventory", "b.csv");
  const std::string a_late_first = create("inventory", "a.csv");
  const std::string ab = create("inventory", "ab.csv");
  const std::string a_later = create("inventory", "a.csv");
  const std::string ff = create("inventory", "\xff");
  create("other", "a.csv");
  auto ids = [&](std::string_view prefix, size_t limit) {
    std::vector<std::string> out;
    auto uploads = this->store().ListMultipartUploads("inventory", prefix, limit);
    EXPECT_TRUE(uploads.ok()) << uploads.status();
    if (uploads.ok()) {
      for (const auto& upload : *uploads) out.push_back(upload.upload_id);
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids("", 100), (Ids{a_late_first, a_later, ab, b, ff}));
  EXPECT_EQ(ids("a", 100), (Ids{a_late_first, a_later, ab}));
  EXPECT_EQ(ids("a.", 100), (Ids{a_late_first, a_later}));
  EXPECT_EQ(ids("\xff", 100), (Ids{ff}));
  EXPECT_EQ(ids("", 2), (Ids{a_late_first, a_later}));
  EXPECT_EQ(ids("", 0), Ids{});
  EXPECT_EQ(ids("c", 100), Ids{});
  ASSERT_TRUE(this->store().AbortMultipartUpload(a_later).ok());
  EXPECT_EQ(ids("a", 100), (Ids{a_late_first, ab}));
}

TYPED_TEST(ObjectStoreContractTest, RejectsBadPartNumbers) {
  auto upload = this->store().CreateMultipartUpload("inventory", "a.csv", "admin", {});
  ASSERT_TRUE(upload.ok());
  for (int bad : {0, -1, 10001, INT32_MIN, INT32_MAX}) {
    EXPECT_TRUE(absl::IsInvalidArgument(this->store().BeginPart(upload->upload_id, bad).status()))
        << bad;
    EXPECT_FALSE(this->store().OpenPart(upload->upload_id, bad).ok()) << bad;
  }
  EXPECT_TRUE(this->PutPart(upload->upload_id, 1, "first").ok());
  EXPECT_TRUE(this->PutPart(upload->upload_id, 10000, "last").ok());
  auto parts = this->store().ListParts(upload->upload_id);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[1].part_number, 10000);
}

TYPED_TEST(ObjectStoreContractTest, UnknownUploadIdsAreNotFound) {
  auto real = this->store().CreateMultipartUpload("inventory", "a.csv", "admin", {});
  ASSERT_TRUE(real.ok());
  std::string upper = real->upload_id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == real->upload_id) upper[0] = 'G';
  const std::vector<std::string> unknown = {"",
                                            "nope",
                                            "00000000000000000000000000000000",
                                            upper,
                                            real->upload_id + "0",
                                            real->upload_id.substr(1),
                                            "../../../../etc/passwd",
                                            "parts/../" + real->upload_id,
                                            std::string(32, '\0')};
  for (const std::string& id : unknown) {
    EXPECT_TRUE(absl::IsNotFound(this->store().GetMultipartUpload(id).status())) << id;
    EXPECT_TRUE(absl::IsNotFound(this->store().BeginPart(id, 1).status())) << id;
    EXPECT_TRUE(absl::IsNotFound(this->store().ListParts(id).status())) << id;
    EXPECT_TRUE(absl::IsNotFound(this->store().OpenPart(id, 1).status())) << id;
    EXPECT_TRUE(absl::IsNotFound(this->store().AbortMultipartUpload(id))) << id;
    PutOptions complete;
    complete.completes_upload_id = id;
    if (!id.empty()) {
      EXPECT_TRUE(absl::IsNotFound(this->TryPut("a.csv", "x", complete).status())) << id;
    }
  }
  EXPECT_TRUE(this->store().EventsAfter(0, 10)->empty());
  EXPECT_TRUE(this->store().GetMultipartUpload(real->upload_id).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->store().CreateMultipartUpload("", "a.csv", "admin", {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      this->store().CreateMultipartUpload("inventory", "", "admin", {}).status()));
}

TYPED_TEST(ObjectStoreContractTest, UploadIdsDiffer) {
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto upload = this->store().CreateMultipartUpload("inventory", "a.csv", "admin", {});
    ASSERT_TRUE(upload.ok());
    ids.insert(upload->upload_id);
  }
  EXPECT_EQ(ids.size(), 20u);
}

// --- Local only: part files on disk ---

TYPED_TEST(ObjectStoreContractTest, PartFilesAreNotNamedAfterKeysOrIds) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "no files";
  } else {
    const std::string key = std::string("../../evil/part\xff") + '\0' + "1";
    auto upload = this->store().CreateMultipartUpload("inventory", key, "admin", {});
    ASSERT_TRUE(upload.ok());
    EXPECT_EQ(upload->key, key);
    ASSERT_TRUE(this->PutPart(upload->upload_id, 1, "one").ok());
    ASSERT_TRUE(this->PutPart(upload->upload_id, 2, "two").ok());
    const std::vector<std::string> files = FilesIn(this->env_.local().parts_dir());
    ASSERT_EQ(files.size(), 2u);
    for (const std::string& name : files) {
      EXPECT_EQ(name.size(), 32u) << name;
      EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), std::string::npos) << name;
      EXPECT_NE(name, upload->upload_id);
    }
    EXPECT_NE(files[0], files[1]);
    EXPECT_FALSE(std::filesystem::exists(this->env_.dir() + "/evil"));
    EXPECT_FALSE(std::filesystem::exists(this->env_.dir() + "/objects/evil"));
  }
}

TYPED_TEST(ObjectStoreContractTest, ReopenRemovesOrphanPartFiles) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "not durable";
  } else {
    auto upload = this->store().CreateMultipartUpload("inventory", "a.csv", "admin", {});
    ASSERT_TRUE(upload.ok());
    ASSERT_TRUE(this->PutPart(upload->upload_id, 1, "kept").ok());
    const std::vector<std::string> committed = FilesIn(this->env_.local().parts_dir());
    ASSERT_EQ(committed.size(), 1u);
    // What a crash leaves: a part written but never committed, the file of a replaced
    // part whose removal did not happen, and a temp file.
    const std::string parts = this->env_.local().parts_dir();
    std::ofstream(parts + "/0123456789abcdef0123456789abcdef") << "uncommitted";
    std::ofstream(parts + "/" + upload->upload_id) << "stray";
    std::ofstream(this->env_.dir() + "/objects/tmp/fedcba9876543210.part") << "partial";
    this->env_.Reopen();
    EXPECT_EQ(FilesIn(parts), committed);
    EXPECT_TRUE(std::filesystem::is_empty(this->env_.dir() + "/objects/tmp"));
    EXPECT_EQ(this->Drain(this->store().OpenPart(upload->upload_id, 1)), "kept");
    // The upload carries on after the restart.
    ASSERT_TRUE(this->PutPart(upload->upload_id, 2, "more").ok());
    EXPECT_EQ(this->store().ListParts(upload->upload_id)->size(), 2u);
    ASSERT_TRUE(this->store().AbortMultipartUpload(upload->upload_id).ok());
    EXPECT_TRUE(std::filesystem::is_empty(parts));
  }
}

TYPED_TEST(ObjectStoreContractTest, MissingPartFileIsDataLoss) {
  if constexpr (!TypeParam::kDurable) {
    GTEST_SKIP() << "no files";
  } else {
    auto upload = this->store().CreateMultipartUpload("inventory", "a.csv", "admin", {});
    ASSERT_TRUE(upload.ok());
    ASSERT_TRUE(this->PutPart(upload->upload_id, 1, "one").ok());
    for (const std::string& name : FilesIn(this->env_.local().parts_dir())) {
      std::filesystem::remove(this->env_.local().parts_dir() + "/" + name);
    }
    EXPECT_TRUE(absl::IsDataLoss(this->store().OpenPart(upload->upload_id, 1).status()));
  }
}

}  // namespace
}  // namespace stockwatch::contract
