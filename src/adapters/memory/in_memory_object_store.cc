#include "adapters/memory/in_memory_object_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include "base/status.h"

namespace stockwatch::adapters {
namespace {

std::string HexDigest(const EVP_MD* md, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  SW_CHECK(EVP_Digest(bytes.data(), bytes.size(), digest, &n, md, nullptr) == 1);
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

class Reader final : public core::ObjectReader {
 public:
  explicit Reader(std::shared_ptr<const std::string> bytes) : bytes_(std::move(bytes)) {}
  absl::StatusOr<size_t> Read(std::span<char> buffer) override {
    const size_t n = std::min(buffer.size(), bytes_->size() - offset_);
    std::copy_n(bytes_->data() + offset_, n, buffer.data());
    offset_ += n;
    return n;
  }

 private:
  std::shared_ptr<const std::string> bytes_;
  size_t offset_ = 0;
};

}  // namespace

class InMemoryObjectStore::Writer final : public core::ObjectWriter {
 public:
  Writer(InMemoryObjectStore* store, core::ObjectInfo info)
      : store_(store), info_(std::move(info)) {}

  absl::Status Write(std::string_view bytes) override {
    if (done_) return absl::FailedPreconditionError("object writer is closed");
    bytes_.append(bytes);
    return absl::OkStatus();
  }

  absl::StatusOr<core::ObjectCreatedEvent> Commit() override {
    if (done_) return absl::FailedPreconditionError("object writer is closed");
    done_ = true;
    info_.size = bytes_.size();
    info_.sha256_hex = HexDigest(EVP_sha256(), bytes_);
    info_.etag = HexDigest(EVP_md5(), bytes_);
    return store_->Add(std::move(info_), std::move(bytes_));
  }

  void Abort() override {
    done_ = true;
    bytes_.clear();
  }

 private:
  InMemoryObjectStore* store_;
  core::ObjectInfo info_;
  std::string bytes_;
  bool done_ = false;
};

InMemoryObjectStore::InMemoryObjectStore(core::Clock& clock) : clock_(clock) {}

absl::StatusOr<std::unique_ptr<core::ObjectWriter>> InMemoryObjectStore::BeginPut(
    std::string_view bucket, std::string_view key, std::string_view uploader) {
  if (bucket.empty() || key.empty()) {
    return absl::InvalidArgumentError("object store: bucket and key must not be empty");
  }
  core::ObjectInfo info;
  info.bucket = std::string(bucket);
  info.key = std::string(key);
  info.uploader = std::string(uploader);
  return std::make_unique<Writer>(this, std::move(info));
}

core::ObjectCreatedEvent InMemoryObjectStore::Add(core::ObjectInfo info, std::string bytes) {
  const core::TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  info.id = static_cast<int64_t>(contents_.size()) + 1;
  info.created_at = now;
  contents_[info.id] = std::make_shared<const std::string>(std::move(bytes));
  core::ObjectCreatedEvent event;
  event.sequence = static_cast<int64_t>(events_.size()) + 1;
  event.object = std::move(info);
  events_.push_back(event);
  return event;
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> InMemoryObjectStore::Open(int64_t object_id) {
  std::lock_guard lock(mu_);
  auto it = contents_.find(object_id);
  if (it == contents_.end()) {
    return absl::NotFoundError("object store: no object " + std::to_string(object_id));
  }
  return std::make_unique<Reader>(it->second);
}

absl::StatusOr<std::vector<core::ObjectCreatedEvent>> InMemoryObjectStore::EventsAfter(
    int64_t after, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<core::ObjectCreatedEvent> out;
  for (size_t i = static_cast<size_t>(std::max<int64_t>(after, 0));
       i < events_.size() && out.size() < limit; ++i) {
    out.push_back(events_[i]);
  }
  return out;
}

absl::StatusOr<core::ObjectCreatedEvent> InMemoryObjectStore::GetEvent(int64_t sequence) {
  std::lock_guard lock(mu_);
  if (sequence < 1 || sequence > static_cast<int64_t>(events_.size())) {
    return absl::NotFoundError("object store: no event " + std::to_string(sequence));
  }
  return events_[static_cast<size_t>(sequence - 1)];
}

absl::StatusOr<std::vector<core::ObjectCreatedEvent>> InMemoryObjectStore::RecentEvents(
    int64_t before, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<core::ObjectCreatedEvent> out;
  int64_t next = static_cast<int64_t>(events_.size());
  if (before > 0) next = std::min(next, before - 1);
  for (; next >= 1 && out.size() < limit; --next) {
    out.push_back(events_[static_cast<size_t>(next - 1)]);
  }
  return out;
}

}  // namespace stockwatch::adapters
