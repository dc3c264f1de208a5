// `stockwatch users`: local accounts, managed on the data directory's database directly
// (no server needed, so the first admin can be made before the first start). The user
// store keeps no state in memory, so this is safe while `stockwatch serve` runs on the same
// directory: SQLite's locking orders the writes.
#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "base/config.h"
#include "base/status.h"
#include "cli/commands.h"
#include "core/auth/password.h"

namespace stockwatch::cli {
namespace {

struct UsersFlags {
  std::string config_file;
  std::map<std::string, std::string> overrides;  // "section.key" -> value
  std::string name;
  std::string role;
  std::string stores;  // comma-separated
  bool password_stdin = false;
  std::string format = "text";
};

absl::StatusOr<std::unique_ptr<adapters::SqliteUserStore>> OpenUsers(
    const UsersFlags& flags, std::shared_ptr<adapters::SqliteDatabase>* db) {
  SW_ASSIGN_OR_RETURN(
      base::Config config,
      base::Config::Load(flags.config_file, base::Config::ProcessEnvironment(), flags.overrides));
  const std::string data_dir = config.GetString("server.data_dir");
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return absl::UnavailableError("cannot create " + data_dir + ": " + ec.message());
  // As `serve` leaves it: the data directory holds password hashes, owner only.
  ::chmod(data_dir.c_str(), 0700);
  SW_ASSIGN_OR_RETURN(*db, adapters::SqliteDatabase::Open(data_dir));
  return adapters::SqliteUserStore::Open(*db);
}

// One line of `in` without its line ending.
std::string ReadLine(std::istream& in) {
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Prompts on the terminal with echo off. kFailedPrecondition when there is no terminal.
absl::StatusOr<std::string> PromptPassword(const char* prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) {
    return absl::FailedPreconditionError(
        "no terminal to ask for the password on; use "
        "--password-stdin");
  }
  const int fd = fileno(tty);
  termios saved;
  const bool have_termios = tcgetattr(fd, &saved) == 0;
  if (have_termios) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::fputs(prompt, tty);
  std::fflush(tty);
  std::string line;
  int c;
  while ((c = std::fgetc(tty)) != EOF && c != '\n') line.push_back(static_cast<char>(c));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (have_termios) tcsetattr(fd, TCSAFLUSH, &saved);
  std::fclose(tty);
  return line;
}

absl::StatusOr<std::string> ReadNewPassword(bool from_stdin) {
  std::string password;
  if (from_stdin) {
    password = ReadLine(std::cin);
  } else {
    SW_ASSIGN_OR_RETURN(password, PromptPassword("Password: "));
    SW_ASSIGN_OR_RETURN(std::string again, PromptPassword("Password again: "));
    const bool same = password == again;
    sodium_memzero(again.data(), again.size());
    if (!same) return absl::InvalidArgumentError("the passwords differ");
  }
  SW_RETURN_IF_ERROR(core::CheckPasswordRules(password));
  return password;
}

std::vector<std::string> SplitStores(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string store;
  while (std::getline(in, store, ',')) {
    if (!store.empty()) out.push_back(store);
  }
  return out;
}

absl::Status AddUser(const UsersFlags& flags) {
  const std::optional<core::Role> role = core::ParseRole(flags.role);
  if (!role) return absl::InvalidArgumentError("--role must be admin, manager or viewer");
  core::User user;
  user.name = flags.name;
  user.role = *role;
  if (!flags.stores.empty()) {
    user.scope.all_stores = false;
    user.scope.stores = SplitStores(flags.stores);
  }
  // Check everything but the password before asking for it.
  SW_RETURN_IF_ERROR(core::CheckUserName(user.name));
  SW_RETURN_IF_ERROR(core::CanonicalScopeForRole(user.role, user.scope).status());
  std::shared_ptr<adapters::SqliteDatabase> db;
  SW_ASSIGN_OR_RETURN(auto users, OpenUsers(flags, &db));
  if (users->GetUser(user.name).ok()) {
    return absl::AlreadyExistsError("user \"" + user.name + "\" already exists");
  }
  SW_ASSIGN_OR_RETURN(std::string password, ReadNewPassword(flags.password_stdin));
  SW_ASSIGN_OR_RETURN(core::PasswordHasher hasher, core::PasswordHasher::Create());
  auto hash = hasher.Hash(password);
  sodium_memzero(password.data(), password.size());
  if (!hash.ok()) return hash.status();
  user.password_hash = *std::move(hash);
  user.created_at = std::chrono::system_clock::now();
  SW_ASSIGN_OR_RETURN(core::User added, users->AddUser(user));
  std::cout << "added user " << added.name << " (" << core::RoleName(added.role) << ")"
            << std::endl;
  return absl::OkStatus();
}

std::string StoresText(const core::User& user) {
  if (user.scope.all_stores) return "*";
  std::string out;
  for (const std::string& store : user.scope.stores) {
    if (!out.empty()) out += ",";
    out += store;
  }
  return out;
}

std::string TimeText(core::TimePoint at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

absl::Status ListUsers(const UsersFlags& flags) {
  std::shared_ptr<adapters::SqliteDatabase> db;
  SW_ASSIGN_OR_RETURN(auto users, OpenUsers(flags, &db));
  SW_ASSIGN_OR_RETURN(std::vector<core::User> all, users->ListUsers());
  if (flags.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const core::User& user : all) {
      nlohmann::json stores = nullptr;
      if (!user.scope.all_stores) stores = user.scope.stores;
      out.push_back({{"name", user.name},
                     {"role", std::string(core::RoleName(user.role))},
                     {"stores", stores},
                     {"disabled", user.disabled},
                     {"created_at", TimeText(user.created_at)}});
    }
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::printf("%-24s %-8s %-9s %-20s %s\n", "NAME", "ROLE", "DISABLED", "CREATED", "STORES");
  for (const core::User& user : all) {
    std::printf("%-24s %-8s %-9s %-20s %s\n", user.name.c_str(),
                std::string(core::RoleName(user.role)).c_str(), user.disabled ? "yes" : "no",
                TimeText(user.created_at).c_str(), StoresText(user).c_str());
  }
  return absl::OkStatus();
}

void Run(const char* what, absl::Status status) {
  if (status.ok()) return;
  std::fprintf(stderr, "stockwatch users %s: %s\n", what, std::string(status.message()).c_str());
  throw CLI::RuntimeError(kExitFailure);
}

}  // namespace

void AddUsersCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "users", "Manage local accounts on the data directory (add, list); needs no server");
  cmd->require_subcommand(1);
  const auto common = [](CLI::App* sub, const std::shared_ptr<UsersFlags>& flags) {
    sub->add_option("--config", flags->config_file, "TOML config file (see config/)");
    sub->add_option_function<std::string>(
        "--data", [flags](const std::string& v) { flags->overrides["server.data_dir"] = v; },
        "Data directory (server.data_dir, default ./data)");
  };

  auto add_flags = std::make_shared<UsersFlags>();
  CLI::App* add = cmd->add_subcommand(
      "add", "Add an account; asks for its password twice (or reads one line of stdin)");
  common(add, add_flags);
  add->add_option("NAME", add_flags->name, "User name: 1-64 of A-Z a-z 0-9 . _ @ -")->required();
  add->add_option("--role", add_flags->role, "admin, manager or viewer")
      ->required()
      ->check(CLI::IsMember({"admin", "manager", "viewer"}));
  add->add_option("--stores", add_flags->stores,
                  "Comma-separated stores a manager is scoped to (managers only)");
  add->add_flag("--password-stdin", add_flags->password_stdin,
                "Read the password from the first line of stdin instead of prompting");
  add->callback([add_flags] { Run("add", AddUser(*add_flags)); });

  auto list_flags = std::make_shared<UsersFlags>();
  CLI::App* list = cmd->add_subcommand("list", "List accounts (never their password hashes)");
  common(list, list_flags);
  list->add_option("--format", list_flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  list->callback([list_flags] { Run("list", ListUsers(*list_flags)); });
}

}  // namespace stockwatch::cli
