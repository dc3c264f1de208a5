// `stockwatch check FILE...`: validates files locally with the same reader and loading
// rules as the server (a real Loader over in-memory adapters, i.e. a load into an empty
// table), prints each report and loads nothing.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "adapters/memory/in_memory_inventory_store.h"
#include "adapters/memory/in_memory_object_store.h"
#include "cli/commands.h"
#include "cli/report_text.h"
#include "core/loader/loader.h"
#include "core/model/json.h"

namespace stockwatch::cli {
namespace {

struct CheckFlags {
  std::vector<std::string> files;
  std::string on_bad_row = "skip";
  std::string format = "text";
};

// Copies `path` into the object store in 1 MiB pieces, as an upload would.
absl::StatusOr<core::ObjectCreatedEvent> Stage(core::ObjectStore& objects,
                                               const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + path);
  const std::string name = std::filesystem::path(path).filename().string();
  auto writer = objects.BeginPut("inventory", name, "local");
  if (!writer.ok()) return writer.status();
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    if (absl::Status st = (*writer)->Write(std::string_view(buf.data(), n)); !st.ok()) return st;
  }
  if (in.bad()) return absl::DataLossError("cannot read " + path);
  return (*writer)->Commit();
}

int RunCheck(const CheckFlags& flags) {
  int exit_code = kExitOk;
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& path : flags.files) {
    // A fresh empty table per file: each report stands alone, as for a first upload.
    core::SystemClock clock;
    adapters::InMemoryObjectStore objects(clock);
    adapters::InMemoryInventoryStore inventory;
    core::LoaderOptions options;
    options.bad_row_policy =
        flags.on_bad_row == "reject" ? core::BadRowPolicy::kReject : core::BadRowPolicy::kSkip;
    core::Loader loader(objects, inventory, clock, options);
    auto event = Stage(objects, path);
    if (!event.ok()) {
      std::fprintf(stderr, "stockwatch: %s\n", std::string(event.status().message()).c_str());
      exit_code = kExitFailure;
      continue;
    }
    auto report = loader.Load(*event);
    if (!report.ok()) {
      std::fprintf(stderr, "stockwatch: %s: %s\n", path.c_str(),
                   std::string(report.status().message()).c_str());
      exit_code = kExitFailure;
      continue;
    }
    // Any bad row fails the check, even where the server would skip it and load the rest.
    if (report->status != core::LoadStatus::kLoaded || report->error_count > 0) {
      exit_code = kExitFailure;
    }
    nlohmann::json j = core::ToJson(*report);
    if (flags.format == "json") {
      j["file"] = path;
      all.push_back(std::move(j));
    } else {
      std::cout << ReportText(path, j);
    }
  }
  if (flags.format == "json") std::cout << all.dump(2) << "\n";
  return exit_code;
}

}  // namespace

void AddCheckCommand(CLI::App& app) {
  auto flags = std::make_shared<CheckFlags>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Validate inventory files locally and print their load reports; loads nothing");
  cmd->add_option("FILE", flags->files, "Inventory CSV files")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--on-bad-row", flags->on_bad_row, "skip (default) or reject")
      ->check(CLI::IsMember({"skip", "reject"}));
  cmd->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback([flags] {
    const int code = RunCheck(*flags);
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
}

}  // namespace stockwatch::cli
