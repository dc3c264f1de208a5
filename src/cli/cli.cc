#include "cli/cli.h"

#include <string_view>

#include "cli/commands.h"
#include "lambda/runtime_loop.h"

namespace stockwatch::cli {
namespace {

bool IsLambdaBootstrap(std::string_view argv0) {
  const size_t slash = argv0.rfind('/');
  return argv0.substr(slash == std::string_view::npos ? 0 : slash + 1) == "bootstrap";
}

}  // namespace

int Main(int argc, char** argv) {
  // Lambda starts a custom runtime as /var/task/bootstrap without arguments: that name runs
  // `stockwatch lambda` directly, before any command-line set-up (cold start).
  if (argc == 1 && IsLambdaBootstrap(argv[0])) return lambda::RunBootstrap();
  CLI::App app{
      "stockwatch: inventory tracking and out-of-stock alerts.\n"
      "Inventory files (store,item,count) are loaded into a table whose change stream a\n"
      "stock checker watches, publishing alerts to subscribers by webhook and email.",
      "stockwatch"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "stockwatch 0.1.0");
  AddServeCommand(app);
  AddCheckCommand(app);
  AddClientCommands(app);
  AddUsersCommand(app);
  AddLambdaCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    // CLI11 gives 0 for --help; other parse errors are usage errors.
    return code == 0 || e.get_name() == "RuntimeError" ? code : kExitUsage;
  }
  return kExitOk;
}

}  // namespace stockwatch::cli
