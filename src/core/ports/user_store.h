// The UserStore port: local accounts and their login sessions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/account.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Local accounts and their login sessions. User names are looked up ignoring ASCII case.
// Every call that names a user returns kNotFound when there is none. Thread-safe.
class UserStore {
 public:
  virtual ~UserStore() = default;

  // Adds `user`: its id is assigned, its scope made canonical, the other fields kept as
  // given. kInvalidArgument if the name is invalid or the scope does not fit the role
  // (CanonicalScopeForRole()); kAlreadyExists if the name is taken (ignoring case).
  virtual absl::StatusOr<User> AddUser(const User& user) = 0;
  virtual absl::StatusOr<User> GetUser(std::string_view name) = 0;
  // The user with `id` (ids are never reused, so a deleted user's id finds nobody).
  virtual absl::StatusOr<User> GetUserById(int64_t id) = 0;
  // Every user, by id.
  virtual absl::StatusOr<std::vector<User>> ListUsers() = 0;
  // Replaces the password hash. Sessions are left alone: the caller ends them
  // (DeleteSessionsOf()) as a password change requires.
  virtual absl::Status SetPassword(std::string_view name, std::string_view password_hash) = 0;
  // Sets the role and scope together. kInvalidArgument as AddUser.
  virtual absl::Status SetRole(std::string_view name, Role role, const ObjectScope& scope) = 0;
  // Disables the account and ends its sessions; enabling lets it log in again.
  virtual absl::Status DisableUser(std::string_view name) = 0;
  virtual absl::Status EnableUser(std::string_view name) = 0;
  // Deletes the account and its sessions.
  virtual absl::Status DeleteUser(std::string_view name) = 0;

  // Starts a session for `user_name` at `now`. kInvalidArgument if `id_hash` is not 32
  // bytes or `csrf_token` is empty; kFailedPrecondition if the account is disabled;
  // kAlreadyExists if a session has this id hash.
  virtual absl::StatusOr<Session> CreateSession(std::string_view user_name,
                                                std::string_view id_hash,
                                                std::string_view csrf_token, TimePoint now) = 0;
  // Authenticates a request: the session with `id_hash` and its account, moving its
  // last_seen_at to `now` (see SessionLimits::touch_granularity). kUnauthenticated if there
  // is no such session, it passed its idle or absolute limit (it is then deleted), or its
  // account is disabled.
  virtual absl::StatusOr<SessionUser> Touch(std::string_view id_hash, TimePoint now) = 0;
  // Ends one session (logout). OK if there is none.
  virtual absl::Status DeleteSession(std::string_view id_hash) = 0;
  // Ends every session of `user_name` but the one whose hash is `keep_id_hash` (empty:
  // all), returning how many ended. For a password change and "log out everywhere".
  virtual absl::StatusOr<int64_t> DeleteSessionsOf(std::string_view user_name,
                                                   std::string_view keep_id_hash = {}) = 0;
  // Deletes the sessions past their limits at `now`, returning how many.
  virtual absl::StatusOr<int64_t> PurgeExpiredSessions(TimePoint now) = 0;
};

}  // namespace stockwatch::core
