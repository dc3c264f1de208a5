// Generates realistic inventory CSV files (the upload format read by InventoryCsvParser)
// for benchmarks, load tests and demos. Output depends only on the options, so two runs
// with the same options give the same bytes, and a "refresh" (changed_fraction > 0) of a
// file differs from it only in the counts of the changed rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stockwatch::bench {

struct GenOptions {
  // Data rows to write, after the header line "store,item,count". Default 1,000,000.
  int64_t rows = 1000000;
  // Number of stores (city-like names; some contain commas, quotes or non-ASCII letters and
  // need CSV quoting). Default 300.
  int stores = 300;
  // Size of the item catalogue ("Echo Dot (3rd Gen)", `Cable 2m, "braided"`). Default 3400.
  int items = 3400;
  // Seed for names and counts. Default 42.
  uint64_t seed = 42;
  // Fraction of rows whose count is 0 (out of stock). Default 0.01.
  double zero_fraction = 0.01;
  // Fraction of rows whose count differs from the file generated with 0 here and the same
  // other options: a "refresh" of that file. Some changes go to or from 0. Default 0.
  double changed_fraction = 0.0;
  // Quote every store and item field, as some spreadsheet exports do. Default false.
  bool quote_all = false;
};

// Rows are the pairs (store s, item i) in order s = 0.., i = 0..items-1, so every row is a
// distinct (store, item) pair. If rows > stores * items, further stores are made up (the
// names get a " 2", " 3"... suffix) so pairs stay distinct. Lines end with LF.

// Appends the whole file to `out`. REQUIRES: rows >= 0, stores >= 1, items >= 1.
void GenerateInventoryCsv(const GenOptions& options, std::string& out);

// Writes the same file in pieces, for files too big to hold in memory:
//   InventoryCsvGenerator gen(options);
//   std::string buf;
//   while (!gen.done()) { buf.clear(); gen.AppendChunk(1 << 20, buf); Write(buf); }
// Not thread-safe.
class InventoryCsvGenerator {
 public:
  // REQUIRES: rows >= 0, stores >= 1, items >= 1.
  explicit InventoryCsvGenerator(const GenOptions& options);

  // Appends the next whole lines to `out`, at least `min_bytes` of them unless the file
  // ends first. Appends nothing once done().
  void AppendChunk(size_t min_bytes, std::string& out);
  // True once the whole file has been appended.
  bool done() const { return next_row_ >= options_.rows && header_written_; }

  // The count written for data row `row` (0-based). REQUIRES: 0 <= row < rows.
  int64_t CountAt(int64_t row) const;
  // Unquoted names of the store and item of data row `row`.
  std::string StoreAt(int64_t row) const;
  const std::string& ItemAt(int64_t row) const;

 private:
  GenOptions options_;
  std::vector<std::string> store_names_;   // unquoted
  std::vector<std::string> store_fields_;  // as written in the file (quoted if needed)
  std::vector<std::string> item_names_;
  std::vector<std::string> item_fields_;
  int64_t next_row_ = 0;
  bool header_written_ = false;
};

// The store and item catalogues used by the generator, unquoted, all distinct.
std::vector<std::string> GenerateStoreNames(int count, uint64_t seed);
std::vector<std::string> GenerateItemNames(int count, uint64_t seed);

}  // namespace stockwatch::bench
