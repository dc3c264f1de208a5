#include "server/s3_api/ingest.h"

#include <algorithm>
#include <utility>

#include "base/metrics.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/s3_api/s3_errors.h"

namespace stockwatch::server::s3_api {

class Ingest::ScopeSink final : public core::RowSink {
 public:
  explicit ScopeSink(Ingest& ingest) : ingest_(ingest) {}
  void OnRow(const core::InventoryRow& row) override {
    if (ingest_.violation_ || ingest_.scope_.all_stores) return;
    const std::vector<std::string>& stores = ingest_.scope_.stores;
    if (!std::binary_search(stores.begin(), stores.end(), row.store)) {
      ingest_.violation_.emplace(row.line, std::string(row.store));
    }
  }

 private:
  Ingest& ingest_;
};

Ingest::Ingest(std::string file_name, core::BadRowPolicy policy, core::ObjectScope scope,
               std::string access_key_id)
    : parser_(std::move(file_name), policy),
      scope_(std::move(scope)),
      access_key_id_(std::move(access_key_id)),
      sink_(std::make_unique<ScopeSink>(*this)) {}

absl::Status Ingest::Feed(std::string_view bytes) {
  if (absl::Status fed = parser_.Feed(bytes, *sink_); !fed.ok()) return Refused(fed);
  return CheckScope();
}

absl::Status Ingest::Finish() {
  if (absl::Status finished = parser_.Finish(*sink_); !finished.ok()) return Refused(finished);
  return CheckScope();
}

absl::Status Ingest::CheckScope() const {
  if (!violation_) return absl::OkStatus();
  base::Metrics::Get().uploads_refused.fetch_add(1, std::memory_order_relaxed);
  return S3Error(
      absl::StatusCode::kPermissionDenied, "AccessDenied",
      fmt::format("{}:{}: store \"{}\" is outside the stores of access key {}", parser_.file_name(),
                  violation_->first, violation_->second, access_key_id_));
}

absl::Status Ingest::Refused(const absl::Status& status) const {
  base::Metrics::Get().uploads_refused.fetch_add(1, std::memory_order_relaxed);
  std::string message = std::string(ToStd(status.message()));
  size_t quoted = 0;
  for (const core::RowIssue& issue : parser_.errors()) {
    if (quoted == kMaxRefusalErrors) break;
    const std::string line = issue.Format(parser_.file_name());
    if (message.find(line) != std::string::npos) continue;
    message += "; " + line;
    ++quoted;
  }
  return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument", message);
}

}  // namespace stockwatch::server::s3_api
