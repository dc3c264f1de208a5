// The `stockwatch` command line: serve, upload, check, inventory, stores, subscribe, ...
#pragma once

namespace stockwatch::cli {

// Parses `argv` and runs the chosen subcommand. Returns the process exit status.
int Main(int argc, char** argv);

}  // namespace stockwatch::cli
