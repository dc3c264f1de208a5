// Local accounts and their login sessions: the values the UserStore port deals in, and the
// rules their names and scopes follow.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Longest user name, in bytes.
inline constexpr size_t kMaxUserNameBytes = 64;

// What an account may do. kAdmin: everything. kManager: read and manage the stores of its
// scope only. kViewer: read everything, change nothing.
enum class Role { kAdmin, kManager, kViewer };

// "admin", "manager", "viewer".
std::string_view RoleName(Role role);
// The role named `name` (exactly as RoleName() spells it), or nullopt.
std::optional<Role> ParseRole(std::string_view name);

// A local account.
struct User {
  int64_t id = 0;    // assigned by the store, > 0, never reused
  std::string name;  // 1..kMaxUserNameBytes of [A-Za-z0-9._@-]; unique ignoring ASCII case
  Role role = Role::kViewer;
  // All stores for kAdmin and kViewer; for kManager the stores it is scoped to (sorted,
  // unique, at least one; see CanonicalScope()).
  ObjectScope scope;
  // A PHC string from PasswordHasher::Hash(); empty when the account has no password (it
  // cannot log in with one).
  std::string password_hash;
  TimePoint created_at;
  bool disabled = false;  // a disabled account cannot log in and has no sessions
};

// A login session. The session id (32 random bytes, see NewSessionSecrets()) lives only in
// the client's cookie; the store keeps its SHA-256.
struct Session {
  std::string id_hash;  // SHA-256 of the session id, 32 bytes
  int64_t user_id = 0;
  std::string csrf_token;  // sent back with every state-changing request
  TimePoint created_at;
  TimePoint last_seen_at;
};

// A session and its account, as a request is authenticated.
struct SessionUser {
  Session session;
  User user;
};

// How long sessions live.
struct SessionLimits {
  // A session unused this long ends. Default 30 minutes.
  std::chrono::seconds idle{30 * 60};
  // A session ends this long after login however much it is used. Default 12 hours.
  std::chrono::seconds absolute{12 * 60 * 60};
  // last_seen_at is written only when it would move by at least this much, so most
  // requests only read; the idle timeout is then exact to within it. Default 60 s.
  std::chrono::seconds touch_granularity{60};
};

// OK if `name` is a valid user name (see User::name); kInvalidArgument otherwise.
absl::Status CheckUserName(std::string_view name);
// `scope` in canonical form (CanonicalScope()) if it fits `role`: all stores for kAdmin and
// kViewer, at least one store for kManager. kInvalidArgument otherwise.
absl::StatusOr<ObjectScope> CanonicalScopeForRole(Role role, const ObjectScope& scope);

}  // namespace stockwatch::core
