#include <cstdio>
#include <exception>

#include "cli/cli.h"

int main(int argc, char** argv) {
  try {
    return stockwatch::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stockwatch: internal error: %s\n", e.what());
    return 70;
  }
}
