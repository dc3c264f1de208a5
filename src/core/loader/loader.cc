#include "core/loader/loader.h"

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace stockwatch::core {
namespace {

// Feeds good rows to the upload writer and turns replaced rows into warnings.
class UpsertSink final : public RowSink {
 public:
  UpsertSink(UploadWriter& writer, LoadReport& report) : writer_(writer), report_(report) {}

  void OnRow(const InventoryRow& row) override {
    const int64_t replaced = writer_.Upsert(row.store, row.item, row.count, row.line);
    if (replaced == 0) return;
    ++report_.rows_superseded;
    ++report_.warning_count;
    if (report_.warnings.size() < kMaxReportedIssues) {
      report_.warnings.push_back({Severity::kWarning, replaced, 1,
                                  "row for store \"" + std::string(row.store) + "\" and item \"" +
                                      std::string(row.item) + "\" is superseded by line " +
                                      std::to_string(row.line)});
    }
  }

 private:
  UploadWriter& writer_;
  LoadReport& report_;
};

}  // namespace

Loader::Loader(ObjectStore& objects, InventoryStore& inventory, Clock& clock, LoaderOptions options)
    : objects_(objects), inventory_(inventory), clock_(clock), options_(options) {}

absl::StatusOr<LoadReport> Loader::Load(const ObjectCreatedEvent& event) {
  const auto started = clock_.Monotonic();
  LoadReport report;
  report.upload_id = event.sequence;
  report.file_name = event.object.key;

  SW_ASSIGN_OR_RETURN(std::unique_ptr<ObjectReader> reader, objects_.Open(event.object.id));
  SW_ASSIGN_OR_RETURN(std::unique_ptr<UploadWriter> writer,
                      inventory_.BeginUpload(event.sequence, event.object.created_at));
  InventoryCsvParser parser(event.object.key, options_.bad_row_policy);
  UpsertSink sink(*writer, report);

  // Reads the whole object through the parser; only the parser's verdict on the file can
  // reject it, any other error leaves the event pending.
  absl::Status verdict;
  std::vector<char> buffer(options_.read_chunk_bytes);
  while (verdict.ok()) {
    SW_ASSIGN_OR_RETURN(size_t n, reader->Read(std::span<char>(buffer)));
    if (n == 0) {
      verdict = parser.Finish(sink);
      break;
    }
    verdict = parser.Feed(std::string_view(buffer.data(), n), sink);
  }
  if (!verdict.ok() && !absl::IsInvalidArgument(verdict)) return verdict;

  report.rows_read = parser.rows_read();
  report.rows_rejected = parser.rows_rejected();
  report.error_count = parser.error_count();
  report.errors = parser.errors();
  report.ignored_columns = parser.ignored_columns();
  if (!verdict.ok()) {
    // Nothing of a rejected file is applied: drop the staged rows with their writer and
    // commit the report alone.
    report.status = LoadStatus::kRejected;
    report.reject_reason = std::string(verdict.message());
    report.rows_superseded = 0;
    report.warning_count = 0;
    report.warnings.clear();
    writer.reset();
    SW_ASSIGN_OR_RETURN(writer, inventory_.BeginUpload(event.sequence, event.object.created_at));
  } else {
    report.status = LoadStatus::kLoaded;
  }
  report.loaded_at = clock_.Now();
  report.duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Monotonic() - started).count();
  absl::Status committed = writer->Commit(report);
  if (absl::IsAlreadyExists(committed)) return inventory_.GetReport(event.sequence);
  SW_RETURN_IF_ERROR(committed);
  return report;
}

absl::StatusOr<std::vector<LoadReport>> Loader::LoadPending() {
  std::vector<LoadReport> reports;
  SW_ASSIGN_OR_RETURN(int64_t last, inventory_.LastAppliedUpload());
  while (true) {
    SW_ASSIGN_OR_RETURN(std::vector<ObjectCreatedEvent> events,
                        objects_.EventsAfter(last, options_.event_batch));
    if (events.empty()) return reports;
    for (const ObjectCreatedEvent& event : events) {
      SW_ASSIGN_OR_RETURN(LoadReport report, Load(event));
      last = event.sequence;
      reports.push_back(std::move(report));
    }
  }
}

}  // namespace stockwatch::core
