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
  // Makes the object durable (data synced) and commits its metadata together with one
  // ObjectCreated event, then returns the event. Nothing is visible before this returns
  // OK; after an error nothing is. REQUIRES: called at most once.
  virtual absl::StatusOr<ObjectCreatedEvent> Commit() = 0;
  // Discards what was written. Destroying an uncommitted writer aborts it too.
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
  // kInvalidArgument for an empty bucket or key.
  virtual absl::StatusOr<std::unique_ptr<ObjectWriter>> BeginPut(std::string_view bucket,
                                                                 std::string_view key,
                                                                 std::string_view uploader) = 0;
  // Opens the content of object `object_id`. kNotFound if there is no such object.
  virtual absl::StatusOr<std::unique_ptr<ObjectReader>> Open(int64_t object_id) = 0;
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
