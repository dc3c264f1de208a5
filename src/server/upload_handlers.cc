// The upload routes. PUT streams the body through the CSV validator into the object store
// chunk by chunk, so memory stays bounded whatever the file size.

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "core/csv/inventory_csv.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/scoped_scan.h"
#include "server/status_http.h"

namespace stockwatch::server {
namespace {

// Bytes read from the connection per step; also the most a small upload allocates.
constexpr size_t kUploadChunkBytes = 64 * 1024;
// Uploads listed per page: default and maximum.
constexpr int64_t kDefaultUploadPage = 50;
constexpr int64_t kMaxUploadPage = 1000;

// The upload path only validates (the loader parses the stored file again to load it), and
// for a store-scoped uploader (a manager) notes the first row of a store outside its scope,
// as the S3 API does for a scoped access key (s3_api/ingest.cc).
class ScopeRows final : public core::RowSink {
 public:
  explicit ScopeRows(const core::ObjectScope& scope) : scope_(scope) {}
  void OnRow(const core::InventoryRow& row) override {
    if (violation_ || scope_.all_stores) return;
    if (!std::binary_search(scope_.stores.begin(), scope_.stores.end(), row.store)) {
      violation_.emplace(row.line, std::string(row.store));
    }
  }
  // kPermissionDenied naming the first row outside the scope, if any.
  absl::Status Check(std::string_view file_name) const {
    if (!violation_) return absl::OkStatus();
    base::Metrics::Get().uploads_refused.fetch_add(1, std::memory_order_relaxed);
    return absl::PermissionDeniedError(fmt::format("{}:{}: store \"{}\" is outside your stores",
                                                   file_name, violation_->first,
                                                   violation_->second));
  }

 private:
  const core::ObjectScope& scope_;
  std::optional<std::pair<int64_t, std::string>> violation_;
};

absl::StatusOr<std::string> DecodeUploadName(std::string_view raw_name) {
  absl::StatusOr<std::string> name = PercentDecode(raw_name, PlusMode::kLiteral);
  if (!name.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("upload name: {}", ToStd(name.status().message())));
  }
  if (name->empty() || name->size() > kMaxUploadNameBytes) {
    return absl::InvalidArgumentError(
        fmt::format("upload name must be 1..{} bytes", kMaxUploadNameBytes));
  }
  if (name->find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("upload name must not contain NUL");
  }
  return name;
}

absl::StatusOr<int64_t> ParseUploadId(std::string_view raw_id) {
  return ParseInteger("upload id", raw_id, 1, std::numeric_limits<int64_t>::max());
}

// The 400 answer for a file the validator rejected as a whole.
HttpResponse RefusedUpload(const absl::Status& status, const core::InventoryCsvParser& parser) {
  std::vector<std::string> details;
  for (const core::RowIssue& issue : parser.errors()) {
    if (details.size() == kMaxUploadErrorDetails) break;
    details.push_back(issue.Format(parser.file_name()));
  }
  base::Metrics::Get().uploads_refused.fetch_add(1, std::memory_order_relaxed);
  return ErrorResponse(status, details);
}

// `upload` as in docs/API.md: status, and the report once the upload is applied.
absl::StatusOr<nlohmann::json> UploadWithReport(const core::ObjectCreatedEvent& event,
                                                const absl::StatusOr<core::LoadReport>& report) {
  nlohmann::json json = core::UploadJson(event);
  if (report.ok()) {
    json["status"] = core::LoadStatusName(report->status);
    json["report"] = core::ToJson(*report);
  } else if (report.status().code() == absl::StatusCode::kNotFound) {
    json["status"] = core::LoadStatusName(core::LoadStatus::kPending);
  } else {
    return report.status();
  }
  return json;
}

}  // namespace

absl::StatusOr<HttpResponse> ApiRouter::PutUpload(HttpRequest& request,
                                                  const core::Principal& principal,
                                                  std::string_view raw_name) {
  SW_ASSIGN_OR_RETURN(std::string name, DecodeUploadName(raw_name));
  BodyReader& body = *request.body;
  const uint64_t limit = options_.max_upload_bytes;
  std::optional<uint64_t> declared = body.content_length();
  // Refuse a declared oversize body before reading it (and before 100 Continue).
  if (declared && *declared > limit) {
    base::Metrics::Get().uploads_refused.fetch_add(1, std::memory_order_relaxed);
    return PayloadTooLarge(
        fmt::format("upload of {} bytes exceeds the limit of {} bytes", *declared, limit));
  }

  // The object keeps the uploader's scope, so a manager sees its own uploads and no others.
  core::PutOptions put_options;
  put_options.scope = principal.scope;
  SW_ASSIGN_OR_RETURN(
      std::unique_ptr<core::ObjectWriter> writer,
      services_.objects.BeginPut(options_.bucket, name, principal.name, put_options));
  core::InventoryCsvParser parser(name, options_.bad_row_policy);
  ScopeRows sink(principal.scope);
  // A small declared body gets a buffer of its size (plus one byte to see the end in the
  // same read), so a six-row file does not allocate 64 KiB.
  size_t buffer_size = kUploadChunkBytes;
  if (declared) buffer_size = static_cast<size_t>(std::min<uint64_t>(*declared + 1, buffer_size));
  auto buffer = std::make_unique<char[]>(buffer_size);

  while (true) {
    absl::StatusOr<size_t> n = body.Read(std::span<char>(buffer.get(), buffer_size), limit);
    if (!n.ok()) {
      writer->Abort();
      if (StatusToHttp(n.status()).http_status == 413) {
        base::Metrics::Get().uploads_refused.fetch_add(1, std::memory_order_relaxed);
      }
      return n.status();
    }
    if (*n == 0) break;
    std::string_view chunk(buffer.get(), *n);
    if (absl::Status fed = parser.Feed(chunk, sink); !fed.ok()) {
      writer->Abort();
      return RefusedUpload(fed, parser);
    }
    if (absl::Status written = writer->Write(chunk); !written.ok()) {
      writer->Abort();
      return written;
    }
  }
  if (absl::Status finished = parser.Finish(sink); !finished.ok()) {
    writer->Abort();
    return RefusedUpload(finished, parser);
  }
  if (absl::Status in_scope = sink.Check(name); !in_scope.ok()) {
    writer->Abort();
    return in_scope;
  }
  SW_ASSIGN_OR_RETURN(core::ObjectCreatedEvent event, writer->Commit());
  services_.loader_wakeup.Notify();

  base::Metrics& metrics = base::Metrics::Get();
  metrics.uploads_accepted.fetch_add(1, std::memory_order_relaxed);
  metrics.accept_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - request.received_at)
          .count());
  nlohmann::json json = core::UploadJson(event);
  json["status"] = core::LoadStatusName(core::LoadStatus::kPending);
  HttpResponse response = JsonResponse(201, json);
  response.headers.emplace_back("Location", fmt::format("/api/v1/uploads/{}", event.sequence));
  return response;
}

absl::StatusOr<nlohmann::json> ApiRouter::UploadWithStatus(const core::ObjectCreatedEvent& event) {
  return UploadWithReport(event, services_.inventory.GetReport(event.sequence));
}

absl::StatusOr<HttpResponse> ApiRouter::ListUploads(const QueryParams& query,
                                                    const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(int64_t limit, query.GetInt("limit", 1, kMaxUploadPage, kDefaultUploadPage));
  SW_ASSIGN_OR_RETURN(int64_t before,
                      query.GetInt("before", 0, std::numeric_limits<int64_t>::max(), 0));
  // One more than asked tells whether another page follows. A store-scoped caller's uploads
  // are picked while reading, batch after batch, so its page is full and `next_before` right.
  const size_t wanted = static_cast<size_t>(limit) + 1;
  SW_ASSIGN_OR_RETURN(auto scan,
                      (ScanInScope<core::ObjectCreatedEvent>(
                          before, wanted,
                          [&](int64_t cursor, size_t batch) {
                            return services_.objects.RecentEvents(cursor, batch);
                          },
                          [](const core::ObjectCreatedEvent& event) { return event.sequence; },
                          [&](const core::ObjectCreatedEvent& event) {
                            return principal.scope.Covers(event.object.scope);
                          })));
  std::vector<core::ObjectCreatedEvent>& events = scan.kept;
  const bool exhausted = scan.exhausted;
  const int64_t cursor = scan.cursor;
  nlohmann::json next_before = nullptr;
  if (events.size() > static_cast<size_t>(limit)) {
    events.resize(static_cast<size_t>(limit));
    next_before = events.back().sequence;
  } else if (!exhausted && events.size() < wanted) {
    // The scan stopped at kMaxScopedScan: the next page goes on from there.
    next_before = cursor;
  }
  nlohmann::json uploads = nlohmann::json::array();
  for (const core::ObjectCreatedEvent& event : events) {
    SW_ASSIGN_OR_RETURN(nlohmann::json upload, UploadWithStatus(event));
    uploads.push_back(std::move(upload));
  }
  return JsonResponse(200, {{"uploads", std::move(uploads)}, {"next_before", next_before}});
}

absl::StatusOr<HttpResponse> ApiRouter::GetUpload(std::string_view raw_id,
                                                  const QueryParams& query) {
  SW_ASSIGN_OR_RETURN(int64_t id, ParseUploadId(raw_id));
  SW_ASSIGN_OR_RETURN(int64_t wait_seconds, query.GetInt("wait", 0, kMaxWaitSeconds, 0));
  SW_ASSIGN_OR_RETURN(core::ObjectCreatedEvent event, services_.objects.GetEvent(id));
  // Real time, not services_.clock: this bounds how long a client waits on the network,
  // and a test's manual clock must not make a request hang.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  absl::StatusOr<core::LoadReport> report = services_.inventory.GetReport(id);
  while (!report.ok() && report.status().code() == absl::StatusCode::kNotFound &&
         std::chrono::steady_clock::now() < deadline &&
         !shutting_down_.load(std::memory_order_relaxed)) {
    std::this_thread::sleep_for(kReportPollInterval);
    report = services_.inventory.GetReport(id);
  }
  SW_ASSIGN_OR_RETURN(nlohmann::json upload, UploadWithReport(event, report));
  return JsonResponse(200, upload);
}

absl::StatusOr<HttpResponse> ApiRouter::GetUploadContent(std::string_view raw_id) {
  SW_ASSIGN_OR_RETURN(int64_t id, ParseUploadId(raw_id));
  SW_ASSIGN_OR_RETURN(core::ObjectCreatedEvent event, services_.objects.GetEvent(id));
  SW_ASSIGN_OR_RETURN(std::unique_ptr<core::ObjectReader> reader,
                      services_.objects.Open(event.object.id));
  HttpResponse response;
  response.content_type = "text/csv";
  response.stream = std::move(reader);
  response.stream_size = event.object.size;
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::GetUploadEvent(std::string_view raw_id) {
  SW_ASSIGN_OR_RETURN(int64_t id, ParseUploadId(raw_id));
  SW_ASSIGN_OR_RETURN(core::ObjectCreatedEvent event, services_.objects.GetEvent(id));
  return JsonResponse(200, core::S3EventJson(event, options_.region));
}

}  // namespace stockwatch::server
