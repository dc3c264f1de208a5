#include "adapters/sqlite/sqlite_access_key_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "adapters/sqlite/sqlite_scope.h"
#include "base/status.h"
#include "core/model/object_scope.h"
#include "spdlog/spdlog.h"

namespace stockwatch::adapters {
namespace {

constexpr std::string_view kIdPrefix = "SW";
constexpr size_t kIdRandomChars = 18;
constexpr size_t kSecretChars = 40;
constexpr std::string_view kIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr std::string_view kSecretAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);

// `n` characters drawn uniformly from `alphabet` (randombytes_uniform() is unbiased).
std::string RandomText(std::string_view alphabet, size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(alphabet[randombytes_uniform(static_cast<uint32_t>(alphabet.size()))]);
  }
  return out;
}

// Whether `id` has the form Create() gives; others are unknown without a query.
bool IsKeyId(std::string_view id) {
  return id.size() == kIdPrefix.size() + kIdRandomChars && id.starts_with(kIdPrefix) &&
         id.find_first_not_of(kIdAlphabet, kIdPrefix.size()) == std::string_view::npos;
}

absl::Status UnknownKey() { return absl::NotFoundError("access keys: no such key"); }

absl::Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  return absl::UnavailableError("access keys: " + std::string(what) + " " + path + ": " +
                                std::strerror(err));
}

absl::Status SyncDir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open directory", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("cannot sync directory", path, err);
  return absl::OkStatus();
}

// Creates the key file at `path` in directory `dir` with a new random key. The key is
// written and synced under a temporary name first and then linked into place, so the
// file never exists half-written; if a key file appeared meanwhile, link(2) fails with
// EEXIST and that file is kept.
absl::Status CreateKeyFile(const std::string& dir, const std::string& path) {
  const std::string tmp = path + ".new";
  ::unlink(tmp.c_str());  // left by a crash during an earlier creation
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("cannot create", tmp, errno);
  unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  crypto_aead_xchacha20poly1305_ietf_keygen(key);
  absl::Status status;
  size_t written = 0;
  while (status.ok() && written < sizeof(key)) {
    const ssize_t n = ::write(fd, key + written, sizeof(key) - written);
    if (n < 0 && errno != EINTR) status = ErrnoStatus("cannot write", tmp, errno);
    if (n > 0) written += static_cast<size_t>(n);
  }
  sodium_memzero(key, sizeof(key));
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoStatus("cannot sync", tmp, errno);
  if (::close(fd) != 0 && status.ok()) status = ErrnoStatus("cannot close", tmp, errno);
  if (status.ok() && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    status = ErrnoStatus("cannot create", path, errno);
  }
  ::unlink(tmp.c_str());
  if (status.ok()) status = SyncDir(dir);
  return status;
}

}  // namespace

std::string SqliteAccessKeyStore::KeyPath(const std::string& data_dir) {
  return data_dir + "/access-keys.key";
}

SqliteAccessKeyStore::SqliteAccessKeyStore(std::shared_ptr<SqliteDatabase> db,
                                           const MasterKey& master_key)
    : db_(std::move(db)), master_key_(master_key) {}

SqliteAccessKeyStore::~SqliteAccessKeyStore() {
  sodium_memzero(master_key_.data(), master_key_.size());
}

absl::StatusOr<std::unique_ptr<SqliteAccessKeyStore>> SqliteAccessKeyStore::Open(
    std::shared_ptr<SqliteDatabase> db) {
  if (sodium_init() < 0) return absl::InternalError("access keys: libsodium failed to initialise");
  const std::string path = KeyPath(db->data_dir());
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // A new key could not open the secrets already stored: a missing key file with keys in
    // the database is a lost file to restore, not a first start.
    int64_t stored = 0;
    if (const absl::Status txn =
            db->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
              SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                  conn.Prepare("SELECT COUNT(*) FROM access_keys"));
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (row) stored = stmt.Int64(0);
              return absl::OkStatus();
            });
        !txn.ok()) {
      return txn;
    }
    if (stored > 0) {
      return absl::FailedPreconditionError(
          "access keys: " + path + " is missing but the database holds " + std::to_string(stored) +
          " access keys sealed with it; restore the file (or revoke and delete those keys)");
    }
    SW_RETURN_IF_ERROR(CreateKeyFile(db->data_dir(), path));
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  MasterKey key;
  absl::Status status = [&]() -> absl::Status {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoStatus("cannot stat", path, errno);
    if (!S_ISREG(st.st_mode) || st.st_size != static_cast<off_t>(kMasterKeyBytes)) {
      return absl::FailedPreconditionError(
          "access keys: " + path + " must be a file of exactly " + std::to_string(kMasterKeyBytes) +
          " bytes (it has " + std::to_string(st.st_size) +
          "); restore the original: the stored secrets cannot be read without it");
    }
    if ((st.st_mode & 077) != 0) {
      if (::fchmod(fd, 0600) != 0) return ErrnoStatus("cannot restrict the mode of", path, errno);
      spdlog::warn("access keys: {} was accessible to group or others (mode {:03o}); set to 0600",
                   path, st.st_mode & 0777);
    }
    size_t got = 0;
    while (got < key.size()) {
      const ssize_t n = ::read(fd, key.data() + got, key.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus("cannot read", path, errno);
      if (n == 0) return absl::FailedPreconditionError("access keys: " + path + " is truncated");
      got += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }();
  ::close(fd);
  if (!status.ok()) {
    sodium_memzero(key.data(), key.size());
    return status;
  }
  std::unique_ptr<SqliteAccessKeyStore> store(new SqliteAccessKeyStore(std::move(db), key));
  sodium_memzero(key.data(), key.size());
  return store;
}

absl::StatusOr<core::NewAccessKey> SqliteAccessKeyStore::Create(const core::ObjectScope& scope,
                                                                std::string_view description,
                                                                core::TimePoint at) {
  core::NewAccessKey created;
  SW_ASSIGN_OR_RETURN(created.key.scope, core::CanonicalScope(scope));
  created.key.id = std::string(kIdPrefix) + RandomText(kIdAlphabet, kIdRandomChars);
  created.key.description = std::string(description);
  created.key.created_at = at;
  created.secret = RandomText(kSecretAlphabet, kSecretChars);

  unsigned char nonce[kNonceBytes];
  randombytes_buf(nonce, sizeof(nonce));
  std::string sealed(created.secret.size() + kTagBytes, '\0');
  unsigned long long sealed_size = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(sealed.data()), &sealed_size,
      reinterpret_cast<const unsigned char*>(created.secret.data()), created.secret.size(),
      reinterpret_cast<const unsigned char*>(created.key.id.data()), created.key.id.size(), nullptr,
      nonce, master_key_.data());
  sealed.resize(static_cast<size_t>(sealed_size));

  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("INSERT INTO access_keys (id, scope, description, nonce, sealed, "
                             "created_at_ns) VALUES (?, ?, ?, ?, ?, ?)"));
            stmt.BindText(1, created.key.id);
            BindScope(stmt, 2, created.key.scope);
            stmt.BindText(3, created.key.description)
                .BindBlob(4, std::string_view(reinterpret_cast<const char*>(nonce), sizeof(nonce)))
                .BindBlob(5, sealed)
                .Bind(6, ToUnixNanos(at));
            return stmt.Run();
          });
      !txn.ok()) {
    return txn;
  }
  return created;
}

absl::StatusOr<core::AccessKeySecret> SqliteAccessKeyStore::Lookup(std::string_view id) {
  if (!IsKeyId(id)) return UnknownKey();
  std::optional<core::AccessKeySecret> found;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT scope, description, created_at_ns, revoked_at_ns, nonce, "
                             "sealed FROM access_keys WHERE id = ?"));
            stmt.BindText(1, id);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return absl::OkStatus();
            core::AccessKeySecret key;
            key.key.id = std::string(id);
            key.key.scope = ScopeFromColumn(stmt, 0);
            key.key.description = std::string(stmt.Text(1));
            key.key.created_at = FromUnixNanos(stmt.Int64(2));
            if (const std::optional<int64_t> revoked = stmt.OptionalInt64(3)) {
              key.key.revoked_at = FromUnixNanos(*revoked);
            }
            const std::string_view nonce = stmt.Blob(4);
            const std::string_view sealed = stmt.Blob(5);
            const absl::Status undecryptable = absl::DataLossError(
                "access keys: the secret of key " + key.key.id +
                " does not decrypt: access-keys.key is not the key it was stored with, or the "
                "row is damaged");
            if (nonce.size() != kNonceBytes || sealed.size() < kTagBytes) return undecryptable;
            key.secret.resize(sealed.size() - kTagBytes);
            unsigned long long secret_size = 0;
            if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                    reinterpret_cast<unsigned char*>(key.secret.data()), &secret_size, nullptr,
                    reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                    reinterpret_cast<const unsigned char*>(id.data()), id.size(),
                    reinterpret_cast<const unsigned char*>(nonce.data()),
                    master_key_.data()) != 0) {
              return undecryptable;
            }
            key.secret.resize(static_cast<size_t>(secret_size));
            found = std::move(key);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!found) return UnknownKey();
  return *std::move(found);
}

absl::StatusOr<std::vector<core::AccessKey>> SqliteAccessKeyStore::List() {
  std::vector<core::AccessKey> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT id, scope, description, created_at_ns, revoked_at_ns "
                             "FROM access_keys ORDER BY created_at_ns, rowid"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              core::AccessKey key;
              key.id = std::string(stmt.Text(0));
              key.scope = ScopeFromColumn(stmt, 1);
              key.description = std::string(stmt.Text(2));
              key.created_at = FromUnixNanos(stmt.Int64(3));
              if (const std::optional<int64_t> revoked = stmt.OptionalInt64(4)) {
                key.revoked_at = FromUnixNanos(*revoked);
              }
              out.push_back(std::move(key));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::Status SqliteAccessKeyStore::Revoke(std::string_view id, core::TimePoint at) {
  if (!IsKeyId(id)) return UnknownKey();
  bool found = false;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            // Revoking again keeps the first revocation time.
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("UPDATE access_keys SET revoked_at_ns = IFNULL(revoked_at_ns, ?) "
                             "WHERE id = ?"));
            stmt.Bind(1, ToUnixNanos(at)).BindText(2, id);
            SW_RETURN_IF_ERROR(stmt.Run());
            found = conn.Changes() > 0;
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!found) return UnknownKey();
  return absl::OkStatus();
}

}  // namespace stockwatch::adapters
