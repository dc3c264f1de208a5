#include "core/model/account.h"

#include "core/model/object_scope.h"

namespace stockwatch::core {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kManager:
      return "manager";
    case Role::kViewer:
      return "viewer";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const Role role : {Role::kAdmin, Role::kManager, Role::kViewer}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

absl::Status CheckUserName(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserNameBytes) {
    return absl::InvalidArgumentError("user name must be 1.." + std::to_string(kMaxUserNameBytes) +
                                      " characters");
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError("user name may contain only letters, digits and . _ @ -");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ObjectScope> CanonicalScopeForRole(Role role, const ObjectScope& scope) {
  if (role != Role::kManager) {
    if (!scope.all_stores) {
      return absl::InvalidArgumentError("the " + std::string(RoleName(role)) +
                                        " role covers all stores and takes no store list");
    }
    return ObjectScope{};
  }
  if (scope.all_stores) {
    return absl::InvalidArgumentError("a manager must be given at least one store");
  }
  return CanonicalScope(scope);
}

}  // namespace stockwatch::core
