// An ObjectStore in memory: for tests, and the reference semantics of the port.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/ports/clock.h"
#include "core/ports/object_store.h"

namespace stockwatch::adapters {

// Same contract as LocalObjectStore (kInvalidArgument for an empty bucket or key), without
// durability. `clock` stamps created_at and must outlive the store. Thread-safe.
class InMemoryObjectStore final : public core::ObjectStore {
 public:
  explicit InMemoryObjectStore(core::Clock& clock);

  absl::StatusOr<std::unique_ptr<core::ObjectWriter>> BeginPut(std::string_view bucket,
                                                               std::string_view key,
                                                               std::string_view uploader) override;
  absl::StatusOr<std::unique_ptr<core::ObjectReader>> Open(int64_t object_id) override;
  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> EventsAfter(int64_t after,
                                                                    size_t limit) override;
  absl::StatusOr<core::ObjectCreatedEvent> GetEvent(int64_t sequence) override;
  absl::StatusOr<std::vector<core::ObjectCreatedEvent>> RecentEvents(int64_t before,
                                                                     size_t limit) override;

 private:
  class Writer;
  // Stores `bytes` and appends its event; returns the event.
  core::ObjectCreatedEvent Add(core::ObjectInfo info, std::string bytes);

  core::Clock& clock_;
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<const std::string>> contents_;  // by object id
  std::vector<core::ObjectCreatedEvent> events_;                    // sequence = index + 1
};

}  // namespace stockwatch::adapters
