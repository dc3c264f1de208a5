#include "adapters/local/local_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/sqlite/sqlite_scope.h"
#include "base/status.h"
#include "core/model/object_scope.h"

namespace stockwatch::adapters {
namespace {

using core::ContentDigests;
using core::MultipartUpload;
using core::ObjectCreatedEvent;
using core::ObjectInfo;
using core::PartInfo;

constexpr int kMinPartNumber = 1;
constexpr int kMaxPartNumber = 10000;
// Upload ids and part file names: 16 random bytes as 32 hex digits.
constexpr size_t kRandomBytes = 16;
constexpr char kDefaultEventName[] = "ObjectCreated:Put";

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

absl::StatusOr<std::string> RandomHex(std::string_view what) {
  unsigned char random[kRandomBytes];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::UnavailableError("object store: no randomness for " + std::string(what));
  }
  return Hex(random, sizeof(random));
}

// Whether `text` has the form RandomHex() gives. Upload ids from clients and file names
// from the database are checked with it before they are used in a query or a path.
bool IsRandomHex(std::string_view text) {
  return text.size() == 2 * kRandomBytes &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

absl::Status NoSuchUpload() {
  return absl::NotFoundError("object store: no such multipart upload");
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

int64_t Limit(size_t limit) { return static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)); }

// The least byte string above every string that starts with `prefix`, which bounds a range
// scan; none when every string does (an empty prefix, or one of only 0xff bytes). Trailing
// 0xff bytes cannot be incremented, so they are dropped first: the end of "a\xff" is "b".
std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
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

// Creates the file a sink writes to: returns its path and descriptor.
using FileOpener = std::function<absl::StatusOr<std::pair<std::string, int>>()>;

// A new file being written: buffers the bytes, digests them, and removes the file when
// discarded or destroyed unless Keep() handed it over.
//
// Digesting (SHA-256 and MD5) and writing cost about as much CPU per byte as receiving and
// validating an upload, so for a large object they run on a worker thread of their own
// while the caller fills the next buffer (double buffering): a 1 GB upload then uses both
// cores. An object that fits in one buffer never starts the thread.
//
// A sink made with a FileOpener keeps the content in memory while it is at most
// `inline_max` bytes, and creates its file only when the content grows beyond that: a
// small object then never costs a file (inode allocation, fsync, rename, directory fsync).
class FileSink {
 public:
  // Writes to the open file `fd` at `path`.
  FileSink(std::string path, int fd, size_t buffer_bytes)
      : path_(std::move(path)), fd_(fd), buffer_bytes_(std::max<size_t>(buffer_bytes, 1)) {
    buffer_.reserve(buffer_bytes_);
  }
  // Keeps up to `inline_max` bytes in memory; beyond them, writes to a file from `open`.
  FileSink(FileOpener open, size_t inline_max, size_t buffer_bytes)
      : fd_(-1),
        buffer_bytes_(std::max<size_t>(buffer_bytes, 1)),
        open_(std::move(open)),
        inline_max_(inline_max),
        in_memory_(true) {}
  ~FileSink() { Discard(); }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  absl::Status Write(std::string_view bytes) {
    if (in_memory_) {
      if (bytes.size() <= inline_max_ - buffer_.size()) {
        buffer_.append(bytes);
        size_ += bytes.size();
        return absl::OkStatus();
      }
      SW_RETURN_IF_ERROR(OpenFile());
    }
    size_ += bytes.size();
    while (!bytes.empty()) {
      const size_t take = std::min(bytes.size(), buffer_bytes_ - buffer_.size());
      buffer_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buffer_.size() == buffer_bytes_) SW_RETURN_IF_ERROR(HandOff());
    }
    return absl::OkStatus();
  }

  // Writes out the buffer and returns the digests of everything written. Content kept in
  // memory stays there (content()).
  absl::StatusOr<ContentDigests> Finish() {
    if (in_memory_) {
      digests_.Update(buffer_);
    } else {
      SW_RETURN_IF_ERROR(StopWorker());
      SW_RETURN_IF_ERROR(Process(buffer_));
      buffer_.clear();
    }
    ContentDigests digests;
    digests.size = size_;
    std::tie(digests.sha256_hex, digests.md5_hex) = digests_.Finish();
    return digests;
  }

  // Whether the content is in memory (no file was created).
  bool in_memory() const { return in_memory_; }
  // The content kept in memory. REQUIRES: in_memory(), after Finish().
  std::string_view content() const { return buffer_; }

  // Makes the content durable and closes the file. REQUIRES: after Finish(), !in_memory().
  absl::Status SyncAndClose() {
    if (::fsync(fd_) != 0) return ErrnoStatus("cannot sync", path_, errno);
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return ErrnoStatus("cannot close", path_, errno);
    return absl::OkStatus();
  }

  // Closes and removes the file, unless kept.
  void Discard() {
    StopWorker().IgnoreError();
    if (in_memory_) std::string().swap(buffer_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
  }

  // The file now belongs to someone else (renamed, or referenced by a committed row).
  void Keep() { path_.clear(); }

  const std::string& path() const { return path_; }

 private:
  // Leaves memory for a file: creates it and carries on with the bytes kept so far, which
  // become the start of the first buffer (handed off at once if they already fill it).
  absl::Status OpenFile() {
    SW_ASSIGN_OR_RETURN(auto file, open_());
    path_ = std::move(file.first);
    fd_ = file.second;
    in_memory_ = false;
    if (buffer_.size() >= buffer_bytes_) return HandOff();
    buffer_.reserve(buffer_bytes_);
    return absl::OkStatus();
  }

  absl::Status WriteAll(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot write", path_, errno);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  // Digests and writes `bytes`, in order with everything before.
  absl::Status Process(std::string_view bytes) {
    digests_.Update(bytes);
    return WriteAll(bytes);
  }

  // Gives the full buffer to the worker (starting it the first time) once it has finished
  // the previous one, and carries on with an empty buffer.
  absl::Status HandOff() {
    std::unique_lock lock(mu_);
    if (!worker_.joinable()) {
      slot_.reserve(buffer_bytes_);
      worker_ = std::thread([this] { RunWorker(); });
    }
    idle_.wait(lock, [this] { return !slot_full_; });
    if (!worker_error_.ok()) return worker_error_;
    std::swap(buffer_, slot_);
    buffer_.clear();
    slot_full_ = true;
    work_.notify_one();
    return absl::OkStatus();
  }

  void RunWorker() {
    std::unique_lock lock(mu_);
    while (true) {
      work_.wait(lock, [this] { return slot_full_ || stopping_; });
      if (!slot_full_) return;
      lock.unlock();
      absl::Status status = worker_error_.ok() ? Process(slot_) : absl::OkStatus();
      lock.lock();
      if (!status.ok()) worker_error_ = status;
      slot_.clear();
      slot_full_ = false;
      idle_.notify_one();
    }
  }

  // Waits for the worker to finish its buffer and joins it; returns its error, if any.
  absl::Status StopWorker() {
    if (!worker_.joinable()) return absl::OkStatus();
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      work_.notify_one();
    }
    worker_.join();
    stopping_ = false;
    return worker_error_;
  }

  std::string path_;  // empty until created, and once kept or removed
  int fd_;
  const size_t buffer_bytes_;
  FileOpener open_;              // creates the file of an in-memory sink
  const size_t inline_max_ = 0;  // the most bytes an in-memory sink keeps in memory
  bool in_memory_ = false;       // no file yet: the content is all in buffer_
  std::string buffer_;           // being filled by Write()
  Digests digests_;              // used by the worker while it runs, else by the caller
  uint64_t size_ = 0;

  std::mutex mu_;
  std::condition_variable work_;  // slot_full_ or stopping_ became true
  std::condition_variable idle_;  // slot_full_ became false
  std::string slot_;              // the buffer the worker digests and writes
  bool slot_full_ = false;        // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  absl::Status worker_error_;     // guarded by mu_
  std::thread worker_;
};

// Where a writer is: open for Write(), sealed (digests known), or closed (committed or
// aborted).
enum class WriterState { kOpen, kSealed, kClosed };

absl::Status NotOpen(WriterState state) {
  return absl::FailedPreconditionError(state == WriterState::kSealed ? "writer is sealed"
                                                                     : "writer is closed");
}

// What an object writer and a part writer share: a FileSink that is open for writes, then
// sealed (digests known), then closed (committed or aborted).
class SealableFile {
 public:
  SealableFile(std::string path, int fd, size_t buffer_bytes)
      : sink(std::move(path), fd, buffer_bytes) {}
  SealableFile(FileOpener open, size_t inline_max, size_t buffer_bytes)
      : sink(std::move(open), inline_max, buffer_bytes) {}

  // Appends; an I/O error aborts.
  absl::Status Write(std::string_view bytes) {
    if (state_ != WriterState::kOpen) return NotOpen(state_);
    absl::Status status = sink.Write(bytes);
    if (!status.ok()) Abort();
    return status;
  }

  // Ends the content; an I/O error aborts.
  absl::StatusOr<ContentDigests> Seal() {
    if (state_ != WriterState::kOpen) return NotOpen(state_);
    absl::StatusOr<ContentDigests> sealed = sink.Finish();
    if (!sealed.ok()) {
      Abort();
      return sealed.status();
    }
    digests = *sealed;
    state_ = WriterState::kSealed;
    return sealed;
  }

  // Before a commit: seals an open file; refuses a closed one.
  absl::Status SealForCommit() {
    if (state_ == WriterState::kClosed) return NotOpen(state_);
    if (state_ == WriterState::kOpen) return Seal().status();
    return absl::OkStatus();
  }

  void Abort() {
    sink.Discard();
    state_ = WriterState::kClosed;
  }
  void Close() { state_ = WriterState::kClosed; }
  bool closed() const { return state_ == WriterState::kClosed; }

  FileSink sink;
  ContentDigests digests;  // set when sealed

 private:
  WriterState state_ = WriterState::kOpen;
};

// User metadata as stored: name NUL value NUL ... (names and values hold no NUL: they
// come from HTTP header lines).
std::string EncodeMetadata(const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::string out;
  for (const auto& [name, value] : metadata) {
    out += name;
    out += '\0';
    out += value;
    out += '\0';
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> DecodeMetadata(std::string_view blob) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!blob.empty()) {
    size_t name_end = blob.find('\0');
    if (name_end == std::string_view::npos) break;
    size_t value_end = blob.find('\0', name_end + 1);
    if (value_end == std::string_view::npos) break;
    out.emplace_back(std::string(blob.substr(0, name_end)),
                     std::string(blob.substr(name_end + 1, value_end - name_end - 1)));
    blob.remove_prefix(value_end + 1);
  }
  return out;
}

// The columns ObjectFromRow() reads, for queries that join `objects o`.
constexpr char kSelectEvent[] =
    "SELECT e.sequence, e.event_name, o.id, o.bucket, o.key, o.size, o.sha256, o.etag, "
    "o.uploader, o.created_at_ns, o.scope, o.content_type, o.metadata "
    "FROM object_events e JOIN objects o ON o.id = e.object_id ";
constexpr char kSelectCurrentObject[] =
    "SELECT o.id, o.bucket, o.key, o.size, o.sha256, o.etag, o.uploader, o.created_at_ns, "
    "o.scope, o.content_type, o.metadata FROM object_keys k JOIN objects o ON o.id = k.object_id ";

ObjectInfo ObjectFromRow(const SqliteStatement& stmt, int c) {
  ObjectInfo object;
  object.id = stmt.Int64(c);
  object.bucket = std::string(stmt.Text(c + 1));
  object.key = std::string(stmt.Blob(c + 2));
  object.size = static_cast<uint64_t>(stmt.Int64(c + 3));
  object.sha256_hex = std::string(stmt.Text(c + 4));
  object.etag = std::string(stmt.Text(c + 5));
  object.uploader = std::string(stmt.Text(c + 6));
  object.created_at = FromUnixNanos(stmt.Int64(c + 7));
  object.scope = ScopeFromColumn(stmt, c + 8);
  object.content_type = std::string(stmt.Text(c + 9));
  object.metadata = DecodeMetadata(stmt.Blob(c + 10));
  return object;
}

ObjectCreatedEvent EventFromRow(const SqliteStatement& stmt) {
  ObjectCreatedEvent event;
  event.sequence = stmt.Int64(0);
  event.event_name = std::string(stmt.Text(1));
  event.object = ObjectFromRow(stmt, 2);
  return event;
}

constexpr char kSelectUpload[] =
    "SELECT upload_id, bucket, key, uploader, scope, content_type, initiated_at_ns, metadata "
    "FROM multipart_uploads ";

MultipartUpload UploadFromRow(const SqliteStatement& stmt) {
  MultipartUpload upload;
  upload.upload_id = std::string(stmt.Text(0));
  upload.bucket = std::string(stmt.Text(1));
  upload.key = std::string(stmt.Blob(2));
  upload.uploader = std::string(stmt.Text(3));
  upload.options.scope = ScopeFromColumn(stmt, 4);
  upload.options.content_type = std::string(stmt.Text(5));
  upload.initiated_at = FromUnixNanos(stmt.Int64(6));
  upload.options.metadata = DecodeMetadata(stmt.Blob(7));
  return upload;
}

absl::StatusOr<bool> UploadExists(SqliteConnection& conn, std::string_view upload_id) {
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                      conn.Prepare("SELECT 1 FROM multipart_uploads WHERE upload_id = ?"));
  stmt.BindText(1, upload_id);
  return stmt.Step();
}

// Deletes upload `upload_id` and its parts' rows; returns the names of the part files,
// which the caller removes once the transaction commits. kNotFound if there is no such
// upload.
absl::StatusOr<std::vector<std::string>> DeleteUpload(SqliteConnection& conn,
                                                      std::string_view upload_id) {
  if (!IsRandomHex(upload_id)) return NoSuchUpload();
  std::vector<std::string> files;
  {
    SW_ASSIGN_OR_RETURN(SqliteStatement select,
                        conn.Prepare("SELECT file FROM multipart_parts WHERE upload_id = ?"));
    select.BindText(1, upload_id);
    while (true) {
      SW_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      files.emplace_back(select.Text(0));
    }
  }
  SW_ASSIGN_OR_RETURN(SqliteStatement parts,
                      conn.Prepare("DELETE FROM multipart_parts WHERE upload_id = ?"));
  parts.BindText(1, upload_id);
  SW_RETURN_IF_ERROR(parts.Run());
  SW_ASSIGN_OR_RETURN(SqliteStatement upload,
                      conn.Prepare("DELETE FROM multipart_uploads WHERE upload_id = ?"));
  upload.BindText(1, upload_id);
  SW_RETURN_IF_ERROR(upload.Run());
  if (conn.Changes() == 0) return NoSuchUpload();
  return files;
}

}  // namespace

class LocalObjectStore::Writer final : public core::ObjectWriter {
 public:
  // The temp file in `objects/tmp/` is created only if the content outgrows
  // `inline_max_bytes`.
  Writer(LocalObjectStore* store, std::string bucket, std::string key, std::string uploader,
         core::PutOptions options)
      : store_(store),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        uploader_(std::move(uploader)),
        options_(std::move(options)),
        file_(
            [store]() -> absl::StatusOr<std::pair<std::string, int>> {
              SW_ASSIGN_OR_RETURN(auto file, store->CreateRandomFile(store->tmp_dir_, ".part"));
              return std::make_pair(store->tmp_dir_ + "/" + file.first, file.second);
            },
            store_->options_.inline_max_bytes, store_->options_.write_buffer_bytes) {}

  ~Writer() override {
    if (!file_.closed()) file_.Abort();
  }

  absl::Status Write(std::string_view bytes) override { return file_.Write(bytes); }
  absl::StatusOr<ContentDigests> Seal() override { return file_.Seal(); }

  absl::StatusOr<ObjectCreatedEvent> Commit() override {
    SW_RETURN_IF_ERROR(file_.SealForCommit());
    absl::StatusOr<ObjectCreatedEvent> result = CommitFile();
    if (!result.ok()) file_.Abort();
    file_.Close();
    return result;
  }

  void Abort() override { file_.Abort(); }

 private:
  // An object of at most inline_max_bytes has its bytes in its row (column `data`): no
  // file, rename or directory sync, and the synced commit of the row makes them durable.
  // A larger one has a synced file renamed to objects/<id> and NULL there.
  absl::StatusOr<ObjectCreatedEvent> CommitFile() {
    const bool in_row = file_.sink.in_memory();
    if (!in_row) SW_RETURN_IF_ERROR(file_.sink.SyncAndClose());
    ObjectCreatedEvent event;
    event.event_name = options_.event_name.empty() ? kDefaultEventName : options_.event_name;
    ObjectInfo& object = event.object;
    object.bucket = bucket_;
    object.key = key_;
    object.size = file_.digests.size;
    object.sha256_hex = file_.digests.sha256_hex;
    object.etag = options_.etag.empty() ? file_.digests.md5_hex : options_.etag;
    object.uploader = uploader_;
    object.created_at = store_->clock_.Now();
    object.scope = options_.scope;
    object.content_type = options_.content_type;
    object.metadata = options_.metadata;

    std::string final_path;
    std::vector<std::string> released_parts;
    const absl::Status status = store_->db_->WithWriteTransaction(
        Durability::kSynced,
        [&](SqliteConnection& conn) -> absl::Status {
          // The checks that can refuse the object come first, before its file moves.
          if (!options_.completes_upload_id.empty()) {
            SW_ASSIGN_OR_RETURN(released_parts, DeleteUpload(conn, options_.completes_upload_id));
          }
          if (!options_.replay_key.empty()) {
            SW_ASSIGN_OR_RETURN(SqliteStatement seen,
                                conn.Prepare("SELECT 1 FROM object_replays WHERE replay_key = ?"));
            seen.BindBlob(1, options_.replay_key);
            SW_ASSIGN_OR_RETURN(bool replayed, seen.Step());
            if (replayed) {
              return absl::AlreadyExistsError("object store: this request was already stored");
            }
          }
          SW_ASSIGN_OR_RETURN(
              SqliteStatement insert,
              conn.Prepare(
                  "INSERT INTO objects (bucket, key, size, sha256, etag, uploader, "
                  "created_at_ns, scope, content_type, metadata, data) VALUES (?, ?, ?, ?, ?, ?, "
                  "?, ?, ?, ?, ?)"));
          insert.BindText(1, object.bucket)
              .BindBlob(2, object.key)
              .Bind(3, static_cast<int64_t>(object.size))
              .BindText(4, object.sha256_hex)
              .BindText(5, object.etag)
              .BindText(6, object.uploader)
              .Bind(7, ToUnixNanos(object.created_at));
          BindScope(insert, 8, object.scope);
          const std::string metadata = EncodeMetadata(object.metadata);
          insert.BindText(9, object.content_type).BindBlob(10, metadata);
          if (in_row) {
            insert.BindStaticBlob(11, file_.sink.content());
          } else {
            insert.BindNull(11);
          }
          SW_RETURN_IF_ERROR(insert.Run());
          object.id = conn.LastInsertRowid();
          if (in_row) return AppendEvent(conn, event);
          // The rename happens inside the transaction, so the file is named by a row id
          // that no other write can take until this one is committed or rolled back. If
          // the rest fails, the file goes here; if the commit is lost after this returned,
          // in `on_lost` below, still under the write lock (removing it after the lock is
          // released could delete the file of a later object given the same id); if the
          // process dies first, Open() removes it (its id is above every committed one).
          final_path = store_->ObjectPath(object.id);
          if (::rename(file_.sink.path().c_str(), final_path.c_str()) != 0) {
            final_path.clear();
            return ErrnoStatus("cannot rename", file_.sink.path(), errno);
          }
          file_.sink.Keep();
          absl::Status rest = SyncDir(store_->objects_dir_);
          if (rest.ok()) rest = AppendEvent(conn, event);
          if (!rest.ok()) ::unlink(final_path.c_str());
          return rest;
        },
        /*on_lost=*/
        [&] {
          if (!final_path.empty()) ::unlink(final_path.c_str());
        });
    if (!status.ok()) return status;
    store_->RemovePartFiles(released_parts);
    return event;
  }

  // The rest of a commit, after the object's row: appends the event, points the key index
  // at the object and records the replay key. Sets event.sequence.
  absl::Status AppendEvent(SqliteConnection& conn, ObjectCreatedEvent& event) {
    const ObjectInfo& object = event.object;
    SW_ASSIGN_OR_RETURN(
        SqliteStatement append,
        conn.Prepare("INSERT INTO object_events (event_name, object_id) VALUES (?, ?)"));
    append.BindText(1, event.event_name).Bind(2, object.id);
    SW_RETURN_IF_ERROR(append.Run());
    event.sequence = conn.LastInsertRowid();
    SW_ASSIGN_OR_RETURN(SqliteStatement index,
                        conn.Prepare("INSERT INTO object_keys (bucket, key, object_id) VALUES (?, "
                                     "?, ?) ON CONFLICT (bucket, key) DO UPDATE SET object_id = "
                                     "excluded.object_id"));
    index.BindText(1, object.bucket).BindBlob(2, object.key).Bind(3, object.id);
    SW_RETURN_IF_ERROR(index.Run());
    if (!options_.replay_key.empty()) {
      SW_ASSIGN_OR_RETURN(SqliteStatement replay,
                          conn.Prepare("INSERT INTO object_replays (replay_key, object_id, "
                                       "until_ns) VALUES (?, ?, ?)"));
      replay.BindBlob(1, options_.replay_key)
          .Bind(2, object.id)
          .Bind(3, ToUnixNanos(options_.replay_until));
      SW_RETURN_IF_ERROR(replay.Run());
    }
    return absl::OkStatus();
  }

  LocalObjectStore* store_;
  const std::string bucket_;
  const std::string key_;
  const std::string uploader_;
  const core::PutOptions options_;
  SealableFile file_;
};

class LocalObjectStore::PartWriter final : public core::PartWriter {
 public:
  PartWriter(LocalObjectStore* store, std::string upload_id, int part_number, std::string file_name,
             int fd)
      : store_(store),
        upload_id_(std::move(upload_id)),
        part_number_(part_number),
        file_name_(std::move(file_name)),
        file_(store_->parts_dir_ + "/" + file_name_, fd, store_->options_.write_buffer_bytes) {}

  ~PartWriter() override {
    if (!file_.closed()) file_.Abort();
  }

  absl::Status Write(std::string_view bytes) override { return file_.Write(bytes); }
  absl::StatusOr<ContentDigests> Seal() override { return file_.Seal(); }

  absl::StatusOr<PartInfo> Commit() override {
    SW_RETURN_IF_ERROR(file_.SealForCommit());
    absl::StatusOr<PartInfo> result = CommitPart();
    if (!result.ok()) file_.Abort();
    file_.Close();
    return result;
  }

  void Abort() override { file_.Abort(); }

 private:
  absl::StatusOr<PartInfo> CommitPart() {
    // The file and its name are durable before the row that references them commits.
    SW_RETURN_IF_ERROR(file_.sink.SyncAndClose());
    SW_RETURN_IF_ERROR(SyncDir(store_->parts_dir_));
    PartInfo part;
    part.part_number = part_number_;
    part.size = file_.digests.size;
    part.etag = file_.digests.md5_hex;
    part.uploaded_at = store_->clock_.Now();
    std::vector<std::string> replaced;
    const absl::Status status = store_->db_->WithWriteTransaction(
        Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
          replaced.clear();
          SW_ASSIGN_OR_RETURN(bool exists, UploadExists(conn, upload_id_));
          if (!exists) return NoSuchUpload();
          {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement old,
                conn.Prepare(
                    "SELECT file FROM multipart_parts WHERE upload_id = ? AND part_number = ?"));
            old.BindText(1, upload_id_).Bind(2, int64_t{part_number_});
            SW_ASSIGN_OR_RETURN(bool row, old.Step());
            if (row) replaced.emplace_back(old.Text(0));
          }
          SW_ASSIGN_OR_RETURN(
              SqliteStatement upsert,
              conn.Prepare("INSERT INTO multipart_parts (upload_id, part_number, size, etag, "
                           "sha256, file, uploaded_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT (upload_id, part_number) DO UPDATE SET "
                           "size = excluded.size, etag = excluded.etag, sha256 = excluded.sha256, "
                           "file = excluded.file, uploaded_at_ns = excluded.uploaded_at_ns"));
          upsert.BindText(1, upload_id_)
              .Bind(2, int64_t{part_number_})
              .Bind(3, static_cast<int64_t>(part.size))
              .BindText(4, part.etag)
              .BindText(5, file_.digests.sha256_hex)
              .BindText(6, file_name_)
              .Bind(7, ToUnixNanos(part.uploaded_at));
          return upsert.Run();
        });
    if (!status.ok()) return status;
    file_.sink.Keep();
    store_->RemovePartFiles(replaced);
    return part;
  }

  LocalObjectStore* store_;
  const std::string upload_id_;
  const int part_number_;
  const std::string file_name_;
  SealableFile file_;
};

// Reads a byte range with pread(2), so ranges need no seek state shared with anyone.
class LocalObjectStore::Reader final : public core::ObjectReader {
 public:
  Reader(int fd, std::string path, uint64_t offset, uint64_t length)
      : fd_(fd), path_(std::move(path)), offset_(offset), remaining_(length) {}
  ~Reader() override { ::close(fd_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  absl::StatusOr<size_t> Read(std::span<char> buffer) override {
    if (remaining_ == 0 || buffer.empty()) return 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), remaining_));
    while (true) {
      const ssize_t n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset_));
      if (n > 0) {
        offset_ += static_cast<uint64_t>(n);
        remaining_ -= static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (n == 0)
        return absl::DataLossError("object store: " + path_ + " is shorter than recorded");
      if (errno != EINTR) return ErrnoStatus("cannot read", path_, errno);
    }
  }

 private:
  int fd_;
  std::string path_;
  uint64_t offset_;
  uint64_t remaining_;
};

// Reads a copy of the bytes of an object stored in its row.
class LocalObjectStore::RowReader final : public core::ObjectReader {
 public:
  explicit RowReader(std::string bytes) : bytes_(std::move(bytes)) {}

  absl::StatusOr<size_t> Read(std::span<char> buffer) override {
    const size_t n = std::min(buffer.size(), bytes_.size() - offset_);
    std::memcpy(buffer.data(), bytes_.data() + offset_, n);
    offset_ += n;
    return n;
  }

 private:
  const std::string bytes_;
  size_t offset_ = 0;
};

LocalObjectStore::LocalObjectStore(std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
                                   const LocalObjectStoreOptions& options)
    : db_(std::move(db)),
      clock_(clock),
      options_(options),
      objects_dir_(db_->data_dir() + "/objects"),
      tmp_dir_(objects_dir_ + "/tmp"),
      parts_dir_(objects_dir_ + "/parts") {}

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

// Removes what a crash can leave: temp files, object files renamed into place whose
// transaction never committed (their ids are above the largest committed id), and part
// files no committed row references (written but never committed, or released by a
// transaction that committed just before the crash). Objects stored in their rows have no
// file, and none is looked for: only files are checked against rows, never the reverse.
absl::Status LocalObjectStore::Prepare() {
  SW_RETURN_IF_ERROR(MakeDir(objects_dir_));
  SW_RETURN_IF_ERROR(MakeDir(tmp_dir_));
  SW_RETURN_IF_ERROR(MakeDir(parts_dir_));
  if (DIR* dir = ::opendir(tmp_dir_.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      ::unlink((tmp_dir_ + "/" + name).c_str());
    }
    ::closedir(dir);
  }
  int64_t max_id = 0;
  std::set<std::string> part_files;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            {
              SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                  conn.Prepare("SELECT IFNULL(MAX(id), 0) FROM objects"));
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (row) max_id = stmt.Int64(0);
            }
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT file FROM multipart_parts"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              part_files.emplace(stmt.Text(0));
            }
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
  dir = ::opendir(parts_dir_.c_str());
  if (dir == nullptr) return ErrnoStatus("cannot list", parts_dir_, errno);
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == ".." || part_files.count(name) != 0) continue;
    ::unlink((parts_dir_ + "/" + name).c_str());
  }
  ::closedir(dir);
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, int>> LocalObjectStore::CreateRandomFile(
    const std::string& dir, std::string_view suffix) {
  SW_ASSIGN_OR_RETURN(std::string name, RandomHex("a file name"));
  name += suffix;
  const std::string path = dir + "/" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus("cannot create", path, errno);
  return std::make_pair(std::move(name), fd);
}

void LocalObjectStore::RemovePartFiles(const std::vector<std::string>& names) {
  // A name that is not ours (a tampered row) is left alone rather than used as a path.
  for (const std::string& name : names) {
    if (IsRandomHex(name)) ::unlink((parts_dir_ + "/" + name).c_str());
  }
}

absl::StatusOr<std::unique_ptr<core::ObjectWriter>> LocalObjectStore::BeginPut(
    std::string_view bucket, std::string_view key, std::string_view uploader,
    const core::PutOptions& options) {
  if (bucket.empty() || key.empty()) {
    return absl::InvalidArgumentError("object store: bucket and key must not be empty");
  }
  core::PutOptions canonical = options;
  SW_ASSIGN_OR_RETURN(canonical.scope, core::CanonicalScope(options.scope));
  return std::make_unique<Writer>(this, std::string(bucket), std::string(key),
                                  std::string(uploader), std::move(canonical));
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> LocalObjectStore::OpenFile(std::string path,
                                                                               uint64_t offset,
                                                                               uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::DataLossError("object store: " + path + " is missing");
    return ErrnoStatus("cannot open", path, errno);
  }
  return std::make_unique<Reader>(fd, std::move(path), offset, length);
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> LocalObjectStore::OpenObject(
    int64_t object_id, uint64_t offset, std::optional<uint64_t> length) {
  std::optional<uint64_t> size;
  // The requested bytes of an object stored in its row; nullopt for one in a file.
  std::optional<std::string> in_row;
  bool in_range = true;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT size, data FROM objects WHERE id = ?"));
            stmt.Bind(1, object_id);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return absl::OkStatus();
            size = static_cast<uint64_t>(stmt.Int64(0));
            if (!length) length = *size;
            in_range = offset <= *size && *length <= *size - offset;
            if (!in_range || stmt.IsNull(1)) return absl::OkStatus();
            const std::string_view data = stmt.Blob(1);
            if (data.size() != *size) {
              return absl::DataLossError("object store: the bytes of object " +
                                         std::to_string(object_id) + " are not its recorded " +
                                         std::to_string(*size));
            }
            in_row.emplace(data.substr(offset, *length));
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!size) return absl::NotFoundError("object store: no object " + std::to_string(object_id));
  if (!in_range) {
    return absl::OutOfRangeError("object store: range beyond the end of object " +
                                 std::to_string(object_id));
  }
  if (in_row) return std::make_unique<RowReader>(*std::move(in_row));
  return OpenFile(ObjectPath(object_id), offset, *length);
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> LocalObjectStore::Open(int64_t object_id) {
  return OpenObject(object_id, 0, std::nullopt);
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> LocalObjectStore::OpenRange(int64_t object_id,
                                                                                uint64_t offset,
                                                                                uint64_t length) {
  return OpenObject(object_id, offset, length);
}

absl::StatusOr<core::ObjectInfo> LocalObjectStore::Head(std::string_view bucket,
                                                        std::string_view key) {
  std::optional<ObjectInfo> object;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare(std::string(kSelectCurrentObject) +
                                             "WHERE k.bucket = ? AND k.key = ?"));
            stmt.BindText(1, bucket).BindBlob(2, key);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) object = ObjectFromRow(stmt, 0);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!object) return absl::NotFoundError("object store: no such key");
  return *std::move(object);
}

absl::StatusOr<std::vector<core::ObjectInfo>> LocalObjectStore::List(const core::ListQuery& query) {
  std::vector<ObjectInfo> out;
  if (query.limit == 0) return out;
  // The keys wanted form the range [lower, upper). "Strictly after start_after" is "at or
  // after start_after + NUL", the least byte string above it; std::string compares bytes
  // as unsigned, as SQLite compares BLOBs.
  std::string lower = query.start_after + '\0';
  if (query.prefix > lower) lower = query.prefix;
  const std::optional<std::string> upper = PrefixEnd(query.prefix);
  if (upper && lower >= *upper) return out;
  // A store-scoped reader sees only some objects: read batches until `limit` of them are
  // found or the range ends. Objects of all-stores scope (NULL) are never visible to it.
  const bool filtered = query.visible_to && !query.visible_to->all_stores;
  const size_t batch = filtered ? std::max<size_t>(options_.list_batch_rows, 1) : query.limit;
  const std::string sql = std::string(kSelectCurrentObject) +
                          "WHERE k.bucket = ?1 AND k.key >= ?2 " +
                          (upper ? "AND k.key < ?3 " : "") +
                          (filtered ? "AND o.scope IS NOT NULL " : "") + "ORDER BY k.key LIMIT ?4";
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
            while (true) {
              stmt.BindText(1, query.bucket).BindBlob(2, lower).Bind(4, Limit(batch));
              if (upper) stmt.BindBlob(3, *upper);
              size_t rows = 0;
              while (true) {
                SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
                if (!row) break;
                ++rows;
                ObjectInfo object = ObjectFromRow(stmt, 0);
                lower = object.key + '\0';
                if (filtered && !query.visible_to->Covers(object.scope)) continue;
                out.push_back(std::move(object));
                if (out.size() == query.limit) return absl::OkStatus();
              }
              if (rows < batch) return absl::OkStatus();
              stmt.Reset();
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<bool> LocalObjectStore::Delete(std::string_view bucket, std::string_view key) {
  bool removed = false;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("DELETE FROM object_keys WHERE bucket = ? AND key = ?"));
            stmt.BindText(1, bucket).BindBlob(2, key);
            SW_RETURN_IF_ERROR(stmt.Run());
            removed = conn.Changes() > 0;
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return removed;
}

absl::StatusOr<ObjectCreatedEvent> LocalObjectStore::FindReplay(std::string_view replay_key) {
  std::optional<ObjectCreatedEvent> event;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare(std::string(kSelectEvent) +
                                             "JOIN object_replays r ON r.object_id = o.id "
                                             "WHERE r.replay_key = ?"));
            stmt.BindBlob(1, replay_key);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) event = EventFromRow(stmt);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!event) return absl::NotFoundError("object store: no such replay key");
  return *std::move(event);
}

absl::StatusOr<int64_t> LocalObjectStore::ExpireReplays(core::TimePoint now) {
  int64_t expired = 0;
  // Losing this to a power cut only keeps some replay keys a little longer.
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kNormal,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("DELETE FROM object_replays WHERE until_ns < ?"));
            stmt.Bind(1, ToUnixNanos(now));
            SW_RETURN_IF_ERROR(stmt.Run());
            expired = conn.Changes();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return expired;
}

absl::StatusOr<MultipartUpload> LocalObjectStore::CreateMultipartUpload(
    std::string_view bucket, std::string_view key, std::string_view uploader,
    const core::PutOptions& options) {
  if (bucket.empty() || key.empty()) {
    return absl::InvalidArgumentError("object store: bucket and key must not be empty");
  }
  MultipartUpload upload;
  SW_ASSIGN_OR_RETURN(upload.options.scope, core::CanonicalScope(options.scope));
  SW_ASSIGN_OR_RETURN(upload.upload_id, RandomHex("an upload id"));
  upload.bucket = std::string(bucket);
  upload.key = std::string(key);
  upload.uploader = std::string(uploader);
  upload.options.content_type = options.content_type;
  upload.options.metadata = options.metadata;
  upload.initiated_at = clock_.Now();
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare(
                    "INSERT INTO multipart_uploads (upload_id, bucket, key, uploader, scope, "
                    "content_type, initiated_at_ns, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
            stmt.BindText(1, upload.upload_id)
                .BindText(2, upload.bucket)
                .BindBlob(3, upload.key)
                .BindText(4, upload.uploader);
            BindScope(stmt, 5, upload.options.scope);
            const std::string metadata = EncodeMetadata(upload.options.metadata);
            stmt.BindText(6, upload.options.content_type)
                .Bind(7, ToUnixNanos(upload.initiated_at))
                .BindBlob(8, metadata);
            return stmt.Run();
          });
      !txn.ok()) {
    return txn;
  }
  return upload;
}

absl::StatusOr<MultipartUpload> LocalObjectStore::GetMultipartUpload(std::string_view upload_id) {
  if (!IsRandomHex(upload_id)) return NoSuchUpload();
  std::optional<MultipartUpload> upload;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare(std::string(kSelectUpload) + "WHERE upload_id = ?"));
            stmt.BindText(1, upload_id);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) upload = UploadFromRow(stmt);
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!upload) return NoSuchUpload();
  return *std::move(upload);
}

absl::StatusOr<std::vector<MultipartUpload>> LocalObjectStore::ListMultipartUploads(
    std::string_view bucket, std::string_view prefix, size_t limit) {
  std::vector<MultipartUpload> out;
  if (limit == 0) return out;
  const std::optional<std::string> upper = PrefixEnd(prefix);
  const std::string sql = std::string(kSelectUpload) + "WHERE bucket = ?1 AND key >= ?2 " +
                          (upper ? "AND key < ?3 " : "") +
                          "ORDER BY key, initiated_at_ns, upload_id LIMIT ?4";
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
            stmt.BindText(1, bucket).BindBlob(2, prefix).Bind(4, Limit(limit));
            if (upper) stmt.BindBlob(3, *upper);
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(UploadFromRow(stmt));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<core::PartWriter>> LocalObjectStore::BeginPart(
    std::string_view upload_id, int part_number) {
  if (part_number < kMinPartNumber || part_number > kMaxPartNumber) {
    return absl::InvalidArgumentError("object store: part numbers are 1..10000");
  }
  if (!IsRandomHex(upload_id)) return NoSuchUpload();
  bool exists = false;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(exists, UploadExists(conn, upload_id));
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  if (!exists) return NoSuchUpload();
  SW_ASSIGN_OR_RETURN(auto file, CreateRandomFile(parts_dir_, ""));
  return std::make_unique<PartWriter>(this, std::string(upload_id), part_number,
                                      std::move(file.first), file.second);
}

absl::StatusOr<std::vector<PartInfo>> LocalObjectStore::ListParts(std::string_view upload_id) {
  if (!IsRandomHex(upload_id)) return NoSuchUpload();
  std::vector<PartInfo> out;
  bool exists = false;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(exists, UploadExists(conn, upload_id));
            if (!exists) return absl::OkStatus();
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT part_number, size, etag, uploaded_at_ns FROM multipart_parts "
                             "WHERE upload_id = ? ORDER BY part_number"));
            stmt.BindText(1, upload_id);
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              PartInfo part;
              part.part_number = static_cast<int>(stmt.Int64(0));
              part.size = static_cast<uint64_t>(stmt.Int64(1));
              part.etag = std::string(stmt.Text(2));
              part.uploaded_at = FromUnixNanos(stmt.Int64(3));
              out.push_back(std::move(part));
            }
          });
      !txn.ok()) {
    return txn;
  }
  if (!exists) return NoSuchUpload();
  return out;
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> LocalObjectStore::OpenPart(
    std::string_view upload_id, int part_number) {
  if (!IsRandomHex(upload_id)) return NoSuchUpload();
  // A concurrent replacement may remove the file between reading its row and opening it:
  // the row then names the new file, so look again.
  for (int attempt = 0;; ++attempt) {
    std::optional<std::pair<std::string, uint64_t>> file;
    if (const absl::Status txn =
            db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
              SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                  conn.Prepare("SELECT file, size FROM multipart_parts "
                                               "WHERE upload_id = ? AND part_number = ?"));
              stmt.BindText(1, upload_id).Bind(2, int64_t{part_number});
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (row) file.emplace(stmt.Text(0), static_cast<uint64_t>(stmt.Int64(1)));
              return absl::OkStatus();
            });
        !txn.ok()) {
      return txn;
    }
    if (!file) {
      return absl::NotFoundError("object store: no part " + std::to_string(part_number) +
                                 " in that multipart upload");
    }
    if (!IsRandomHex(file->first)) {
      return absl::DataLossError("object store: part " + std::to_string(part_number) +
                                 " has a malformed file name");
    }
    absl::StatusOr<std::unique_ptr<core::ObjectReader>> reader =
        OpenFile(parts_dir_ + "/" + file->first, 0, file->second);
    if (reader.ok() || !absl::IsDataLoss(reader.status()) || attempt == 2) return reader;
  }
}

absl::Status LocalObjectStore::AbortMultipartUpload(std::string_view upload_id) {
  std::vector<std::string> released;
  if (const absl::Status txn =
          db_->WithWriteTransaction(Durability::kSynced,
                                    [&](SqliteConnection& conn) -> absl::Status {
                                      SW_ASSIGN_OR_RETURN(released, DeleteUpload(conn, upload_id));
                                      return absl::OkStatus();
                                    });
      !txn.ok()) {
    return txn;
  }
  RemovePartFiles(released);
  return absl::OkStatus();
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
            stmt.Bind(1, after).Bind(2, Limit(limit));
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
            stmt.Bind(1, before > 0 ? before : INT64_MAX).Bind(2, Limit(limit));
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
