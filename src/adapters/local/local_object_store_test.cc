#include "adapters/local/local_object_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

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

  std::string dir_;
  core::SystemClock clock_;
};

// A database as the program wrote it before the S3 API (schema version 1): the object
// tables of that version, two versions of one key and one other key.
constexpr char kVersion1[] = R"sql(
CREATE TABLE objects (
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  etag TEXT NOT NULL,
  uploader TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL
);
CREATE TABLE object_events (
  sequence INTEGER PRIMARY KEY,
  event_name TEXT NOT NULL,
  object_id INTEGER NOT NULL UNIQUE REFERENCES objects(id)
);
INSERT INTO objects VALUES (1, 'inventory', CAST('a.csv' AS BLOB), 3, 's1', 'e1', 'admin', 10);
INSERT INTO objects VALUES (2, 'inventory', CAST('b.csv' AS BLOB), 3, 's2', 'e2', 'admin', 20);
INSERT INTO objects VALUES (3, 'inventory', CAST('a.csv' AS BLOB), 3, 's3', 'e3', 'admin', 30);
INSERT INTO object_events VALUES (1, 'ObjectCreated:Put', 1);
INSERT INTO object_events VALUES (2, 'ObjectCreated:Put', 2);
INSERT INTO object_events VALUES (3, 'ObjectCreated:Put', 3);
PRAGMA user_version = 1;
)sql";

TEST_F(LocalObjectStoreTest, MigratesObjectsOfSchemaVersion1) {
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/stockwatch.db").c_str(), &raw), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(raw, kVersion1, nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(raw);
  }
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
}

}  // namespace
}  // namespace stockwatch::adapters
