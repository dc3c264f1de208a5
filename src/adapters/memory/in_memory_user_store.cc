#include "adapters/memory/in_memory_user_store.h"

#include <algorithm>

#include "base/status.h"

namespace stockwatch::adapters {
namespace {

// Whether `a` and `b` are equal ignoring ASCII case, as SQLite's NOCASE compares.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  const auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

absl::Status NoSuchUser(std::string_view name) {
  return absl::NotFoundError("users: no user \"" + std::string(name) + "\"");
}

}  // namespace

InMemoryUserStore::InMemoryUserStore(core::SessionLimits limits) : limits_(limits) {}

core::User* InMemoryUserStore::Find(std::string_view name) {
  for (core::User& user : users_) {
    if (EqualsIgnoreCase(user.name, name)) return &user;
  }
  return nullptr;
}

bool InMemoryUserStore::Expired(const core::Session& session, core::TimePoint now) const {
  return now - session.last_seen_at >= limits_.idle || now - session.created_at >= limits_.absolute;
}

int64_t InMemoryUserStore::EraseSessionsOf(int64_t user_id, std::string_view keep_id_hash) {
  int64_t erased = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.user_id == user_id && it->first != keep_id_hash) {
      it = sessions_.erase(it);
      ++erased;
    } else {
      ++it;
    }
  }
  return erased;
}

absl::StatusOr<core::User> InMemoryUserStore::AddUser(const core::User& user) {
  SW_RETURN_IF_ERROR(core::CheckUserName(user.name));
  SW_ASSIGN_OR_RETURN(core::ObjectScope scope, core::CanonicalScopeForRole(user.role, user.scope));
  std::lock_guard lock(mu_);
  if (Find(user.name) != nullptr) {
    return absl::AlreadyExistsError("users: user \"" + user.name + "\" already exists");
  }
  core::User added = user;
  added.id = next_id_++;
  added.scope = std::move(scope);
  users_.push_back(added);
  return added;
}

absl::StatusOr<core::User> InMemoryUserStore::GetUser(std::string_view name) {
  std::lock_guard lock(mu_);
  const core::User* user = Find(name);
  if (user == nullptr) return NoSuchUser(name);
  return *user;
}

absl::StatusOr<core::User> InMemoryUserStore::GetUserById(int64_t id) {
  std::lock_guard lock(mu_);
  for (const core::User& user : users_) {
    if (user.id == id) return user;
  }
  return absl::NotFoundError("users: no user with id " + std::to_string(id));
}

absl::StatusOr<std::vector<core::User>> InMemoryUserStore::ListUsers() {
  std::lock_guard lock(mu_);
  return users_;
}

absl::Status InMemoryUserStore::SetPassword(std::string_view name, std::string_view password_hash) {
  std::lock_guard lock(mu_);
  core::User* user = Find(name);
  if (user == nullptr) return NoSuchUser(name);
  user->password_hash = std::string(password_hash);
  return absl::OkStatus();
}

absl::Status InMemoryUserStore::SetRole(std::string_view name, core::Role role,
                                        const core::ObjectScope& scope) {
  SW_ASSIGN_OR_RETURN(core::ObjectScope canonical, core::CanonicalScopeForRole(role, scope));
  std::lock_guard lock(mu_);
  core::User* user = Find(name);
  if (user == nullptr) return NoSuchUser(name);
  user->role = role;
  user->scope = std::move(canonical);
  return absl::OkStatus();
}

absl::Status InMemoryUserStore::DisableUser(std::string_view name) {
  std::lock_guard lock(mu_);
  core::User* user = Find(name);
  if (user == nullptr) return NoSuchUser(name);
  user->disabled = true;
  EraseSessionsOf(user->id, {});
  return absl::OkStatus();
}

absl::Status InMemoryUserStore::EnableUser(std::string_view name) {
  std::lock_guard lock(mu_);
  core::User* user = Find(name);
  if (user == nullptr) return NoSuchUser(name);
  user->disabled = false;
  return absl::OkStatus();
}

absl::Status InMemoryUserStore::DeleteUser(std::string_view name) {
  std::lock_guard lock(mu_);
  core::User* user = Find(name);
  if (user == nullptr) return NoSuchUser(name);
  EraseSessionsOf(user->id, {});
  users_.erase(users_.begin() + (user - users_.data()));
  return absl::OkStatus();
}

absl::StatusOr<core::Session> InMemoryUserStore::CreateSession(std::string_view user_name,
                                                               std::string_view id_hash,
                                                               std::string_view csrf_token,
                                                               core::TimePoint now) {
  if (id_hash.size() != 32 || csrf_token.empty()) {
    return absl::InvalidArgumentError("users: a session needs a 32-byte id hash and a CSRF token");
  }
  std::lock_guard lock(mu_);
  const core::User* user = Find(user_name);
  if (user == nullptr) return NoSuchUser(user_name);
  if (user->disabled) {
    return absl::FailedPreconditionError("users: user \"" + user->name + "\" is disabled");
  }
  core::Session session{std::string(id_hash), user->id, std::string(csrf_token), now, now};
  if (!sessions_.emplace(session.id_hash, session).second) {
    return absl::AlreadyExistsError("users: session already exists");
  }
  return session;
}

absl::StatusOr<core::SessionUser> InMemoryUserStore::Touch(std::string_view id_hash,
                                                           core::TimePoint now) {
  std::lock_guard lock(mu_);
  const auto it = sessions_.find(std::string(id_hash));
  if (it == sessions_.end()) return absl::UnauthenticatedError("no such session");
  if (Expired(it->second, now)) {
    sessions_.erase(it);
    return absl::UnauthenticatedError("session expired");
  }
  const auto user = std::find_if(users_.begin(), users_.end(),
                                 [&](const core::User& u) { return u.id == it->second.user_id; });
  if (user == users_.end() || user->disabled) {
    return absl::UnauthenticatedError("account disabled");
  }
  if (now - it->second.last_seen_at >= limits_.touch_granularity) {
    it->second.last_seen_at = now;
  }
  return core::SessionUser{it->second, *user};
}

absl::Status InMemoryUserStore::DeleteSession(std::string_view id_hash) {
  std::lock_guard lock(mu_);
  sessions_.erase(std::string(id_hash));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> InMemoryUserStore::DeleteSessionsOf(std::string_view user_name,
                                                            std::string_view keep_id_hash) {
  std::lock_guard lock(mu_);
  const core::User* user = Find(user_name);
  if (user == nullptr) return NoSuchUser(user_name);
  return EraseSessionsOf(user->id, keep_id_hash);
}

absl::StatusOr<int64_t> InMemoryUserStore::PurgeExpiredSessions(core::TimePoint now) {
  std::lock_guard lock(mu_);
  int64_t erased = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (Expired(it->second, now)) {
      it = sessions_.erase(it);
      ++erased;
    } else {
      ++it;
    }
  }
  return erased;
}

}  // namespace stockwatch::adapters
