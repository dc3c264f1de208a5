// The stock checker stage: reads the change stream from its checkpoint and publishes the
// messages the stock rules give, advancing the checkpoint in the same transaction.
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "core/ports/change_stream.h"
#include "core/ports/inventory_store.h"
#include "core/ports/notifier.h"

namespace stockwatch::core {

struct CheckerOptions {
  // Change records read and published per transaction. Default 4096.
  size_t batch = 4096;
};

struct CheckResult {
  size_t records = 0;   // change records read
  size_t messages = 0;  // messages published
};

// Not thread-safe: one checker per notifier (a second one loses the checkpoint race with
// kAborted and publishes nothing).
class Checker {
 public:
  Checker(ChangeStream& changes, InventoryStore& inventory, Notifier& notifier,
          CheckerOptions options);

  // Handles every record after the checkpoint. Each batch publishes its messages together
  // with the new checkpoint, so a crash never loses or doubles a message. A batch holds
  // whole uploads (one upload larger than `batch` is one batch of its own), so the
  // messages of one upload are published by one Publish call, with Message::upload_id set.
  // Each message also goes, as a copy, to the user topics routed to its rule (TopicRouter,
  // core/checker/topic_routes.h; the routes are read once per call, like the thresholds).
  absl::StatusOr<CheckResult> CheckPending();

 private:
  // Trims a full batch of `records` to whole uploads, or extends it to the end of the one
  // upload it holds.
  absl::Status EndAtUploadBoundary(std::vector<ChangeRecord>& records);

  ChangeStream& changes_;
  InventoryStore& inventory_;
  Notifier& notifier_;
  CheckerOptions options_;
};

}  // namespace stockwatch::core
