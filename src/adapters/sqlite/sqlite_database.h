// The one SQLite database of a stockwatch data directory (`<data_dir>/stockwatch.db`), shared
// by the SQLite adapters (inventory, notifier, credentials) and the local object store.
//
// Writes go through one writer connection serialized by a process-wide mutex, so SQLite's
// sleeping busy handler never adds latency between our own writers, and concurrent write
// transactions are group-committed (one commit and one fsync for all those waiting; see
// WithWriteTransaction()); reads use a small pool of reader connections, which in WAL mode
// never wait for the writer. Checkpoints run on a background thread so a large commit does
// not pay for copying the WAL into the database.
//
// One process owns a data directory: the adapters keep in-memory state (the inventory
// index) that another process writing the same database would make stale. The inventory
// store detects that and refuses to commit (kAborted) rather than corrupting its stream.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace stockwatch::adapters {

// How hard a commit tries to survive a power cut.
enum class Durability {
  // synchronous=NORMAL: the commit is atomic and ordered but the last commits before a
  // power cut may be lost. For state that can be recomputed from durable input.
  kNormal,
  // synchronous=FULL: the WAL is synced before the commit returns.
  kSynced,
};

struct SqliteOptions {
  // Page size of a new database, bytes. Ignored for an existing one. Default 4096.
  int page_size = 4096;
  // Page cache cap of the writer connection, KiB. Default 262144 (256 MiB); pages are
  // allocated on use, so a small database costs little.
  int64_t writer_cache_kib = 262144;
  // Page cache cap of each reader connection, KiB (reads also go through mmap).
  // Default 65536 (64 MiB).
  int64_t reader_cache_kib = 65536;
  // Bytes of the database file memory-mapped per connection. Default 1 GiB.
  int64_t mmap_bytes = int64_t{1} << 30;
  // Reader connections kept open when idle (more are opened under load). Opening one costs
  // ~0.5 ms (it parses the schema), so this covers the concurrent readers of a busy API
  // server (a thread per connection may be preempted inside a read). Default 16.
  size_t max_idle_readers = 16;
  // How long a connection waits for a lock held by another process. Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // The WAL size, in pages, above which the background thread checkpoints it. 0 disables
  // the thread and leaves checkpoints to SQLite (in the committing thread, at 1000 pages).
  // Default 4096.
  int checkpoint_pages = 4096;
  // WAL bytes kept after a checkpoint resets it. Default 64 MiB.
  int64_t wal_size_limit = int64_t{64} << 20;
};

class SqliteConnection;

// A prepared statement borrowed from a connection's cache. Resets itself and clears its
// bindings when destroyed. Move-only; must not outlive its connection's transaction.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based. Text and blobs are copied unless `Static` is said.
  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, std::optional<int64_t> value);
  SqliteStatement& BindText(int index, std::string_view value);
  SqliteStatement& BindBlob(int index, std::string_view value);
  // The bytes must stay valid until the statement is reset or rebound.
  SqliteStatement& BindStaticBlob(int index, std::string_view value);
  SqliteStatement& BindNull(int index);

  // Advances: true when a row is available, false when done. Errors carry sqlite's text.
  absl::StatusOr<bool> Step();
  // Steps until done, ignoring rows.
  absl::Status Run();
  // Rewinds for another execution, keeping the bindings.
  void Reset();

  // Columns are 0-based; valid until the next Step().
  int64_t Int64(int column) const;
  bool IsNull(int column) const;
  std::optional<int64_t> OptionalInt64(int column) const;
  std::string_view Text(int column) const;
  std::string_view Blob(int column) const;

  sqlite3_stmt* raw() const { return stmt_; }

 private:
  friend class SqliteConnection;
  SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt, bool cached);

  SqliteConnection* conn_;
  sqlite3_stmt* stmt_;
  bool cached_;  // owned by the connection's cache; otherwise finalized here
};

// One connection. Used by one thread at a time, inside a transaction the database began.
class SqliteConnection {
 public:
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection();

  // A prepared statement for `sql`, from the cache when possible. `sql` is one statement.
  absl::StatusOr<SqliteStatement> Prepare(std::string_view sql);
  // Runs one or more statements without parameters.
  absl::Status Exec(const std::string& sql);
  int64_t LastInsertRowid() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  // A status for the failed call `rc`, with `what` and sqlite's message.
  absl::Status Error(int rc, std::string_view what) const;

  sqlite3* raw() const { return db_; }

 private:
  friend class SqliteDatabase;
  friend class SqliteStatement;
  struct Cache;
  explicit SqliteConnection(sqlite3* db);
  void Release(sqlite3_stmt* stmt);

  sqlite3* db_;
  std::unique_ptr<Cache> cache_;
};

// Converts a SQLite result code to a status: BUSY/LOCKED -> kUnavailable, UNIQUE and
// PRIMARYKEY constraints -> kAlreadyExists, FOREIGNKEY -> kFailedPrecondition, other
// constraints -> kInvalidArgument, FULL -> kResourceExhausted, CORRUPT/NOTADB -> kDataLoss,
// I/O and open errors -> kUnavailable, anything else -> kInternal. The message is
// "sqlite: <what>: <sqlite message>".
absl::Status SqliteStatus(int rc, std::string_view what, std::string_view message);

// Thread-safe. Owned through shared_ptr by every adapter that uses it.
class SqliteDatabase {
 public:
  // Opens (creating if needed) `<data_dir>/stockwatch.db` and brings its schema up to date.
  // kFailedPrecondition if the schema is newer than this program; kUnavailable if the
  // directory or file cannot be opened.
  static absl::StatusOr<std::shared_ptr<SqliteDatabase>> Open(const std::string& data_dir,
                                                              const SqliteOptions& options = {});
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs `fn` in BEGIN IMMEDIATE ... COMMIT on the writer connection, holding the
  // process-wide write mutex. Rolls back if `fn` fails (returning its status) or throws
  // (kInternal). With kSynced the commit is synced to disk before this returns
  // (synchronous=FULL: the WAL is fsynced before COMMIT returns; WAL with NORMAL would not
  // be durable for the last commits on a power cut).
  // Group commit: writes called concurrently may run in one transaction, each in a
  // savepoint of its own (its failure rolls back only its changes), with one commit that
  // is synced if any of them asked for kSynced; `fn` may then run on the thread of another
  // caller, while this one waits. So `fn` must not depend on the calling thread, nor
  // begin, end or roll back transactions or savepoints itself.
  // `on_lost`, if set, runs when `fn` returned OK but its changes were rolled back anyway
  // (the commit failed, or another write of its group broke the transaction), still under
  // the write lock: it undoes side effects outside the database (a renamed file) before any
  // other write can reuse the row ids `fn` allocated. It must not throw or use the database.
  absl::Status WithWriteTransaction(Durability durability,
                                    absl::FunctionRef<absl::Status(SqliteConnection&)> fn,
                                    const std::function<void()>& on_lost = nullptr);
  // Runs `fn` in a read transaction (one consistent snapshot) on a pooled reader
  // connection. `fn` must not write.
  absl::Status WithReadTransaction(absl::FunctionRef<absl::Status(SqliteConnection&)> fn);

  // Counts the writes to the account tables (users, tokens) made in this process. The
  // adapters that cache those rows (read_cache.h) increment it after each of their writes
  // and drop their caches when it moves, so a write by one (a deleted user, whose tokens
  // go with it) is seen at once by the others.
  std::atomic<uint64_t>& accounts_generation() { return accounts_generation_; }

  // Copies the whole WAL into the database and truncates it, waiting for readers. For
  // benchmarks, tests and shutdown.
  absl::Status Checkpoint();

  const std::string& data_dir() const { return data_dir_; }
  const std::string& path() const { return path_; }

 private:
  class Checkpointer;
  struct ReaderPool;
  SqliteDatabase(std::string data_dir, SqliteOptions options);
  absl::StatusOr<std::unique_ptr<SqliteConnection>> Connect(bool writer);
  absl::Status Migrate();

  std::string data_dir_;
  std::string path_;
  SqliteOptions options_;
  std::unique_ptr<SqliteConnection> writer_;  // guarded by write_mu_
  std::unique_ptr<ReaderPool> readers_;
  std::unique_ptr<Checkpointer> checkpointer_;
  struct WriteMutex;
  std::unique_ptr<WriteMutex> write_mu_;
  std::atomic<uint64_t> accounts_generation_{0};
};

// The schema, one migration per version: running entries [0, n) on an empty database and
// setting PRAGMA user_version = n gives the schema of version n. For tests that build a
// database as an earlier version of the program left it.
std::span<const char* const> SchemaMigrations();

// Nanoseconds since the epoch, the form times are stored in.
int64_t ToUnixNanos(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point FromUnixNanos(int64_t nanos);

}  // namespace stockwatch::adapters
