// API tokens in the shared SQLite database, stored as hashes.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/sqlite/read_cache.h"
#include "adapters/sqlite/sqlite_database.h"
#include "core/ports/credential_store.h"

namespace stockwatch::adapters {

// Keeps the SHA-256 of each token, never the token. Tokens are random 32-byte secrets, so
// a fast unsalted hash suffices: nobody can brute-force 256 bits of entropy, and a fast
// hash keeps Authenticate() cheap on every request. (A password would need a slow salted
// hash such as argon2id instead.)
//
// Beyond the port (shared with InMemoryCredentialStore): kInvalidArgument for an empty
// name, role or token; kAlreadyExists also when the same token is added twice.
// Tokens() orders by id. Thread-safe.
//
// Authenticate() caches the principal of each token in use for up to a second (keyed by the
// token's hash), so a request does not read the database for it. Every write of this store
// drops the cache, so a deleted token stops working at once in this process; a token
// deleted by another process on the same database stops within the second.
class SqliteCredentialStore final : public core::CredentialStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteCredentialStore>> Open(
      std::shared_ptr<SqliteDatabase> db);

  absl::StatusOr<core::TokenInfo> AddToken(std::string_view name, std::string_view role,
                                           std::string_view token, core::TimePoint at) override;
  absl::StatusOr<core::TokenInfo> AddUserToken(int64_t user_id, std::string_view name,
                                               std::string_view token, core::TimePoint at) override;
  absl::StatusOr<core::Principal> Authenticate(std::string_view token) override;
  absl::StatusOr<std::vector<core::TokenInfo>> Tokens() override;
  absl::Status DeleteToken(int64_t id) override;
  absl::StatusOr<int64_t> AssignUnownedTokens(int64_t user_id) override;

 private:
  explicit SqliteCredentialStore(std::shared_ptr<SqliteDatabase> db);
  // Stores a token under `name`, owned by `user_id` (none: an unowned token with `role`).
  absl::StatusOr<core::TokenInfo> InsertToken(std::optional<int64_t> user_id, std::string_view name,
                                              std::string_view role, std::string_view token,
                                              core::TimePoint at);
  std::shared_ptr<SqliteDatabase> db_;
  ReadCache<std::string, core::Principal> cache_;
};

}  // namespace stockwatch::adapters
