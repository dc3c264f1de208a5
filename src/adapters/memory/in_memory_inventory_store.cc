#include "adapters/memory/in_memory_inventory_store.h"

#include <algorithm>

#include "base/status.h"
#include "core/checker/inventory_order.h"

namespace stockwatch::adapters {
namespace {

// Cursors are the hex of: 4-byte big-endian store length, store, item.
std::string EncodeCursor(const std::string& store, const std::string& item) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string raw;
  const auto n = static_cast<uint32_t>(store.size());
  for (int shift = 24; shift >= 0; shift -= 8) raw.push_back(static_cast<char>(n >> shift));
  raw += store;
  raw += item;
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::StatusOr<std::pair<std::string, std::string>> DecodeCursor(std::string_view cursor) {
  const absl::Status bad = absl::InvalidArgumentError("inventory: malformed cursor");
  if (cursor.size() % 2 != 0 || cursor.size() < 8) return bad;
  std::string raw;
  for (size_t i = 0; i < cursor.size(); i += 2) {
    int value = 0;
    for (char c : cursor.substr(i, 2)) {
      int nibble = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (nibble < 0) return bad;
      value = value << 4 | nibble;
    }
    raw.push_back(static_cast<char>(value));
  }
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = n << 8 | static_cast<uint8_t>(raw[i]);
  if (n > raw.size() - 4) return bad;
  return std::make_pair(raw.substr(4, n), raw.substr(4 + n));
}

}  // namespace

class InMemoryInventoryStore::Writer final : public core::UploadWriter {
 public:
  Writer(InMemoryInventoryStore* store, int64_t upload_id, core::TimePoint at)
      : store_(store), upload_id_(upload_id), at_(at) {}
  ~Writer() override { store_->writer_active_.store(false); }

  int64_t Upsert(std::string_view store, std::string_view item, int64_t count,
                 int64_t line) override {
    SW_CHECK(count >= 0 && count <= core::kMaxCount);
    auto [it, inserted] =
        staged_.try_emplace(Key(std::string(store), std::string(item)), count, line);
    if (inserted) return 0;
    const int64_t replaced = it->second.second;
    it->second = {count, line};
    return replaced;
  }

  absl::Status Commit(core::LoadReport& report) override {
    if (committed_) return absl::FailedPreconditionError("inventory: upload already committed");
    committed_ = true;
    return store_->Apply(upload_id_, at_, staged_, report);
  }

 private:
  InMemoryInventoryStore* store_;
  const int64_t upload_id_;
  const core::TimePoint at_;
  std::map<Key, std::pair<int64_t, int64_t>> staged_;  // -> (count, line)
  bool committed_ = false;
};

InMemoryInventoryStore::InMemoryInventoryStore() = default;
InMemoryInventoryStore::~InMemoryInventoryStore() = default;

absl::StatusOr<std::unique_ptr<core::UploadWriter>> InMemoryInventoryStore::BeginUpload(
    int64_t upload_id, core::TimePoint at) {
  if (upload_id <= 0) {
    return absl::InvalidArgumentError("inventory: upload id must be positive, got " +
                                      std::to_string(upload_id));
  }
  if (writer_active_.exchange(true)) {
    return absl::FailedPreconditionError("inventory: another upload is being applied");
  }
  return std::make_unique<Writer>(this, upload_id, at);
}

absl::Status InMemoryInventoryStore::Apply(int64_t upload_id, core::TimePoint at,
                                           const std::map<Key, std::pair<int64_t, int64_t>>& staged,
                                           core::LoadReport& report) {
  std::lock_guard lock(mu_);
  if (reports_.contains(upload_id)) {
    return absl::AlreadyExistsError("inventory: upload " + std::to_string(upload_id) +
                                    " is already applied");
  }
  report.upload_id = upload_id;
  report.rows_loaded = 0;
  report.rows_unchanged = 0;
  for (const auto& [key, staged_row] : staged) {
    const int64_t count = staged_row.first;
    auto it = rows_.find(key);
    if (it != rows_.end() && it->second.count == count) {
      ++report.rows_unchanged;
      continue;
    }
    ++report.rows_loaded;
    core::ChangeRecord change;
    change.sequence = changes_.size() + 1;
    change.kind = it == rows_.end() ? core::ChangeKind::kInsert : core::ChangeKind::kModify;
    change.store = key.first;
    change.item = key.second;
    if (it != rows_.end()) change.old_count = it->second.count;
    change.new_count = count;
    change.upload_id = upload_id;
    change.at = at;
    changes_.push_back(std::move(change));
    rows_[key] = Row{count, at};
  }
  // Every store with a row in the file, changed or not: its last upload is this one.
  for (const auto& [key, staged_row] : staged) last_uploads_[key.first] = {upload_id, at};
  reports_[upload_id] = report;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> InMemoryInventoryStore::LastAppliedUpload() {
  std::lock_guard lock(mu_);
  return reports_.empty() ? 0 : reports_.rbegin()->first;
}

absl::StatusOr<core::LoadReport> InMemoryInventoryStore::GetReport(int64_t upload_id) {
  std::lock_guard lock(mu_);
  auto it = reports_.find(upload_id);
  if (it == reports_.end()) {
    return absl::NotFoundError("inventory: upload " + std::to_string(upload_id) +
                               " is not applied");
  }
  return it->second;
}

absl::StatusOr<core::InventoryPage> InMemoryInventoryStore::Query(
    const core::InventoryQuery& query) {
  if (query.limit < 1 || query.limit > 10000) {
    return absl::InvalidArgumentError("inventory: limit must be within 1..10000, got " +
                                      std::to_string(query.limit));
  }
  const bool default_order = core::IsDefaultOrder(query);
  std::optional<Key> after;
  std::string cursor_storage;
  std::optional<core::InventorySortKey> after_key;
  if (!query.cursor.empty()) {
    if (default_order) {
      SW_ASSIGN_OR_RETURN(after, DecodeCursor(query.cursor));
    } else {
      SW_ASSIGN_OR_RETURN(after_key, core::DecodeOrderedCursor(query.sort, query.order,
                                                               query.cursor, cursor_storage));
    }
  }
  core::ThresholdTable thresholds;
  if (query.status == core::StockStatus::kLow) {
    SW_ASSIGN_OR_RETURN(std::vector<core::Threshold> all, Thresholds());
    thresholds = core::ThresholdTable(all);
  }
  std::lock_guard lock(mu_);
  core::InventoryPage page;
  // A plain scan: this adapter serves tests and `check`, not a million items.
  std::vector<core::InventoryItem> matches;
  for (const auto& [key, row] : rows_) {
    if (!core::MatchesInventoryQuery(query, thresholds, key.first, key.second, row.count,
                                     core::ToUnixNanos(row.updated_at))) {
      continue;
    }
    ++page.total;
    if (after && key <= *after) continue;
    core::InventoryItem item{key.first, key.second, row.count, row.updated_at};
    if (after_key &&
        !core::SortsBefore(query.sort, query.order, *after_key, core::SortKeyOf(item))) {
      continue;
    }
    matches.push_back(std::move(item));
  }
  auto before = [&](const core::InventoryItem& a, const core::InventoryItem& b) {
    return core::SortsBefore(query.sort, query.order, core::SortKeyOf(a), core::SortKeyOf(b));
  };
  if (!default_order) std::sort(matches.begin(), matches.end(), before);
  if (matches.size() > query.limit) {
    matches.resize(query.limit);
    const core::InventoryItem& last = matches.back();
    page.next_cursor =
        default_order ? EncodeCursor(last.store, last.item)
                      : core::EncodeOrderedCursor(query.sort, query.order, core::SortKeyOf(last));
  }
  page.items = std::move(matches);
  return page;
}

absl::StatusOr<core::InventoryItem> InMemoryInventoryStore::Get(std::string_view store,
                                                                std::string_view item) {
  std::lock_guard lock(mu_);
  auto it = rows_.find(Key(std::string(store), std::string(item)));
  if (it == rows_.end()) {
    return absl::NotFoundError("inventory: no item \"" + std::string(item) + "\" in store \"" +
                               std::string(store) + "\"");
  }
  return core::InventoryItem{it->first.first, it->first.second, it->second.count,
                             it->second.updated_at};
}

absl::StatusOr<std::vector<core::StoreSummary>> InMemoryInventoryStore::Stores() {
  std::lock_guard lock(mu_);
  std::vector<core::StoreSummary> out;
  for (const auto& [key, row] : rows_) {
    if (out.empty() || out.back().store != key.first) {
      core::StoreSummary summary;
      summary.store = key.first;
      summary.last_updated = row.updated_at;
      out.push_back(std::move(summary));
    }
    core::StoreSummary& summary = out.back();
    ++summary.items;
    if (row.count == 0) ++summary.out_of_stock;
    summary.last_updated = std::max(summary.last_updated, row.updated_at);
  }
  for (core::StoreSummary& summary : out) {
    if (auto it = last_uploads_.find(summary.store); it != last_uploads_.end()) {
      summary.last_upload_id = it->second.first;
      summary.last_upload = it->second.second;
    }
  }
  return out;
}

absl::Status InMemoryInventoryStore::SetThreshold(const core::Threshold& scope,
                                                  std::optional<int64_t> value) {
  if ((scope.store && scope.store->empty()) || (scope.item && scope.item->empty())) {
    return absl::InvalidArgumentError("threshold: store and item names must not be empty");
  }
  if (value && (*value < 0 || *value > core::kMaxCount)) {
    return absl::InvalidArgumentError("threshold: value " + std::to_string(*value) +
                                      " is out of range 0..2147483647");
  }
  std::lock_guard lock(mu_);
  Key key(scope.store.value_or(""), scope.item.value_or(""));
  if (value) {
    thresholds_[key] = *value;
  } else {
    thresholds_.erase(key);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<core::Threshold>> InMemoryInventoryStore::Thresholds() {
  std::lock_guard lock(mu_);
  std::vector<core::Threshold> out;
  for (const auto& [key, value] : thresholds_) {
    core::Threshold threshold;
    if (!key.first.empty()) threshold.store = key.first;
    if (!key.second.empty()) threshold.item = key.second;
    threshold.value = value;
    out.push_back(std::move(threshold));
  }
  return out;
}

absl::StatusOr<std::vector<core::ChangeRecord>> InMemoryInventoryStore::Read(uint64_t after,
                                                                             size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<core::ChangeRecord> out;
  for (uint64_t i = after; i < changes_.size() && out.size() < limit; ++i) {
    out.push_back(changes_[i]);
  }
  return out;
}

absl::StatusOr<std::vector<core::ChangeRecord>> InMemoryInventoryStore::ItemHistory(
    std::string_view store, std::string_view item, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<core::ChangeRecord> out;
  for (auto it = changes_.rbegin(); it != changes_.rend() && out.size() < limit; ++it) {
    if (it->store == store && it->item == item) out.push_back(*it);
  }
  return out;
}

}  // namespace stockwatch::adapters
