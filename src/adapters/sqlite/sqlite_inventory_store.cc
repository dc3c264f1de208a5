#include "adapters/sqlite/sqlite_inventory_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adapters/sqlite/read_cache.h"
#include "base/status.h"
#include "core/checker/inventory_order.h"
#include "core/model/json.h"

namespace stockwatch::adapters {
namespace {

using core::ChangeRecord;
using core::InventoryItem;
using core::TimePoint;

constexpr uint32_t kNoId = UINT32_MAX;
constexpr size_t kMaxQueryLimit = 10000;

uint64_t MakeKey(uint32_t store, uint32_t item) { return (uint64_t{store} << 32) | item; }
uint32_t StoreOf(uint64_t key) { return static_cast<uint32_t>(key >> 32); }
uint32_t ItemOf(uint64_t key) { return static_cast<uint32_t>(key); }

// The table is stored as chunks of 256 consecutive item ids of one store; a chunk's rowid
// is key >> 8, i.e. store_id << 24 | item_id >> 8.
constexpr int kChunkShift = 8;
uint64_t ChunkOf(uint64_t key) { return key >> kChunkShift; }
uint32_t ChunkStore(uint64_t chunk) { return static_cast<uint32_t>(chunk >> (32 - kChunkShift)); }
uint32_t ChunkFirstItem(uint64_t chunk) { return static_cast<uint32_t>(chunk << kChunkShift); }

// A fast non-cryptographic hash for interning names (the inputs are our own file's names,
// and a collision costs a string compare, not correctness).
uint64_t HashName(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xff51afd7ed558ccdull);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = std::rotl((h ^ w) * 0xbf58476d1ce4e5b9ull, 31);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
  }
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

// An open-addressing hash table keyed by a dense 32-bit id, with linear probing and
// Fibonacci hashing. `Slot` is a trivially copyable struct whose first member is
// `uint32_t key`, 0 for an empty slot and id + 1 otherwise. Kept 37-75% full.
template <typename Slot>
class IdTable {
 public:
  void Reserve(size_t n) {
    size_t capacity = 16;
    while (capacity * 3 < n * 4) capacity *= 2;
    if (capacity > slots_.size()) Rehash(capacity);
  }

  Slot* Find(uint32_t id) {
    if (size_ == 0) return nullptr;
    const uint32_t key = id + 1;
    for (size_t i = Home(id);; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.key == key) return &slot;
      if (slot.key == 0) return nullptr;
    }
  }
  const Slot* Find(uint32_t id) const { return const_cast<IdTable*>(this)->Find(id); }

  // The slot of `id`, inserting a value-initialized one (inserted = true) if absent.
  Slot& FindOrInsert(uint32_t id, bool& inserted) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Rehash(std::max<size_t>(16, slots_.size() * 2));
    const uint32_t key = id + 1;
    for (size_t i = Home(id);; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.key == key) {
        inserted = false;
        return slot;
      }
      if (slot.key == 0) {
        slot.key = key;
        ++size_;
        inserted = true;
        return slot;
      }
    }
  }

  // Removes `id`; false if absent. Backward-shift deletion keeps every probe chain intact
  // without tombstones: each later slot of the run moves into the gap unless its home lies
  // cyclically after the gap.
  bool Erase(uint32_t id) {
    if (size_ == 0) return false;
    const uint32_t key = id + 1;
    size_t gap = Home(id);
    while (slots_[gap].key != key) {
      if (slots_[gap].key == 0) return false;
      gap = (gap + 1) & mask_;
    }
    for (size_t next = (gap + 1) & mask_; slots_[next].key != 0; next = (next + 1) & mask_) {
      const size_t home = Home(slots_[next].key - 1);
      const bool stays = gap <= next ? (gap < home && home <= next) : (gap < home || home <= next);
      if (!stays) {
        slots_[gap] = slots_[next];
        gap = next;
      }
    }
    slots_[gap] = Slot{};
    --size_;
    return true;
  }

  template <typename F>
  void ForEach(F&& f) const {
    for (const Slot& slot : slots_) {
      if (slot.key != 0) f(slot.key - 1, slot);
    }
  }

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  size_t Home(uint32_t id) const {
    return static_cast<size_t>((uint64_t{id} * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  void Rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    for (const Slot& slot : old) {
      if (slot.key == 0) continue;
      size_t i = Home(slot.key - 1);
      while (slots_[i].key != 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;
  int shift_ = 63;
};

// Interned names with ids base, base + 1, ...; the bytes live in one arena.
class NameTable {
 public:
  explicit NameTable(uint32_t base = 0) : base_(base) {}

  // The id of `name` (with `hash` = HashName(name)), or kNoId.
  uint32_t Find(std::string_view name, uint64_t hash) const {
    if (offsets_.size() == 1) return kNoId;
    const auto tag = static_cast<uint32_t>(hash >> 32);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id_plus1 == 0) return kNoId;
      if (slot.tag == tag && Local(slot.id_plus1 - 1) == name) return base_ + slot.id_plus1 - 1;
    }
  }

  // Adds `name`, which must be absent, and returns its id.
  uint32_t Add(std::string_view name, uint64_t hash) {
    const auto local = static_cast<uint32_t>(offsets_.size() - 1);
    if ((local + 1) * 2 > slots_.size()) Grow();
    arena_.append(name);
    offsets_.push_back(arena_.size());
    Insert(local, hash);
    return base_ + local;
  }

  // REQUIRES: base() <= id < end().
  std::string_view Name(uint32_t id) const { return Local(id - base_); }
  uint32_t base() const { return base_; }
  uint32_t end() const { return base_ + static_cast<uint32_t>(offsets_.size() - 1); }
  size_t size() const { return offsets_.size() - 1; }
  size_t MemoryBytes() const {
    return arena_.capacity() + offsets_.capacity() * sizeof(uint64_t) +
           slots_.capacity() * sizeof(Slot);
  }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t id_plus1 = 0;  // local id + 1; 0 = empty
  };

  std::string_view Local(uint32_t local) const {
    return std::string_view(arena_).substr(offsets_[local], offsets_[local + 1] - offsets_[local]);
  }

  void Insert(uint32_t local, uint64_t hash) {
    size_t i = hash & mask_;
    while (slots_[i].id_plus1 != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{static_cast<uint32_t>(hash >> 32), local + 1};
  }

  void Grow() {
    const size_t capacity = std::max<size_t>(64, slots_.size() * 2);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (uint32_t local = 0; local + 1 < offsets_.size(); ++local) {
      Insert(local, HashName(Local(local)));
    }
  }

  uint32_t base_;
  std::string arena_;
  std::vector<uint64_t> offsets_{0};
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// LEB128 varints for the packed change blocks.
char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

bool GetVarint(const char*& p, const char* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const auto byte = static_cast<uint8_t>(*p++);
    v |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// One record of a change block, as stored. A block holds the records with sequence numbers
// first_seq .. first_seq + records - 1, all of one upload, in key order. Each record is
// four varints: key - previous key in the block (the first: key), old count + 1 (0: no old
// image), new count, sequence - the item's previous record's sequence (0: none).
struct BlockRecord {
  uint64_t sequence = 0;
  uint64_t key = 0;
  int64_t old_count = -1;  // -1: none
  int64_t new_count = 0;
  uint64_t previous = 0;  // sequence of the item's previous record, 0 if none
};

absl::Status DecodeBlock(uint64_t first_seq, int64_t records, std::string_view data,
                         std::vector<BlockRecord>& out) {
  out.clear();
  out.reserve(static_cast<size_t>(records));
  const char* p = data.data();
  const char* end = p + data.size();
  uint64_t key = 0;
  for (int64_t i = 0; i < records; ++i) {
    uint64_t delta, old_plus1, count, back;
    if (!GetVarint(p, end, delta) || !GetVarint(p, end, old_plus1) || !GetVarint(p, end, count) ||
        !GetVarint(p, end, back)) {
      return absl::DataLossError("inventory: change block " + std::to_string(first_seq) +
                                 " is truncated");
    }
    key += delta;
    BlockRecord record;
    record.sequence = first_seq + static_cast<uint64_t>(i);
    record.key = key;
    record.old_count = old_plus1 == 0 ? -1 : static_cast<int64_t>(old_plus1 - 1);
    record.new_count = static_cast<int64_t>(count);
    record.previous = back == 0 ? 0 : record.sequence - back;
    out.push_back(record);
  }
  return absl::OkStatus();
}

// Cursors are the hex of: 4-byte big-endian store length, store, item.
std::string EncodeCursor(std::string_view store, std::string_view item) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string raw;
  const auto n = static_cast<uint32_t>(store.size());
  for (int shift = 24; shift >= 0; shift -= 8) raw.push_back(static_cast<char>(n >> shift));
  raw.append(store);
  raw.append(item);
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::Status DecodeCursor(std::string_view cursor, std::string& store, std::string& item) {
  auto bad = [] { return absl::InvalidArgumentError("inventory: malformed cursor"); };
  if (cursor.size() % 2 != 0 || cursor.size() < 8) return bad();
  std::string raw;
  raw.reserve(cursor.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < cursor.size(); i += 2) {
    const int hi = nibble(cursor[i]);
    const int lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    raw.push_back(static_cast<char>(hi << 4 | lo));
  }
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = n << 8 | static_cast<uint8_t>(raw[i]);
  if (n > raw.size() - 4) return bad();
  store = raw.substr(4, n);
  item = raw.substr(4 + n);
  return absl::OkStatus();
}

struct IndexSlot {
  uint32_t key = 0;
  int32_t count = 0;
  uint64_t last_seq = 0;  // the item's newest change record
};

struct StagedSlot {
  uint32_t key = 0;
  uint32_t pos = 0;  // index into StagedStore::order and ::counts
  int64_t line = 0;
};

// One staged row that changes the table.
struct Change {
  uint64_t key = 0;
  int32_t new_count = 0;
  int32_t old_count = -1;  // -1: new item
  uint64_t previous = 0;   // the item's last change sequence, 0 if new
};

// An item a diff found staged but unchanged, with its state in the index.
struct Kept {
  uint32_t item = 0;
  int32_t count = 0;
  uint64_t last_seq = 0;
};

// What an upload changes, sorted by key, and what it leaves alone.
struct Diffed {
  std::vector<Change> changes;
  int64_t unchanged = 0;
  // For an existing store whose every item is staged: its unchanged items by id. The
  // chunks of such a store are rebuilt by merging these with the changes, without probing
  // the index for each of the 256 ids.
  std::unordered_map<uint32_t, std::vector<Kept>> covered;
};

struct StoreState {
  IdTable<IndexSlot> items;
  int64_t out_of_stock = 0;
  uint64_t last_seq = 0;  // newest change in the store
  // Item ids ordered by name, for Query; built on first use after the store gains items.
  // Guarded by Impl::sorted_mu_ (and invalidated under the exclusive lock).
  std::vector<uint32_t> sorted;
  bool sorted_valid = false;
  // Item ids ordered by (count, name) and by (updated_at, name), for the other sort orders;
  // built on first use after any change to the store. Guarded like `sorted`.
  std::vector<uint32_t> by_count;
  bool by_count_valid = false;
  std::vector<uint32_t> by_updated;
  bool by_updated_valid = false;
};

// An upload that appended records: they are first_seq .. first_seq + changes - 1.
struct UploadSpan {
  uint64_t first_seq = 0;
  uint64_t changes = 0;
  int64_t upload_id = 0;
  int64_t at_ns = 0;
};

// A mirror span's change blocks carry this id in their upload_id column (uploads are > 0).
int64_t MirrorSpanId(uint64_t first_seq) { return -static_cast<int64_t>(first_seq); }

// The id of `name` in `known` or `fresh`, adding it to `fresh` if in neither.
uint32_t InternName(const NameTable& known, NameTable& fresh, std::string_view name) {
  const uint64_t hash = HashName(name);
  uint32_t id = known.Find(name, hash);
  if (id != kNoId) return id;
  id = fresh.Find(name, hash);
  if (id != kNoId) return id;
  return fresh.Add(name, hash);
}

// The id of `name` in `known` or `fresh`, or kNoId.
uint32_t FindName(const NameTable& known, const NameTable& fresh, std::string_view name) {
  const uint64_t hash = HashName(name);
  const uint32_t id = known.Find(name, hash);
  return id != kNoId ? id : fresh.Find(name, hash);
}

absl::Status WriteNameTable(SqliteConnection& conn, const char* sql, const NameTable& names) {
  if (names.size() == 0) return absl::OkStatus();
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
  for (uint32_t id = names.base(); id < names.end(); ++id) {
    stmt.Bind(1, int64_t{id}).BindText(2, names.Name(id));
    SW_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
  }
  return absl::OkStatus();
}

// An item's state while a mirror batch is diffed.
struct MirrorState {
  bool present = false;
  int32_t count = 0;
  uint64_t last_seq = 0;
};

// One change a mirror batch makes, in sequence order.
struct MirrorChange {
  uint64_t key = 0;
  int32_t old_count = -1;  // -1: new item
  int32_t new_count = 0;
  uint64_t previous = 0;  // the item's previous change sequence, 0 if none
};

// A run of a mirror batch's sequence numbers with one time and upload.
struct MirrorSpan {
  uint64_t first_seq = 0;
  uint64_t changes = 0;
  int64_t upload_id = 0;
  int64_t at_ns = 0;
};

absl::Status AlreadyApplied(int64_t upload_id) {
  return absl::AlreadyExistsError("inventory: upload " + std::to_string(upload_id) +
                                  " is already applied");
}

// The store's one writer at a time for ApplyMirrored and RecordReport (an upload's Writer
// holds the same flag for its lifetime): held from construction, if nobody held it then,
// until destruction.
class WriterClaim {
 public:
  explicit WriterClaim(std::atomic<bool>& flag) : flag_(flag), held_(!flag.exchange(true)) {}
  ~WriterClaim() {
    if (held_) flag_.store(false);
  }
  WriterClaim(const WriterClaim&) = delete;
  WriterClaim& operator=(const WriterClaim&) = delete;
  bool held() const { return held_; }

 private:
  std::atomic<bool>& flag_;
  const bool held_;
};

}  // namespace

// The in-memory mirror of the table. Readers hold `mu` shared. The one live writer reads
// the index and names without the lock while staging and diffing (nobody else mutates
// them) and takes `mu` exclusively only to apply a committed upload.
class SqliteInventoryStore::Impl {
 public:
  Impl(std::shared_ptr<SqliteDatabase> database, const SqliteInventoryOptions& opts)
      : db(std::move(database)), options(opts) {}

  absl::Status Load();
  TimePoint TimeOfSeq(uint64_t seq) const;
  const std::vector<uint32_t>& SortedItems(uint32_t store) const;
  // The store's item ids in the order of `sort` (kItem: SortedItems()), ascending.
  // REQUIRES: `mu` held shared.
  const std::vector<uint32_t>& OrderedItems(uint32_t store, core::InventorySort sort) const;
  const std::vector<uint32_t>& SortedStores() const;
  ChangeRecord ToRecord(const BlockRecord& record, int64_t upload_id, int64_t at_ns) const;
  // The (upload id, at_ns) of the records of a change block whose upload_id column is
  // `block_upload`: an upload's, or a mirror span's (negative).
  std::pair<int64_t, int64_t> Origin(int64_t block_upload) const;
  // Whether `seq` belongs to a silent mirror span (no change record exists for it).
  bool IsSilent(uint64_t seq) const;
  void Apply(const NameTable& new_stores, const NameTable& new_items,
             const std::vector<Change>& changes, uint64_t first_seq, int64_t upload_id,
             int64_t at_ns);

  std::shared_ptr<SqliteDatabase> db;
  const SqliteInventoryOptions options;
  std::atomic<bool> writer_active{false};

  mutable std::shared_mutex mu;
  NameTable store_names;
  NameTable item_names;
  std::vector<StoreState> stores;                // by store id
  std::vector<UploadSpan> spans;                 // by first_seq
  std::unordered_map<int64_t, int64_t> applied;  // upload id -> at_ns
  // Mirror spans with change records: span id (MirrorSpanId) -> (upload id, at_ns).
  std::unordered_map<int64_t, std::pair<int64_t, int64_t>> mirrored;
  std::vector<std::pair<uint64_t, uint64_t>> silent;  // silent spans: (first_seq, changes)
  int64_t last_applied = 0;
  uint64_t next_seq = 1;
  int64_t generation = 0;  // commits so far; detects writes from another process
  size_t item_count = 0;

  // Items looked at by queries since the store was opened (ItemsExamined()).
  mutable std::atomic<uint64_t> examined{0};

  mutable std::mutex sorted_mu;
  mutable std::vector<uint32_t> sorted_stores;
  mutable bool sorted_stores_valid = false;

  // The thresholds table, read by every inventory page (for `threshold`); dropped by each
  // SetThreshold(). Its TTL bounds how long a change by another process goes unseen.
  std::atomic<uint64_t> thresholds_generation{0};
  ReadCache<int, std::vector<core::Threshold>> thresholds_cache{thresholds_generation,
                                                                std::chrono::seconds(1)};
};

absl::Status SqliteInventoryStore::Impl::Load() {
  return db->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
    {
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("SELECT name, value FROM meta"));
      while (true) {
        SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        if (stmt.Text(0) == "inventory_generation") generation = stmt.Int64(1);
        if (stmt.Text(0) == "inventory_next_seq") next_seq = static_cast<uint64_t>(stmt.Int64(1));
      }
    }
    auto load_names = [&](const char* sql, NameTable& names) -> absl::Status {
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
      while (true) {
        SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        const std::string_view name = stmt.Text(1);
        const uint64_t hash = HashName(name);
        if (stmt.Int64(0) != names.end() || names.Find(name, hash) != kNoId) {
          return absl::DataLossError("inventory: name ids are not dense and distinct at \"" +
                                     std::string(name) + "\"");
        }
        names.Add(name, hash);
      }
    };
    SW_RETURN_IF_ERROR(load_names("SELECT id, name FROM stores ORDER BY id", store_names));
    SW_RETURN_IF_ERROR(load_names("SELECT id, name FROM items ORDER BY id", item_names));
    stores.resize(store_names.size());
    {
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          conn.Prepare("SELECT chunk, items FROM inventory_chunks"));
      while (true) {
        SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        const auto chunk = static_cast<uint64_t>(stmt.Int64(0));
        const uint32_t store_id = ChunkStore(chunk);
        const uint32_t base = ChunkFirstItem(chunk);
        if (store_id >= stores.size()) {
          return absl::DataLossError("inventory: chunk " + std::to_string(chunk) +
                                     " names an unknown store");
        }
        StoreState& store = stores[store_id];
        const std::string_view data = stmt.Blob(1);
        const char* p = data.data();
        const char* end = p + data.size();
        while (p < end) {
          const uint32_t item = base + static_cast<uint8_t>(*p++);
          uint64_t count = 0, last_seq = 0;
          if (!GetVarint(p, end, count) || !GetVarint(p, end, last_seq) ||
              item >= item_names.end() || count > core::kMaxCount) {
            return absl::DataLossError("inventory: chunk " + std::to_string(chunk) +
                                       " is malformed");
          }
          bool inserted = false;
          IndexSlot& slot = store.items.FindOrInsert(item, inserted);
          slot.count = static_cast<int32_t>(count);
          slot.last_seq = last_seq;
          if (count == 0) ++store.out_of_stock;
          store.last_seq = std::max(store.last_seq, last_seq);
          ++item_count;
        }
      }
    }
    {
      SW_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          conn.Prepare("SELECT id, at_ns, first_seq, changes FROM uploads ORDER BY first_seq, id"));
      while (true) {
        SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        UploadSpan span{static_cast<uint64_t>(stmt.Int64(2)), static_cast<uint64_t>(stmt.Int64(3)),
                        stmt.Int64(0), stmt.Int64(1)};
        applied[span.upload_id] = span.at_ns;
        last_applied = std::max(last_applied, span.upload_id);
        if (span.changes > 0) spans.push_back(span);
      }
    }
    {
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          conn.Prepare("SELECT first_seq, changes, upload_id, at_ns, recorded "
                                       "FROM mirror_spans ORDER BY first_seq"));
      bool any = false;
      while (true) {
        SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        any = true;
        const auto first = static_cast<uint64_t>(stmt.Int64(0));
        const auto count = static_cast<uint64_t>(stmt.Int64(1));
        spans.push_back(UploadSpan{first, count, MirrorSpanId(first), stmt.Int64(3)});
        if (stmt.Int64(4) != 0) {
          mirrored[MirrorSpanId(first)] = {stmt.Int64(2), stmt.Int64(3)};
        } else {
          silent.emplace_back(first, count);
        }
      }
      if (any) {
        std::stable_sort(spans.begin(), spans.end(), [](const UploadSpan& a, const UploadSpan& b) {
          return a.first_seq < b.first_seq;
        });
      }
    }
    return absl::OkStatus();
  });
}

TimePoint SqliteInventoryStore::Impl::TimeOfSeq(uint64_t seq) const {
  auto it = std::upper_bound(spans.begin(), spans.end(), seq,
                             [](uint64_t s, const UploadSpan& span) { return s < span.first_seq; });
  if (it == spans.begin()) return TimePoint();
  return FromUnixNanos(std::prev(it)->at_ns);
}

const std::vector<uint32_t>& SqliteInventoryStore::Impl::SortedItems(uint32_t store) const {
  std::lock_guard lock(sorted_mu);
  // const_cast: the sorted order is a cache guarded by sorted_mu, not logical state.
  auto& state = const_cast<StoreState&>(stores[store]);
  if (!state.sorted_valid) {
    state.sorted.clear();
    state.sorted.reserve(state.items.size());
    state.items.ForEach([&](uint32_t id, const IndexSlot&) { state.sorted.push_back(id); });
    std::sort(state.sorted.begin(), state.sorted.end(),
              [&](uint32_t a, uint32_t b) { return item_names.Name(a) < item_names.Name(b); });
    state.sorted_valid = true;
  }
  return state.sorted;
}

const std::vector<uint32_t>& SqliteInventoryStore::Impl::OrderedItems(
    uint32_t store, core::InventorySort sort) const {
  if (sort != core::InventorySort::kCount && sort != core::InventorySort::kUpdatedAt) {
    return SortedItems(store);
  }
  std::lock_guard lock(sorted_mu);
  // const_cast: the orders are caches guarded by sorted_mu, not logical state.
  auto& state = const_cast<StoreState&>(stores[store]);
  const bool by_count = sort == core::InventorySort::kCount;
  std::vector<uint32_t>& order = by_count ? state.by_count : state.by_updated;
  bool& valid = by_count ? state.by_count_valid : state.by_updated_valid;
  if (!valid) {
    struct Entry {
      int64_t key;  // count or updated_at (ns)
      uint32_t item;
    };
    std::vector<Entry> entries;
    entries.reserve(state.items.size());
    state.items.ForEach([&](uint32_t id, const IndexSlot& slot) {
      entries.push_back(
          Entry{by_count ? int64_t{slot.count} : core::ToUnixNanos(TimeOfSeq(slot.last_seq)), id});
    });
    std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
      if (a.key != b.key) return a.key < b.key;
      return item_names.Name(a.item) < item_names.Name(b.item);
    });
    order.clear();
    order.reserve(entries.size());
    for (const Entry& entry : entries) order.push_back(entry.item);
    valid = true;
  }
  return order;
}

const std::vector<uint32_t>& SqliteInventoryStore::Impl::SortedStores() const {
  std::lock_guard lock(sorted_mu);
  if (!sorted_stores_valid) {
    sorted_stores.resize(stores.size());
    for (uint32_t i = 0; i < sorted_stores.size(); ++i) sorted_stores[i] = i;
    std::sort(sorted_stores.begin(), sorted_stores.end(),
              [&](uint32_t a, uint32_t b) { return store_names.Name(a) < store_names.Name(b); });
    sorted_stores_valid = true;
  }
  return sorted_stores;
}

ChangeRecord SqliteInventoryStore::Impl::ToRecord(const BlockRecord& record, int64_t upload_id,
                                                  int64_t at_ns) const {
  ChangeRecord out;
  out.sequence = record.sequence;
  out.kind = record.old_count < 0 ? core::ChangeKind::kInsert : core::ChangeKind::kModify;
  out.store = std::string(store_names.Name(StoreOf(record.key)));
  out.item = std::string(item_names.Name(ItemOf(record.key)));
  if (record.old_count >= 0) out.old_count = record.old_count;
  out.new_count = record.new_count;
  out.upload_id = upload_id;
  out.at = FromUnixNanos(at_ns);
  return out;
}

std::pair<int64_t, int64_t> SqliteInventoryStore::Impl::Origin(int64_t block_upload) const {
  if (block_upload < 0) {
    auto it = mirrored.find(block_upload);
    return it != mirrored.end() ? it->second : std::pair<int64_t, int64_t>{0, 0};
  }
  auto it = applied.find(block_upload);
  return {block_upload, it != applied.end() ? it->second : 0};
}

bool SqliteInventoryStore::Impl::IsSilent(uint64_t seq) const {
  auto it = std::upper_bound(
      silent.begin(), silent.end(), seq,
      [](uint64_t s, const std::pair<uint64_t, uint64_t>& span) { return s < span.first; });
  if (it == silent.begin()) return false;
  --it;
  return seq < it->first + it->second;
}

// Applies a committed upload to the mirror. Tables of stores new in this upload are built
// before taking the lock, so a first load holds it only briefly.
void SqliteInventoryStore::Impl::Apply(const NameTable& new_stores, const NameTable& new_items,
                                       const std::vector<Change>& changes, uint64_t first_seq,
                                       int64_t upload_id, int64_t at_ns) {
  auto apply_one = [](StoreState& store, const Change& change, uint64_t seq) {
    bool inserted = false;
    IndexSlot& slot = store.items.FindOrInsert(ItemOf(change.key), inserted);
    if (!inserted && slot.count == 0) --store.out_of_stock;
    if (change.new_count == 0) ++store.out_of_stock;
    slot.count = change.new_count;
    slot.last_seq = seq;
    store.last_seq = seq;  // records are applied in sequence order
    if (inserted) store.sorted_valid = false;
    store.by_count_valid = false;
    store.by_updated_valid = false;
    return inserted;
  };

  const size_t old_store_count = stores.size();
  std::vector<StoreState> fresh(new_stores.size());
  size_t inserted_items = 0;
  size_t i = 0;
  // Changes are sorted by key, so a new store's changes form one run.
  while (i < changes.size() && StoreOf(changes[i].key) < old_store_count) ++i;
  for (size_t run = i; run < changes.size();) {
    const uint32_t store = StoreOf(changes[run].key);
    size_t end = run;
    while (end < changes.size() && StoreOf(changes[end].key) == store) ++end;
    StoreState& state = fresh[store - old_store_count];
    state.items.Reserve(end - run);
    for (size_t k = run; k < end; ++k) {
      inserted_items += apply_one(state, changes[k], first_seq + k) ? 1 : 0;
    }
    run = end;
  }

  std::unique_lock lock(mu);
  for (uint32_t id = new_stores.base(); id < new_stores.end(); ++id) {
    const std::string_view name = new_stores.Name(id);
    store_names.Add(name, HashName(name));
  }
  for (uint32_t id = new_items.base(); id < new_items.end(); ++id) {
    const std::string_view name = new_items.Name(id);
    item_names.Add(name, HashName(name));
  }
  for (StoreState& state : fresh) stores.push_back(std::move(state));
  if (!fresh.empty()) {
    std::lock_guard sorted_lock(sorted_mu);
    sorted_stores_valid = false;
  }
  for (size_t k = 0; k < i; ++k) {
    inserted_items += apply_one(stores[StoreOf(changes[k].key)], changes[k], first_seq + k) ? 1 : 0;
  }
  item_count += inserted_items;
  applied[upload_id] = at_ns;
  last_applied = std::max(last_applied, upload_id);
  if (!changes.empty()) spans.push_back(UploadSpan{first_seq, changes.size(), upload_id, at_ns});
  next_seq = first_seq + changes.size();
  ++generation;
}

// Stages an upload in per-store hash tables (file order is kept per store, so a file sorted
// like the last one needs no sort), then diffs, writes and applies it in Commit().
class SqliteInventoryStore::Writer final : public core::UploadWriter {
 public:
  Writer(Impl* impl, int64_t upload_id, TimePoint at)
      : impl_(impl),
        upload_id_(upload_id),
        at_(at),
        new_stores_(impl->store_names.end()),
        new_items_(impl->item_names.end()) {}

  ~Writer() override { impl_->writer_active.store(false); }

  int64_t Upsert(std::string_view store, std::string_view item, int64_t count,
                 int64_t line) override {
    SW_CHECK(count >= 0 && count <= core::kMaxCount);
    SW_CHECK(!committed_);
    // Files come grouped by store, so the store is looked up once per run of rows.
    if (last_staged_ == nullptr || store != last_store_) {
      if (last_staged_ != nullptr && !last_staged_->order.empty()) model_ = last_staged_;
      model_pos_ = 0;
      const uint32_t store_id = Intern(impl_->store_names, new_stores_, store);
      auto [it, fresh] = staged_.try_emplace(store_id);
      if (fresh && store_id < impl_->stores.size()) {
        const size_t expected = impl_->stores[store_id].items.size();
        it->second.table.Reserve(expected);
        it->second.order.reserve(expected);
        it->second.counts.reserve(expected);
      }
      last_store_.assign(store);
      last_staged_ = &it->second;
    }
    const uint32_t item_id = PredictedItem(item);
    StagedStore& staged = *last_staged_;
    bool inserted = false;
    StagedSlot& slot = staged.table.FindOrInsert(item_id, inserted);
    const int64_t replaced = inserted ? 0 : slot.line;
    if (inserted) {
      slot.pos = static_cast<uint32_t>(staged.order.size());
      staged.order.push_back(item_id);
      staged.counts.push_back(static_cast<int32_t>(count));
    } else {
      staged.counts[slot.pos] = static_cast<int32_t>(count);
    }
    slot.line = line;
    return replaced;
  }

  absl::Status Commit(core::LoadReport& report) override;

 private:
  struct StagedStore {
    IdTable<StagedSlot> table;    // item id -> position, line
    std::vector<uint32_t> order;  // item ids in first-staged order
    std::vector<int32_t> counts;  // their staged counts (the last row wins)
  };

  // Exports list the same catalog in the same order for every store, so the item of a row
  // is usually the one at the same position in the previous store's rows: one compare
  // instead of hashing the name. Tolerates a row more or less than in that store.
  uint32_t PredictedItem(std::string_view item) {
    if (model_ != nullptr) {
      for (size_t pos = model_pos_; pos < model_pos_ + 2 && pos < model_->order.size(); ++pos) {
        const uint32_t guess = model_->order[pos];
        const std::string_view name = guess < impl_->item_names.end()
                                          ? impl_->item_names.Name(guess)
                                          : new_items_.Name(guess);
        if (name == item) {
          model_pos_ = pos + 1;
          return guess;
        }
      }
    }
    return Intern(impl_->item_names, new_items_, item);
  }

  static uint32_t Intern(const NameTable& known, NameTable& fresh, std::string_view name) {
    const uint64_t hash = HashName(name);
    uint32_t id = known.Find(name, hash);
    if (id != kNoId) return id;
    id = fresh.Find(name, hash);
    if (id != kNoId) return id;
    return fresh.Add(name, hash);
  }

  Diffed Diff() const;
  absl::Status Write(SqliteConnection& conn, const Diffed& diffed, uint64_t first_seq,
                     const std::string& report_json);
  absl::Status WriteNames(SqliteConnection& conn, const char* sql, const NameTable& names);
  absl::Status WriteChunks(SqliteConnection& conn, const Diffed& diffed, uint64_t first_seq);
  absl::Status WriteBlocks(SqliteConnection& conn, const std::vector<Change>& changes,
                           uint64_t first_seq);

  Impl* impl_;
  const int64_t upload_id_;
  const TimePoint at_;
  NameTable new_stores_;
  NameTable new_items_;
  std::unordered_map<uint32_t, StagedStore> staged_;  // by store id
  std::string last_store_;
  StagedStore* last_staged_ = nullptr;  // staged_ of last_store_
  const StagedStore* model_ = nullptr;  // the store staged before last_store_, if any
  size_t model_pos_ = 0;                // position in model_->order of the next row
  bool committed_ = false;
};

Diffed SqliteInventoryStore::Writer::Diff() const {
  std::vector<uint32_t> stores;
  size_t staged_rows = 0;
  for (const auto& [store, staged] : staged_) {
    stores.push_back(store);
    staged_rows += staged.order.size();
  }
  std::sort(stores.begin(), stores.end());
  Diffed out;
  out.changes.reserve(staged_rows);
  for (uint32_t store : stores) {
    const StagedStore& staged = staged_.at(store);
    const IdTable<IndexSlot>* index =
        store < impl_->stores.size() ? &impl_->stores[store].items : nullptr;
    const size_t begin = out.changes.size();
    std::vector<Kept> kept;
    size_t found = 0;
    for (size_t i = 0; i < staged.order.size(); ++i) {
      const uint32_t item = staged.order[i];
      const int32_t count = staged.counts[i];
      const IndexSlot* old = index != nullptr ? index->Find(item) : nullptr;
      if (old != nullptr) ++found;
      if (old != nullptr && old->count == count) {
        kept.push_back(Kept{item, count, old->last_seq});
        continue;
      }
      out.changes.push_back(
          Change{MakeKey(store, item), count, old ? old->count : -1, old ? old->last_seq : 0});
    }
    out.unchanged += static_cast<int64_t>(kept.size());
    auto by_key = [](const Change& a, const Change& b) { return a.key < b.key; };
    if (!std::is_sorted(out.changes.begin() + begin, out.changes.end(), by_key)) {
      std::sort(out.changes.begin() + begin, out.changes.end(), by_key);
    }
    if (index != nullptr && found == index->size() && found > 0 && begin < out.changes.size()) {
      auto by_item = [](const Kept& a, const Kept& b) { return a.item < b.item; };
      if (!std::is_sorted(kept.begin(), kept.end(), by_item)) {
        std::sort(kept.begin(), kept.end(), by_item);
      }
      out.covered.emplace(store, std::move(kept));
    }
  }
  return out;
}

absl::Status SqliteInventoryStore::Writer::Commit(core::LoadReport& report) {
  if (committed_) return absl::FailedPreconditionError("inventory: upload already committed");
  committed_ = true;
  {
    std::shared_lock lock(impl_->mu);
    if (impl_->applied.contains(upload_id_)) return AlreadyApplied(upload_id_);
  }
  const Diffed diffed = Diff();
  const std::vector<Change>& changes = diffed.changes;
  report.upload_id = upload_id_;
  report.rows_loaded = static_cast<int64_t>(changes.size());
  report.rows_unchanged = diffed.unchanged;
  std::string report_json;
  try {
    report_json = core::ReportToStorageJson(report).dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("inventory: cannot encode report: ") + e.what());
  }
  const uint64_t first_seq = impl_->next_seq;
  if (const absl::Status txn = impl_->db->WithWriteTransaction(
          Durability::kNormal,
          [&](SqliteConnection& conn) { return Write(conn, diffed, first_seq, report_json); });
      !txn.ok()) {
    return txn;
  }
  impl_->Apply(new_stores_, new_items_, changes, first_seq, upload_id_, ToUnixNanos(at_));
  return absl::OkStatus();
}

absl::Status SqliteInventoryStore::Writer::Write(SqliteConnection& conn, const Diffed& diffed,
                                                 uint64_t first_seq,
                                                 const std::string& report_json) {
  const std::vector<Change>& changes = diffed.changes;
  {
    SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        conn.Prepare("SELECT value FROM meta WHERE name = 'inventory_generation'"));
    SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if ((row ? stmt.Int64(0) : 0) != impl_->generation) {
      return absl::AbortedError(
          "inventory: the database was changed by another process; reopen the store");
    }
  }
  {
    SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("SELECT 1 FROM uploads WHERE id = ?"));
    stmt.Bind(1, upload_id_);
    SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) return AlreadyApplied(upload_id_);
  }
  SW_RETURN_IF_ERROR(WriteNames(conn, "INSERT INTO stores (id, name) VALUES (?, ?)", new_stores_));
  SW_RETURN_IF_ERROR(WriteNames(conn, "INSERT INTO items (id, name) VALUES (?, ?)", new_items_));
  SW_RETURN_IF_ERROR(WriteChunks(conn, diffed, first_seq));
  SW_RETURN_IF_ERROR(WriteBlocks(conn, changes, first_seq));
  {
    SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        conn.Prepare("INSERT INTO uploads (id, at_ns, first_seq, changes, report) "
                                     "VALUES (?, ?, ?, ?, ?)"));
    stmt.Bind(1, upload_id_)
        .Bind(2, ToUnixNanos(at_))
        .Bind(3, static_cast<int64_t>(first_seq))
        .Bind(4, static_cast<int64_t>(changes.size()))
        .BindText(5, report_json);
    SW_RETURN_IF_ERROR(stmt.Run());
  }
  {
    // Every store with a row in the file, changed or not: its last upload is this one.
    SW_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        conn.Prepare("INSERT INTO store_uploads (store_id, upload_id, at_ns) VALUES (?, ?, ?) "
                     "ON CONFLICT (store_id) DO UPDATE SET upload_id = excluded.upload_id, "
                     "at_ns = excluded.at_ns"));
    for (const auto& entry : staged_) {
      stmt.Bind(1, int64_t{entry.first}).Bind(2, upload_id_).Bind(3, ToUnixNanos(at_));
      SW_RETURN_IF_ERROR(stmt.Run());
      stmt.Reset();
    }
  }
  SW_ASSIGN_OR_RETURN(SqliteStatement meta,
                      conn.Prepare("INSERT INTO meta (name, value) VALUES "
                                   "('inventory_generation', ?), ('inventory_next_seq', ?) "
                                   "ON CONFLICT (name) DO UPDATE SET value = excluded.value"));
  meta.Bind(1, impl_->generation + 1).Bind(2, static_cast<int64_t>(first_seq + changes.size()));
  return meta.Run();
}

absl::Status SqliteInventoryStore::Writer::WriteNames(SqliteConnection& conn, const char* sql,
                                                      const NameTable& names) {
  if (names.size() == 0) return absl::OkStatus();
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
  for (uint32_t id = names.base(); id < names.end(); ++id) {
    stmt.Bind(1, int64_t{id}).BindText(2, names.Name(id));
    SW_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
  }
  return absl::OkStatus();
}

// Rewrites every chunk that holds a changed item: the chunk's other items (from the diff
// when the upload staged all of the store, else from the index as it is before this
// upload) merged with the changes. The writes are in key order, so a first load appends
// to the B-tree.
absl::Status SqliteInventoryStore::Writer::WriteChunks(SqliteConnection& conn, const Diffed& diffed,
                                                       uint64_t first_seq) {
  const std::vector<Change>& changes = diffed.changes;
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                      conn.Prepare("INSERT INTO inventory_chunks (chunk, items) VALUES (?, ?) "
                                   "ON CONFLICT (chunk) DO UPDATE SET items = excluded.items"));
  // An item takes at most 1 + 5 + 10 bytes.
  std::string buffer(size_t{16} << kChunkShift, '\0');
  uint32_t kept_store = kNoId;
  const std::vector<Kept>* kept = nullptr;  // of kept_store, if covered
  size_t next_kept = 0;
  for (size_t run = 0; run < changes.size();) {
    const uint64_t chunk = ChunkOf(changes[run].key);
    size_t end = run;
    while (end < changes.size() && ChunkOf(changes[end].key) == chunk) ++end;
    const uint32_t store = ChunkStore(chunk);
    const uint32_t base = ChunkFirstItem(chunk);
    const IdTable<IndexSlot>* index =
        store < impl_->stores.size() ? &impl_->stores[store].items : nullptr;
    if (store != kept_store) {
      kept_store = store;
      auto it = diffed.covered.find(store);
      kept = it != diffed.covered.end() ? &it->second : nullptr;
      next_kept = 0;
    }
    char* p = buffer.data();
    auto put = [&p](uint32_t offset, int64_t count, uint64_t seq) {
      *p++ = static_cast<char>(offset);
      p = PutVarint(p, static_cast<uint64_t>(count));
      p = PutVarint(p, seq);
    };
    if (index == nullptr || index->size() == 0) {
      for (size_t i = run; i < end; ++i) {
        put(ItemOf(changes[i].key) - base, changes[i].new_count, first_seq + i);
      }
    } else if (kept != nullptr) {
      while (next_kept < kept->size() && (*kept)[next_kept].item < base) ++next_kept;
      size_t i = run;
      while (true) {
        // Kept items at or past `base` (skipped to above); in this chunk if within 256.
        const bool more_kept =
            next_kept < kept->size() && (*kept)[next_kept].item - base < (1u << kChunkShift);
        if (i < end && (!more_kept || ItemOf(changes[i].key) < (*kept)[next_kept].item)) {
          put(ItemOf(changes[i].key) - base, changes[i].new_count, first_seq + i);
          ++i;
        } else if (more_kept) {
          const Kept& k = (*kept)[next_kept++];
          put(k.item - base, k.count, k.last_seq);
        } else {
          break;
        }
      }
    } else {
      size_t i = run;
      for (uint32_t offset = 0; offset < (1u << kChunkShift); ++offset) {
        if (i < end && ItemOf(changes[i].key) == base + offset) {
          put(offset, changes[i].new_count, first_seq + i);
          ++i;
        } else if (const IndexSlot* slot = index->Find(base + offset)) {
          put(offset, slot->count, slot->last_seq);
        }
      }
    }
    stmt.Bind(1, static_cast<int64_t>(chunk))
        .BindStaticBlob(2, std::string_view(buffer.data(), static_cast<size_t>(p - buffer.data())));
    SW_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
    run = end;
  }
  return absl::OkStatus();
}

absl::Status SqliteInventoryStore::Writer::WriteBlocks(SqliteConnection& conn,
                                                       const std::vector<Change>& changes,
                                                       uint64_t first_seq) {
  if (changes.empty()) return absl::OkStatus();
  const size_t per_block = static_cast<size_t>(std::max(1, impl_->options.records_per_block));
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                      conn.Prepare("INSERT INTO change_blocks (first_seq, upload_id, records, "
                                   "data) VALUES (?, ?, ?, ?)"));
  std::string buffer(per_block * 40, '\0');  // a record takes at most 10+6+5+10 bytes
  for (size_t start = 0; start < changes.size(); start += per_block) {
    const size_t end = std::min(changes.size(), start + per_block);
    char* p = buffer.data();
    uint64_t key = 0;
    for (size_t i = start; i < end; ++i) {
      const Change& change = changes[i];
      const uint64_t seq = first_seq + i;
      p = PutVarint(p, change.key - key);
      key = change.key;
      p = PutVarint(p, change.old_count < 0 ? 0 : static_cast<uint64_t>(change.old_count) + 1);
      p = PutVarint(p, static_cast<uint64_t>(change.new_count));
      p = PutVarint(p, change.previous == 0 ? 0 : seq - change.previous);
    }
    stmt.Bind(1, static_cast<int64_t>(first_seq + start))
        .Bind(2, upload_id_)
        .Bind(3, static_cast<int64_t>(end - start))
        .BindStaticBlob(4, std::string_view(buffer.data(), static_cast<size_t>(p - buffer.data())));
    SW_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------

SqliteInventoryStore::SqliteInventoryStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteInventoryStore::~SqliteInventoryStore() = default;

absl::StatusOr<std::unique_ptr<SqliteInventoryStore>> SqliteInventoryStore::Open(
    std::shared_ptr<SqliteDatabase> db, const SqliteInventoryOptions& options) {
  auto impl = std::make_unique<Impl>(std::move(db), options);
  SW_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<SqliteInventoryStore>(new SqliteInventoryStore(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<core::UploadWriter>> SqliteInventoryStore::BeginUpload(
    int64_t upload_id, TimePoint at) {
  if (upload_id <= 0) {
    return absl::InvalidArgumentError("inventory: upload id must be positive, got " +
                                      std::to_string(upload_id));
  }
  if (impl_->writer_active.exchange(true)) {
    return absl::FailedPreconditionError("inventory: another upload is being applied");
  }
  return std::make_unique<Writer>(impl_.get(), upload_id, at);
}

absl::StatusOr<int64_t> SqliteInventoryStore::LastAppliedUpload() {
  std::shared_lock lock(impl_->mu);
  return impl_->last_applied;
}

absl::StatusOr<core::LoadReport> SqliteInventoryStore::GetReport(int64_t upload_id) {
  auto not_found = [&] {
    return absl::NotFoundError("inventory: upload " + std::to_string(upload_id) +
                               " is not applied");
  };
  {
    // Only reports whose upload is applied in memory, so a report is never seen before
    // the table it describes.
    std::shared_lock lock(impl_->mu);
    if (!impl_->applied.contains(upload_id)) return not_found();
  }
  std::string text;
  if (const absl::Status txn =
          impl_->db->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT report FROM uploads WHERE id = ?"));
            stmt.Bind(1, upload_id);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return not_found();
            text = std::string(stmt.Text(0));
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::DataLossError("inventory: stored report of upload " + std::to_string(upload_id) +
                               " is not JSON");
  }
  return core::ReportFromStorageJson(json);
}

absl::StatusOr<core::InventoryPage> SqliteInventoryStore::Query(const core::InventoryQuery& query) {
  if (query.limit < 1 || query.limit > kMaxQueryLimit) {
    return absl::InvalidArgumentError("inventory: limit must be within 1..10000, got " +
                                      std::to_string(query.limit));
  }
  if (!core::IsDefaultOrder(query)) return QueryOrdered(query);
  std::string after_store, after_item;
  const bool has_cursor = !query.cursor.empty();
  if (has_cursor) SW_RETURN_IF_ERROR(DecodeCursor(query.cursor, after_store, after_item));
  core::ThresholdTable thresholds;
  if (query.status == core::StockStatus::kLow) {
    SW_ASSIGN_OR_RETURN(std::vector<core::Threshold> all, Thresholds());
    thresholds = core::ThresholdTable(all);
  }
  // Filters beyond the store and the item prefix are checked item by item, and `total` then
  // needs a pass over every candidate store.
  const bool filtered = query.max_count || query.q || query.status || query.changed_since;
  const bool needs_time = query.changed_since.has_value();

  const Impl& impl = *impl_;
  std::shared_lock lock(impl.mu);
  core::InventoryPage page;
  std::vector<uint32_t> single;
  const std::vector<uint32_t>* order = nullptr;
  if (query.store) {
    const uint32_t id = impl.store_names.Find(*query.store, HashName(*query.store));
    if (id == kNoId) return page;
    single.push_back(id);
    order = &single;
  } else {
    order = &impl.SortedStores();
  }
  auto updated_ns = [&](const IndexSlot& slot) {
    return needs_time ? core::ToUnixNanos(impl.TimeOfSeq(slot.last_seq)) : int64_t{0};
  };
  const std::string_view prefix = query.item_prefix ? *query.item_prefix : std::string_view();
  auto by_name = [&](uint32_t id, std::string_view name) {
    return impl.item_names.Name(id) < name;
  };
  // total: the items of every store in scope that match.
  for (uint32_t store : *order) {
    const std::string_view store_name = impl.store_names.Name(store);
    if (!core::ScopeCoversStore(query.scope, store_name)) continue;
    const StoreState& state = impl.stores[store];
    if (!filtered && prefix.empty()) {
      page.total += static_cast<int64_t>(state.items.size());
      continue;
    }
    const std::vector<uint32_t>& items = impl.SortedItems(store);
    for (auto it = std::lower_bound(items.begin(), items.end(), prefix, by_name); it != items.end();
         ++it) {
      const std::string_view item_name = impl.item_names.Name(*it);
      if (!item_name.starts_with(prefix)) break;
      const IndexSlot* slot = state.items.Find(*it);
      if (core::MatchesInventoryQuery(query, thresholds, store_name, item_name, slot->count,
                                      updated_ns(*slot))) {
        ++page.total;
      }
    }
  }
  auto first_store = order->begin();
  if (has_cursor) {
    first_store = std::lower_bound(
        order->begin(), order->end(), after_store,
        [&](uint32_t id, const std::string& name) { return impl.store_names.Name(id) < name; });
  }
  bool more = false;
  for (auto s = first_store; s != order->end() && !more; ++s) {
    const uint32_t store = *s;
    const std::string_view store_name = impl.store_names.Name(store);
    if (!core::ScopeCoversStore(query.scope, store_name)) continue;
    const StoreState& state = impl.stores[store];
    const std::vector<uint32_t>& items = impl.SortedItems(store);
    auto it = std::lower_bound(items.begin(), items.end(), prefix, by_name);
    if (has_cursor && store_name == after_store) {
      auto after = std::upper_bound(
          items.begin(), items.end(), after_item,
          [&](const std::string& name, uint32_t id) { return name < impl.item_names.Name(id); });
      it = std::max(it, after);
    }
    for (; it != items.end(); ++it) {
      const std::string_view item_name = impl.item_names.Name(*it);
      if (!item_name.starts_with(prefix)) break;
      const IndexSlot* slot = state.items.Find(*it);
      if (filtered && !core::MatchesInventoryQuery(query, thresholds, store_name, item_name,
                                                   slot->count, updated_ns(*slot))) {
        continue;
      }
      if (page.items.size() == query.limit) {
        more = true;
        break;
      }
      page.items.push_back(InventoryItem{std::string(store_name), std::string(item_name),
                                         slot->count, impl.TimeOfSeq(slot->last_seq)});
    }
  }
  if (more) page.next_cursor = EncodeCursor(page.items.back().store, page.items.back().item);
  return page;
}

// Another order than (store, item): one pass over the items in scope keeps the `limit` + 1
// first after the cursor in a bounded heap, so every page, however deep, costs one scan
// (O(items log limit)) and no sorted copy of the table.
absl::StatusOr<core::InventoryPage> SqliteInventoryStore::QueryOrdered(
    const core::InventoryQuery& query) {
  std::string cursor_storage;
  std::optional<core::InventorySortKey> after;
  if (!query.cursor.empty()) {
    SW_ASSIGN_OR_RETURN(
        after, core::DecodeOrderedCursor(query.sort, query.order, query.cursor, cursor_storage));
  }
  if (!query.item_prefix && !query.max_count && !query.q && !query.changed_since &&
      (!query.status || *query.status == core::StockStatus::kOut)) {
    return QueryIndexed(query, after);
  }
  core::ThresholdTable thresholds;
  if (query.status == core::StockStatus::kLow) {
    SW_ASSIGN_OR_RETURN(std::vector<core::Threshold> all, Thresholds());
    thresholds = core::ThresholdTable(all);
  }
  const bool needs_time =
      query.changed_since.has_value() || query.sort == core::InventorySort::kUpdatedAt;
  const Impl& impl = *impl_;
  std::shared_lock lock(impl.mu);
  struct Candidate {
    int64_t count;
    int64_t updated_ns;
    uint32_t store;
    uint32_t item;
  };
  auto key_of = [&](const Candidate& c) {
    return core::InventorySortKey{c.count, c.updated_ns, impl.store_names.Name(c.store),
                                  impl.item_names.Name(c.item)};
  };
  auto before = [&](const Candidate& a, const Candidate& b) {
    return core::SortsBefore(query.sort, query.order, key_of(a), key_of(b));
  };
  // A max-heap under `before`: its top is the last of the first limit + 1.
  std::vector<Candidate> heap;
  const size_t keep = query.limit + 1;
  heap.reserve(keep);
  core::InventoryPage page;
  for (uint32_t store = 0; store < impl.stores.size(); ++store) {
    const std::string_view store_name = impl.store_names.Name(store);
    if (query.store && store_name != *query.store) continue;
    if (!core::ScopeCoversStore(query.scope, store_name)) continue;
    impl.examined.fetch_add(impl.stores[store].items.size(), std::memory_order_relaxed);
    impl.stores[store].items.ForEach([&](uint32_t item, const IndexSlot& slot) {
      Candidate c{slot.count,
                  needs_time ? core::ToUnixNanos(impl.TimeOfSeq(slot.last_seq)) : int64_t{0}, store,
                  item};
      if (!core::MatchesInventoryQuery(query, thresholds, store_name, impl.item_names.Name(item),
                                       c.count, c.updated_ns)) {
        return;
      }
      ++page.total;
      if (after && !core::SortsBefore(query.sort, query.order, *after, key_of(c))) return;
      if (heap.size() < keep) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end(), before);
      } else if (before(c, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), before);
        heap.back() = c;
        std::push_heap(heap.begin(), heap.end(), before);
      }
    });
  }
  std::sort_heap(heap.begin(), heap.end(), before);
  const bool more = heap.size() > query.limit;
  if (more) heap.pop_back();
  for (const Candidate& c : heap) {
    const IndexSlot* slot = impl.stores[c.store].items.Find(c.item);
    page.items.push_back(InventoryItem{std::string(impl.store_names.Name(c.store)),
                                       std::string(impl.item_names.Name(c.item)), c.count,
                                       impl.TimeOfSeq(slot->last_seq)});
  }
  if (more) {
    page.next_cursor = core::EncodeOrderedCursor(query.sort, query.order, key_of(heap.back()));
  }
  return page;
}

// The other orders without filters (but the store, the scope and status=out): each store's
// items are kept sorted in the query's order (OrderedItems), so a page binary-searches the
// cursor in every store in question and merges the stores from there, looking at about
// `limit` items (more with status=out, which skips the items in stock) whatever the depth
// of the page. `total` comes from the per-store counts.
absl::StatusOr<core::InventoryPage> SqliteInventoryStore::QueryIndexed(
    const core::InventoryQuery& query, const std::optional<core::InventorySortKey>& after) {
  const Impl& impl = *impl_;
  std::shared_lock lock(impl.mu);
  const bool out_only = query.status.has_value();
  const bool asc = query.order == core::SortOrder::kAsc;
  const bool needs_time = query.sort == core::InventorySort::kUpdatedAt;
  core::InventoryPage page;
  auto key_of = [&](uint32_t store, uint32_t item) {
    const IndexSlot* slot = impl.stores[store].items.Find(item);
    return core::InventorySortKey{
        slot->count, needs_time ? core::ToUnixNanos(impl.TimeOfSeq(slot->last_seq)) : int64_t{0},
        impl.store_names.Name(store), impl.item_names.Name(item)};
  };
  // One store's items in the query's order from the cursor on: ascending from `pos`, or
  // descending from `pos` - 1, until `end`.
  struct Stream {
    uint32_t store;
    const std::vector<uint32_t>* items;
    size_t pos;
    size_t end;
    uint32_t Head(bool ascending) const { return (*items)[ascending ? pos : pos - 1]; }
  };
  uint64_t examined = 0;
  // Moves `stream` to its next item that passes the filter; false when it has none left.
  auto settle = [&](Stream& stream) {
    while (stream.pos != stream.end) {
      ++examined;
      if (!out_only || impl.stores[stream.store].items.Find(stream.Head(asc))->count == 0) {
        return true;
      }
      if (asc) {
        ++stream.pos;
      } else {
        --stream.pos;
      }
    }
    return false;
  };
  std::vector<Stream> streams;
  for (uint32_t store = 0; store < impl.stores.size(); ++store) {
    const std::string_view store_name = impl.store_names.Name(store);
    if (query.store && store_name != *query.store) continue;
    if (!core::ScopeCoversStore(query.scope, store_name)) continue;
    const StoreState& state = impl.stores[store];
    if (state.items.size() == 0) continue;
    page.total += out_only ? state.out_of_stock : static_cast<int64_t>(state.items.size());
    const std::vector<uint32_t>& items = impl.OrderedItems(store, query.sort);
    // Ascending: the items after the cursor are a suffix of `items`; descending, a prefix.
    size_t split = asc ? 0 : items.size();
    if (after) {
      auto before_split = [&](uint32_t item) {
        const bool after_cursor =
            core::SortsBefore(query.sort, query.order, *after, key_of(store, item));
        return asc ? !after_cursor : after_cursor;
      };
      split = static_cast<size_t>(std::partition_point(items.begin(), items.end(), before_split) -
                                  items.begin());
    }
    // In count order the items out of stock are the prefix: with status=out the stream
    // ends there instead of skipping every item in stock.
    size_t stream_end = items.size();
    if (out_only && query.sort == core::InventorySort::kCount) {
      stream_end = static_cast<size_t>(
          std::partition_point(items.begin(), items.end(),
                               [&](uint32_t item) { return state.items.Find(item)->count == 0; }) -
          items.begin());
    }
    split = std::min(split, stream_end);
    Stream stream{store, &items, split, asc ? stream_end : 0};
    if (settle(stream)) streams.push_back(stream);
  }
  // A min-heap of the streams by their next item, merged until limit + 1 items are out.
  auto later = [&](const Stream& a, const Stream& b) {
    return core::SortsBefore(query.sort, query.order, key_of(b.store, b.Head(asc)),
                             key_of(a.store, a.Head(asc)));
  };
  std::make_heap(streams.begin(), streams.end(), later);
  std::vector<std::pair<uint32_t, uint32_t>> taken;  // (store, item)
  while (!streams.empty() && taken.size() <= query.limit) {
    std::pop_heap(streams.begin(), streams.end(), later);
    Stream& stream = streams.back();
    taken.emplace_back(stream.store, stream.Head(asc));
    if (asc) {
      ++stream.pos;
    } else {
      --stream.pos;
    }
    if (settle(stream)) {
      std::push_heap(streams.begin(), streams.end(), later);
    } else {
      streams.pop_back();
    }
  }
  const bool more = taken.size() > query.limit;
  if (more) taken.pop_back();
  page.items.reserve(taken.size());
  for (const auto& [store, item] : taken) {
    const IndexSlot* slot = impl.stores[store].items.Find(item);
    page.items.push_back(InventoryItem{std::string(impl.store_names.Name(store)),
                                       std::string(impl.item_names.Name(item)), slot->count,
                                       impl.TimeOfSeq(slot->last_seq)});
  }
  if (more) {
    page.next_cursor = core::EncodeOrderedCursor(query.sort, query.order,
                                                 key_of(taken.back().first, taken.back().second));
  }
  impl.examined.fetch_add(examined, std::memory_order_relaxed);
  return page;
}

absl::StatusOr<InventoryItem> SqliteInventoryStore::Get(std::string_view store,
                                                        std::string_view item) {
  const Impl& impl = *impl_;
  std::shared_lock lock(impl.mu);
  const uint32_t store_id = impl.store_names.Find(store, HashName(store));
  const uint32_t item_id = impl.item_names.Find(item, HashName(item));
  const IndexSlot* slot =
      store_id == kNoId || item_id == kNoId ? nullptr : impl.stores[store_id].items.Find(item_id);
  if (slot == nullptr) {
    return absl::NotFoundError("inventory: no item \"" + std::string(item) + "\" in store \"" +
                               std::string(store) + "\"");
  }
  return InventoryItem{std::string(store), std::string(item), slot->count,
                       impl.TimeOfSeq(slot->last_seq)};
}

absl::StatusOr<std::vector<core::StoreSummary>> SqliteInventoryStore::Stores() {
  const Impl& impl = *impl_;
  // The last upload of each store (store id -> upload id, at_ns): one row per store, read
  // before the index's lock so no commit waits on this query.
  std::unordered_map<int64_t, std::pair<int64_t, int64_t>> last_uploads;
  if (const absl::Status read =
          impl.db->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT store_id, upload_id, at_ns FROM store_uploads"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              last_uploads[stmt.Int64(0)] = {stmt.Int64(1), stmt.Int64(2)};
            }
          });
      !read.ok()) {
    return read;
  }
  std::shared_lock lock(impl.mu);
  std::vector<core::StoreSummary> out;
  for (uint32_t store : impl.SortedStores()) {
    const StoreState& state = impl.stores[store];
    // A mirror may remove a store's last item; the store is then gone, as in the table.
    if (state.items.size() == 0) continue;
    core::StoreSummary summary;
    summary.store = std::string(impl.store_names.Name(store));
    summary.items = static_cast<int64_t>(state.items.size());
    summary.out_of_stock = state.out_of_stock;
    summary.last_updated = impl.TimeOfSeq(state.last_seq);
    out.push_back(std::move(summary));
    if (auto it = last_uploads.find(int64_t{store}); it != last_uploads.end()) {
      out.back().last_upload_id = it->second.first;
      out.back().last_upload = FromUnixNanos(it->second.second);
    }
  }
  return out;
}

absl::Status SqliteInventoryStore::SetThreshold(const core::Threshold& scope,
                                                std::optional<int64_t> value) {
  if ((scope.store && scope.store->empty()) || (scope.item && scope.item->empty())) {
    return absl::InvalidArgumentError("threshold: store and item names must not be empty");
  }
  if (value && (*value < 0 || *value > core::kMaxCount)) {
    return absl::InvalidArgumentError("threshold: value " + std::to_string(*value) +
                                      " is out of range 0..2147483647");
  }
  const std::string store = scope.store.value_or("");
  const std::string item = scope.item.value_or("");
  // Dropped once the write has committed (or failed), whichever way it returns.
  struct DropCache {
    ReadCache<int, std::vector<core::Threshold>>& cache;
    ~DropCache() { cache.Invalidate(); }
  } drop_cache{impl_->thresholds_cache};
  return impl_->db->WithWriteTransaction(Durability::kSynced, [&](SqliteConnection& conn) {
    if (!value) {
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          conn.Prepare("DELETE FROM thresholds WHERE store = ? AND item = ?"));
      stmt.BindText(1, store).BindText(2, item);
      return stmt.Run();
    }
    SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        conn.Prepare("INSERT INTO thresholds (store, item, value) VALUES (?, ?, ?) "
                                     "ON CONFLICT (store, item) DO UPDATE SET value = "
                                     "excluded.value"));
    stmt.BindText(1, store).BindText(2, item).Bind(3, *value);
    return stmt.Run();
  });
}

absl::StatusOr<std::vector<core::Threshold>> SqliteInventoryStore::Thresholds() {
  if (std::optional<std::vector<core::Threshold>> cached = impl_->thresholds_cache.Get(0)) {
    return *std::move(cached);
  }
  const uint64_t generation = impl_->thresholds_cache.generation();
  std::vector<core::Threshold> out;
  if (const absl::Status txn =
          impl_->db->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT store, item, value FROM thresholds ORDER BY store, item"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              core::Threshold threshold;
              if (!stmt.Text(0).empty()) threshold.store = std::string(stmt.Text(0));
              if (!stmt.Text(1).empty()) threshold.item = std::string(stmt.Text(1));
              threshold.value = stmt.Int64(2);
              out.push_back(std::move(threshold));
            }
          });
      !txn.ok()) {
    return txn;
  }
  impl_->thresholds_cache.Put(0, out, generation);
  return out;
}

absl::StatusOr<std::vector<ChangeRecord>> SqliteInventoryStore::Read(uint64_t after, size_t limit) {
  std::vector<ChangeRecord> out;
  const Impl& impl = *impl_;
  // Shared lock for the names; records at or past next_seq (committed but not yet applied
  // to the mirror) are left for the next call.
  std::shared_lock lock(impl.mu);
  const uint64_t end_seq = impl.next_seq;
  if (limit == 0 || after + 1 >= end_seq) return out;
  if (const absl::Status txn =
          impl.db->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT first_seq, upload_id, records, data FROM change_blocks "
                             "WHERE first_seq >= IFNULL((SELECT MAX(first_seq) FROM change_blocks "
                             "WHERE first_seq <= ?1), 0) ORDER BY first_seq"));
            stmt.Bind(1, static_cast<int64_t>(after + 1));
            std::vector<BlockRecord> records;
            while (out.size() < limit) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) break;
              const auto first = static_cast<uint64_t>(stmt.Int64(0));
              if (first >= end_seq) break;
              const auto [upload_id, at_ns] = impl.Origin(stmt.Int64(1));
              SW_RETURN_IF_ERROR(DecodeBlock(first, stmt.Int64(2), stmt.Blob(3), records));
              for (const BlockRecord& record : records) {
                if (record.sequence <= after) continue;
                if (record.sequence >= end_seq || out.size() == limit) break;
                out.push_back(impl.ToRecord(record, upload_id, at_ns));
              }
            }
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<std::vector<ChangeRecord>> SqliteInventoryStore::ItemHistory(std::string_view store,
                                                                            std::string_view item,
                                                                            size_t limit) {
  std::vector<ChangeRecord> out;
  const Impl& impl = *impl_;
  std::shared_lock lock(impl.mu);
  const uint32_t store_id = impl.store_names.Find(store, HashName(store));
  const uint32_t item_id = impl.item_names.Find(item, HashName(item));
  if (store_id == kNoId || item_id == kNoId) return out;
  const IndexSlot* slot = impl.stores[store_id].items.Find(item_id);
  if (slot == nullptr || limit == 0) return out;
  uint64_t seq = slot->last_seq;
  if (const absl::Status txn =
          impl.db->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT first_seq, upload_id, records, data FROM change_blocks "
                             "WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1"));
            std::vector<BlockRecord> block;
            uint64_t block_first = 0;
            int64_t block_upload = 0;
            // A silent mirror span (a seed) has no records: the history starts after it.
            while (seq != 0 && out.size() < limit && !impl.IsSilent(seq)) {
              if (block.empty() || seq < block_first || seq >= block_first + block.size()) {
                stmt.Bind(1, static_cast<int64_t>(seq));
                SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
                if (!row)
                  return absl::DataLossError("inventory: change " + std::to_string(seq) +
                                             " is missing");
                block_first = static_cast<uint64_t>(stmt.Int64(0));
                block_upload = stmt.Int64(1);
                SW_RETURN_IF_ERROR(DecodeBlock(block_first, stmt.Int64(2), stmt.Blob(3), block));
                stmt.Reset();
                if (seq >= block_first + block.size()) {
                  return absl::DataLossError("inventory: change " + std::to_string(seq) +
                                             " is missing");
                }
              }
              const BlockRecord& record = block[seq - block_first];
              const auto [upload_id, at_ns] = impl.Origin(block_upload);
              out.push_back(impl.ToRecord(record, upload_id, at_ns));
              seq = record.previous;
            }
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

// Diffs the batch against the index (read without the lock: holding writer_active makes
// this the only writer), writes the touched chunks, the change blocks and the spans in one
// transaction, then applies the result to the index under the exclusive lock.
absl::StatusOr<MirrorResult> SqliteInventoryStore::ApplyMirrored(
    const std::vector<MirroredItem>& items, MirrorChanges changes_mode, MirrorScope scope,
    const std::function<absl::Status(SqliteConnection&)>& also) {
  for (const MirroredItem& m : items) {
    if (m.store.empty() || m.item.empty() || m.store.size() > core::kMaxNameBytes ||
        m.item.size() > core::kMaxNameBytes) {
      return absl::InvalidArgumentError("inventory: mirrored item \"" + m.store + "\"/\"" + m.item +
                                        "\" has an empty or too long name");
    }
    if (m.count && (*m.count < 0 || *m.count > core::kMaxCount)) {
      return absl::InvalidArgumentError("inventory: mirrored item \"" + m.store + "\"/\"" + m.item +
                                        "\" has count " + std::to_string(*m.count) +
                                        " outside 0..2147483647");
    }
  }
  Impl& impl = *impl_;
  const WriterClaim claim(impl.writer_active);
  if (!claim.held()) {
    return absl::FailedPreconditionError("inventory: an upload is being applied; mirror later");
  }

  const bool record = changes_mode == MirrorChanges::kRecord;
  NameTable new_stores(impl.store_names.end());
  NameTable new_items(impl.item_names.end());
  std::unordered_map<uint64_t, MirrorState> touched;
  touched.reserve(items.size());
  std::vector<MirrorChange> changes;
  std::vector<MirrorSpan> spans;
  MirrorResult result;
  const uint64_t first_seq = impl.next_seq;
  uint64_t seq = first_seq;
  auto state_of = [&](uint64_t key) -> MirrorState& {
    auto [it, fresh] = touched.try_emplace(key);
    if (fresh && StoreOf(key) < impl.stores.size()) {
      if (const IndexSlot* slot = impl.stores[StoreOf(key)].items.Find(ItemOf(key))) {
        it->second = MirrorState{true, slot->count, slot->last_seq};
      }
    }
    return it->second;
  };
  for (const MirroredItem& m : items) {
    if (!m.count) {
      // A removal never interns names: an unknown item is simply absent.
      const uint32_t store_id = FindName(impl.store_names, new_stores, m.store);
      const uint32_t item_id = FindName(impl.item_names, new_items, m.item);
      MirrorState* state =
          store_id == kNoId || item_id == kNoId ? nullptr : &state_of(MakeKey(store_id, item_id));
      if (state == nullptr || !state->present) {
        ++result.unchanged;
        continue;
      }
      *state = MirrorState{};
      ++result.removed;
      continue;
    }
    const uint64_t key = MakeKey(InternName(impl.store_names, new_stores, m.store),
                                 InternName(impl.item_names, new_items, m.item));
    MirrorState& state = state_of(key);
    const auto count = static_cast<int32_t>(*m.count);
    if (state.present && state.count == count) {
      ++result.unchanged;
      continue;
    }
    ++(state.present ? result.modified : result.inserted);
    const int64_t at_ns = ToUnixNanos(m.at);
    const int64_t upload_id = record ? m.upload_id : 0;
    if (spans.empty() || spans.back().at_ns != at_ns || spans.back().upload_id != upload_id) {
      spans.push_back(MirrorSpan{seq, 0, upload_id, at_ns});
    }
    ++spans.back().changes;
    changes.push_back(MirrorChange{key, state.present ? state.count : -1, count,
                                   state.present ? state.last_seq : 0});
    state = MirrorState{true, count, seq};
    ++seq;
  }
  if (scope == MirrorScope::kWholeTable) {
    for (uint32_t store = 0; store < impl.stores.size(); ++store) {
      impl.stores[store].items.ForEach([&](uint32_t item, const IndexSlot&) {
        if (touched.try_emplace(MakeKey(store, item)).second) ++result.removed;
      });
    }
  }

  // Every chunk holding an item whose state differs from the index.
  auto differs = [&](uint64_t key, const MirrorState& state) {
    const IndexSlot* slot = StoreOf(key) < impl.stores.size()
                                ? impl.stores[StoreOf(key)].items.Find(ItemOf(key))
                                : nullptr;
    if (slot == nullptr) return state.present;
    return !state.present || slot->count != state.count || slot->last_seq != state.last_seq;
  };
  std::vector<uint64_t> chunks;
  for (const auto& [key, state] : touched) {
    if (differs(key, state)) chunks.push_back(ChunkOf(key));
  }
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());

  auto write = [&](SqliteConnection& conn) -> absl::Status {
    {
      SW_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          conn.Prepare("SELECT value FROM meta WHERE name = 'inventory_generation'"));
      SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if ((row ? stmt.Int64(0) : 0) != impl.generation) {
        return absl::AbortedError(
            "inventory: the database was changed by another process; reopen the store");
      }
    }
    SW_RETURN_IF_ERROR(
        WriteNameTable(conn, "INSERT INTO stores (id, name) VALUES (?, ?)", new_stores));
    SW_RETURN_IF_ERROR(
        WriteNameTable(conn, "INSERT INTO items (id, name) VALUES (?, ?)", new_items));
    {
      SW_ASSIGN_OR_RETURN(SqliteStatement upsert,
                          conn.Prepare("INSERT INTO inventory_chunks (chunk, items) VALUES (?, ?) "
                                       "ON CONFLICT (chunk) DO UPDATE SET items = excluded.items"));
      SW_ASSIGN_OR_RETURN(SqliteStatement remove,
                          conn.Prepare("DELETE FROM inventory_chunks WHERE chunk = ?"));
      std::string buffer(size_t{16} << kChunkShift, '\0');
      for (const uint64_t chunk : chunks) {
        const uint32_t store = ChunkStore(chunk);
        const uint32_t base = ChunkFirstItem(chunk);
        const IdTable<IndexSlot>* index =
            store < impl.stores.size() ? &impl.stores[store].items : nullptr;
        char* p = buffer.data();
        for (uint32_t offset = 0; offset < (1u << kChunkShift); ++offset) {
          const uint64_t key = MakeKey(store, base + offset);
          int64_t count = 0;
          uint64_t last_seq = 0;
          if (auto it = touched.find(key); it != touched.end()) {
            if (!it->second.present) continue;
            count = it->second.count;
            last_seq = it->second.last_seq;
          } else if (const IndexSlot* slot = index ? index->Find(base + offset) : nullptr) {
            count = slot->count;
            last_seq = slot->last_seq;
          } else {
            continue;
          }
          *p++ = static_cast<char>(offset);
          p = PutVarint(p, static_cast<uint64_t>(count));
          p = PutVarint(p, last_seq);
        }
        if (p == buffer.data()) {
          remove.Bind(1, static_cast<int64_t>(chunk));
          SW_RETURN_IF_ERROR(remove.Run());
          remove.Reset();
        } else {
          upsert.Bind(1, static_cast<int64_t>(chunk))
              .BindStaticBlob(
                  2, std::string_view(buffer.data(), static_cast<size_t>(p - buffer.data())));
          SW_RETURN_IF_ERROR(upsert.Run());
          upsert.Reset();
        }
      }
    }
    if (record && !changes.empty()) {
      const size_t per_block = static_cast<size_t>(std::max(1, impl.options.records_per_block));
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          conn.Prepare("INSERT INTO change_blocks (first_seq, upload_id, records, "
                                       "data) VALUES (?, ?, ?, ?)"));
      std::string buffer(per_block * 40, '\0');  // a record takes at most 10+6+5+10 bytes
      for (const MirrorSpan& span : spans) {
        // Blocks never straddle spans: a block's records share its upload_id column.
        const size_t span_begin = static_cast<size_t>(span.first_seq - first_seq);
        const size_t span_end = span_begin + static_cast<size_t>(span.changes);
        for (size_t start = span_begin; start < span_end; start += per_block) {
          const size_t end = std::min(span_end, start + per_block);
          char* p = buffer.data();
          uint64_t key = 0;
          for (size_t i = start; i < end; ++i) {
            const MirrorChange& change = changes[i];
            const uint64_t change_seq = first_seq + i;
            // Keys are in stream order, not sorted: the delta wraps, and decoding wraps back.
            p = PutVarint(p, change.key - key);
            key = change.key;
            p = PutVarint(p,
                          change.old_count < 0 ? 0 : static_cast<uint64_t>(change.old_count) + 1);
            p = PutVarint(p, static_cast<uint64_t>(change.new_count));
            p = PutVarint(p, change.previous == 0 ? 0 : change_seq - change.previous);
          }
          stmt.Bind(1, static_cast<int64_t>(first_seq + start))
              .Bind(2, MirrorSpanId(span.first_seq))
              .Bind(3, static_cast<int64_t>(end - start))
              .BindStaticBlob(
                  4, std::string_view(buffer.data(), static_cast<size_t>(p - buffer.data())));
          SW_RETURN_IF_ERROR(stmt.Run());
          stmt.Reset();
        }
      }
    }
    if (!spans.empty()) {
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          conn.Prepare("INSERT INTO mirror_spans (first_seq, changes, upload_id, "
                                       "at_ns, recorded) VALUES (?, ?, ?, ?, ?)"));
      for (const MirrorSpan& span : spans) {
        stmt.Bind(1, static_cast<int64_t>(span.first_seq))
            .Bind(2, static_cast<int64_t>(span.changes))
            .Bind(3, span.upload_id)
            .Bind(4, span.at_ns)
            .Bind(5, int64_t{record ? 1 : 0});
        SW_RETURN_IF_ERROR(stmt.Run());
        stmt.Reset();
      }
    }
    if (!chunks.empty() || new_stores.size() > 0 || new_items.size() > 0) {
      SW_ASSIGN_OR_RETURN(SqliteStatement meta,
                          conn.Prepare("INSERT INTO meta (name, value) VALUES "
                                       "('inventory_generation', ?), ('inventory_next_seq', ?) "
                                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value"));
      meta.Bind(1, impl.generation + 1).Bind(2, static_cast<int64_t>(seq));
      SW_RETURN_IF_ERROR(meta.Run());
    }
    if (also) return also(conn);
    return absl::OkStatus();
  };
  if (const absl::Status txn = impl.db->WithWriteTransaction(Durability::kNormal, write);
      !txn.ok()) {
    return txn;
  }
  if (chunks.empty() && new_stores.size() == 0 && new_items.size() == 0) return result;

  std::unique_lock lock(impl.mu);
  for (uint32_t id = new_stores.base(); id < new_stores.end(); ++id) {
    const std::string_view name = new_stores.Name(id);
    impl.store_names.Add(name, HashName(name));
  }
  for (uint32_t id = new_items.base(); id < new_items.end(); ++id) {
    const std::string_view name = new_items.Name(id);
    impl.item_names.Add(name, HashName(name));
  }
  if (new_stores.size() > 0) {
    impl.stores.resize(impl.store_names.size());
    std::lock_guard sorted_lock(impl.sorted_mu);
    impl.sorted_stores_valid = false;
  }
  for (const auto& [key, state] : touched) {
    StoreState& store = impl.stores[StoreOf(key)];
    IndexSlot* slot = store.items.Find(ItemOf(key));
    if (!state.present) {
      if (slot == nullptr) continue;
      if (slot->count == 0) --store.out_of_stock;
      store.items.Erase(ItemOf(key));
      --impl.item_count;
      store.sorted_valid = false;
      store.by_count_valid = false;
      store.by_updated_valid = false;
      continue;
    }
    if (slot != nullptr && slot->count == state.count && slot->last_seq == state.last_seq) continue;
    bool inserted = false;
    IndexSlot& target = store.items.FindOrInsert(ItemOf(key), inserted);
    if (!inserted && target.count == 0) --store.out_of_stock;
    if (state.count == 0) ++store.out_of_stock;
    target.count = state.count;
    target.last_seq = state.last_seq;
    store.last_seq = std::max(store.last_seq, state.last_seq);
    if (inserted) {
      ++impl.item_count;
      store.sorted_valid = false;
    }
    store.by_count_valid = false;
    store.by_updated_valid = false;
  }
  for (const MirrorSpan& span : spans) {
    impl.spans.push_back(
        UploadSpan{span.first_seq, span.changes, MirrorSpanId(span.first_seq), span.at_ns});
    if (record) {
      impl.mirrored[MirrorSpanId(span.first_seq)] = {span.upload_id, span.at_ns};
    } else {
      impl.silent.emplace_back(span.first_seq, span.changes);
    }
  }
  impl.next_seq = seq;
  ++impl.generation;
  return result;
}

absl::Status SqliteInventoryStore::RecordReport(int64_t upload_id, TimePoint at,
                                                core::LoadReport& report,
                                                const std::vector<std::string>& stores) {
  if (upload_id <= 0) {
    return absl::InvalidArgumentError("inventory: upload id must be positive, got " +
                                      std::to_string(upload_id));
  }
  for (const std::string& store : stores) {
    if (store.empty() || store.size() > core::kMaxNameBytes) {
      return absl::InvalidArgumentError("inventory: store \"" + store +
                                        "\" has an empty or too long name");
    }
  }
  Impl& impl = *impl_;
  const WriterClaim claim(impl.writer_active);
  if (!claim.held()) {
    return absl::FailedPreconditionError("inventory: another upload is being applied");
  }
  {
    std::shared_lock lock(impl.mu);
    if (impl.applied.contains(upload_id)) return AlreadyApplied(upload_id);
  }
  report.upload_id = upload_id;
  std::string report_json;
  try {
    report_json = core::ReportToStorageJson(report).dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("inventory: cannot encode report: ") + e.what());
  }
  // Stores new to the mirror are named now (they get items when the stream brings them), so
  // their last upload is kept like any other's. Names are read without the lock: holding
  // writer_active makes this the only writer.
  NameTable new_stores(impl.store_names.end());
  std::vector<uint32_t> store_ids;
  store_ids.reserve(stores.size());
  for (const std::string& store : stores) {
    store_ids.push_back(InternName(impl.store_names, new_stores, store));
  }
  const int64_t at_ns = ToUnixNanos(at);
  const uint64_t first_seq = impl.next_seq;
  auto write = [&](SqliteConnection& conn) -> absl::Status {
    {
      SW_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          conn.Prepare("SELECT value FROM meta WHERE name = 'inventory_generation'"));
      SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if ((row ? stmt.Int64(0) : 0) != impl.generation) {
        return absl::AbortedError(
            "inventory: the database was changed by another process; reopen the store");
      }
    }
    {
      SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("SELECT 1 FROM uploads WHERE id = ?"));
      stmt.Bind(1, upload_id);
      SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) return AlreadyApplied(upload_id);
    }
    SW_RETURN_IF_ERROR(
        WriteNameTable(conn, "INSERT INTO stores (id, name) VALUES (?, ?)", new_stores));
    {
      SW_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          conn.Prepare("INSERT INTO uploads (id, at_ns, first_seq, changes, report) "
                       "VALUES (?, ?, ?, 0, ?)"));
      stmt.Bind(1, upload_id)
          .Bind(2, at_ns)
          .Bind(3, static_cast<int64_t>(first_seq))
          .BindText(4, report_json);
      SW_RETURN_IF_ERROR(stmt.Run());
    }
    {
      SW_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          conn.Prepare("INSERT INTO store_uploads (store_id, upload_id, at_ns) VALUES (?, ?, ?) "
                       "ON CONFLICT (store_id) DO UPDATE SET upload_id = excluded.upload_id, "
                       "at_ns = excluded.at_ns"));
      for (const uint32_t id : store_ids) {
        stmt.Bind(1, int64_t{id}).Bind(2, upload_id).Bind(3, at_ns);
        SW_RETURN_IF_ERROR(stmt.Run());
        stmt.Reset();
      }
    }
    SW_ASSIGN_OR_RETURN(SqliteStatement meta,
                        conn.Prepare("INSERT INTO meta (name, value) VALUES "
                                     "('inventory_generation', ?), ('inventory_next_seq', ?) "
                                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value"));
    meta.Bind(1, impl.generation + 1).Bind(2, static_cast<int64_t>(first_seq));
    return meta.Run();
  };
  if (const absl::Status txn = impl.db->WithWriteTransaction(Durability::kNormal, write);
      !txn.ok()) {
    return txn;
  }
  std::unique_lock lock(impl.mu);
  for (uint32_t id = new_stores.base(); id < new_stores.end(); ++id) {
    const std::string_view name = new_stores.Name(id);
    impl.store_names.Add(name, HashName(name));
  }
  if (new_stores.size() > 0) {
    impl.stores.resize(impl.store_names.size());
    std::lock_guard sorted_lock(impl.sorted_mu);
    impl.sorted_stores_valid = false;
  }
  impl.applied[upload_id] = at_ns;
  impl.last_applied = std::max(impl.last_applied, upload_id);
  ++impl.generation;
  return absl::OkStatus();
}

SqliteInventoryStore::MemoryUsage SqliteInventoryStore::Memory() const {
  const Impl& impl = *impl_;
  std::shared_lock lock(impl.mu);
  MemoryUsage usage;
  usage.items = impl.item_count;
  std::lock_guard sorted_lock(impl.sorted_mu);
  for (const StoreState& state : impl.stores) {
    usage.index_bytes +=
        state.items.MemoryBytes() +
        (state.sorted.capacity() + state.by_count.capacity() + state.by_updated.capacity()) *
            sizeof(uint32_t);
  }
  usage.index_bytes += impl.stores.capacity() * sizeof(StoreState);
  usage.name_bytes = impl.store_names.MemoryBytes() + impl.item_names.MemoryBytes();
  return usage;
}

uint64_t SqliteInventoryStore::ItemsExamined() const {
  return impl_->examined.load(std::memory_order_relaxed);
}

}  // namespace stockwatch::adapters
