// S3UploadCopier: `serve --backend aws` with `aws.bucket` set copies every accepted upload to
// that S3 bucket, under the key it was uploaded with, so the uploads live in AWS beside the
// table (for other tools, for the original stack's habits, as a durable copy off the machine).
//
// It follows the object store's ObjectCreated event log in order, as the loader does, from a
// checkpoint kept in a file of the data directory (written atomically after each copy). An
// upload is acknowledged once it is durable locally; the copy comes after, and is retried
// (with backoff, never skipped) until S3 takes it, across restarts: an upload can be copied
// twice (a crash between the PUT and the checkpoint) but never not at all. Copies are plain
// PUTs of the whole object, read into memory (uploads are bounded by s3.max_object_bytes).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/work_signal.h"
#include "core/model/types.h"
#include "core/ports/object_store.h"

namespace stockwatch::adapters {

// Puts one object's bytes: the S3 PutObject, or a fake in tests. kUnavailable (and any
// other error) is retried.
using S3Put = std::function<absl::Status(const core::ObjectInfo& object, std::string_view body)>;

struct S3UploadCopierOptions {
  // The checkpoint file: the sequence of the last event copied. Required.
  std::string checkpoint_path;
  // Run(): the wait between looks at the event log when there was nothing to copy.
  std::chrono::milliseconds poll_interval{250};
  // Run(): the first wait after a failed copy; doubled up to max_backoff.
  std::chrono::milliseconds backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  // Events read per look at the log.
  size_t batch = 100;
};

class S3UploadCopier {
 public:
  // `objects` must outlive the copier.
  S3UploadCopier(core::ObjectStore& objects, S3Put put, S3UploadCopierOptions options);

  // Reads the checkpoint (0 when the file does not exist yet). kDataLoss for a checkpoint
  // file that is not a whole number. Call before CopyPending().
  absl::Status Start();
  // Copies the events after the checkpoint, in order, advancing it after each. Returns how
  // many were copied, or the first failure (the checkpoint stays before that event).
  absl::StatusOr<int64_t> CopyPending();
  // CopyPending() until `signal` is stopped: every poll_interval, or after a failure after
  // the backoff. Failures are logged, once per failing event and on recovery.
  void Run(base::WorkSignal& signal);

  int64_t checkpoint() const { return checkpoint_.load(); }

 private:
  absl::Status SaveCheckpoint(int64_t sequence);

  core::ObjectStore& objects_;
  S3Put put_;
  S3UploadCopierOptions options_;
  std::atomic<int64_t> checkpoint_{0};  // written by the copying thread only
};

}  // namespace stockwatch::adapters
