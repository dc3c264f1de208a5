// Process-wide metrics rendered in the Prometheus text format. Hand-written because Debian
// 12 packages no Prometheus client for C++; counters and fixed-bucket histograms are all
// stockwatch needs.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace stockwatch::base {

// A latency histogram in seconds with fixed buckets. Lock-free; thread-safe.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(double seconds);
  // Appends the _bucket, _sum and _count lines of metric `name`.
  void Render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets.size()> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

// All stockwatch metrics. Access through Metrics::Get().
struct Metrics {
  std::atomic<uint64_t> uploads_accepted{0};
  std::atomic<uint64_t> uploads_refused{0};  // rejected by validation while arriving
  std::atomic<uint64_t> uploads_loaded{0};
  std::atomic<uint64_t> uploads_rejected{0};
  std::atomic<uint64_t> rows_loaded{0};
  std::atomic<uint64_t> rows_unchanged{0};
  std::atomic<uint64_t> rows_rejected{0};
  std::atomic<uint64_t> changes_checked{0};
  std::atomic<uint64_t> alerts_published{0};
  std::atomic<uint64_t> deliveries_succeeded{0};
  std::atomic<uint64_t> deliveries_retried{0};
  std::atomic<uint64_t> deliveries_failed{0};
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> s3_requests{0};
  std::atomic<uint64_t> s3_errors{0};
  std::atomic<uint64_t> s3_bytes_received{0};  // object and part payload bytes stored
  Histogram accept_seconds;                    // upload request: first byte to 201
  Histogram load_seconds;                      // event committed to load committed
  Histogram check_seconds;                     // load committed to messages published
  Histogram deliver_seconds;                   // message published to delivered

  static Metrics& Get();
  std::string RenderPrometheus() const;
};

}  // namespace stockwatch::base
