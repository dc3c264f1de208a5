// A UserStore in memory: for tests, and the reference semantics of the port.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/ports/user_store.h"

namespace stockwatch::adapters {

// Same contract as SqliteUserStore. Thread-safe.
class InMemoryUserStore final : public core::UserStore {
 public:
  explicit InMemoryUserStore(core::SessionLimits limits = {});

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
  // The user named `name` ignoring case, or nullptr. REQUIRES: mu_ held.
  core::User* Find(std::string_view name);
  bool Expired(const core::Session& session, core::TimePoint now) const;
  int64_t EraseSessionsOf(int64_t user_id, std::string_view keep_id_hash);

  const core::SessionLimits limits_;
  std::mutex mu_;
  int64_t next_id_ = 1;                            // guarded by mu_
  std::vector<core::User> users_;                  // by id; guarded by mu_
  std::map<std::string, core::Session> sessions_;  // by id hash; guarded by mu_
};

}  // namespace stockwatch::adapters
