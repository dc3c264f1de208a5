#include "adapters/local/local_object_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

class LocalObjectStoreTest : public ::testing::Test {
 protected:
  LocalObjectStoreTest() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sw_local_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = pattern;
  }
  ~LocalObjectStoreTest() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Runs `sql` on the database file with a connection of its own, as another program.
  void ExecRaw(const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/stockwatch.db").c_str(), &raw), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(raw);
  }

  // Creates the database as version `version` of the program left it: the first `version`
  // migrations, then `rows`.
  void CreateDatabaseOfVersion(int version, const std::string& rows) {
    const std::span<const char* const> migrations = SchemaMigrations();
    ASSERT_LE(static_cast<size_t>(version), migrations.size());
    std::string sql;
    for (int i = 0; i < version; ++i) sql += migrations[i];
    sql += rows;
    sql += "PRAGMA user_version = " + std::to_string(version) + ";";
    ExecRaw(sql);
  }

  // Opens the database and the store in dir_ (again), closing what was open.
  void OpenStore(const LocalObjectStoreOptions& options = {}) {
    store_.reset();
    db_.reset();
    auto db = SqliteDatabase::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
    auto store = LocalObjectStore::Open(db_, clock_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  core::ObjectCreatedEvent Put(std::string_view key, std::string_view content) {
    auto writer = store_->BeginPut("inventory", key, "admin");
    EXPECT_TRUE(writer.ok()) << writer.status();
    if (!writer.ok()) return {};
    EXPECT_TRUE((*writer)->Write(content).ok());
    auto event = (*writer)->Commit();
    EXPECT_TRUE(event.ok()) << event.status();
    return event.ok() ? *event : core::ObjectCreatedEvent{};
  }

  std::string Drain(absl::StatusOr<std::unique_ptr<core::ObjectReader>> reader) {
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return "<error>";
    std::string out;
    char buffer[1000];
    while (true) {
      auto n = (*reader)->Read(buffer);
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok()) return "<error>";
      if (*n == 0) return out;
      out.append(buffer, *n);
    }
  }

  std::string ReadAll(int64_t object_id) { return Drain(store_->Open(object_id)); }

  // Names in `objects/` other than the tmp/ and parts/ directories, and in `objects/tmp/`.
  std::vector<std::string> ObjectFiles() { return Names(dir_ + "/objects", {"tmp", "parts"}); }
  std::vector<std::string> TempFiles() { return Names(dir_ + "/objects/tmp", {}); }

  std::string dir_;
  core::SystemClock clock_;
  std::shared_ptr<SqliteDatabase> db_;
  std::unique_ptr<LocalObjectStore> store_;

 private:
  static std::vector<std::string> Names(const std::string& dir,
                                        const std::vector<std::string>& except) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::string name = entry.path().filename().string();
      if (std::find(except.begin(), except.end(), name) == except.end()) {
        names.push_back(std::move(name));
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

// The objects of a database as the program wrote it before the S3 API (schema version 1):
// two versions of one key and one other key.
constexpr char kVersion1Objects[] = R"sql(
INSERT INTO objects VALUES (1, 'inventory', CAST('a.csv' AS BLOB), 3, 's1', 'e1', 'admin', 10);
INSERT INTO objects VALUES (2, 'inventory', CAST('b.csv' AS BLOB), 3, 's2', 'e2', 'admin', 20);
INSERT INTO objects VALUES (3, 'inventory', CAST('a.csv' AS BLOB), 3, 's3', 'e3', 'admin', 30);
INSERT INTO object_events VALUES (1, 'ObjectCreated:Put', 1);
INSERT INTO object_events VALUES (2, 'ObjectCreated:Put', 2);
INSERT INTO object_events VALUES (3, 'ObjectCreated:Put', 3);
)sql";

TEST_F(LocalObjectStoreTest, MigratesObjectsOfSchemaVersion1) {
  CreateDatabaseOfVersion(1, kVersion1Objects);
  std::filesystem::create_directory(dir_ + "/objects");
  for (const char* name : {"0000000000000001", "0000000000000002", "0000000000000003"}) {
    std::ofstream(dir_ + "/objects/" + name) << "old";
  }
  auto db = SqliteDatabase::Open(dir_);
  ASSERT_TRUE(db.ok()) << db.status();
  auto store = LocalObjectStore::Open(*db, clock_);
  ASSERT_TRUE(store.ok()) << store.status();

  // Earlier uploads are in the key index, the newest under each key, visible to all-stores
  // keys only.
  auto head = (*store)->Head("inventory", "a.csv");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->id, 3);
  EXPECT_EQ(head->etag, "e3");
  EXPECT_TRUE(head->scope.all_stores);
  EXPECT_EQ(head->content_type, "");
  core::ListQuery everything;
  everything.bucket = "inventory";
  everything.limit = 10;
  absl::StatusOr<std::vector<core::ObjectInfo>> listed = (*store)->List(everything);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, 3);
  EXPECT_EQ((*listed)[1].id, 2);
  core::ObjectScope berlin;
  berlin.all_stores = false;
  berlin.stores = {"Berlin"};
  EXPECT_TRUE((*store)->List(core::ListQuery{"inventory", "", "", 10, berlin})->empty());
  auto event = (*store)->GetEvent(1);
  ASSERT_TRUE(event.ok());
  EXPECT_TRUE(event->object.scope.all_stores);

  // New uploads carry on from there.
  auto writer = (*store)->BeginPut("inventory", "a.csv", "admin");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("new").ok());
  auto added = (*writer)->Commit();
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->object.id, 4);
  EXPECT_EQ((*store)->Head("inventory", "a.csv")->id, 4);
  // The old objects are read from their files, the new small one from its row.
  EXPECT_EQ(Drain((*store)->Open(3)), "old");
  EXPECT_FALSE(std::filesystem::exists((*store)->ObjectPath(4)));
  EXPECT_EQ(Drain((*store)->Open(4)), "new");
}

// The version before objects could be stored in their rows.
constexpr int kVersionBeforeInline = 3;

TEST_F(LocalObjectStoreTest, UpgradeKeepsFileObjectsAndStoresNewSmallOnesInRows) {
  CreateDatabaseOfVersion(kVersionBeforeInline, R"sql(
INSERT INTO objects (id, bucket, key, size, sha256, etag, uploader, created_at_ns)
  VALUES (1, 'inventory', CAST('a.csv' AS BLOB), 5, 's1', 'e1', 'admin', 10);
INSERT INTO object_events VALUES (1, 'ObjectCreated:Put', 1);
INSERT INTO object_keys VALUES ('inventory', CAST('a.csv' AS BLOB), 1);
)sql");
  std::filesystem::create_directories(dir_ + "/objects");
  std::ofstream(dir_ + "/objects/0000000000000001") << "old\n\n";
  OpenStore();
  EXPECT_EQ(ReadAll(1), "old\n\n");
  EXPECT_EQ(Drain(store_->OpenRange(1, 1, 3)), "ld\n");
  const core::ObjectCreatedEvent added = Put("b.csv", "new");
  EXPECT_EQ(added.object.id, 2);
  EXPECT_EQ(ObjectFiles(), std::vector<std::string>{"0000000000000001"});
  EXPECT_EQ(ReadAll(2), "new");
  OpenStore();
  EXPECT_EQ(ReadAll(1), "old\n\n");
  EXPECT_EQ(ReadAll(2), "new");
  EXPECT_EQ(ObjectFiles(), std::vector<std::string>{"0000000000000001"});
}

TEST_F(LocalObjectStoreTest, SmallObjectNeverHasAFile) {
  OpenStore();
  auto writer = store_->BeginPut("inventory", "berlin.csv", "admin");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Write("store,item,count\n").ok());
  ASSERT_TRUE((*writer)->Write("Berlin,Echo Dot,0\n").ok());
  EXPECT_TRUE(TempFiles().empty());
  ASSERT_TRUE((*writer)->Seal().ok());
  EXPECT_TRUE(TempFiles().empty());
  auto event = (*writer)->Commit();
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_TRUE(ObjectFiles().empty());
  EXPECT_EQ(ReadAll(event->object.id), "store,item,count\nBerlin,Echo Dot,0\n");
  EXPECT_EQ(Drain(store_->OpenRange(event->object.id, 6, 4)), "item");
}

TEST_F(LocalObjectStoreTest, TempFileAppearsOnlyBeyondTheThreshold) {
  LocalObjectStoreOptions options;
  options.inline_max_bytes = 1000;
  OpenStore(options);
  auto writer = store_->BeginPut("inventory", "big.csv", "admin");
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Write(std::string(999, 'a')).ok());
  ASSERT_TRUE((*writer)->Write("b").ok());
  EXPECT_TRUE(TempFiles().empty());  // exactly the threshold: still in memory
  ASSERT_TRUE((*writer)->Write("c").ok());
  EXPECT_EQ(TempFiles().size(), 1u);
  auto event = (*writer)->Commit();
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_EQ(ObjectFiles(), std::vector<std::string>{"0000000000000001"});
  EXPECT_EQ(std::filesystem::file_size(store_->ObjectPath(1)), 1001u);
  EXPECT_EQ(ReadAll(1), std::string(999, 'a') + "bc");

  // An aborted or abandoned writer past the threshold leaves no temp file.
  {
    auto aborted = store_->BeginPut("inventory", "aborted.csv", "admin");
    ASSERT_TRUE(aborted.ok());
    ASSERT_TRUE((*aborted)->Write(std::string(1001, 'x')).ok());
    EXPECT_EQ(TempFiles().size(), 1u);
    (*aborted)->Abort();
    EXPECT_TRUE(TempFiles().empty());
    auto abandoned = store_->BeginPut("inventory", "abandoned.csv", "admin");
    ASSERT_TRUE(abandoned.ok());
    ASSERT_TRUE((*abandoned)->Write(std::string(5000, 'x')).ok());
    ASSERT_TRUE((*abandoned)->Seal().ok());
    EXPECT_EQ(TempFiles().size(), 1u);
  }
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_EQ(ObjectFiles(), std::vector<std::string>{"0000000000000001"});
}

// The bytes kept in memory are more than a write buffer holds when the file is created:
// they must still reach the file whole and in order, through the digesting worker.
TEST_F(LocalObjectStoreTest, ThresholdAboveTheWriteBufferKeepsOrderAndDigests) {
  std::string content;
  for (int i = 0; content.size() < 20000; ++i) content += std::to_string(i) + "\n";
  LocalObjectStoreOptions in_row;
  in_row.inline_max_bytes = content.size();
  OpenStore(in_row);
  const core::ObjectCreatedEvent small = Put("a.csv", content);
  EXPECT_TRUE(ObjectFiles().empty());

  LocalObjectStoreOptions in_file;
  in_file.inline_max_bytes = 7000;
  in_file.write_buffer_bytes = 1000;
  OpenStore(in_file);
  auto writer = store_->BeginPut("inventory", "b.csv", "admin");
  ASSERT_TRUE(writer.ok());
  for (size_t at = 0; at < content.size(); at += 3001) {
    ASSERT_TRUE((*writer)->Write(std::string_view(content).substr(at, 3001)).ok());
  }
  auto large = (*writer)->Commit();
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_EQ(ObjectFiles().size(), 1u);
  EXPECT_EQ(large->object.size, content.size());
  EXPECT_EQ(large->object.sha256_hex, small.object.sha256_hex);
  EXPECT_EQ(large->object.etag, small.object.etag);
  EXPECT_EQ(ReadAll(large->object.id), content);
  EXPECT_EQ(ReadAll(small.object.id), content);
}

TEST_F(LocalObjectStoreTest, ZeroThresholdKeepsOnlyEmptyObjectsInRows) {
  LocalObjectStoreOptions options;
  options.inline_max_bytes = 0;
  OpenStore(options);
  const core::ObjectCreatedEvent empty = Put("empty.csv", "");
  const core::ObjectCreatedEvent one = Put("one.csv", "1");
  EXPECT_EQ(ObjectFiles(), std::vector<std::string>{"0000000000000002"});
  EXPECT_EQ(ReadAll(empty.object.id), "");
  EXPECT_EQ(ReadAll(one.object.id), "1");
}

TEST_F(LocalObjectStoreTest, DeletedAndReopenedObjectsInRowsStayReadable) {
  OpenStore();
  const core::ObjectCreatedEvent first = Put("a.csv", "alpha");
  const core::ObjectCreatedEvent second = Put("b.csv", "beta");
  // A temp file and an uncommitted object file of a crash, among objects with no file.
  std::ofstream(dir_ + "/objects/tmp/0123456789abcdef.part") << "partial";
  std::ofstream(dir_ + "/objects/0000000000000003") << "orphan";
  ASSERT_TRUE(*store_->Delete("inventory", "a.csv"));
  EXPECT_TRUE(absl::IsNotFound(store_->Head("inventory", "a.csv").status()));
  // Deleting removes the key; the bytes stay as upload history, as for a file.
  EXPECT_EQ(ReadAll(first.object.id), "alpha");
  OpenStore();
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_TRUE(ObjectFiles().empty());
  EXPECT_TRUE(absl::IsNotFound(store_->Head("inventory", "a.csv").status()));
  EXPECT_EQ(ReadAll(first.object.id), "alpha");
  EXPECT_EQ(ReadAll(second.object.id), "beta");
  EXPECT_EQ(Drain(store_->OpenRange(second.object.id, 1, 2)), "et");
  EXPECT_EQ(store_->Head("inventory", "b.csv")->id, second.object.id);
  EXPECT_EQ(store_->EventsAfter(0, 10)->size(), 2u);
  EXPECT_EQ(Put("c.csv", "gamma").object.id, 3);
}

TEST_F(LocalObjectStoreTest, BytesInARowOfTheWrongSizeAreDataLoss) {
  OpenStore();
  const core::ObjectCreatedEvent event = Put("a.csv", "alpha");
  ExecRaw("UPDATE objects SET data = x'6162' WHERE id = " + std::to_string(event.object.id));
  EXPECT_TRUE(absl::IsDataLoss(store_->Open(event.object.id).status()));
  EXPECT_TRUE(absl::IsDataLoss(store_->OpenRange(event.object.id, 0, 1).status()));
}

}  // namespace
}  // namespace stockwatch::adapters
