#include "adapters/sqlite/sqlite_user_store.h"

#include <optional>
#include <string>
#include <utility>

#include "adapters/sqlite/sqlite_scope.h"
#include "base/status.h"

namespace stockwatch::adapters {
namespace {

constexpr char kUserColumns[] =
    "id, name, role, scope, password_hash, created_at_ns, disabled FROM users";

absl::Status NoSuchUser(std::string_view name) {
  return absl::NotFoundError("users: no user \"" + std::string(name) + "\"");
}

// The user in the current row of a statement selecting kUserColumns.
core::User UserFromRow(const SqliteStatement& stmt) {
  core::User user;
  user.id = stmt.Int64(0);
  user.name = std::string(stmt.Text(1));
  // An unknown role (never written) gives the least privilege.
  user.role = core::ParseRole(stmt.Text(2)).value_or(core::Role::kViewer);
  user.scope = ScopeFromColumn(stmt, 3);
  user.password_hash = std::string(stmt.Text(4));
  user.created_at = FromUnixNanos(stmt.Int64(5));
  user.disabled = stmt.Int64(6) != 0;
  return user;
}

// How long GetUserById() trusts a cached user row (see the header).
constexpr std::chrono::seconds kCacheTtl{1};

}  // namespace

SqliteUserStore::SqliteUserStore(std::shared_ptr<SqliteDatabase> db, core::SessionLimits limits)
    : db_(std::move(db)), limits_(limits), users_cache_(db_->accounts_generation(), kCacheTtl) {}

absl::StatusOr<std::unique_ptr<SqliteUserStore>> SqliteUserStore::Open(
    std::shared_ptr<SqliteDatabase> db, core::SessionLimits limits) {
  return std::unique_ptr<SqliteUserStore>(new SqliteUserStore(std::move(db), limits));
}

absl::StatusOr<core::User> SqliteUserStore::AddUser(const core::User& user) {
  SW_RETURN_IF_ERROR(core::CheckUserName(user.name));
  SW_ASSIGN_OR_RETURN(core::ObjectScope scope, core::CanonicalScopeForRole(user.role, user.scope));
  core::User added = user;
  added.scope = std::move(scope);
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            {
              SW_ASSIGN_OR_RETURN(SqliteStatement taken,
                                  conn.Prepare("SELECT 1 FROM users WHERE name = ?"));
              taken.BindText(1, added.name);
              SW_ASSIGN_OR_RETURN(bool row, taken.Step());
              if (row) {
                return absl::AlreadyExistsError("users: user \"" + added.name +
                                                "\" already exists");
              }
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement insert,
                conn.Prepare("INSERT INTO users (name, role, scope, password_hash, created_at_ns, "
                             "disabled) VALUES (?, ?, ?, ?, ?, ?)"));
            insert.BindText(1, added.name)
                .BindText(2, core::RoleName(added.role))
                .BindText(4, added.password_hash)
                .Bind(5, ToUnixNanos(added.created_at))
                .Bind(6, int64_t{added.disabled ? 1 : 0});
            BindScope(insert, 3, added.scope);
            SW_RETURN_IF_ERROR(insert.Run());
            added.id = conn.LastInsertRowid();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return added;
}

absl::StatusOr<core::User> SqliteUserStore::GetUser(std::string_view name) {
  std::optional<core::User> user;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare(std::string("SELECT ") + kUserColumns + " WHERE name = ?"));
            stmt.BindText(1, name);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) user = UserFromRow(stmt);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!user) return NoSuchUser(name);
  return *std::move(user);
}

absl::StatusOr<core::User> SqliteUserStore::GetUserById(int64_t id) {
  if (std::optional<core::User> cached = users_cache_.Get(id)) return *std::move(cached);
  const uint64_t generation = users_cache_.generation();
  std::optional<core::User> user;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(std::string("SELECT ") +
                                                                   kUserColumns + " WHERE id = ?"));
            stmt.Bind(1, id);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) user = UserFromRow(stmt);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!user) return absl::NotFoundError("users: no user with id " + std::to_string(id));
  users_cache_.Put(id, *user, generation);
  return *std::move(user);
}

absl::StatusOr<std::vector<core::User>> SqliteUserStore::ListUsers() {
  std::vector<core::User> users;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(std::string("SELECT ") +
                                                                   kUserColumns + " ORDER BY id"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              users.push_back(UserFromRow(stmt));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return users;
}

absl::Status SqliteUserStore::UpdateUser(std::string_view name, const char* sql,
                                         absl::FunctionRef<void(SqliteStatement&)> bind) {
  bool found = false;
  const absl::Status txn =
      db_->WithWriteTransaction(Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
        stmt.BindText(1, name);
        bind(stmt);
        SW_RETURN_IF_ERROR(stmt.Run());
        found = conn.Changes() > 0;
        return absl::OkStatus();
      });
  users_cache_.Invalidate();
  if (!txn.ok()) return txn;
  if (!found) return NoSuchUser(name);
  return absl::OkStatus();
}

absl::Status SqliteUserStore::SetPassword(std::string_view name, std::string_view password_hash) {
  return UpdateUser(name, "UPDATE users SET password_hash = ?2 WHERE name = ?1",
                    [&](SqliteStatement& stmt) { stmt.BindText(2, password_hash); });
}

absl::Status SqliteUserStore::SetRole(std::string_view name, core::Role role,
                                      const core::ObjectScope& scope) {
  SW_ASSIGN_OR_RETURN(core::ObjectScope canonical, core::CanonicalScopeForRole(role, scope));
  return UpdateUser(name, "UPDATE users SET role = ?2, scope = ?3 WHERE name = ?1",
                    [&](SqliteStatement& stmt) {
                      stmt.BindText(2, core::RoleName(role));
                      BindScope(stmt, 3, canonical);
                    });
}

absl::Status SqliteUserStore::DisableUser(std::string_view name) {
  SW_RETURN_IF_ERROR(
      UpdateUser(name, "UPDATE users SET disabled = 1 WHERE name = ?1", [](SqliteStatement&) {}));
  // A session surviving a crash between the two writes is harmless: Touch() refuses the
  // sessions of a disabled account.
  return DeleteSessionsOf(name, {}).status();
}

absl::Status SqliteUserStore::EnableUser(std::string_view name) {
  return UpdateUser(name, "UPDATE users SET disabled = 0 WHERE name = ?1", [](SqliteStatement&) {});
}

absl::Status SqliteUserStore::DeleteUser(std::string_view name) {
  bool found = false;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            // Explicitly, rather than trusting ON DELETE CASCADE to be enabled.
            SW_ASSIGN_OR_RETURN(
                SqliteStatement sessions,
                conn.Prepare(
                    "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = ?)"));
            sessions.BindText(1, name);
            SW_RETURN_IF_ERROR(sessions.Run());
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("DELETE FROM users WHERE name = ?"));
            stmt.BindText(1, name);
            SW_RETURN_IF_ERROR(stmt.Run());
            found = conn.Changes() > 0;
            return absl::OkStatus();
          });
      !txn.ok()) {
    users_cache_.Invalidate();
    return txn;
  }
  users_cache_.Invalidate();
  if (!found) return NoSuchUser(name);
  return absl::OkStatus();
}

absl::StatusOr<core::Session> SqliteUserStore::CreateSession(std::string_view user_name,
                                                             std::string_view id_hash,
                                                             std::string_view csrf_token,
                                                             core::TimePoint now) {
  if (id_hash.size() != 32 || csrf_token.empty()) {
    return absl::InvalidArgumentError("users: a session needs a 32-byte id hash and a CSRF token");
  }
  core::Session session{std::string(id_hash), 0, std::string(csrf_token), now, now};
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            {
              SW_ASSIGN_OR_RETURN(
                  SqliteStatement user,
                  conn.Prepare("SELECT id, name, disabled FROM users WHERE name = ?"));
              user.BindText(1, user_name);
              SW_ASSIGN_OR_RETURN(bool row, user.Step());
              if (!row) return NoSuchUser(user_name);
              if (user.Int64(2) != 0) {
                return absl::FailedPreconditionError("users: user \"" + std::string(user.Text(1)) +
                                                     "\" is disabled");
              }
              session.user_id = user.Int64(0);
            }
            {
              SW_ASSIGN_OR_RETURN(SqliteStatement taken,
                                  conn.Prepare("SELECT 1 FROM sessions WHERE id_sha256 = ?"));
              taken.BindBlob(1, id_hash);
              SW_ASSIGN_OR_RETURN(bool row, taken.Step());
              if (row) return absl::AlreadyExistsError("users: session already exists");
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement insert,
                conn.Prepare("INSERT INTO sessions (id_sha256, user_id, csrf_token, created_at_ns, "
                             "last_seen_at_ns) VALUES (?, ?, ?, ?, ?)"));
            insert.BindBlob(1, id_hash)
                .Bind(2, session.user_id)
                .BindText(3, csrf_token)
                .Bind(4, ToUnixNanos(now))
                .Bind(5, ToUnixNanos(now));
            return insert.Run();
          });
      !txn.ok()) {
    return txn;
  }
  return session;
}

absl::StatusOr<core::SessionUser> SqliteUserStore::Touch(std::string_view id_hash,
                                                         core::TimePoint now) {
  std::optional<core::SessionUser> found;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare(
                    "SELECT s.csrf_token, s.created_at_ns, s.last_seen_at_ns, u.id, u.name, "
                    "u.role, u.scope, u.password_hash, u.created_at_ns, u.disabled "
                    "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_sha256 = ?"));
            stmt.BindBlob(1, id_hash);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return absl::OkStatus();
            core::SessionUser out;
            out.session.id_hash = std::string(id_hash);
            out.session.csrf_token = std::string(stmt.Text(0));
            out.session.created_at = FromUnixNanos(stmt.Int64(1));
            out.session.last_seen_at = FromUnixNanos(stmt.Int64(2));
            out.session.user_id = stmt.Int64(3);
            out.user.id = stmt.Int64(3);
            out.user.name = std::string(stmt.Text(4));
            out.user.role = core::ParseRole(stmt.Text(5)).value_or(core::Role::kViewer);
            out.user.scope = ScopeFromColumn(stmt, 6);
            out.user.password_hash = std::string(stmt.Text(7));
            out.user.created_at = FromUnixNanos(stmt.Int64(8));
            out.user.disabled = stmt.Int64(9) != 0;
            found = std::move(out);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!found) return absl::UnauthenticatedError("no such session");
  const core::Session& session = found->session;
  if (now - session.last_seen_at >= limits_.idle || now - session.created_at >= limits_.absolute) {
    SW_RETURN_IF_ERROR(DeleteSession(id_hash));
    return absl::UnauthenticatedError("session expired");
  }
  if (found->user.disabled) return absl::UnauthenticatedError("account disabled");
  if (now - session.last_seen_at >= limits_.touch_granularity) {
    // Only forward: a concurrent Touch with a later time wins.
    if (const absl::Status txn = db_->WithWriteTransaction(
            Durability::kNormal,
            [&](SqliteConnection& conn) -> absl::Status {
              SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                  conn.Prepare("UPDATE sessions SET last_seen_at_ns = ?2 "
                                               "WHERE id_sha256 = ?1 AND last_seen_at_ns < ?2"));
              stmt.BindBlob(1, id_hash).Bind(2, ToUnixNanos(now));
              return stmt.Run();
            });
        !txn.ok()) {
      return txn;
    }
    found->session.last_seen_at = now;
  }
  return *std::move(found);
}

absl::Status SqliteUserStore::DeleteSession(std::string_view id_hash) {
  return db_->WithWriteTransaction(
      Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                            conn.Prepare("DELETE FROM sessions WHERE id_sha256 = ?"));
        stmt.BindBlob(1, id_hash);
        return stmt.Run();
      });
}

absl::StatusOr<int64_t> SqliteUserStore::DeleteSessionsOf(std::string_view user_name,
                                                          std::string_view keep_id_hash) {
  int64_t deleted = 0;
  bool found = false;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            int64_t user_id = 0;
            {
              SW_ASSIGN_OR_RETURN(SqliteStatement user,
                                  conn.Prepare("SELECT id FROM users WHERE name = ?"));
              user.BindText(1, user_name);
              SW_ASSIGN_OR_RETURN(found, user.Step());
              if (!found) return absl::OkStatus();
              user_id = user.Int64(0);
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("DELETE FROM sessions WHERE user_id = ? AND id_sha256 IS NOT ?"));
            stmt.Bind(1, user_id).BindBlob(2, keep_id_hash);
            SW_RETURN_IF_ERROR(stmt.Run());
            deleted = conn.Changes();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!found) return NoSuchUser(user_name);
  return deleted;
}

absl::StatusOr<int64_t> SqliteUserStore::PurgeExpiredSessions(core::TimePoint now) {
  int64_t deleted = 0;
  const int64_t idle_before = ToUnixNanos(now - limits_.idle);
  const int64_t created_before = ToUnixNanos(now - limits_.absolute);
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kNormal,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("DELETE FROM sessions WHERE last_seen_at_ns <= ? OR "
                                             "created_at_ns <= ?"));
            stmt.Bind(1, idle_before).Bind(2, created_before);
            SW_RETURN_IF_ERROR(stmt.Run());
            deleted = conn.Changes();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return deleted;
}

}  // namespace stockwatch::adapters
