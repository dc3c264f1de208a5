// stockwatch_gen_inventory: writes a generated inventory CSV file (see inventory_gen.h).
//   stockwatch_gen_inventory --rows 1000000 --seed 42 -o inventory.csv
//   stockwatch_gen_inventory --rows 1000000 --seed 42 --changed-fraction 0.01 -o refresh.csv
// The file is written in 1 MiB blocks, so a multi-gigabyte file needs little memory.
#include <cstdio>
#include <exception>
#include <string>

#include "CLI/CLI.hpp"
#include "bench/inventory_gen.h"

int main(int argc, char** argv) {
  stockwatch::bench::GenOptions options;
  std::string output = "-";
  CLI::App app{"Generate a realistic inventory CSV file"};
  app.add_option("--rows", options.rows, "data rows")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stores", options.stores, "distinct stores")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--items", options.items, "catalogue size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", options.seed, "seed for names and counts")->capture_default_str();
  app.add_option("--zero-fraction", options.zero_fraction, "fraction of counts that are 0")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--changed-fraction", options.changed_fraction,
                 "fraction of counts changed from the same file with 0 (a refresh)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--quote-all", options.quote_all, "quote every store and item field");
  app.add_option("-o,--output", output, "output file, - for stdout")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    std::FILE* file = output == "-" ? stdout : std::fopen(output.c_str(), "wb");
    if (file == nullptr) {
      std::perror(output.c_str());
      return 1;
    }
    stockwatch::bench::InventoryCsvGenerator gen(options);
    std::string block;
    block.reserve(1 << 21);
    while (!gen.done()) {
      block.clear();
      gen.AppendChunk(1 << 20, block);
      if (std::fwrite(block.data(), 1, block.size(), file) != block.size()) {
        std::perror(output.c_str());
        return 1;
      }
    }
    if ((file != stdout && std::fclose(file) != 0) || (file == stdout && std::fflush(file) != 0)) {
      std::perror(output.c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stockwatch_gen_inventory: %s\n", e.what());
    return 1;
  }
  return 0;
}
