#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Receives the bytes of one object. Not thread-safe; one writer per upload.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  // Appends bytes. kUnavailable on an I/O failure (the writer is then aborted).
  virtual absl::Status Write(std::string_view bytes) = 0;
  // Ends the content and returns its digests, so the caller can check them against what
  // the client declared (Content-MD5, x-amz-content-sha256) before committing. No Write()
  // after it. Commit() seals implicitly. REQUIRES: called at most once, before Commit().
  virtual absl::StatusOr<ContentDigests> Seal() = 0;
  // Makes the object durable (data synced) and commits its metadata together with one
  // ObjectCreated event, then returns the event. Nothing is visible before this returns
  // OK; after an error nothing is. REQUIRES: called at most once.
  virtual absl::StatusOr<ObjectCreatedEvent> Commit() = 0;
  // Discards what was written. Destroying an uncommitted writer aborts it too.
  virtual void Abort() = 0;
};

// Options of one put. The defaults are a plain API upload.
struct PutOptions {
  // Who may see the object through a store-scoped S3 access key (see ObjectScope).
  ObjectScope scope;
  // The S3 event name: "ObjectCreated:Put" or "ObjectCreated:CompleteMultipartUpload".
  std::string event_name = "ObjectCreated:Put";
  // The ETag to record instead of the MD5 (a multipart object's "<md5 of md5s>-N").
  std::string etag;
  // Content-Type to return on GET/HEAD; empty = "binary/octet-stream" at the S3 API.
  std::string content_type;
  // User metadata (x-amz-meta-*), returned on GET/HEAD: (lower-case name, value).
  std::vector<std::pair<std::string, std::string>> metadata;
  // Replay protection: the signature of the signed request that carries this object.
  // Commit() records it until `replay_until`; a second Commit() with the same key fails
  // with kAlreadyExists (FindReplay then answers the first object). Empty: not recorded.
  std::string replay_key;
  TimePoint replay_until;
  // A multipart upload this object completes: Commit() removes the upload and its parts
  // in the same transaction. kNotFound from Commit() if the upload is gone.
  std::string completes_upload_id;
};

// A page of a bucket listing: the current objects under matching keys.
struct ListQuery {
  std::string bucket;
  std::string prefix;       // keys starting with these bytes
  std::string start_after;  // keys strictly greater (bytewise) than this
  size_t limit = 1000;      // most objects returned
  // Only objects this scope Covers(); nullopt = all.
  std::optional<ObjectScope> visible_to;
};

// A multipart upload in progress.
struct MultipartUpload {
  std::string upload_id;  // opaque, unguessable
  std::string bucket;
  std::string key;
  std::string uploader;
  PutOptions options;  // scope and content type given at creation
  TimePoint initiated_at;
};

// One uploaded part.
struct PartInfo {
  int part_number = 0;  // 1..10000
  uint64_t size = 0;
  std::string etag;  // lower-case hex MD5 of the part
  TimePoint uploaded_at;
};

// Receives the bytes of one part. Not thread-safe.
class PartWriter {
 public:
  virtual ~PartWriter() = default;
  virtual absl::Status Write(std::string_view bytes) = 0;
  // As ObjectWriter::Seal().
  virtual absl::StatusOr<ContentDigests> Seal() = 0;
  // Makes the part durable; replaces an earlier part with the same number. kNotFound if
  // the upload was completed or aborted meanwhile.
  virtual absl::StatusOr<PartInfo> Commit() = 0;
  virtual void Abort() = 0;
};

// Reads an object's bytes sequentially.
class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  // Fills up to `buffer.size()` bytes; returns how many, 0 at the end.
  virtual absl::StatusOr<size_t> Read(std::span<char> buffer) = 0;
};

// Durable object storage with an ordered ObjectCreated event log, modelled on an S3 bucket
// with event notifications. Thread-safe.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Starts storing object `key` in `bucket` for `uploader`. Keys are opaque bytes.
  // kInvalidArgument for an empty bucket or key, or an invalid `options.scope` (see
  // core::CanonicalScope in core/model/object_scope.h; the scope is stored canonical).
  virtual absl::StatusOr<std::unique_ptr<ObjectWriter>> BeginPut(
      std::string_view bucket, std::string_view key, std::string_view uploader,
      const PutOptions& options = {}) = 0;
  // Opens the content of object `object_id`. kNotFound if there is no such object.
  virtual absl::StatusOr<std::unique_ptr<ObjectReader>> Open(int64_t object_id) = 0;
  // Opens bytes [offset, offset + length) of object `object_id` (a Range GET).
  // REQUIRES: the range lies within the object (adapters answer kOutOfRange otherwise).
  virtual absl::StatusOr<std::unique_ptr<ObjectReader>> OpenRange(int64_t object_id,
                                                                  uint64_t offset,
                                                                  uint64_t length) = 0;

  // --- The key index: the current object under each (bucket, key), as S3 lists it. ---
  // The current object under `key`; kNotFound if none (never put, or deleted).
  virtual absl::StatusOr<ObjectInfo> Head(std::string_view bucket, std::string_view key) = 0;
  // Current objects matching `query`, ordered by key bytewise.
  virtual absl::StatusOr<std::vector<ObjectInfo>> List(const ListQuery& query) = 0;
  // Removes `key` from the index (the object's bytes and event stay as upload history).
  // Returns whether a key was removed; deleting an absent key is OK.
  virtual absl::StatusOr<bool> Delete(std::string_view bucket, std::string_view key) = 0;
  // The event of the object committed with PutOptions::replay_key `replay_key`, while
  // remembered; kNotFound otherwise.
  virtual absl::StatusOr<ObjectCreatedEvent> FindReplay(std::string_view replay_key) = 0;
  // Forgets replay keys whose `replay_until` is before `now`. Returns how many.
  virtual absl::StatusOr<int64_t> ExpireReplays(TimePoint now) = 0;

  // --- Multipart uploads. ---
  // Starts an upload; kInvalidArgument as BeginPut(). The upload keeps `options.scope`
  // and `options.content_type`; the completing BeginPut() gives the rest.
  virtual absl::StatusOr<MultipartUpload> CreateMultipartUpload(std::string_view bucket,
                                                                std::string_view key,
                                                                std::string_view uploader,
                                                                const PutOptions& options) = 0;
  // kNotFound (NoSuchUpload) for an unknown, completed or aborted upload.
  virtual absl::StatusOr<MultipartUpload> GetMultipartUpload(std::string_view upload_id) = 0;
  // In progress in `bucket` with keys starting with `prefix`, ordered by (key, initiation),
  // at most `limit`.
  virtual absl::StatusOr<std::vector<MultipartUpload>> ListMultipartUploads(std::string_view bucket,
                                                                            std::string_view prefix,
                                                                            size_t limit) = 0;
  // kNotFound for an unknown upload; kInvalidArgument for a part number outside 1..10000.
  virtual absl::StatusOr<std::unique_ptr<PartWriter>> BeginPart(std::string_view upload_id,
                                                                int part_number) = 0;
  // Parts ordered by number; kNotFound for an unknown upload.
  virtual absl::StatusOr<std::vector<PartInfo>> ListParts(std::string_view upload_id) = 0;
  // kNotFound for an unknown upload or part.
  virtual absl::StatusOr<std::unique_ptr<ObjectReader>> OpenPart(std::string_view upload_id,
                                                                 int part_number) = 0;
  // Removes the upload and its parts; kNotFound if unknown.
  virtual absl::Status AbortMultipartUpload(std::string_view upload_id) = 0;

  // --- The ObjectCreated event log. ---
  // Events with sequence > `after`, in order, at most `limit`.
  virtual absl::StatusOr<std::vector<ObjectCreatedEvent>> EventsAfter(int64_t after,
                                                                      size_t limit) = 0;
  // One event; kNotFound if absent.
  virtual absl::StatusOr<ObjectCreatedEvent> GetEvent(int64_t sequence) = 0;
  // Events newest first with sequence < `before` (0: from the newest), at most `limit`.
  virtual absl::StatusOr<std::vector<ObjectCreatedEvent>> RecentEvents(int64_t before,
                                                                       size_t limit) = 0;
};

}  // namespace stockwatch::core
