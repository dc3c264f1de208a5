#include "base/metrics.h"

#include <fmt/format.h>

namespace stockwatch::base {

void Histogram::Observe(double seconds) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      counts_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& help, std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBuckets[i], cumulative);
  }
  const uint64_t count = count_.load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count);
  out += fmt::format("{}_sum {}\n", name, sum_micros_.load(std::memory_order_relaxed) / 1e6);
  out += fmt::format("{}_count {}\n", name, count);
}

Metrics& Metrics::Get() {
  static Metrics metrics;
  return metrics;
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, const std::atomic<uint64_t>& value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name,
                       value.load(std::memory_order_relaxed));
  };
  counter("stockwatch_uploads_accepted_total", "Uploads stored and acknowledged.",
          uploads_accepted);
  counter("stockwatch_uploads_refused_total", "Uploads refused while arriving.", uploads_refused);
  counter("stockwatch_uploads_loaded_total", "Uploads loaded into the table.", uploads_loaded);
  counter("stockwatch_uploads_rejected_total", "Uploads rejected whole by the loader.",
          uploads_rejected);
  counter("stockwatch_rows_loaded_total", "Rows that inserted or changed an item.", rows_loaded);
  counter("stockwatch_rows_unchanged_total", "Rows equal to the table.", rows_unchanged);
  counter("stockwatch_rows_rejected_total", "Bad rows not loaded.", rows_rejected);
  counter("stockwatch_changes_checked_total", "Change records read by the checker.",
          changes_checked);
  counter("stockwatch_alerts_published_total", "Messages published to topics.", alerts_published);
  counter("stockwatch_deliveries_succeeded_total", "Deliveries that reached a subscriber.",
          deliveries_succeeded);
  counter("stockwatch_deliveries_retried_total", "Delivery attempts that will be retried.",
          deliveries_retried);
  counter("stockwatch_deliveries_failed_total", "Deliveries given up and kept as failed.",
          deliveries_failed);
  counter("stockwatch_http_requests_total", "HTTP requests served.", http_requests);
  counter("stockwatch_s3_requests_total", "S3 API requests served.", s3_requests);
  counter("stockwatch_s3_errors_total", "S3 API requests answered with an error.", s3_errors);
  counter("stockwatch_s3_bytes_received_total", "Object and part bytes stored by the S3 API.",
          s3_bytes_received);
  accept_seconds.Render("stockwatch_stage_accept_seconds", "Upload request to acknowledgement.",
                        out);
  load_seconds.Render("stockwatch_stage_load_seconds", "Upload acknowledged to load committed.",
                      out);
  check_seconds.Render("stockwatch_stage_check_seconds", "Load committed to messages published.",
                       out);
  deliver_seconds.Render("stockwatch_stage_deliver_seconds", "Message published to delivered.",
                         out);
  return out;
}

}  // namespace stockwatch::base
