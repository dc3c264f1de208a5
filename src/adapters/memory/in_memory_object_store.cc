#include "adapters/memory/in_memory_object_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "base/status.h"
#include "core/model/object_scope.h"

namespace stockwatch::adapters {
namespace {

constexpr int kMinPartNumber = 1;
constexpr int kMaxPartNumber = 10000;
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

std::string HexDigest(const EVP_MD* md, std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  SW_CHECK(EVP_Digest(bytes.data(), bytes.size(), digest, &n, md, nullptr) == 1);
  return Hex(digest, n);
}

core::ContentDigests DigestsOf(std::string_view bytes) {
  core::ContentDigests digests;
  digests.size = bytes.size();
  digests.sha256_hex = HexDigest(EVP_sha256(), bytes);
  digests.md5_hex = HexDigest(EVP_md5(), bytes);
  return digests;
}

absl::Status NoSuchUpload() {
  return absl::NotFoundError("object store: no such multipart upload");
}

// Where a writer is: open for Write(), sealed (digests known), or closed.
enum class WriterState { kOpen, kSealed, kClosed };

absl::Status NotOpen(WriterState state) {
  return absl::FailedPreconditionError(state == WriterState::kSealed ? "writer is sealed"
                                                                     : "writer is closed");
}

class Reader final : public core::ObjectReader {
 public:
  Reader(std::shared_ptr<const std::string> bytes, size_t offset, size_t length)
      : bytes_(std::move(bytes)), offset_(offset), end_(offset + length) {}
  absl::StatusOr<size_t> Read(std::span<char> buffer) override {
    const size_t n = std::min(buffer.size(), end_ - offset_);
    std::copy_n(bytes_->data() + offset_, n, buffer.data());
    offset_ += n;
    return n;
  }

 private:
  std::shared_ptr<const std::string> bytes_;
  size_t offset_;
  size_t end_;
};

}  // namespace

class InMemoryObjectStore::Writer final : public core::ObjectWriter {
 public:
  Writer(InMemoryObjectStore* store, core::ObjectInfo object, core::PutOptions options)
      : store_(store), object_(std::move(object)), options_(std::move(options)) {}

  absl::Status Write(std::string_view bytes) override {
    if (state_ != WriterState::kOpen) return NotOpen(state_);
    bytes_.append(bytes);
    return absl::OkStatus();
  }

  absl::StatusOr<core::ContentDigests> Seal() override {
    if (state_ != WriterState::kOpen) return NotOpen(state_);
    state_ = WriterState::kSealed;
    digests_ = DigestsOf(bytes_);
    return digests_;
  }

  absl::StatusOr<core::ObjectCreatedEvent> Commit() override {
    if (state_ == WriterState::kClosed) return NotOpen(state_);
    if (state_ == WriterState::kOpen) SW_RETURN_IF_ERROR(Seal().status());
    state_ = WriterState::kClosed;
    object_.size = digests_.size;
    object_.sha256_hex = digests_.sha256_hex;
    object_.etag = options_.etag.empty() ? digests_.md5_hex : options_.etag;
    return store_->Add(std::move(object_), options_,
                       std::make_shared<const std::string>(std::move(bytes_)));
  }

  void Abort() override {
    state_ = WriterState::kClosed;
    bytes_.clear();
  }

 private:
  InMemoryObjectStore* store_;
  core::ObjectInfo object_;
  const core::PutOptions options_;
  std::string bytes_;
  WriterState state_ = WriterState::kOpen;
  core::ContentDigests digests_;  // set when sealed
};

class InMemoryObjectStore::PartWriter final : public core::PartWriter {
 public:
  PartWriter(InMemoryObjectStore* store, std::string upload_id, int part_number)
      : store_(store), upload_id_(std::move(upload_id)), part_number_(part_number) {}

  absl::Status Write(std::string_view bytes) override {
    if (state_ != WriterState::kOpen) return NotOpen(state_);
    bytes_.append(bytes);
    return absl::OkStatus();
  }

  absl::StatusOr<core::ContentDigests> Seal() override {
    if (state_ != WriterState::kOpen) return NotOpen(state_);
    state_ = WriterState::kSealed;
    digests_ = DigestsOf(bytes_);
    return digests_;
  }

  absl::StatusOr<core::PartInfo> Commit() override {
    if (state_ == WriterState::kClosed) return NotOpen(state_);
    if (state_ == WriterState::kOpen) SW_RETURN_IF_ERROR(Seal().status());
    state_ = WriterState::kClosed;
    core::PartInfo part;
    part.part_number = part_number_;
    part.size = digests_.size;
    part.etag = digests_.md5_hex;
    return store_->AddPart(upload_id_, std::move(part),
                           std::make_shared<const std::string>(std::move(bytes_)));
  }

  void Abort() override {
    state_ = WriterState::kClosed;
    bytes_.clear();
  }

 private:
  InMemoryObjectStore* store_;
  const std::string upload_id_;
  const int part_number_;
  std::string bytes_;
  WriterState state_ = WriterState::kOpen;
  core::ContentDigests digests_;  // set when sealed
};

InMemoryObjectStore::InMemoryObjectStore(core::Clock& clock) : clock_(clock) {}

absl::StatusOr<std::unique_ptr<core::ObjectWriter>> InMemoryObjectStore::BeginPut(
    std::string_view bucket, std::string_view key, std::string_view uploader,
    const core::PutOptions& options) {
  if (bucket.empty() || key.empty()) {
    return absl::InvalidArgumentError("object store: bucket and key must not be empty");
  }
  core::PutOptions canonical = options;
  SW_ASSIGN_OR_RETURN(canonical.scope, core::CanonicalScope(options.scope));
  core::ObjectInfo object;
  object.bucket = std::string(bucket);
  object.key = std::string(key);
  object.uploader = std::string(uploader);
  object.scope = canonical.scope;
  object.content_type = canonical.content_type;
  object.metadata = canonical.metadata;
  return std::make_unique<Writer>(this, std::move(object), std::move(canonical));
}

absl::StatusOr<core::ObjectCreatedEvent> InMemoryObjectStore::Add(core::ObjectInfo object,
                                                                  const core::PutOptions& options,
                                                                  Bytes bytes) {
  const core::TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  // Every check that can refuse the object comes before any change, so a refusal stores
  // nothing.
  auto upload = uploads_.end();
  if (!options.completes_upload_id.empty()) {
    upload = uploads_.find(options.completes_upload_id);
    if (upload == uploads_.end()) return NoSuchUpload();
  }
  if (!options.replay_key.empty() && replays_.count(options.replay_key) != 0) {
    return absl::AlreadyExistsError("object store: this request was already stored");
  }
  object.id = static_cast<int64_t>(objects_.size()) + 1;
  object.created_at = now;
  core::ObjectCreatedEvent event;
  event.sequence = static_cast<int64_t>(events_.size()) + 1;
  event.event_name = options.event_name.empty() ? kDefaultEventName : options.event_name;
  event.object = object;
  keys_[{object.bucket, object.key}] = object.id;
  objects_[object.id] = StoredObject{std::move(object), std::move(bytes)};
  events_.push_back(event);
  if (!options.replay_key.empty()) {
    replays_[options.replay_key] = Replay{event.sequence, options.replay_until};
  }
  if (upload != uploads_.end()) uploads_.erase(upload);
  return event;
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> InMemoryObjectStore::Open(int64_t object_id) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(object_id);
  if (it == objects_.end()) {
    return absl::NotFoundError("object store: no object " + std::to_string(object_id));
  }
  return std::make_unique<Reader>(it->second.bytes, 0, it->second.bytes->size());
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> InMemoryObjectStore::OpenRange(
    int64_t object_id, uint64_t offset, uint64_t length) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(object_id);
  if (it == objects_.end()) {
    return absl::NotFoundError("object store: no object " + std::to_string(object_id));
  }
  const uint64_t size = it->second.bytes->size();
  if (offset > size || length > size - offset) {
    return absl::OutOfRangeError("object store: range beyond the end of object " +
                                 std::to_string(object_id));
  }
  return std::make_unique<Reader>(it->second.bytes, static_cast<size_t>(offset),
                                  static_cast<size_t>(length));
}

absl::StatusOr<core::ObjectInfo> InMemoryObjectStore::Head(std::string_view bucket,
                                                           std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = keys_.find({std::string(bucket), std::string(key)});
  if (it == keys_.end()) return absl::NotFoundError("object store: no such key");
  return objects_.at(it->second).info;
}

absl::StatusOr<std::vector<core::ObjectInfo>> InMemoryObjectStore::List(
    const core::ListQuery& query) {
  std::vector<core::ObjectInfo> out;
  if (query.limit == 0) return out;
  // std::string compares bytes as unsigned char: the S3 order. Keys with the prefix form
  // one run starting at the prefix; those after start_after start after it.
  std::lock_guard lock(mu_);
  auto it = query.start_after >= query.prefix ? keys_.upper_bound({query.bucket, query.start_after})
                                              : keys_.lower_bound({query.bucket, query.prefix});
  for (; it != keys_.end() && out.size() < query.limit; ++it) {
    const auto& [bucket, key] = it->first;
    if (bucket != query.bucket || !key.starts_with(query.prefix)) break;
    const core::ObjectInfo& object = objects_.at(it->second).info;
    if (query.visible_to && !query.visible_to->Covers(object.scope)) continue;
    out.push_back(object);
  }
  return out;
}

absl::StatusOr<bool> InMemoryObjectStore::Delete(std::string_view bucket, std::string_view key) {
  std::lock_guard lock(mu_);
  return keys_.erase({std::string(bucket), std::string(key)}) > 0;
}

absl::StatusOr<core::ObjectCreatedEvent> InMemoryObjectStore::FindReplay(
    std::string_view replay_key) {
  std::lock_guard lock(mu_);
  auto it = replays_.find(replay_key);
  if (it == replays_.end()) return absl::NotFoundError("object store: no such replay key");
  return events_[static_cast<size_t>(it->second.sequence - 1)];
}

absl::StatusOr<int64_t> InMemoryObjectStore::ExpireReplays(core::TimePoint now) {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(
      std::erase_if(replays_, [&](const auto& entry) { return entry.second.until < now; }));
}

absl::StatusOr<core::MultipartUpload> InMemoryObjectStore::CreateMultipartUpload(
    std::string_view bucket, std::string_view key, std::string_view uploader,
    const core::PutOptions& options) {
  if (bucket.empty() || key.empty()) {
    return absl::InvalidArgumentError("object store: bucket and key must not be empty");
  }
  core::MultipartUpload upload;
  SW_ASSIGN_OR_RETURN(upload.options.scope, core::CanonicalScope(options.scope));
  unsigned char random[16];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::UnavailableError("object store: no randomness for an upload id");
  }
  upload.upload_id = Hex(random, sizeof(random));
  upload.bucket = std::string(bucket);
  upload.key = std::string(key);
  upload.uploader = std::string(uploader);
  upload.options.content_type = options.content_type;
  upload.options.metadata = options.metadata;
  upload.initiated_at = clock_.Now();
  std::lock_guard lock(mu_);
  if (!uploads_.emplace(upload.upload_id, Upload{upload, {}}).second) {
    return absl::AlreadyExistsError("object store: upload id collision");
  }
  return upload;
}

absl::StatusOr<core::MultipartUpload> InMemoryObjectStore::GetMultipartUpload(
    std::string_view upload_id) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload();
  return it->second.info;
}

absl::StatusOr<std::vector<core::MultipartUpload>> InMemoryObjectStore::ListMultipartUploads(
    std::string_view bucket, std::string_view prefix, size_t limit) {
  std::vector<core::MultipartUpload> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, upload] : uploads_) {
      if (upload.info.bucket == bucket && upload.info.key.starts_with(prefix)) {
        out.push_back(upload.info);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key, a.initiated_at, a.upload_id) <
           std::tie(b.key, b.initiated_at, b.upload_id);
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

absl::StatusOr<std::unique_ptr<core::PartWriter>> InMemoryObjectStore::BeginPart(
    std::string_view upload_id, int part_number) {
  if (part_number < kMinPartNumber || part_number > kMaxPartNumber) {
    return absl::InvalidArgumentError("object store: part numbers are 1..10000");
  }
  std::lock_guard lock(mu_);
  if (uploads_.find(upload_id) == uploads_.end()) return NoSuchUpload();
  return std::make_unique<PartWriter>(this, std::string(upload_id), part_number);
}

absl::StatusOr<core::PartInfo> InMemoryObjectStore::AddPart(const std::string& upload_id,
                                                            core::PartInfo part, Bytes bytes) {
  part.uploaded_at = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload();
  it->second.parts[part.part_number] = Part{part, std::move(bytes)};
  return part;
}

absl::StatusOr<std::vector<core::PartInfo>> InMemoryObjectStore::ListParts(
    std::string_view upload_id) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload();
  std::vector<core::PartInfo> out;
  for (const auto& [number, part] : it->second.parts) out.push_back(part.info);
  return out;
}

absl::StatusOr<std::unique_ptr<core::ObjectReader>> InMemoryObjectStore::OpenPart(
    std::string_view upload_id, int part_number) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload();
  auto part = it->second.parts.find(part_number);
  if (part == it->second.parts.end()) {
    return absl::NotFoundError("object store: no part " + std::to_string(part_number) +
                               " in that multipart upload");
  }
  return std::make_unique<Reader>(part->second.bytes, 0, part->second.bytes->size());
}

absl::Status InMemoryObjectStore::AbortMultipartUpload(std::string_view upload_id) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end()) return NoSuchUpload();
  uploads_.erase(it);
  return absl::OkStatus();
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
