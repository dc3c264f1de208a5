// How an ObjectScope is stored in a column: NULL for all stores; otherwise a BLOB of the
// sorted store names, each followed by a NUL byte. Store names contain no NUL (see
// core::CanonicalScope), so every scope round-trips exactly, including names with
// newlines or any other UTF-8.
#pragma once

#include "adapters/sqlite/sqlite_database.h"
#include "core/model/types.h"

namespace stockwatch::adapters {

// Binds `scope` to parameter `index`. REQUIRES: no store name contains NUL.
void BindScope(SqliteStatement& stmt, int index, const core::ObjectScope& scope);
// The scope stored in `column` of the current row.
core::ObjectScope ScopeFromColumn(const SqliteStatement& stmt, int column);

}  // namespace stockwatch::adapters
