// The loader stage: takes ObjectCreated events in order and applies each file to the
// inventory table in one transaction, storing its load report.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "core/csv/inventory_csv.h"
#include "core/model/types.h"
#include "core/ports/clock.h"
#include "core/ports/inventory_store.h"
#include "core/ports/object_store.h"

namespace stockwatch::core {

struct LoaderOptions {
  // What a bad row does to its file. Default kSkip (report it, load the rest).
  BadRowPolicy bad_row_policy = BadRowPolicy::kSkip;
  // Bytes read from the object store per call. Default 1 MiB.
  size_t read_chunk_bytes = size_t{1} << 20;
  // Events fetched per batch by LoadPending. Default 64.
  size_t event_batch = 64;
};

// Applies uploads to the inventory. Not thread-safe: run one loader per inventory store
// (the store rejects a second apply of the same upload with kAlreadyExists anyway).
class Loader {
 public:
  Loader(ObjectStore& objects, InventoryStore& inventory, Clock& clock, LoaderOptions options);

  // Loads the file of `event` and returns its report: kLoaded, or kRejected when the file
  // is rejected whole (bad header, no data rows, or a bad row under kReject) — a rejected
  // file changes nothing but its report is stored, so the event is done. An upload that
  // was applied before returns the stored report and changes nothing. Errors reading the
  // object or writing the store are returned (kUnavailable, ...) and leave the event
  // pending, to be retried.
  absl::StatusOr<LoadReport> Load(const ObjectCreatedEvent& event);

  // Loads every event after the last applied upload, in order. Returns the reports of the
  // uploads loaded by this call. Stops at the first error, returning it.
  absl::StatusOr<std::vector<LoadReport>> LoadPending();

 private:
  ObjectStore& objects_;
  InventoryStore& inventory_;
  Clock& clock_;
  LoaderOptions options_;
};

}  // namespace stockwatch::core
