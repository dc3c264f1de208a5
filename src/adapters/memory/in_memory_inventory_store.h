// The inventory table and its change stream in memory: for tests, and the reference
// semantics that SqliteInventoryStore must match.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/ports/change_stream.h"
#include "core/ports/inventory_store.h"

namespace stockwatch::adapters {

// Same contract as SqliteInventoryStore: BeginUpload returns kInvalidArgument for an id
// <= 0 and kFailedPrecondition while another writer is alive; Query validates the limit
// (1..10000) and the cursor (kInvalidArgument); SetThreshold validates the value and the
// names. Within one upload, records are ordered by (store, item) name here but by interned
// id in SQLite; both strictly increase the sequence. Thread-safe.
class InMemoryInventoryStore final : public core::InventoryStore, public core::ChangeStream {
 public:
  InMemoryInventoryStore();
  ~InMemoryInventoryStore() override;

  absl::StatusOr<std::unique_ptr<core::UploadWriter>> BeginUpload(int64_t upload_id,
                                                                  core::TimePoint at) override;
  absl::StatusOr<int64_t> LastAppliedUpload() override;
  absl::StatusOr<core::LoadReport> GetReport(int64_t upload_id) override;
  absl::StatusOr<core::InventoryPage> Query(const core::InventoryQuery& query) override;
  absl::StatusOr<core::InventoryItem> Get(std::string_view store, std::string_view item) override;
  absl::StatusOr<std::vector<core::StoreSummary>> Stores() override;
  absl::Status SetThreshold(const core::Threshold& scope, std::optional<int64_t> value) override;
  absl::StatusOr<std::vector<core::Threshold>> Thresholds() override;

  absl::StatusOr<std::vector<core::ChangeRecord>> Read(uint64_t after, size_t limit) override;
  absl::StatusOr<std::vector<core::ChangeRecord>> ItemHistory(std::string_view store,
                                                              std::string_view item,
                                                              size_t limit) override;

 private:
  class Writer;
  using Key = std::pair<std::string, std::string>;  // (store, item)
  struct Row {
    int64_t count = 0;
    core::TimePoint updated_at;
  };
  // Applies a staged upload; see UploadWriter::Commit.
  absl::Status Apply(int64_t upload_id, core::TimePoint at,
                     const std::map<Key, std::pair<int64_t, int64_t>>& staged,
                     core::LoadReport& report);

  std::atomic<bool> writer_active_{false};
  std::mutex mu_;
  std::map<Key, Row> rows_;  // ordered by (store, item) bytewise
  // Per store: its latest applied upload with a row of it (upload id, at).
  std::map<std::string, std::pair<int64_t, core::TimePoint>, std::less<>> last_uploads_;
  std::vector<core::ChangeRecord> changes_;  // sequence = index + 1
  std::map<int64_t, core::LoadReport> reports_;
  std::map<Key, int64_t> thresholds_;  // "" = any
};

}  // namespace stockwatch::adapters
