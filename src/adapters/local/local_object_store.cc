#include "adapters/local/local_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace stockwatch::adapters {
namespace {

using core::ObjectCreatedEvent;

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

absl::Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  return absl::UnavailableError(std::string(what) + " " + path + ": " + std::strerror(err));
}

absl::Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
    return ErrnoStatus("cannot create directory", path, errno);
  }
  return absl::OkStatus();
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

// SHA-256 and MD5 of a stream, through OpenSSL's EVP interface.
class Digests {
 public:
  Digests() : sha256_(EVP_MD_CTX_new()), md5_(EVP_MD_CTX_new()) {
    SW_CHECK(sha256_ != nullptr && md5_ != nullptr);
    SW_CHECK(EVP_DigestInit_ex(sha256_, EVP_sha256(), nullptr) == 1);
    SW_CHECK(EVP_DigestInit_ex(md5_, EVP_md5(), nullptr) == 1);
  }
  ~Digests() {
    EVP_MD_CTX_free(sha256_);
    EVP_MD_CTX_free(md5_);
  }
  Digests(const Digests&) = delete;
  Digests& operator=(const Digests&) = delete;

  void Update(std::string_view bytes) {
    EVP_DigestUpdate(sha256_, bytes.data(), bytes.size());
    EVP_DigestUpdate(md5_, bytes.data(), bytes.size());
  }
  // Lower-case hex of (sha256, md5).
  std::pair<std::string, std::string> Finish() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(sha256_, digest, &n);
    std::string sha = Hex(digest, n);
    EVP_DigestFinal_ex(md5_, digest, &n);
    return {std::move(sha), Hex(digest, n)};
  }

 private:
  EVP_MD_CTX* sha256_;
  EVP_MD_CTX* md5_;
};

constexpr char kSelectEvent[] =
    "SELECT e.sequence, e.event_name, o.id, o.bucket, o.key, o.size, o.sha256, o.etag, "
    "o.uploader, o.created_at_ns FROM object_events e JOIN objects o ON o.id = e.object_id ";

ObjectCreatedEvent EventFromRow(const SqliteStatement& stmt) {
  ObjectCreatedEvent event;
  event.sequence = stmt.Int64(0);
  event.event_name = std::string(stmt.Text(1));
  event.object.id = stmt.Int64(2);
  event.object.bucket = std::string(stmt.Text(3));
  event.object.key = std::string(stmt.Blob(4));
  event.object.size = static_cast<uint64_t>(stmt.Int64(5));
  event.object.sha256_hex = std::string(stmt.Text(6));
  event.object.etag = std::string(stmt.Text(7));
  event.object.uploader = std::string(stmt.Text(8));
  event.object.created_at = FromUnixNanos(stmt.Int64(9));
  return event;
}

}  // namespace

class LocalObjectStore::Writer final : public core::ObjectWriter {
 public:
  Writer(LocalObjectStore* store, std::string bucket, std::string key, std::string uploader,
         std::string tmp_path, int fd)
      : store_(store),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        uploader_(std::move(uploader)),
        tmp_path_(std::move(tmp_path)),
        fd_(fd) {
    buffer_.reserve(store_->options_.write_buffer_bytes);
  }

  ~Writer() override {
    if (!done_) Abort();
  }

  absl::Status Write(std::string_view bytes) override {
    if (done_) return absl::FailedPreconditionError("object writer is closed");
    digests_.Update(bytes);
    size_ += bytes.size();
    if (buffer_.size() + bytes.size() <= store_->options_.write_buffer_bytes) {
      buffer_.append(bytes);
      return absl::OkStatus();
    }
    absl::Status status = Flush();
    if (status.ok()) {
      if (bytes.size() >= store_->options_.write_buffer_bytes) {
        status = WriteAll(bytes);
      } else {
        buffer_.append(bytes);
      }
    }
    if (!status.ok()) Abort();
    return status;
  }

  absl::StatusOr<ObjectCreatedEvent> Commit() override {
    if (done_) return absl::FailedPreconditionError("object writer is closed");
    absl::StatusOr<ObjectCreatedEvent> event = CommitFile();
    if (!event.ok()) Abort();
    done_ = true;
    return event;
  }

  void Abort() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
    tmp_path_.clear();
    done_ = true;
  }

 private:
  absl::Status WriteAll(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot write", tmp_path_, errno);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::Status Flush() {
    absl::Status status = WriteAll(buffer_);
    buffer_.clear();
    return status;
  }

  absl::StatusOr<ObjectCreatedEvent> CommitFile() {
    SW_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) return ErrnoStatus("cannot sync", tmp_path_, errno);
    if (::close(fd_) != 0) {
      fd_ = -1;
      return ErrnoStatus("cannot close", tmp_path_, errno);
    }
    fd_ = -1;
    ObjectCreatedEvent event;
    event.object.bucket = bucket_;
    event.object.key = key_;
    event.object.size = size_;
    std::tie(event.object.sha256_hex, event.object.etag) = digests_.Finish();
    event.object.uploader = uploader_;
    event.object.created_at = store_->clock_.Now();

    std::string final_path;
    const absl::Status status = store_->db_->WithWriteTransaction(
        Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
          SW_ASSIGN_OR_RETURN(
              SqliteStatement insert,
              conn.Prepare("INSERT INTO objects (bucket, key, size, sha256, etag, uploader, "
                           "created_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?)"));
          insert.BindText(1, event.object.bucket)
              .BindBlob(2, event.object.key)
              .Bind(3, static_cast<int64_t>(event.object.size))
              .BindText(4, event.object.sha256_hex)
              .BindText(5, event.object.etag)
              .BindText(6, event.object.uploader)
              .Bind(7, ToUnixNanos(event.object.created_at));
          SW_RETURN_IF_ERROR(insert.Run());
          event.object.id = conn.LastInsertRowid();
          // The rename happens inside the transaction: if the commit then fails, the file is
          // removed below; if the process dies first, Open() removes it (its id is above
          // every committed one, and a later object with that id renames over it anyway).
          final_path = store_->ObjectPath(event.object.id);
          if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) {
            final_path.clear();
            return ErrnoStatus("cannot rename", tmp_path_, errno);
          }
          tmp_path_.clear();
          SW_RETURN_IF_ERROR(SyncDir(store_->objects_dir_));
          SW_ASSIGN_OR_RETURN(
              SqliteStatement append,
              conn.Prepare("INSERT INTO object_events (event_name, object_id) VALUES (?, ?)"));
          append.BindText(1, event.event_name).Bind(2, event.object.id);
          SW_RETURN_IF_ERROR(append.Run());
          event.sequence = conn.LastInsertRowid();
          return absl::OkStatus();
        });
    if (!status.ok()) {
      if (!final_path.empty()) ::unlink(final_path.c_str());
      return status;
    }
    return event;
  }

  LocalObjectStore* store_;
  const std::string bucket_;
  const std::string key_;
  const std::string uploader_;
  std::string tmp_path_;  // empty once renamed or removed
  int fd_;
  std::string buffer_;
  Digests digests_;
  uint64_t size_ = 0;
  bool done_ = false;
};

class LocalObjectStore::Reader final : public core::ObjectReader {
 public:
  Reader(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~Reader() override { ::close(fd_); }

  absl::StatusOr<size_t> Read(std::span<char> buffer) override {
    while (true) {
      const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoStatus("cannot read", path_, errno);
    }
  }

 private:
  int fd_;
  std::string path_;
};

LocalObjectStore::LocalObjectStore(std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
                                   const LocalObjectStoreOptions& options)
    : db_(std::move(db)),
      clock_(clock),
      options_(options),
      objects_dir_(db_->data_dir() + "/objects"),
      tmp_dir_(objects_dir_ + "/tmp") {}

absl::StatusOr<std::unique_ptr<LocalObjectStore>> LocalObjectStore::Open(
    std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
    const LocalObjectStoreOptions& options) {
  std::unique_ptr<LocalObjectStore> store(new LocalObjectStore(std::move(db), clock, options));
  SW_RETURN_IF_ERROR(store->Prepare());
  return store;
}

std::string LocalObjectStore::ObjectPath(int64_t object_id) const {
  char name[17];
  std::snprintf(name, sizeof(name), "%016" PRIx64, static_cast<uint64_t>(object_id));
  return objects_dir_ + "/" + name;
}

// Removes what a crash can leave: temp files, and object files renamed into place whose
// transaction never committed (their ids are above the largest committed id).
absl::Status LocalObjectStore::Prepare() {
  SW_RETURN_IF_ERROR(MakeDir(objects_dir_));
  SW_RETURN_IF_ERROR(MakeDir(tmp_dir_));
  if (DIR* dir = ::opendir(tmp_dir_.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      ::unlink((tmp_dir_ + "/" + name).c_str());
    }
    ::closedir(dir);
  }
  int64_t max_id = 0;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT IFNULL(MAX(id), 0) FROM objects"));
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) max_id = stmt.Int64(0);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  DIR* dir = ::opendir(objects_dir_.c_str());
  if (dir == nullptr) return ErrnoStatus("cannot list", objects_dir_, errno);
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.size() != 16 || name.find_first_not_of("0123456789abcdef") != std::string::npos) {
      continue;
    }
    const auto id = static_cast<int64_t>(std::stoull(name, nullptr, 16));
    if (id > max_id) ::unlink((objects_dir_ + "/" + name).c_str());
  }
  ::closedir(dir);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<core::ObjectWriter>> LocalObjectStore::BeginPut(
    std::string_view bucket, std::string_view key, std::string_view uploader) {
  if (bucket.empty() || key.empty()) {
    return absl::InvalidArgumentError("object store: bucket and key must not be empty");
  }
  unsigned char random[12];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::UnavailableError("object store: no randomness for a temp file name");
  }
  std::string path = tmp_dir_ + "/" + Hex(random, sizeof(random)) + ".part";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus("cannot create", path, errno);
  return std::make_unique<Writer>(this, std::string(bucket), std::string(key),
                                  std::string(uploader), std::move(path), fd);
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> LocalObjectStore::Open(int64_t object_id) {
  bool exists = false;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT 1 FROM objects WHERE id = ?"));
            stmt.Bind(1, object_id);
            SW_ASSIGN_OR_RETURN(exists, stmt.Step());
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!exists) {
    return absl::NotFoundError("object store: no object " + std::to_string(object_id));
  }
  std::string path = ObjectPath(object_id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::DataLossError("object store: the file of object " + std::to_string(object_id) +
                                 " is missing");
    }
    return ErrnoStatus("cannot open", path, errno);
  }
  return std::make_unique<Reader>(fd, std::move(path));
}

absl::StatusOr<std::vector<ObjectCreatedEvent>> LocalObjectStore::EventsAfter(int64_t after,
                                                                              size_t limit) {
  std::vector<ObjectCreatedEvent> out;
  if (limit == 0) return out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare(std::string(kSelectEvent) +
                                             "WHERE e.sequence > ? ORDER BY e.sequence LIMIT ?"));
            stmt.Bind(1, after).Bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(EventFromRow(stmt));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<ObjectCreatedEvent> LocalObjectStore::GetEvent(int64_t sequence) {
  std::optional<ObjectCreatedEvent> event;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare(std::string(kSelectEvent) + "WHERE e.sequence = ?"));
            stmt.Bind(1, sequence);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) event = EventFromRow(stmt);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!event) return absl::NotFoundError("object store: no event " + std::to_string(sequence));
  return *std::move(event);
}

absl::StatusOr<std::vector<ObjectCreatedEvent>> LocalObjectStore::RecentEvents(int64_t before,
                                                                               size_t limit) {
  std::vector<ObjectCreatedEvent> out;
  if (limit == 0) return out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare(std::string(kSelectEvent) +
                             "WHERE e.sequence < ? ORDER BY e.sequence DESC LIMIT ?"));
            stmt.Bind(1, before > 0 ? before : INT64_MAX)
                .Bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(EventFromRow(stmt));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

}  // namespace stockwatch::adapters
