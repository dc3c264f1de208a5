#include "adapters/sqlite/sqlite_scope.h"

#include <string>
#include <string_view>

#include "base/status.h"

namespace stockwatch::adapters {

void BindScope(SqliteStatement& stmt, int index, const core::ObjectScope& scope) {
  if (scope.all_stores) {
    stmt.BindNull(index);
    return;
  }
  std::string encoded;
  for (const std::string& store : scope.stores) {
    SW_CHECK(store.find('\0') == std::string::npos);
    encoded += store;
    encoded += '\0';
  }
  stmt.BindBlob(index, encoded);
}

core::ObjectScope ScopeFromColumn(const SqliteStatement& stmt, int column) {
  core::ObjectScope scope;
  if (stmt.IsNull(column)) return scope;
  scope.all_stores = false;
  std::string_view encoded = stmt.Blob(column);
  while (!encoded.empty()) {
    const size_t end = encoded.find('\0');
    // A missing final terminator (never written by BindScope) ends the last name.
    scope.stores.emplace_back(encoded.substr(0, end));
    if (end == std::string_view::npos) break;
    encoded.remove_prefix(end + 1);
  }
  return scope;
}

}  // namespace stockwatch::adapters
