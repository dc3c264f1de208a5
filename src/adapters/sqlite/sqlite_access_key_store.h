// S3 access keys in the shared SQLite database, their secrets encrypted at rest.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/sqlite/sqlite_database.h"
#include "core/ports/access_key_store.h"

namespace stockwatch::adapters {

// SigV4 verification needs each secret in plaintext, so secrets cannot be hashed like API
// tokens. Each is sealed with XChaCha20-Poly1305 (libsodium) under a 32-byte master key,
// with a random nonce and the key id as associated data (a sealed secret copied to another
// row does not open). The master key lives in `<data_dir>/access-keys.key`, outside the
// database, so a copy of the database alone (a backup, a leaked file) reveals no secret.
//
// Ids are "SW" and 18 characters of [A-Z0-9]; secrets are 40 characters of [A-Za-z0-9+/];
// both from libsodium's CSPRNG. Secrets never appear in logs or status messages.
// Create() canonicalizes the scope (core::CanonicalScope). List() orders by created_at,
// then creation. Thread-safe.
class SqliteAccessKeyStore final : public core::AccessKeyStore {
 public:
  // Reads the master key, or creates it on first use: 32 random bytes written to a new
  // file of mode 0600, synced with its directory before use. A key file that group or
  // others may access is tightened to 0600 (with a warning). kFailedPrecondition if the
  // file is not a regular file of 32 bytes, or is missing while the database holds keys
  // (their secrets need it); kUnavailable if it cannot be read or created; kInternal if
  // libsodium cannot initialise.
  static absl::StatusOr<std::unique_ptr<SqliteAccessKeyStore>> Open(
      std::shared_ptr<SqliteDatabase> db);
  ~SqliteAccessKeyStore() override;
  SqliteAccessKeyStore(const SqliteAccessKeyStore&) = delete;
  SqliteAccessKeyStore& operator=(const SqliteAccessKeyStore&) = delete;

  absl::StatusOr<core::NewAccessKey> Create(const core::ObjectScope& scope,
                                            std::string_view description,
                                            core::TimePoint at) override;
  // Also kDataLoss if the secret does not decrypt (a different master key, or a damaged
  // row).
  absl::StatusOr<core::AccessKeySecret> Lookup(std::string_view id) override;
  absl::StatusOr<std::vector<core::AccessKey>> List() override;
  absl::Status Revoke(std::string_view id, core::TimePoint at) override;

  // The master key file of data directory `data_dir`.
  static std::string KeyPath(const std::string& data_dir);

 private:
  static constexpr size_t kMasterKeyBytes = 32;
  using MasterKey = std::array<unsigned char, kMasterKeyBytes>;
  SqliteAccessKeyStore(std::shared_ptr<SqliteDatabase> db, const MasterKey& master_key);

  std::shared_ptr<SqliteDatabase> db_;
  MasterKey master_key_;
};

}  // namespace stockwatch::adapters
