// Objects as files on the local disk, with their metadata and ObjectCreated events in the
// shared SQLite database: the local stand-in for an S3 bucket with event notifications.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/sqlite/sqlite_database.h"
#include "core/ports/clock.h"
#include "core/ports/object_store.h"

namespace stockwatch::adapters {

struct LocalObjectStoreOptions {
  // Bytes buffered by a writer before each write(2). Default 1 MiB.
  size_t write_buffer_bytes = size_t{1} << 20;
  // Objects of at most this many bytes are stored in their metadata row in SQLite instead
  // of a file: a small put is then one synced commit, without creating, syncing and
  // renaming a file and syncing its directory. A writer keeps the bytes in memory up to
  // this size and creates its temp file only beyond it. 0 keeps only empty objects in
  // their rows. Multipart parts are always files. Default 65536 (64 KiB).
  size_t inline_max_bytes = size_t{64} << 10;
  // Rows a List() filtered by a store-scoped `visible_to` reads per query while it looks
  // for `limit` visible objects. Default 256.
  size_t list_batch_rows = 256;
};

// An object's bytes live in `<data_dir>/objects/<id as 16 hex digits>`, never under a path
// derived from its key. A writer streams into `objects/tmp/<random>` while computing the
// SHA-256 and MD5; Commit() syncs the file, and in one synced transaction inserts the
// metadata, renames the file into place, syncs the directory, appends the event, points
// the key index at the object, records the replay key and removes the multipart upload it
// completes. An object of at most `inline_max_bytes` has no file: its bytes stay in the
// writer's memory and are inserted with its metadata row (column `data`) in that same
// transaction. An acknowledged object therefore survives a power cut, and a failed or
// crashed upload leaves nothing visible (leftovers are removed by the next Open()).
//
// Multipart uploads have random ids (32 lower-case hex digits); any other id is unknown
// (kNotFound) and never reaches a query or a path. A part's bytes live in
// `objects/parts/<random>`, synced with its directory before the part's row commits; files
// of replaced parts and of completed or aborted uploads are removed after the transaction
// that released them commits, and files no row references (a crash in between) by the
// next Open().
// Thread-safe; writers and readers are used by one thread at a time.
class LocalObjectStore final : public core::ObjectStore {
 public:
  // Creates `objects/`, `objects/tmp/` and `objects/parts/` under db->data_dir() as
  // needed, deletes temp files, uncommitted object files and unreferenced part files left
  // by a crash. `clock` stamps created_at and must outlive the store. kUnavailable if the
  // directories cannot be prepared.
  static absl::StatusOr<std::unique_ptr<LocalObjectStore>> Open(
      std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
      const LocalObjectStoreOptions& options = {});

  // kInvalidArgument for an empty bucket or key or an invalid scope (see
  // core::CanonicalScope). A writer must not outlive the store; its Write() returns
  // kUnavailable if the temp file, created once the content outgrows inline_max_bytes,
  // cannot be created. Commit() returns kAlreadyExists for a replay key already
  // recorded and kNotFound if the upload it completes is gone, storing nothing.
  absl::StatusOr<std::unique_ptr<core::ObjectWriter>> BeginPut(
      std::string_view bucket, std::string_view key, std::string_view uploader,
      const core::PutOptions& options = {}) override;
  // kNotFound if there is no such object; kDataLoss if its file is missing or short (or
  // its inline bytes are not its recorded size).
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> Open(int64_t object_id) override;
  // As Open(); kOutOfRange if the range does not lie within the object.
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> OpenRange(int64_t object_id, uint64_t offset,
                                                                uint64_t length) override;

  absl::StatusOr<core::ObjectInfo> Head(std::string_view bucket, std::string_view key) override;
  absl::StatusOr<std::vector<core::ObjectInfo>> List(const core::ListQuery& query) override;
  absl::StatusOr<bool> Delete(std::string_view bucket, std::string_view key) override;
  absl::StatusOr<core::ObjectCreatedEvent> FindReplay(std::string_view replay_key) override;
  absl::StatusOr<int64_t> ExpireReplays(core::TimePoint now) override;

  // kInvalidArgument for an empty bucket or key or an invalid scope. The upload keeps
  // `options.scope` and `options.content_type` only.
  absl::StatusOr<core::MultipartUpload> CreateMultipartUpload(
      std::string_view bucket, std::string_view key, std::string_view uploader,
      const core::PutOptions& options) override;
  absl::StatusOr<core::MultipartUpload> GetMultipartUpload(std::string_view upload_id) override;
  absl::StatusOr<std::vector<core::MultipartUpload>> ListMultipartUploads(std::string_view bucket,
                                                                          std::string_view prefix,
                                                                          size_t limit) override;
  absl::StatusOr<std::unique_ptr<core::PartWriter>> BeginPart(std::string_view upload_id,
                                                              int part_number) override;
  // kNotFound for an unknown upload.
  absl::StatusOr<std::vector<core::PartInfo>> ListParts(std::string_view upload_id) override;
  // kNotFound for an unknown upload or part; kDataLoss if the part's file is missing.
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> OpenPart(std::string_view upload_id,
                                                               int part_number) override;
  absl::Status AbortMultipartUpload(std::string_view upload_id) override;

  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> EventsAfter(int64_t after,
                                                                    size_t limit) override;
  absl::StatusOr<core::ObjectCreatedEvent> GetEvent(int64_t sequence) override;
  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> RecentEvents(int64_t before,
                                                                     size_t limit) override;

  // The file holding object `object_id`, unless it is stored in its row.
  std::string ObjectPath(int64_t object_id) const;
  // The directory holding the parts of multipart uploads.
  const std::string& parts_dir() const { return parts_dir_; }

 private:
  class Writer;
  class PartWriter;
  class Reader;
  class RowReader;
  LocalObjectStore(std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
                   const LocalObjectStoreOptions& options);
  absl::Status Prepare();
  // Opens bytes [offset, offset + length) of object `object_id` (to its end if `length` is
  // nullopt), from its row or its file. kNotFound if there is no such object; kOutOfRange
  // if the range does not lie within it.
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> OpenObject(int64_t object_id, uint64_t offset,
                                                                 std::optional<uint64_t> length);
  // Creates a new file named at random in `dir`; returns its name and descriptor.
  absl::StatusOr<std::pair<std::string, int>> CreateRandomFile(const std::string& dir,
                                                               std::string_view suffix);
  // Opens bytes [offset, offset + length) of the file at `path`.
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> OpenFile(std::string path, uint64_t offset,
                                                               uint64_t length);
  // Removes files of released parts (after the transaction that released them).
  void RemovePartFiles(const std::vector<std::string>& names);

  std::shared_ptr<SqliteDatabase> db_;
  core::Clock& clock_;
  const LocalObjectStoreOptions options_;
  const std::string objects_dir_;
  const std::string tmp_dir_;
  const std::string parts_dir_;
};

}  // namespace stockwatch::adapters
