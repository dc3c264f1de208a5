#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// The inventory table's change stream, modelled on DynamoDB Streams (NEW_AND_OLD_IMAGES):
// one record per changed item, ordered by sequence number. Thread-safe.
class ChangeStream {
 public:
  virtual ~ChangeStream() = default;
  // Records with sequence > `after`, in order, at most `limit`. Within one upload the order
  // of items is the adapter's (not necessarily by name).
  virtual absl::StatusOr<std::vector<ChangeRecord>> Read(uint64_t after, size_t limit) = 0;
  // The records of one item, newest first, at most `limit`; empty for an unknown item.
  virtual absl::StatusOr<std::vector<ChangeRecord>> ItemHistory(std::string_view store,
                                                                std::string_view item,
                                                                size_t limit) = 0;
};

}  // namespace stockwatch::core
