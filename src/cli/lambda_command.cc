// `stockwatch lambda`: the AWS Lambda custom runtime's bootstrap (the Runtime API loop,
// lambda/runtime_loop.h), or with --invoke one local invocation of a handler on an event
// file, printing its JSON result.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "lambda/handlers.h"
#include "lambda/runtime_loop.h"

namespace stockwatch::cli {
namespace {

struct LambdaFlags {
  std::string invoke;
  std::string event_file;
};

int RunInvoke(const LambdaFlags& flags) {
  std::ifstream in(flags.event_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "stockwatch: cannot open %s\n", flags.event_file.c_str());
    return kExitUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json event = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded()) {
    std::fprintf(stderr, "stockwatch: %s is not JSON\n", flags.event_file.c_str());
    return kExitUsage;
  }
  auto handler = lambda::MakeHandler(flags.invoke);
  if (!handler.ok()) {
    std::fprintf(stderr, "stockwatch: %s\n", std::string(handler.status().message()).c_str());
    return absl::IsNotFound(handler.status()) ? kExitUsage : kExitFailure;
  }
  lambda::InvocationContext context;
  context.request_id = "local";
  auto result = (*handler)->Invoke(event, context);
  if (!result.ok()) {
    std::cout << lambda::ErrorBody(lambda::ErrorTypeFor(result.status()),
                                   std::string(result.status().message()))
              << "\n";
    return kExitFailure;
  }
  std::cout << result->dump(2) << "\n";
  return kExitOk;
}

}  // namespace

void AddLambdaCommand(CLI::App& app) {
  auto flags = std::make_shared<LambdaFlags>();
  CLI::App* cmd = app.add_subcommand(
      "lambda",
      "AWS Lambda custom runtime bootstrap: serves the handler named by _HANDLER\n"
      "(load-inventory, check-stock, api) from AWS_LAMBDA_RUNTIME_API. With --invoke, runs\n"
      "one handler locally on an event file and prints its JSON result.");
  cmd->add_option("--invoke", flags->invoke, "handler to run once: load-inventory|check-stock|api");
  cmd->add_option("--event", flags->event_file, "event JSON file for --invoke")
      ->check(CLI::ExistingFile);
  cmd->callback([flags] {
    if (flags->invoke.empty() != flags->event_file.empty()) {
      std::fprintf(stderr, "stockwatch: --invoke and --event go together\n");
      throw CLI::RuntimeError(kExitUsage);
    }
    const int code = flags->invoke.empty() ? lambda::RunBootstrap() : RunInvoke(*flags);
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
}

}  // namespace stockwatch::cli
