#include "adapters/sqlite/sqlite_database.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace stockwatch::adapters {
namespace {

// The schema, one entry per version; PRAGMA user_version counts the entries applied. Never
// edit an applied entry: append a new one.
//
// Times are nanoseconds since the epoch. The inventory tables are shaped for bulk loads
// (see sqlite_inventory_store.cc): store and item names are interned to dense ids; the
// table is kept as chunks, one row per store and 256 consecutive item ids, packing each
// present item as (item_id & 255: 1 byte, count: varint, last change sequence: varint) in
// item id order; the change stream as blocks of consecutive records. A threshold scope
// uses '' for "any".
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE objects (
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  etag TEXT NOT NULL,
  uploader TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL
);
CREATE TABLE object_events (
  sequence INTEGER PRIMARY KEY,
  event_name TEXT NOT NULL,
  object_id INTEGER NOT NULL UNIQUE REFERENCES objects(id)
);

CREATE TABLE stores (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE items (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE inventory_chunks (
  chunk INTEGER PRIMARY KEY,  -- store_id << 24 | item_id >> 8
  items BLOB NOT NULL
);
CREATE TABLE change_blocks (
  first_seq INTEGER PRIMARY KEY,
  upload_id INTEGER NOT NULL,
  records INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE uploads (
  id INTEGER PRIMARY KEY,
  at_ns INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  changes INTEGER NOT NULL,
  report TEXT NOT NULL
);
CREATE TABLE thresholds (
  store TEXT NOT NULL,
  item TEXT NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (store, item)
) WITHOUT ROWID;

CREATE TABLE topics (
  name TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO topics (name) VALUES ('BackInStock'), ('LowStock'), ('NoStock');
CREATE TABLE subscriptions (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL REFERENCES topics(name),
  protocol INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX subscriptions_active ON subscriptions (topic, endpoint) WHERE active;
CREATE TABLE messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  topic TEXT NOT NULL REFERENCES topics(name),
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  store TEXT NOT NULL,
  item TEXT NOT NULL,
  old_count INTEGER,
  new_count INTEGER NOT NULL,
  change_sequence INTEGER NOT NULL,
  at_ns INTEGER NOT NULL
);
CREATE INDEX messages_by_topic ON messages (topic, seq);
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  message_seq INTEGER NOT NULL REFERENCES messages(seq),
  subscription_id INTEGER NOT NULL REFERENCES subscriptions(id),
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ns INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  updated_at_ns INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_ns, id) WHERE state = 0;
CREATE INDEX deliveries_pending_by_subscription ON deliveries (subscription_id) WHERE state = 0;
CREATE INDEX deliveries_by_state ON deliveries (state, id);

CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  created_at_ns INTEGER NOT NULL
);
)sql",
    // The S3 API. An object's scope uses the encoding of sqlite_scope.h (NULL: all stores,
    // which is what every earlier upload gets). object_keys is the key index S3 lists:
    // the current object under each (bucket, key), keys compared bytewise as BLOBs; it
    // starts with the newest object under each key uploaded so far. object_replays
    // remembers the signatures of signed requests that stored an object. A multipart
    // part's bytes live in `objects/parts/<file>`, a random name. An access key's secret is
    // sealed with XChaCha20-Poly1305 under the master key in `access-keys.key`, with the
    // key id as associated data. `metadata` holds an object's x-amz-meta-* pairs as
    // name NUL value NUL ...
    R"sql(
ALTER TABLE objects ADD COLUMN scope BLOB;
ALTER TABLE objects ADD COLUMN content_type TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN metadata BLOB NOT NULL DEFAULT x'';

CREATE TABLE object_keys (
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  object_id INTEGER NOT NULL REFERENCES objects(id),
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
INSERT INTO object_keys (bucket, key, object_id)
  SELECT bucket, key, MAX(id) FROM objects GROUP BY bucket, key;

CREATE TABLE object_replays (
  replay_key BLOB PRIMARY KEY,
  object_id INTEGER NOT NULL REFERENCES objects(id),
  until_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX object_replays_by_until ON object_replays (until_ns);

CREATE TABLE multipart_uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  uploader TEXT NOT NULL,
  scope BLOB,
  content_type TEXT NOT NULL,
  metadata BLOB NOT NULL,
  initiated_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX multipart_uploads_by_key
  ON multipart_uploads (bucket, key, initiated_at_ns, upload_id);
CREATE TABLE multipart_parts (
  upload_id TEXT NOT NULL REFERENCES multipart_uploads(upload_id),
  part_number INTEGER NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  file TEXT NOT NULL UNIQUE,
  uploaded_at_ns INTEGER NOT NULL,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;

CREATE TABLE access_keys (
  id TEXT PRIMARY KEY,
  scope BLOB,
  description TEXT NOT NULL,
  nonce BLOB NOT NULL,
  sealed BLOB NOT NULL,
  created_at_ns INTEGER NOT NULL,
  revoked_at_ns INTEGER
);
)sql",
    // 3: the dead-letter queue: every failed attempt kept, redrives counted, retries
    // measured from when a delivery last became pending; a signing secret per subscription.
    R"sql(
ALTER TABLE deliveries ADD COLUMN since_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN redrives INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET since_ns = (SELECT at_ns FROM messages WHERE seq = message_seq);
CREATE TABLE delivery_attempts (
  id INTEGER PRIMARY KEY,
  delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
  at_ns INTEGER NOT NULL,
  error TEXT NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);
ALTER TABLE subscriptions ADD COLUMN secret TEXT NOT NULL DEFAULT '';
UPDATE subscriptions SET secret = lower(hex(randomblob(32)));
)sql",
    // 4: objects of at most LocalObjectStoreOptions::inline_max_bytes keep their bytes in
    // `data`; NULL for an object in `objects/<id>` (every earlier one).
    R"sql(
ALTER TABLE objects ADD COLUMN data BLOB;
)sql",
    // 5: a filter policy per subscription (canonical JSON, '' for none).
    R"sql(
ALTER TABLE subscriptions ADD COLUMN filter_policy TEXT NOT NULL DEFAULT '';
)sql",
    // 6: subscription confirmation as in SNS, and SMS opt-outs (STOP). Subscriptions made
    // before confirmation existed stay confirmed (status 1; 0 is pending). Only the SHA-256
    // of a confirmation token is kept, with its expiry. A message's kind tells an alert (0)
    // from a subscription confirmation (1). sms_opt_outs holds E.164 numbers that answered
    // STOP.
    R"sql(
ALTER TABLE subscriptions ADD COLUMN status INTEGER NOT NULL DEFAULT 1;
ALTER TABLE subscriptions ADD COLUMN confirm_token_sha256 BLOB;
ALTER TABLE subscriptions ADD COLUMN confirm_expires_ns INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX subscriptions_by_confirm_token ON subscriptions (confirm_token_sha256)
  WHERE confirm_token_sha256 IS NOT NULL;
ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
CREATE TABLE sms_opt_outs (
  number TEXT PRIMARY KEY,
  at_ns INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 7: digests, quiet hours and urgent topics. A subscription's schedule in canonical
    // form ('' for the defaults: immediate, no quiet hours, UTC); the upload whose change
    // caused a message (0 for earlier ones); topics that skip quiet hours. Pending
    // deliveries are looked up per subscription to gather a digest.
    R"sql(
ALTER TABLE subscriptions ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN quiet_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN upload_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE topics ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_due_by_subscription ON deliveries (subscription_id, next_attempt_ns, id)
  WHERE state = 0;
)sql",
    // 8: what a message says beyond its text: the stock rule that published it ('' for
    // earlier ones: their topic is their rule), the LowStock threshold it crossed, and for a
    // reminder since when the item has been out of stock.
    R"sql(
ALTER TABLE messages ADD COLUMN rule TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN threshold INTEGER;
ALTER TABLE messages ADD COLUMN since_ns INTEGER;
)sql",
    // 9: user topics (Notifier::CreateTopic). The first three rows stay the built-in topics
    // (builtin 1, rules '' meaning their own name). A user topic keeps its rules as sorted
    // comma-separated rule names and its filter policy in canonical JSON ('' for none). A
    // deleted user topic keeps its row (messages name it) with deleted 1; live names are
    // unique ignoring case.
    R"sql(
ALTER TABLE topics ADD COLUMN builtin INTEGER NOT NULL DEFAULT 1;
ALTER TABLE topics ADD COLUMN rules TEXT NOT NULL DEFAULT '';
ALTER TABLE topics ADD COLUMN filter_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE topics ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE topics ADD COLUMN created_at_ns INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX topics_live_by_name ON topics (name COLLATE NOCASE) WHERE deleted = 0;
)sql",
    // 10: reminders. The open outages: an item at 0 since its NoStock alert (`since_ns`),
    // until a BackInStock alert closes it (the row is deleted). `reminders` counts the
    // reminders sent; the next is due one interval after `last_ns` (the start, then the
    // previous reminder's slot). AUTOINCREMENT keeps ids unique for good: reminder message
    // ids are made of them.
    R"sql(
CREATE TABLE outages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  store TEXT NOT NULL,
  item TEXT NOT NULL,
  since_ns INTEGER NOT NULL,
  last_ns INTEGER NOT NULL,
  reminders INTEGER NOT NULL DEFAULT 0,
  UNIQUE (store, item)
);
CREATE INDEX outages_due ON outages (last_ns, id);
)sql",
    // 11: message templates per topic and protocol (core/delivery/templates.h), as their
    // source text. `protocol` is the stored Protocol value, or -1 for every protocol of the
    // topic without its own (not NULL: NULLs would not collide in the primary key). They go
    // with their topic.
    R"sql(
CREATE TABLE message_templates (
  topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
  protocol INTEGER NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (topic, protocol)
) WITHOUT ROWID;
)sql",
    // 12: local accounts and their login sessions (SqliteUserStore). Names are unique
    // ignoring ASCII case; `role` is "admin", "manager" or "viewer"; `scope` is a manager's
    // stores in the encoding of sqlite_scope.h (NULL: all stores); `password_hash` a PHC
    // string ('' for none). A session is keyed by the SHA-256 of its id, never the id; it
    // goes with its user.
    R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role TEXT NOT NULL,
  scope BLOB,
  password_hash TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sessions (
  id_sha256 BLOB PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL,
  last_seen_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_id);
)sql",
    // 13: API tokens owned by users. `user_id` is the owner (NULL: none, as every earlier
    // token until `serve` gives it to the first admin); a user's token acts with its owner's
    // role and stores and goes with its owner. Names are unique per owner, so the table is
    // rebuilt without the old UNIQUE(name); AUTOINCREMENT keeps a deleted token's id unused.
    R"sql(
CREATE TABLE tokens_v13 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  created_at_ns INTEGER NOT NULL,
  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE
);
INSERT INTO tokens_v13 (id, name, role, hash, created_at_ns)
  SELECT id, name, role, hash, created_at_ns FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v13 RENAME TO tokens;
CREATE UNIQUE INDEX tokens_by_owner_name ON tokens (user_id, name);
)sql",
    // 14: per store, the latest applied upload with a row of it, changed or not (the
    // Overview's "last upload"). Stores loaded before this migration have none until their
    // next upload.
    R"sql(
CREATE TABLE store_uploads (
  store_id INTEGER PRIMARY KEY REFERENCES stores(id),
  upload_id INTEGER NOT NULL,
  at_ns INTEGER NOT NULL
);
)sql",
    // 15: the mirror of a DynamoDB table (SqliteInventoryStore::ApplyMirrored, `serve
    // --backend aws`). A mirror span is a run of sequence numbers given to mirrored changes
    // of one time and upload: its change_blocks carry upload_id = -first_seq, and `recorded`
    // 0 marks a silent span (a seed) that has sequence numbers but no change records.
    // stream_shards is the stream mirror's checkpoint (adapters/dynamodb): per shard of
    // `stream_arn`, the last sequence number applied ('' for none) and its state (0 read
    // from LATEST at a seed, 1 read from TRIM_HORIZON, 2 closed and read to its end).
    R"sql(
CREATE TABLE mirror_spans (
  first_seq INTEGER PRIMARY KEY,
  changes INTEGER NOT NULL,
  upload_id INTEGER NOT NULL,
  at_ns INTEGER NOT NULL,
  recorded INTEGER NOT NULL
);
CREATE TABLE stream_shards (
  stream_arn TEXT NOT NULL,
  shard_id TEXT NOT NULL,
  parent_shard_id TEXT NOT NULL,
  sequence_number TEXT NOT NULL,
  state INTEGER NOT NULL,
  PRIMARY KEY (stream_arn, shard_id)
) WITHOUT ROWID;
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace

std::span<const char* const> SchemaMigrations() { return kMigrations; }

absl::Status SqliteStatus(int rc, std::string_view what, std::string_view message) {
  std::string text = "sqlite: ";
  text += what;
  text += ": ";
  text += message;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(text);
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_ROWID:
          return absl::AlreadyExistsError(text);
        case SQLITE_CONSTRAINT_FOREIGNKEY:
          return absl::FailedPreconditionError(text);
        default:
          return absl::InvalidArgumentError(text);
      }
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(text);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(text);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(text);
    default:
      return absl::InternalError(text);
  }
}

int64_t ToUnixNanos(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point FromUnixNanos(int64_t nanos) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(nanos)));
}

// ---------------------------------------------------------------------------------------
// SqliteStatement

SqliteStatement::SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt, bool cached)
    : conn_(conn), stmt_(stmt), cached_(cached) {}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : conn_(other.conn_), stmt_(other.stmt_), cached_(other.cached_) {
  other.stmt_ = nullptr;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) return;
  if (cached_) {
    conn_->Release(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::optional<int64_t> value) {
  if (value) {
    sqlite3_bind_int64(stmt_, index, *value);
  } else {
    sqlite3_bind_null(stmt_, index);
  }
  return *this;
}

SqliteStatement& SqliteStatement::BindText(int index, std::string_view value) {
  // An empty view may have a null pointer, which SQLite would bind as NULL.
  sqlite3_bind_text64(stmt_, index, value.empty() ? "" : value.data(), value.size(),
                      SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, std::string_view value) {
  // A zero-length blob still binds as a blob, not NULL, when the pointer is not null.
  sqlite3_bind_blob64(stmt_, index, value.empty() ? "" : value.data(), value.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::BindStaticBlob(int index, std::string_view value) {
  sqlite3_bind_blob64(stmt_, index, value.empty() ? "" : value.data(), value.size(), SQLITE_STATIC);
  return *this;
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(stmt_);
  std::string_view what = sql != nullptr ? std::string_view(sql) : std::string_view("step");
  if (what.size() > 60) what = what.substr(0, 60);
  absl::Status status = conn_->Error(rc, what);
  sqlite3_reset(stmt_);
  return status;
}

absl::Status SqliteStatement::Run() {
  while (true) {
    SW_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

void SqliteStatement::Reset() { sqlite3_reset(stmt_); }

int64_t SqliteStatement::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }

bool SqliteStatement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<int64_t> SqliteStatement::OptionalInt64(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int64(column);
}

std::string_view SqliteStatement::Text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  const int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string_view() : std::string_view(p, static_cast<size_t>(n));
}

std::string_view SqliteStatement::Blob(int column) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  const int n = sqlite3_column_bytes(stmt_, column);
  return p == nullptr ? std::string_view() : std::string_view(p, static_cast<size_t>(n));
}

// ---------------------------------------------------------------------------------------
// SqliteConnection

struct SqliteConnection::Cache {
  struct Entry {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  std::unordered_map<std::string, Entry> by_sql;
  std::unordered_map<sqlite3_stmt*, Entry*> by_stmt;
};

SqliteConnection::SqliteConnection(sqlite3* db) : db_(db), cache_(std::make_unique<Cache>()) {}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, entry] : cache_->by_sql) sqlite3_finalize(entry.stmt);
  sqlite3_close_v2(db_);
}

absl::StatusOr<SqliteStatement> SqliteConnection::Prepare(std::string_view sql) {
  auto it = cache_->by_sql.find(std::string(sql));
  if (it != cache_->by_sql.end() && !it->second.in_use) {
    it->second.in_use = true;
    return SqliteStatement(this, it->second.stmt, /*cached=*/true);
  }
  sqlite3_stmt* stmt = nullptr;
  const bool cache = it == cache_->by_sql.end();
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return Error(rc, "prepare " + std::string(sql.substr(0, 60)));
  }
  if (!cache) {
    // The cached copy is busy (a statement nested in its own loop): use a one-off.
    return SqliteStatement(this, stmt, /*cached=*/false);
  }
  auto [pos, inserted] = cache_->by_sql.emplace(std::string(sql), Cache::Entry{stmt, true});
  cache_->by_stmt[stmt] = &pos->second;
  return SqliteStatement(this, stmt, /*cached=*/true);
}

void SqliteConnection::Release(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  auto it = cache_->by_stmt.find(stmt);
  if (it != cache_->by_stmt.end()) it->second->in_use = false;
}

absl::Status SqliteConnection::Exec(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return SqliteStatus(rc, sql.substr(0, 60), text);
}

int64_t SqliteConnection::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

int64_t SqliteConnection::Changes() const { return sqlite3_changes64(db_); }

absl::Status SqliteConnection::Error(int rc, std::string_view what) const {
  return SqliteStatus(rc, what, sqlite3_errmsg(db_));
}

// ---------------------------------------------------------------------------------------
// SqliteDatabase

namespace {

// A write transaction waiting for its group to commit (see WithWriteTransaction()).
struct PendingWrite {
  PendingWrite(Durability d, absl::FunctionRef<absl::Status(SqliteConnection&)> f,
               const std::function<void()>& lost)
      : durability(d), fn(f), on_lost(lost) {}
  const Durability durability;
  const absl::FunctionRef<absl::Status(SqliteConnection&)> fn;
  const std::function<void()>& on_lost;
  absl::Status status;  // set by the leader of its group before `done`
  bool fn_ok = false;   // `fn` returned OK (its changes may still be lost with the group)
  bool done = false;    // guarded by WriteMutex::queue_mu
};

}  // namespace

struct SqliteDatabase::WriteMutex {
  std::mutex mu;  // held while the writer connection is in use
  std::mutex queue_mu;
  std::condition_variable changed;     // a group finished
  std::vector<PendingWrite*> waiting;  // guarded by queue_mu; not yet in a group
  bool leading = false;                // guarded by queue_mu; a group is running
};

struct SqliteDatabase::ReaderPool {
  std::mutex mu;
  std::vector<std::unique_ptr<SqliteConnection>> idle;
};

// Checkpoints the WAL on its own thread and connection when a commit leaves it above the
// threshold. PASSIVE checkpoints never block the writer or the readers; they copy what no
// reader still needs, and the next write after a complete one restarts the WAL.
class SqliteDatabase::Checkpointer {
 public:
  Checkpointer(std::unique_ptr<SqliteConnection> conn, int threshold_pages)
      : conn_(std::move(conn)), threshold_pages_(threshold_pages), thread_([this] { Run(); }) {}

  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  // The writer connection's WAL hook: called after each commit with the WAL size.
  static int OnCommit(void* self, sqlite3*, const char*, int pages) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    if (pages >= checkpointer->threshold_pages_) checkpointer->Wake();
    return SQLITE_OK;
  }

  // Held while a checkpoint runs: SQLite fails a second concurrent checkpoint at once
  // (SQLITE_BUSY, without calling the busy handler), so explicit checkpoints take it too.
  std::mutex run_mu;

 private:
  void Wake() {
    {
      std::lock_guard lock(mu_);
      pending_ = true;
    }
    cv_.notify_one();
  }

  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return pending_ || stop_; });
      if (stop_) return;
      pending_ = false;
      lock.unlock();
      {
        // Failures (a busy lock from another process) are retried after the next commit.
        std::lock_guard run_lock(run_mu);
        sqlite3_wal_checkpoint_v2(conn_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
      }
      lock.lock();
    }
  }

  std::unique_ptr<SqliteConnection> conn_;
  const int threshold_pages_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the fields it uses
};

SqliteDatabase::SqliteDatabase(std::string data_dir, SqliteOptions options)
    : data_dir_(std::move(data_dir)),
      path_(data_dir_ + "/stockwatch.db"),
      options_(options),
      readers_(std::make_unique<ReaderPool>()),
      write_mu_(std::make_unique<WriteMutex>()) {}

SqliteDatabase::~SqliteDatabase() {
  // The checkpointer first: it uses the database while the writer's hook points at it.
  if (writer_ != nullptr) sqlite3_wal_hook(writer_->raw(), nullptr, nullptr);
  checkpointer_.reset();
  readers_.reset();
  writer_.reset();
}

absl::StatusOr<std::shared_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& data_dir,
                                                                     const SqliteOptions& options) {
  if (sqlite3_threadsafe() == 0) {
    return absl::FailedPreconditionError("sqlite: library built without thread support");
  }
  if (::mkdir(data_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::UnavailableError("cannot create data directory " + data_dir + ": " +
                                  std::strerror(errno));
  }
  std::shared_ptr<SqliteDatabase> db(new SqliteDatabase(data_dir, options));
  SW_ASSIGN_OR_RETURN(db->writer_, db->Connect(/*writer=*/true));
  SW_RETURN_IF_ERROR(db->Migrate());
  if (options.checkpoint_pages > 0) {
    SW_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> conn, db->Connect(/*writer=*/false));
    db->checkpointer_ = std::make_unique<Checkpointer>(std::move(conn), options.checkpoint_pages);
    sqlite3_wal_hook(db->writer_->raw(), &Checkpointer::OnCommit, db->checkpointer_.get());
  }
  return db;
}

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteDatabase::Connect(bool writer) {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is used by one thread at a time, which we guarantee.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path_.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return SqliteStatus(rc, "open " + path_, message);
  }
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(raw));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options_.busy_timeout.count()));
  std::string pragmas;
  if (writer) {
    // page_size only takes effect before the database has content (and before WAL mode).
    pragmas += "PRAGMA page_size = " + std::to_string(options_.page_size) + ";";
    pragmas += "PRAGMA journal_mode = WAL;";
    pragmas += "PRAGMA cache_size = -" + std::to_string(options_.writer_cache_kib) + ";";
    pragmas += "PRAGMA journal_size_limit = " + std::to_string(options_.wal_size_limit) + ";";
    if (options_.checkpoint_pages > 0) pragmas += "PRAGMA wal_autocheckpoint = 0;";
  } else {
    pragmas += "PRAGMA cache_size = -" + std::to_string(options_.reader_cache_kib) + ";";
  }
  pragmas += "PRAGMA synchronous = NORMAL;";
  pragmas += "PRAGMA foreign_keys = ON;";
  pragmas += "PRAGMA temp_store = MEMORY;";
  pragmas += "PRAGMA mmap_size = " + std::to_string(options_.mmap_bytes) + ";";
  SW_RETURN_IF_ERROR(conn->Exec(pragmas));
  return conn;
}

absl::Status SqliteDatabase::Migrate() {
  int64_t version = 0;
  {
    SW_ASSIGN_OR_RETURN(SqliteStatement stmt, writer_->Prepare("PRAGMA user_version"));
    SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) version = stmt.Int64(0);
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError("database " + path_ + " has schema version " +
                                         std::to_string(version) + ", newer than this program (" +
                                         std::to_string(kSchemaVersion) + ")");
  }
  for (int64_t next = version; next < kSchemaVersion; ++next) {
    if (const absl::Status txn = WithWriteTransaction(
            Durability::kSynced,
            [&](SqliteConnection& conn) {
              SW_RETURN_IF_ERROR(conn.Exec(kMigrations[next]));
              return conn.Exec("PRAGMA user_version = " + std::to_string(next + 1));
            });
        !txn.ok()) {
      return txn;
    }
  }
  return absl::OkStatus();
}

namespace {

// Runs one statement without parameters through the statement cache.
absl::Status RunCached(SqliteConnection& conn, std::string_view sql) {
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
  return stmt.Run();
}

// Runs `fn`, turning an exception into kInternal.
absl::Status RunWrite(SqliteConnection& conn, PendingWrite& write) {
  absl::Status status;
  try {
    status = write.fn(conn);
  } catch (const std::exception& e) {
    status = absl::InternalError(std::string("write transaction failed: ") + e.what());
  }
  write.fn_ok = status.ok();
  return status;
}

// Runs the writes of one group in one transaction on `conn`, each in a savepoint of its
// own when there are several, so that a failed write rolls back only itself; sets each
// write's status. The commit is synced if any write asked for it.
void RunGroup(SqliteConnection& conn, const std::vector<PendingWrite*>& group) {
  const bool synced = std::any_of(group.begin(), group.end(), [](const PendingWrite* w) {
    return w->durability == Durability::kSynced;
  });
  auto fail_all = [&](const absl::Status& status) {
    for (PendingWrite* w : group) {
      if (w->status.ok()) w->status = status;
    }
  };
  if (synced) {
    if (absl::Status status = conn.Exec("PRAGMA synchronous = FULL"); !status.ok()) {
      fail_all(status);
      return;
    }
  }
  absl::Status status = [&]() -> absl::Status {
    SW_ASSIGN_OR_RETURN(SqliteStatement begin, conn.Prepare("BEGIN IMMEDIATE"));
    return begin.Run();
  }();
  if (status.ok() && group.size() == 1) {
    group[0]->status = RunWrite(conn, *group[0]);
    status = group[0]->status;
  } else if (status.ok()) {
    // The writes that succeeded so far: they fail with the transaction if it is lost.
    std::vector<PendingWrite*> written;
    for (PendingWrite* w : group) {
      absl::Status step = RunCached(conn, "SAVEPOINT w");
      if (step.ok()) {
        w->status = RunWrite(conn, *w);
        if (w->status.ok()) {
          step = RunCached(conn, "RELEASE w");
        } else if (!sqlite3_get_autocommit(conn.raw())) {
          step = RunCached(conn, "ROLLBACK TO w");
          if (step.ok()) step = RunCached(conn, "RELEASE w");
        } else {
          // SQLite rolled the whole transaction back (an I/O error, a full disk): the
          // writes before this one are lost too.
          step = w->status;
        }
      }
      if (!step.ok()) {
        if (w->status.ok()) w->status = step;
        for (PendingWrite* earlier : written) earlier->status = step;
        status = step;
        break;
      }
      if (w->status.ok()) written.push_back(w);
    }
  }
  if (status.ok()) {
    absl::StatusOr<SqliteStatement> commit = conn.Prepare("COMMIT");
    status = commit.ok() ? commit->Run() : commit.status();
  }
  if (!status.ok()) {
    if (!sqlite3_get_autocommit(conn.raw())) {
      // Rolls back whatever the failed statements left; a failed ROLLBACK leaves nothing
      // more to do (SQLite then rolls back itself).
      (void)conn.Exec("ROLLBACK");
    }
    fail_all(status);
  }
  if (synced) {
    absl::Status restored = conn.Exec("PRAGMA synchronous = NORMAL");
    if (!restored.ok()) fail_all(restored);
  }
}

}  // namespace

// Group commit: every thread that wants to write queues its transaction; the first one
// finding no group running becomes the leader, takes everything queued and runs it as one
// SQLite transaction with one commit (one fsync of the WAL for a synced group), while the
// threads arriving meanwhile queue up for the next group. Under concurrent small writes
// (S3 puts from many clients), fsyncs are then shared instead of serialized. Each write
// still commits atomically and durably before its call returns: a write is acknowledged
// only after the commit of its group (synced with synchronous=FULL if any write of the
// group asked for kSynced) has returned.
absl::Status SqliteDatabase::WithWriteTransaction(
    Durability durability, absl::FunctionRef<absl::Status(SqliteConnection&)> fn,
    const std::function<void()>& on_lost) {
  PendingWrite self(durability, fn, on_lost);
  WriteMutex& m = *write_mu_;
  std::unique_lock queue_lock(m.queue_mu);
  m.waiting.push_back(&self);
  m.changed.wait(queue_lock, [&] { return self.done || !m.leading; });
  if (self.done) return self.status;
  // Not done and no group running: `self` is still waiting, so lead the next group.
  m.leading = true;
  std::vector<PendingWrite*> group;
  group.swap(m.waiting);
  queue_lock.unlock();
  {
    std::lock_guard lock(m.mu);
    RunGroup(*writer_, group);
    // Still under the write lock, so no later write can have reused what the lost ones
    // allocated (row ids) before their on_lost runs.
    for (PendingWrite* w : group) {
      if (w->fn_ok && !w->status.ok() && w->on_lost) w->on_lost();
    }
  }
  queue_lock.lock();
  for (PendingWrite* w : group) w->done = true;
  m.leading = false;
  queue_lock.unlock();
  m.changed.notify_all();
  return self.status;
}

absl::Status SqliteDatabase::WithReadTransaction(
    absl::FunctionRef<absl::Status(SqliteConnection&)> fn) {
  std::unique_ptr<SqliteConnection> conn;
  {
    std::lock_guard lock(readers_->mu);
    if (!readers_->idle.empty()) {
      conn = std::move(readers_->idle.back());
      readers_->idle.pop_back();
    }
  }
  if (conn == nullptr) {
    SW_ASSIGN_OR_RETURN(conn, Connect(/*writer=*/false));
  }
  absl::Status status = [&]() -> absl::Status {
    {
      SW_ASSIGN_OR_RETURN(SqliteStatement begin, conn->Prepare("BEGIN"));
      SW_RETURN_IF_ERROR(begin.Run());
    }
    absl::Status result;
    try {
      result = fn(*conn);
    } catch (const std::exception& e) {
      result = absl::InternalError(std::string("read transaction failed: ") + e.what());
    }
    if (!sqlite3_get_autocommit(conn->raw())) {
      absl::Status ended = conn->Exec(result.ok() ? "COMMIT" : "ROLLBACK");
      if (result.ok()) result = ended;
    }
    return result;
  }();
  {
    std::lock_guard lock(readers_->mu);
    if (readers_->idle.size() < options_.max_idle_readers) {
      readers_->idle.push_back(std::move(conn));
    }
  }
  return status;
}

absl::Status SqliteDatabase::Checkpoint() {
  std::lock_guard lock(write_mu_->mu);
  std::unique_lock<std::mutex> run_lock;
  if (checkpointer_ != nullptr) run_lock = std::unique_lock(checkpointer_->run_mu);
  const int rc = sqlite3_wal_checkpoint_v2(writer_->raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           nullptr, nullptr);
  if (rc != SQLITE_OK) return writer_->Error(rc, "checkpoint");
  return absl::OkStatus();
}

}  // namespace stockwatch::adapters
