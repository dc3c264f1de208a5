// Local accounts and login sessions in the shared SQLite database.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "adapters/sqlite/read_cache.h"
#include "adapters/sqlite/sqlite_database.h"
#include "core/ports/user_store.h"

namespace stockwatch::adapters {

// The `users` and `sessions` tables (migration 12). Sessions are keyed by the SHA-256 of
// their id. Account changes are synced; Touch() writes last_seen_at at most once per
// SessionLimits::touch_granularity and without a sync (losing it in a power cut only
// shortens an idle session). Same contract as InMemoryUserStore. Thread-safe.
//
// GetUserById() (asked on every bearer-token request) caches users for up to a second.
// Every account write of this store drops the cache, so a changed role or a disabled or
// deleted user applies at once in this process; a change made by another process on the
// same database (`stockwatch users`) applies within the second. A new account write must
// call users_cache_.Invalidate() after its transaction.
class SqliteUserStore final : public core::UserStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteUserStore>> Open(std::shared_ptr<SqliteDatabase> db,
                                                               core::SessionLimits limits = {});

  absl::StatusOr<core::User> AddUser(const core::User& user) override;
  absl::StatusOr<core::User> GetUser(std::string_view name) override;
  absl::StatusOr<core::User> GetUserById(int64_t id) override;
  absl::StatusOr<std::vector<core::User>> ListUsers() override;
  absl::Status SetPassword(std::string_view name, std::string_view password_hash) override;
  absl::Status SetRole(std::string_view name, core::Role role,
                       const core::ObjectScope& scope) override;
  absl::Status DisableUser(std::string_view name) override;
  absl::Status EnableUser(std::string_view name) override;
  absl::Status DeleteUser(std::string_view name) override;

  absl::StatusOr<core::Session> CreateSession(std::string_view user_name, std::string_view id_hash,
                                              std::string_view csrf_token,
                                              core::TimePoint now) override;
  absl::StatusOr<core::SessionUser> Touch(std::string_view id_hash, core::TimePoint now) override;
  absl::Status DeleteSession(std::string_view id_hash) override;
  absl::StatusOr<int64_t> DeleteSessionsOf(std::string_view user_name,
                                           std::string_view keep_id_hash) override;
  absl::StatusOr<int64_t> PurgeExpiredSessions(core::TimePoint now) override;

 private:
  SqliteUserStore(std::shared_ptr<SqliteDatabase> db, core::SessionLimits limits);
  // Runs `sql` (binding the user name to ?1 and `bind` the rest) in a synced write;
  // kNotFound when it changes no row.
  absl::Status UpdateUser(std::string_view name, const char* sql,
                          absl::FunctionRef<void(SqliteStatement&)> bind);

  std::shared_ptr<SqliteDatabase> db_;
  const core::SessionLimits limits_;
  ReadCache<int64_t, core::User> users_cache_;
};

}  // namespace stockwatch::adapters
