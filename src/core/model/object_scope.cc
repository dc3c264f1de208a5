#include "core/model/object_scope.h"

#include <algorithm>
#include <string>
#include <utility>

namespace stockwatch::core {

absl::StatusOr<ObjectScope> CanonicalScope(const ObjectScope& scope) {
  ObjectScope out;
  if (scope.all_stores) return out;
  if (scope.stores.empty()) {
    return absl::InvalidArgumentError("scope: a store-scoped scope needs at least one store");
  }
  for (const std::string& store : scope.stores) {
    if (store.empty() || store.size() > kMaxNameBytes) {
      return absl::InvalidArgumentError("scope: store names must be 1.." +
                                        std::to_string(kMaxNameBytes) + " bytes");
    }
    if (store.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("scope: store names must not contain NUL");
    }
  }
  out.all_stores = false;
  out.stores = scope.stores;
  std::sort(out.stores.begin(), out.stores.end());
  out.stores.erase(std::unique(out.stores.begin(), out.stores.end()), out.stores.end());
  return out;
}

}  // namespace stockwatch::core
