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

}  // namespace

SqliteCredentialStore::SqliteCredentialStore(std::shared_ptr<SqliteDatabase> db)
    : db_(std::move(db)) {}

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
  const auto digest = HashToken(token);
  core::TokenInfo info;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            {
              SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                  conn.Prepare("SELECT 1 FROM tokens WHERE name = ? OR hash = ?"));
              stmt.BindText(1, name).BindBlob(2, AsBytes(digest));
              SW_ASSIGN_OR_RETURN(bool taken, stmt.Step());
              if (taken) {
                return absl::AlreadyExistsError("credentials: token name \"" + std::string(name) +
                                                "\" is taken or the token is already registered");
              }
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement insert,
                conn.Prepare(
                    "INSERT INTO tokens (name, role, hash, created_at_ns) VALUES (?, ?, ?, ?)"));
            insert.BindText(1, name)
                .BindText(2, role)
                .BindBlob(3, AsBytes(digest))
                .Bind(4, ToUnixNanos(at));
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
  return info;
}

absl::StatusOr<core::Principal> SqliteCredentialStore::Authenticate(std::string_view token) {
  const auto digest = HashToken(token);
  std::optional<core::Principal> principal;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            // The index lookup compares hashes, which tells a timing observer nothing useful about
            // the token; the final comparison is constant-time all the same.
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT id, name, role, hash FROM tokens WHERE hash = ?"));
            stmt.BindBlob(1, AsBytes(digest));
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return absl::OkStatus();
            const std::string_view stored = stmt.Blob(3);
            if (stored.size() == digest.size() &&
                CRYPTO_memcmp(stored.data(), digest.data(), digest.size()) == 0) {
              principal = core::Principal{stmt.Int64(0), std::string(stmt.Text(1)),
                                          std::string(stmt.Text(2))};
            }
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!principal) return absl::UnauthenticatedError("invalid token");
  return *std::move(principal);
}

absl::StatusOr<std::vector<core::TokenInfo>> SqliteCredentialStore::Tokens() {
  std::vector<core::TokenInfo> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT id, name, role, created_at_ns FROM tokens ORDER BY id"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(core::TokenInfo{stmt.Int64(0), std::string(stmt.Text(1)),
                                            std::string(stmt.Text(2)),
                                            FromUnixNanos(stmt.Int64(3))});
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

}  // namespace stockwatch::adapters
