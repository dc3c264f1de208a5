// Validation of ObjectScope values before an adapter stores them.
#pragma once

#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Returns `scope` in canonical form: no stores when all_stores; otherwise its stores sorted
// and without duplicates. kInvalidArgument for a scoped scope without stores or with a
// store name that is empty, longer than kMaxNameBytes or contains a NUL byte (adapters
// store names NUL-terminated). Shared by the ObjectStore and AccessKeyStore adapters so
// both accept exactly the same scopes.
absl::StatusOr<ObjectScope> CanonicalScope(const ObjectScope& scope);

}  // namespace stockwatch::core
