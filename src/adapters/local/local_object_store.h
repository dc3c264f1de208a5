// Objects as files on the local disk, with their metadata and ObjectCreated events in the
// shared SQLite database: the local stand-in for an S3 bucket with event notifications.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/sqlite/sqlite_database.h"
#include "core/ports/clock.h"
#include "core/ports/object_store.h"

namespace stockwatch::adapters {

struct LocalObjectStoreOptions {
  // Bytes buffered by a writer before each write(2). Default 1 MiB.
  size_t write_buffer_bytes = size_t{1} << 20;
};

// An object's bytes live in `<data_dir>/objects/<id as 16 hex digits>`, never under a path
// derived from its key. A writer streams into `objects/tmp/<random>` while computing the
// SHA-256 and MD5; Commit() syncs the file, and in one synced transaction inserts the
// metadata, renames the file into place, syncs the directory and appends the event. An
// acknowledged object therefore survives a power cut, and a failed or crashed upload
// leaves nothing visible (leftovers are removed by the next Open()).
// Thread-safe; writers and readers are used by one thread at a time.
class LocalObjectStore final : public core::ObjectStore {
 public:
  // Creates `objects/` and `objects/tmp/` under db->data_dir() as needed, deletes temp
  // files and uncommitted object files left by a crash. `clock` stamps created_at and must
  // outlive the store. kUnavailable if the directories cannot be prepared.
  static absl::StatusOr<std::unique_ptr<LocalObjectStore>> Open(
      std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
      const LocalObjectStoreOptions& options = {});

  // kInvalidArgument for an empty bucket or key; kUnavailable if the temp file cannot be
  // created. A writer must not outlive the store.
  absl::StatusOr<std::unique_ptr<core::ObjectWriter>> BeginPut(std::string_view bucket,
                                                               std::string_view key,
                                                               std::string_view uploader) override;
  // kNotFound if there is no such object; kDataLoss if its file is missing.
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> Open(int64_t object_id) override;
  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> EventsAfter(int64_t after,
                                                                    size_t limit) override;
  absl::StatusOr<core::ObjectCreatedEvent> GetEvent(int64_t sequence) override;
  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> RecentEvents(int64_t before,
                                                                     size_t limit) override;

  // The file holding object `object_id`.
  std::string ObjectPath(int64_t object_id) const;

 private:
  class Writer;
  class Reader;
  LocalObjectStore(std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
                   const LocalObjectStoreOptions& options);
  absl::Status Prepare();

  std::shared_ptr<SqliteDatabase> db_;
  core::Clock& clock_;
  const LocalObjectStoreOptions options_;
  const std::string objects_dir_;
  const std::string tmp_dir_;
};

}  // namespace stockwatch::adapters
