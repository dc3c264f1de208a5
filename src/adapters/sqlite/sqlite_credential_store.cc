#include "adapters/sqlite/sqlite_credential_store.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <string>
#include <utility>

#include "base/status.h"

namespace stockwatch::adapters {
namespace {

std::array<unsigned char, SHA256_DIGEST_LENGTH> HashToken(std::string_view token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

std::string_view AsBytes(const std::array<unsigned char, SHA256_DIGEST_LENGTH>& digest) {
  return std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// How long Authenticate() trusts a cached token row (see the header).
constexpr std::chrono::seconds kCacheTtl{1};

}  // namespace

SqliteCredentialStore::SqliteCredentialStore(std::shared_ptr<SqliteDatabase> db)
    : db_(std::move(db)), cache_(db_->accounts_generation(), kCacheTtl) {}

absl::StatusOr<std::unique_ptr<SqliteCredentialStore>> SqliteCredentialStore::Open(
    std::shared_ptr<SqliteDatabase> db) {
  return std::unique_ptr<SqliteCredentialStore>(new SqliteCredentialStore(std::move(db)));
}

absl::StatusOr<core::TokenInfo> SqliteCredentialStore::AddToken(std::string_view name,
                                                                std::string_view role,
                                                                std::string_view token,
                                                                core::TimePoint at) {
  if (name.empty() || role.empty() || token.empty()) {
    return absl::InvalidArgumentError("credentials: name, role and token must not be empty");
  }
  return InsertToken(std::nullopt, name, role, token, at);
}

absl::StatusOr<core::TokenInfo> SqliteCredentialStore::AddUserToken(int64_t user_id,
                                                                    std::string_view name,
                                                                    std::string_view token,
                                                                    core::TimePoint at) {
  if (user_id <= 0 || name.empty() || token.empty()) {
    return absl::InvalidArgumentError(
        "credentials: a user token needs an owner, a name and a token");
  }
  // The role stays empty: a user's token acts with its owner's role.
  return InsertToken(user_id, name, "", token, at);
}

absl::StatusOr<core::TokenInfo> SqliteCredentialStore::InsertToken(std::optional<int64_t> user_id,
                                                                   std::string_view name,
                                                                   std::string_view role,
                                                                   std::string_view token,
                                                                   core::TimePoint at) {
  const auto digest = HashToken(token);
  core::TokenInfo info;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            {
              // Names are unique per owner (`IS` compares NULL owners equal); hashes overall.
              SW_ASSIGN_OR_RETURN(
                  SqliteStatement stmt,
                  conn.Prepare("SELECT 1 FROM tokens WHERE (user_id IS ? AND name = ?) "
                               "OR hash = ?"));
              stmt.Bind(1, user_id).BindText(2, name).BindBlob(3, AsBytes(digest));
              SW_ASSIGN_OR_RETURN(bool taken, stmt.Step());
              if (taken) {
                return absl::AlreadyExistsError("credentials: token name \"" + std::string(name) +
                                                "\" is taken or the token is already registered");
              }
            }
            SW_ASSIGN_OR_RETURN(SqliteStatement insert,
                                conn.Prepare("INSERT INTO tokens (name, role, hash, created_at_ns, "
                                             "user_id) VALUES (?, ?, ?, ?, ?)"));
            insert.BindText(1, name)
                .BindText(2, role)
                .BindBlob(3, AsBytes(digest))
                .Bind(4, ToUnixNanos(at))
                .Bind(5, user_id);
            SW_RETURN_IF_ERROR(insert.Run());
            info.id = conn.LastInsertRowid();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  info.name = std::string(name);
  info.role = std::string(role);
  info.created_at = at;
  info.user_id = user_id.value_or(0);
  return info;
}

absl::Status SqliteCredentialStore::DeleteToken(int64_t id) {
  const absl::Status status =
      db_->WithWriteTransaction(Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("DELETE FROM tokens WHERE id = ?"));
        stmt.Bind(1, id);
        SW_RETURN_IF_ERROR(stmt.Run());
        if (conn.Changes() == 0) {
          return absl::NotFoundError("credentials: no token " + std::to_string(id));
        }
        return absl::OkStatus();
      });
  cache_.Invalidate();
  return status;
}

absl::StatusOr<int64_t> SqliteCredentialStore::AssignUnownedTokens(int64_t user_id) {
  if (user_id <= 0) return absl::InvalidArgumentError("credentials: user id must be positive");
  int64_t assigned = 0;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("UPDATE tokens SET user_id = ? WHERE user_id IS NULL"));
            stmt.Bind(1, user_id);
            SW_RETURN_IF_ERROR(stmt.Run());
            assigned = conn.Changes();
            return absl::OkStatus();
          });
      !txn.ok()) {
    cache_.Invalidate();
    return txn;
  }
  cache_.Invalidate();
  return assigned;
}

absl::StatusOr<core::Principal> SqliteCredentialStore::Authenticate(std::string_view token) {
  const auto digest = HashToken(token);
  const std::string key(AsBytes(digest));
  if (std::optional<core::Principal> cached = cache_.Get(key)) return *std::move(cached);
  const uint64_t generation = cache_.generation();
  std::optional<core::Principal> principal;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            // The index lookup compares hashes, which tells a timing observer nothing useful about
            // the token; the final comparison is constant-time all the same.
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT id, name, role, hash, user_id FROM tokens WHERE hash = ?"));
            stmt.BindBlob(1, AsBytes(digest));
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return absl::OkStatus();
            const std::string_view stored = stmt.Blob(3);
            if (stored.size() == digest.size() &&
                CRYPTO_memcmp(stored.data(), digest.data(), digest.size()) == 0) {
              principal.emplace();
              principal->token_id = stmt.Int64(0);
              principal->name = std::string(stmt.Text(1));
              principal->role = std::string(stmt.Text(2));
              principal->user_id = stmt.IsNull(4) ? 0 : stmt.Int64(4);
            }
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!principal) return absl::UnauthenticatedError("invalid token");
  cache_.Put(key, *principal, generation);
  return *std::move(principal);
}

absl::StatusOr<std::vector<core::TokenInfo>> SqliteCredentialStore::Tokens() {
  std::vector<core::TokenInfo> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare(
                    "SELECT id, name, role, created_at_ns, user_id FROM tokens ORDER BY id"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(core::TokenInfo{stmt.Int64(0), std::string(stmt.Text(1)),
                                            std::string(stmt.Text(2)), FromUnixNanos(stmt.Int64(3)),
                                            stmt.IsNull(4) ? 0 : stmt.Int64(4)});
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

}  // namespace stockwatch::adapters
