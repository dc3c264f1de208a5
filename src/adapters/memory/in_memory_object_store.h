// An ObjectStore in memory: for tests, and the reference semantics of the port.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/ports/clock.h"
#include "core/ports/object_store.h"

namespace stockwatch::adapters {

// Same contract as LocalObjectStore (kInvalidArgument for an empty bucket or key or an
// invalid scope, kOutOfRange for a range beyond the object, upload ids of 32 random hex
// digits), without durability. `clock` stamps created_at and must outlive the store;
// writers must not outlive it either. Thread-safe.
class InMemoryObjectStore final : public core::ObjectStore {
 public:
  explicit InMemoryObjectStore(core::Clock& clock);

  absl::StatusOr<std::unique_ptr<core::ObjectWriter>> BeginPut(
      std::string_view bucket, std::string_view key, std::string_view uploader,
      const core::PutOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> Open(int64_t object_id) override;
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> OpenRange(int64_t object_id, uint64_t offset,
                                                                uint64_t length) override;

  absl::StatusOr<core::ObjectInfo> Head(std::string_view bucket, std::string_view key) override;
  absl::StatusOr<std::vector<core::ObjectInfo>> List(const core::ListQuery& query) override;
  absl::StatusOr<bool> Delete(std::string_view bucket, std::string_view key) override;
  absl::StatusOr<core::ObjectCreatedEvent> FindReplay(std::string_view replay_key) override;
  absl::StatusOr<int64_t> ExpireReplays(core::TimePoint now) override;

  absl::StatusOr<core::MultipartUpload> CreateMultipartUpload(
      std::string_view bucket, std::string_view key, std::string_view uploader,
      const core::PutOptions& options) override;
  absl::StatusOr<core::MultipartUpload> GetMultipartUpload(std::string_view upload_id) override;
  absl::StatusOr<std::vector<core::MultipartUpload>> ListMultipartUploads(std::string_view bucket,
                                                                          std::string_view prefix,
                                                                          size_t limit) override;
  absl::StatusOr<std::unique_ptr<core::PartWriter>> BeginPart(std::string_view upload_id,
                                                              int part_number) override;
  absl::StatusOr<std::vector<core::PartInfo>> ListParts(std::string_view upload_id) override;
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> OpenPart(std::string_view upload_id,
                                                               int part_number) override;
  absl::Status AbortMultipartUpload(std::string_view upload_id) override;

  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> EventsAfter(int64_t after,
                                                                    size_t limit) override;
  absl::StatusOr<core::ObjectCreatedEvent> GetEvent(int64_t sequence) override;
  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> RecentEvents(int64_t before,
                                                                     size_t limit) override;

 private:
  class Writer;
  class PartWriter;
  using Bytes = std::shared_ptr<const std::string>;
  struct StoredObject {
    core::ObjectInfo info;
    Bytes bytes;
  };
  struct Replay {
    int64_t sequence = 0;
    core::TimePoint until;
  };
  struct Part {
    core::PartInfo info;
    Bytes bytes;
  };
  struct Upload {
    core::MultipartUpload info;
    std::map<int, Part> parts;
  };

  // Stores `object` (id, created_at, etag and event name still to be set from `options`)
  // with `bytes`, as Commit() of a put does.
  absl::StatusOr<core::ObjectCreatedEvent> Add(core::ObjectInfo object,
                                               const core::PutOptions& options, Bytes bytes);
  // Stores a part, as PartWriter::Commit() does.
  absl::StatusOr<core::PartInfo> AddPart(const std::string& upload_id, core::PartInfo part,
                                         Bytes bytes);

  core::Clock& clock_;
  std::mutex mu_;
  std::map<int64_t, StoredObject> objects_;                      // by id
  std::vector<core::ObjectCreatedEvent> events_;                 // sequence = index + 1
  std::map<std::pair<std::string, std::string>, int64_t> keys_;  // (bucket, key) -> id
  std::map<std::string, Replay, std::less<>> replays_;           // by replay key
  std::map<std::string, Upload, std::less<>> uploads_;           // by upload id
};

}  // namespace stockwatch::adapters
