#include "cli/cli.h"

#include "cli/commands.h"

namespace stockwatch::cli {

int Main(int argc, char** argv) {
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
