// Parser throughput: a generated inventory file held in memory, fed in 64 KiB chunks as the
// upload path does. Goal: >= 1 GB/s for typical files (BM_ReadCsv).
//   build/release/bench/csv_bench --benchmark_filter=ReadCsv
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "bench/inventory_gen.h"
#include "core/csv/inventory_csv.h"

namespace stockwatch {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// Keeps the work observable without costing much per row.
class SummingSink : public core::RowSink {
 public:
  void OnRow(const core::InventoryRow& row) override {
    count_sum_ += row.count;
    name_bytes_ += row.store.size() + row.item.size();
  }
  int64_t count_sum() const { return count_sum_; }
  size_t name_bytes() const { return name_bytes_; }

 private:
  int64_t count_sum_ = 0;
  size_t name_bytes_ = 0;
};

// Files are generated once per (rows, quote_all) and shared by the benchmarks.
const std::string& File(int64_t rows, bool quote_all) {
  static std::map<std::pair<int64_t, bool>, std::string> files;
  auto [it, inserted] = files.try_emplace({rows, quote_all});
  if (inserted) {
    bench::GenOptions options;
    options.rows = rows;
    options.quote_all = quote_all;
    bench::GenerateInventoryCsv(options, it->second);
  }
  return it->second;
}

void ReadFile(benchmark::State& state, const std::string& file) {
  int64_t rows = 0;
  for (auto _ : state) {
    core::InventoryCsvParser parser("bench.csv", core::BadRowPolicy::kSkip);
    SummingSink sink;
    for (size_t at = 0; at < file.size(); at += kChunkBytes) {
      const std::string_view chunk(file.data() + at, std::min(kChunkBytes, file.size() - at));
      if (!parser.Feed(chunk, sink).ok()) state.SkipWithError("rejected");
    }
    if (!parser.Finish(sink).ok() || parser.error_count() != 0) state.SkipWithError("errors");
    benchmark::DoNotOptimize(sink.count_sum());
    benchmark::DoNotOptimize(sink.name_bytes());
    rows = parser.rows_read();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(file.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * rows);
  state.counters["file_MB"] = static_cast<double>(file.size()) / 1e6;
}

// Typical file: `Store Name,Item Name With Spaces,1234`, ~20% of lines with a quoted item.
void BM_ReadCsv(benchmark::State& state) { ReadFile(state, File(state.range(0), false)); }
BENCHMARK(BM_ReadCsv)->Arg(1000000)->Unit(benchmark::kMillisecond);

// Quote-heavy file: every store and item field quoted, as some spreadsheet exports write.
void BM_ReadCsvQuoted(benchmark::State& state) { ReadFile(state, File(state.range(0), true)); }
BENCHMARK(BM_ReadCsvQuoted)->Arg(1000000)->Unit(benchmark::kMillisecond);

// Generator speed, for the load benchmarks that build their input with it.
void BM_GenerateInventoryCsv(benchmark::State& state) {
  bench::GenOptions options;
  options.rows = state.range(0);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    bench::GenerateInventoryCsv(options, out);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_GenerateInventoryCsv)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace stockwatch
