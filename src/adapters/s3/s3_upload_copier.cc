#include "adapters/s3/s3_upload_copier.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "base/status.h"

namespace stockwatch::adapters {
namespace {

std::string Errno(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// Writes `text` to `path` so that a crash leaves the old or the new content, never a part:
// a temporary file beside it, fsynced, renamed over it, and the directory fsynced.
absl::Status WriteFileAtomically(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(Errno("cannot create", tmp));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  const std::string error = ok ? "" : Errno("cannot write", tmp);
  ::close(fd);
  if (!ok) return absl::UnavailableError(error);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(Errno("cannot rename", tmp));
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadObject(core::ObjectStore& objects, const core::ObjectInfo& info) {
  SW_ASSIGN_OR_RETURN(std::unique_ptr<core::ObjectReader> reader, objects.Open(info.id));
  std::string body;
  body.reserve(info.size);
  std::vector<char> buffer(size_t{1} << 16);
  while (true) {
    SW_ASSIGN_OR_RETURN(size_t n, reader->Read(buffer));
    if (n == 0) break;
    body.append(buffer.data(), n);
  }
  return body;
}

}  // namespace

S3UploadCopier::S3UploadCopier(core::ObjectStore& objects, S3Put put, S3UploadCopierOptions options)
    : objects_(objects), put_(std::move(put)), options_(std::move(options)) {}

absl::Status S3UploadCopier::Start() {
  std::ifstream in(options_.checkpoint_path);
  if (!in) {
    checkpoint_ = 0;
    return absl::OkStatus();
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  int64_t sequence = 0;
  const auto parsed = std::from_chars(value.data(), value.data() + value.size(), sequence);
  if (value.empty() || parsed.ec != std::errc() || parsed.ptr != value.data() + value.size() ||
      sequence < 0) {
    return absl::DataLossError("the S3 copy checkpoint " + options_.checkpoint_path +
                               " is not a whole number; remove it to copy every upload again");
  }
  checkpoint_ = sequence;
  return absl::OkStatus();
}

absl::Status S3UploadCopier::SaveCheckpoint(int64_t sequence) {
  SW_RETURN_IF_ERROR(WriteFileAtomically(options_.checkpoint_path, std::to_string(sequence)));
  checkpoint_ = sequence;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> S3UploadCopier::CopyPending() {
  int64_t copied = 0;
  while (true) {
    SW_ASSIGN_OR_RETURN(std::vector<core::ObjectCreatedEvent> events,
                        objects_.EventsAfter(checkpoint_, options_.batch));
    if (events.empty()) return copied;
    for (const core::ObjectCreatedEvent& event : events) {
      absl::StatusOr<std::string> body = ReadObject(objects_, event.object);
      if (!body.ok()) {
        return absl::Status(body.status().code(), "upload " + std::to_string(event.sequence) +
                                                      " (" + event.object.key +
                                                      "): " + std::string(body.status().message()));
      }
      if (absl::Status put = put_(event.object, *body); !put.ok()) {
        return absl::Status(put.code(), "upload " + std::to_string(event.sequence) + " (" +
                                            event.object.key + "): " + std::string(put.message()));
      }
      SW_RETURN_IF_ERROR(SaveCheckpoint(event.sequence));
      ++copied;
    }
  }
}

void S3UploadCopier::Run(base::WorkSignal& signal) {
  std::chrono::milliseconds backoff = options_.backoff;
  bool failing = false;
  while (true) {
    std::chrono::milliseconds wait = options_.poll_interval;
    absl::StatusOr<int64_t> copied = CopyPending();
    if (copied.ok()) {
      if (failing) spdlog::info("s3 copy: working again (up to upload {})", checkpoint_);
      if (*copied > 0) spdlog::debug("s3 copy: {} uploads copied", *copied);
      failing = false;
      backoff = options_.backoff;
    } else {
      if (!failing) spdlog::warn("s3 copy: {}; retrying", copied.status().ToString());
      failing = true;
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    if (!signal.WaitUntil(std::chrono::steady_clock::now() + wait)) return;
  }
}

}  // namespace stockwatch::adapters
