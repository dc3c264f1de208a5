// Registration of each subcommand group on the CLI11 app. A command reports failure by
// throwing CLI::RuntimeError(exit_code) after printing its message to stderr.
#pragma once

#include <CLI/CLI.hpp>

namespace stockwatch::cli {

// serve: the whole pipeline, the HTTP API and the dashboard in one process.
void AddServeCommand(CLI::App& app);
// check FILE...: validate inventory files locally and print their reports.
void AddCheckCommand(CLI::App& app);
// upload, inventory, stores, uploads, alerts, subscribe, subscriptions, unsubscribe,
// thresholds, deliveries: clients of a running server's HTTP API.
void AddClientCommands(CLI::App& app);
// users add, users list: local accounts, on the data directory's database directly.
void AddUsersCommand(CLI::App& app);
// lambda [--invoke HANDLER --event FILE]: the AWS Lambda custom runtime (src/lambda/).
void AddLambdaCommand(CLI::App& app);

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // a request failed, a file was rejected
inline constexpr int kExitUsage = 2;        // bad flags or arguments
inline constexpr int kExitUnavailable = 3;  // the server could not be reached

}  // namespace stockwatch::cli
