// The client subcommands: each one talks to a running server over the HTTP API of
// docs/API.md. What they print is meant to be stable, for people and for scripts:
//
// Every command takes
//   --server URL  default $STOCKWATCH_SERVER, else http://127.0.0.1:8080
//   --token T     default $STOCKWATCH_TOKEN; neither -> "no API token: ..." and exit 2.
// The token is sent as a bearer token and never printed.
//
// stockwatch upload FILE... [--name NAME] [--no-wait] [--wait-timeout S] [--format text|json]
//   PUTs each file in turn to /api/v1/uploads/{name} (name = --name, allowed with one FILE
//   only, else the file's base name), streamed from disk. On a terminal, files of 1 MiB and
//   more show a progress bar on stderr. Per file, on stdout:
//     uploaded NAME as upload ID (SIZE bytes, sha256 HEX)
//   then, unless --no-wait, once the server has loaded it (polling ?wait=30 for at most
//   --wait-timeout seconds, default 600), the report of `check` (cli/report_text.h):
//     NAME: loaded: 6 rows read, 6 loaded, 0 unchanged, 0 rejected (12 ms)
//       NAME:3:14: count is empty                 <- each error, indented
//       warning: NAME:2:1: ...                     <- each warning
//       ignored columns: price, note
//   or "NAME: rejected: <reason>" and its errors, or "NAME: pending after S s (see
//   `stockwatch uploads --id ID`)" when the wait ran out. A file the server refuses
//   (400 bad file, 401, 413, ...) gives on stderr
//     stockwatch: NAME: refused: <error.message> (HTTP 400)
//       <each of error.details other than the message>
//   and the next file is sent. --format json prints, instead of the text, one JSON array of
//   the final upload objects (docs/API.md, plus "file": the local path); a refused file
//   appears as {"file","name","status":"refused","error":{code,message,details}} and a file
//   that could not be read as {"file","name","status":"failed","error":{"message"}}. The
//   array is printed even when the server becomes unreachable midway.
//   Exit 0 when every file was loaded (rows skipped under the default bad-row policy count as
//   loaded; their errors are printed), or, with --no-wait, accepted; 1 when any was refused,
//   rejected, unreadable or still pending; 3 when the server cannot be reached.
//
// stockwatch inventory [--store S] [--item-prefix P] [--max-count N] [--limit N]
//                      [--format table|csv|json]
//   Follows next_cursor through every page (--limit items per request, default 1000) and
//   prints as it goes:
//     table: STORE  ITEM  COUNT  UPDATED, widths fitted to the first page (at most 40
//            characters; longer values end in "…"), COUNT right-aligned;
//     csv:   "store,item,count,updated_at" and one RFC 4180 record per item, CRLF line ends;
//            a value starting with = + - @ TAB or CR gets a leading ' (formula injection);
//     json:  one document {"items":[...]} with one item per line.
// stockwatch stores [--format table|json]      STORE  ITEMS  OUT_OF_STOCK  LAST_UPDATED
// stockwatch uploads [--limit N] [--format table|json]
//   newest first: ID  NAME  STATUS  SIZE  ROWS  LOADED  ERRORS  UPLOADER  CREATED
// stockwatch uploads --id ID [--format text|json]
//   "upload ID: NAME (SIZE bytes, sha256 HEX) by UPLOADER at TIME" then the report as above
//   (or "NAME: pending").
// stockwatch alerts [--topic T] [--limit N] [--format table|json]
//   newest first: TIME  TOPIC  STORE  ITEM  OLD  NEW  SUBJECT
// stockwatch subscribe --topic T [--protocol webhook|email] ENDPOINT [--format text|json]
//   ENDPOINT is mailto:ADDRESS or an http(s):// URL; prints
//     subscribed ENDPOINT to TOPIC (subscription ID, confirmed|pending_confirmation)
//   then, for a webhook, "signing secret (shown once; ...): HEX" (the only time it is shown),
//   and a note on the confirmation message when pending. --confirmed: an admin vouches
//   for the endpoint; it starts confirmed.
// stockwatch subscriptions [--format table|json]  ID  TOPIC  PROTOCOL  CREATED  ENDPOINT
//   [--digest immediate|per-upload|Nm|Nh|"daily HH:MM Zone"] [--quiet-hours HH:MM-HH:MM]
//   [--timezone ZONE]: invalid values are usage errors naming the flag.
// stockwatch subscriptions update ID [--digest D] [--quiet-hours H|--no-quiet-hours]
//     [--timezone Z] [--filter-policy JSON|--no-filter-policy] [--format text|json]
//   (admin) changes only what is given; prints
//     updated subscription ID: digest D, quiet hours H (ZONE), filter JSON   ("-" for none)
// stockwatch unsubscribe ID                       prints "unsubscribed subscription ID"
// stockwatch sms opt-out NUMBER | opt-in NUMBER    prints "NUMBER opted out"/"opted in"
// stockwatch sms opt-outs [--format table|json]   NUMBER  SINCE
// stockwatch topics [list] [--format table|json]  TOPIC  URGENT  RULES  FILTER
//   RULES: the rules that publish to the topic, comma-separated; FILTER: its filter policy
//   ("-" for none).
// stockwatch topics set-urgent TOPIC true|false   prints "topic T is urgent ..."/"not urgent"
// stockwatch topics create NAME --rules NoStock,LowStock [--filter-policy JSON]
//   prints "created topic NAME (rules: LowStock,NoStock; filter: -)"
// stockwatch topics delete NAME                   prints "deleted topic NAME"
// stockwatch thresholds [list] [--format table|json]   STORE  ITEM  VALUE ("*" = any)
// stockwatch thresholds set [--store S] [--item I] VALUE [--format text|json]
//   VALUE is a whole number, or "none" to remove the threshold; prints
//     threshold store=S item=I set to VALUE    or    threshold store=S item=I removed
//   with "*" for a store or item not given.
// stockwatch templates [list] [--format table|json]   TOPIC  PROTOCOL ("*" = any)  SUBJECT  BODY
// stockwatch templates set TOPIC [--protocol P] --subject S --body B
//   prints "templates of TOPIC for P set" ("any protocol" without --protocol)
// stockwatch templates reset TOPIC [--protocol P]  prints "templates of TOPIC for P reset"
// stockwatch templates preview TOPIC [--protocol P] [--subject S] [--body B]
//   prints "Subject: ...", a blank line and the body, rendered with sample values
// stockwatch deliveries [list] [--failed | --state pending|delivered|failed] [--limit N]
// stockwatch deliveries show ID [--format text|json]   the delivery and its failed attempts
// stockwatch deliveries redrive ID|--all               prints "redriven N deliveries"
//                       [--format table|json]
//   ID  STATE  ATTEMPTS  TOPIC  ENDPOINT  UPDATED  LAST_ERROR
//
// In tables a missing or null value shows as "-" and control characters as "?"; every
// --format json (but upload's and inventory's) prints the server's document, indented by
// two spaces. Table and text output goes to stdout, messages to stderr.
// Errors: an HTTP error answer prints "stockwatch: <error.message> (HTTP <status>)" and its
// details, exit 1; a server that cannot be reached prints "stockwatch: cannot reach
// <server>: <reason>" (or "request to <server> failed: <reason>" when a transfer breaks),
// exit 3; bad flags exit 2.
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "cli/api_client.h"
#include "cli/client_output.h"
#include "cli/commands.h"
#include "cli/report_text.h"
#include "core/delivery/schedule.h"
#include "nlohmann/json.hpp"

namespace stockwatch::cli {
namespace {

using nlohmann::json;

constexpr char kDefaultServer[] = "http://127.0.0.1:8080";
// Uploads at least this large get a progress bar (when stderr is a terminal).
constexpr uint64_t kProgressMinBytes = uint64_t{1} << 20;
// Longest wait asked of the server per poll of an upload's status.
constexpr int kMaxPollSeconds = 30;
// Longest page the API serves.
constexpr int kMaxPageSize = 10000;

struct ConnectionFlags {
  std::string server = kDefaultServer;
  std::string token;
};

void AddConnectionFlags(CLI::App& cmd, ConnectionFlags& flags) {
  cmd.add_option("--server", flags.server,
                 "Server URL (default $STOCKWATCH_SERVER, else http://127.0.0.1:8080)")
      ->envname("STOCKWATCH_SERVER");
  cmd.add_option("--token", flags.token, "API token (default $STOCKWATCH_TOKEN)")
      ->envname("STOCKWATCH_TOKEN");
}

// Prints "stockwatch: <message>" on stderr and ends the command with `exit_code`.
[[noreturn]] void Fail(int exit_code, std::string_view message) {
  std::fflush(stdout);
  fmt::print(stderr, "stockwatch: {}\n", SanitizeLine(message));
  throw CLI::RuntimeError(exit_code);
}

// A transport failure: exit 3 when the server could not be reached or the transfer broke.
[[noreturn]] void FailTransport(const absl::Status& status) {
  Fail(status.code() == absl::StatusCode::kUnavailable ? kExitUnavailable : kExitFailure,
       std::string(status.message()));
}

[[noreturn]] void FailHttp(const HttpResponse& response) {
  std::fflush(stdout);
  fmt::print(stderr, "stockwatch: {}", FormatApiError(ParseApiError(response)));
  throw CLI::RuntimeError(kExitFailure);
}

ApiClient Connect(const ConnectionFlags& flags) {
  if (!IsHttpUrl(flags.server)) {
    Fail(kExitUsage, fmt::format("--server must be an http:// or https:// URL, not \"{}\"",
                                 RedactUrl(flags.server)));
  }
  if (flags.token.empty()) Fail(kExitUsage, "no API token: pass --token or set STOCKWATCH_TOKEN");
  for (const char c : flags.token) {
    // The token goes into a header line: no spaces, controls or line breaks.
    if (c <= ' ' || c == '\x7F') {
      Fail(kExitUsage, "the API token must not contain spaces or control characters");
    }
  }
  ApiClientOptions options;
  options.server = flags.server;
  options.token = flags.token;
  return ApiClient(std::move(options));
}

// Parses the body of a 2xx answer; prints the error and ends the command otherwise.
json ExpectJson(const absl::StatusOr<HttpResponse>& response) {
  if (!response.ok()) FailTransport(response.status());
  if (response->status < 200 || response->status >= 300) FailHttp(*response);
  if (response->body.empty()) return json::object();
  json doc = json::parse(response->body, nullptr, false);
  if (doc.is_discarded()) {
    Fail(kExitFailure, fmt::format("the server's answer is not JSON (HTTP {})", response->status));
  }
  return doc;
}

std::string Dump(const json& doc) {
  return doc.dump(2, ' ', false, json::error_handler_t::replace);
}

void PrintJson(const json& doc) { fmt::print("{}\n", Dump(doc)); }

// `doc[key]` when it is an array, else an empty array: a listing with no rows.
const json& ArrayField(const json& doc, std::string_view key) {
  static const json empty_array = json::array();
  if (!doc.is_object()) return empty_array;
  const auto it = doc.find(key);
  return it != doc.end() && it->is_array() ? *it : empty_array;
}

// `doc[key]` when it is an object, else an empty object.
const json& ObjectField(const json& doc, std::string_view key) {
  static const json empty_object = json::object();
  if (!doc.is_object()) return empty_object;
  const auto it = doc.find(key);
  return it != doc.end() && it->is_object() ? *it : empty_object;
}

std::string StringField(const json& doc, std::string_view key, std::string fallback) {
  if (doc.is_object()) {
    const auto it = doc.find(key);
    if (it != doc.end() && it->is_string()) return it->get<std::string>();
  }
  return fallback;
}

// Runs `body`, turning a surprise in the server's JSON (a field of the wrong type) into a
// failure of the command instead of an internal error of the process.
std::function<void()> Guarded(std::function<void()> body) {
  return [body = std::move(body)] {
    try {
      body();
    } catch (const json::exception& e) {
      Fail(kExitFailure, fmt::format("unexpected answer from the server: {}", e.what()));
    }
  };
}

void PrintTable(std::vector<Column> columns, const std::vector<std::vector<std::string>>& rows) {
  fmt::print("{}", RenderTable(std::move(columns), rows));
}

// ---------------------------------------------------------------------------------------
// upload

// Width of the terminal on stderr, for the progress bar.
size_t TerminalWidth() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

// The progress bar of one upload, redrawn on stderr at most ten times a second. Draws nothing
// unless enabled.
class ProgressBar {
 public:
  ProgressBar(std::string name, bool enabled)
      : name_(std::move(name)),
        enabled_(enabled),
        width_(enabled ? TerminalWidth() : 80),
        start_(std::chrono::steady_clock::now()) {}

  void Update(uint64_t sent, uint64_t total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    Draw(sent, total, now);
  }

  // Ends the line of the bar, first drawing it full when the upload completed.
  void Finish(bool completed, uint64_t total) {
    if (!enabled_) return;
    if (completed) Draw(total, total, std::chrono::steady_clock::now());
    if (!drawn_) return;
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  void Draw(uint64_t sent, uint64_t total, std::chrono::steady_clock::time_point now) {
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0.001 ? static_cast<double>(sent) / seconds : 0.0;
    // "\x1b[K" clears what a longer earlier line left to the right.
    fmt::print(stderr, "\r{}\x1b[K", RenderProgressBar(name_, sent, total, rate, width_));
    std::fflush(stderr);
    drawn_ = true;
  }

  const std::string name_;
  const bool enabled_;
  const size_t width_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

struct UploadFlags {
  ConnectionFlags connection;
  std::vector<std::string> files;
  std::string name;  // empty: each file's base name
  bool no_wait = false;
  int wait_timeout_seconds = 600;
  std::string format = "text";
};

enum class UploadOutcome { kOk, kFailed };

// Polls the upload until it is no longer pending or `timeout` has passed and returns the last
// upload document seen. An HTTP error answer is put in `http_error` (and null returned);
// kUnavailable when the server cannot be reached, kInternal when its answer is not JSON.
absl::StatusOr<json> WaitForLoad(ApiClient& client, int64_t id, std::chrono::seconds timeout,
                                 std::optional<HttpResponse>& http_error) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout;
  const std::string path = "/api/v1/uploads/" + std::to_string(id);
  while (true) {
    const auto remaining = std::chrono::ceil<std::chrono::seconds>(deadline - Clock::now()).count();
    const int64_t wait = std::clamp<int64_t>(remaining, 0, kMaxPollSeconds);
    const Clock::time_point asked = Clock::now();
    auto response = client.Get(WithQuery(path, {{"wait", std::to_string(wait)}}),
                               std::chrono::seconds(wait + 30));
    if (!response.ok()) return response.status();
    if (response->status != 200) {
      http_error = std::move(*response);
      return json();
    }
    json upload = json::parse(response->body, nullptr, false);
    if (upload.is_discarded() || !upload.is_object()) {
      return absl::InternalError(
          fmt::format("the server's answer about upload {} is not a JSON object", id));
    }
    if (StringField(upload, "status", "pending") != "pending" || Clock::now() >= deadline) {
      return upload;
    }
    // A server that answers at once instead of waiting must not be polled in a tight loop.
    if (wait > 0 && Clock::now() - asked < std::chrono::seconds(1)) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

void RunUpload(const UploadFlags& flags) {
  if (!flags.name.empty() && flags.files.size() != 1) {
    Fail(kExitUsage, "--name needs exactly one FILE");
  }
  ApiClient client = Connect(flags.connection);
  const bool as_json = flags.format == "json";
  const bool tty = isatty(STDERR_FILENO) == 1;
  json results = json::array();
  UploadOutcome outcome = UploadOutcome::kOk;

  // Ends the command for a transport failure, printing the JSON gathered so far first.
  const auto fail_transport = [&](const absl::Status& status) {
    if (as_json) PrintJson(results);
    FailTransport(status);
  };

  for (const std::string& path : flags.files) {
    const std::string name =
        flags.name.empty() ? std::filesystem::path(path).filename().string() : flags.name;
    std::error_code ec;
    const uint64_t size_hint = std::filesystem::file_size(path, ec);
    ProgressBar bar(name, tty && !ec && size_hint >= kProgressMinBytes);
    uint64_t total = 0;
    auto response = client.PutFile("/api/v1/uploads/" + UrlEncode(name), path,
                                   [&bar, &total](uint64_t sent, uint64_t file_size) {
                                     total = file_size;
                                     bar.Update(sent, file_size);
                                   });
    bar.Finish(response.ok(), total > 0 ? total : size_hint);
    if (!response.ok()) {
      if (response.status().code() == absl::StatusCode::kUnavailable) {
        fail_transport(response.status());
      }
      // The file could not be read (or the answer was too large): this file failed.
      fmt::print(stderr, "stockwatch: {}\n",
                 SanitizeLine(std::string(response.status().message())));
      results.push_back({{"file", path},
                         {"name", name},
                         {"status", "failed"},
                         {"error", {{"message", std::string(response.status().message())}}}});
      outcome = UploadOutcome::kFailed;
      continue;
    }
    if (response->status < 200 || response->status >= 300) {
      const ApiError error = ParseApiError(*response);
      std::fflush(stdout);
      fmt::print(stderr, "stockwatch: {}: refused: {}", SanitizeLine(name), FormatApiError(error));
      results.push_back(
          {{"file", path},
           {"name", name},
           {"status", "refused"},
           {"error",
            {{"code", error.code}, {"message", error.message}, {"details", error.details}}}});
      outcome = UploadOutcome::kFailed;
      continue;
    }
    json upload = json::parse(response->body, nullptr, false);
    if (!upload.is_object()) {
      Fail(kExitFailure, fmt::format("the server's answer to the upload of {} is not JSON", name));
    }
    const std::string shown_name = StringField(upload, "name", name);
    const int64_t id = upload.value("id", int64_t{0});
    if (!as_json) {
      fmt::print("uploaded {} as upload {} ({} bytes, sha256 {})\n", SanitizeLine(shown_name), id,
                 CellText(upload, "size"), SanitizeLine(CellText(upload, "sha256")));
      std::fflush(stdout);
    }
    if (!flags.no_wait) {
      std::optional<HttpResponse> http_error;
      auto waited =
          WaitForLoad(client, id, std::chrono::seconds(flags.wait_timeout_seconds), http_error);
      if (!waited.ok()) {
        if (waited.status().code() == absl::StatusCode::kUnavailable) {
          fail_transport(waited.status());
        }
        fmt::print(stderr, "stockwatch: {}\n",
                   SanitizeLine(std::string(waited.status().message())));
        outcome = UploadOutcome::kFailed;
      } else if (http_error) {
        std::fflush(stdout);
        fmt::print(stderr, "stockwatch: {}: {}", SanitizeLine(shown_name),
                   FormatApiError(ParseApiError(*http_error)));
        outcome = UploadOutcome::kFailed;
      } else {
        upload = std::move(*waited);
      }
      const std::string status = StringField(upload, "status", "pending");
      if (status != "loaded") outcome = UploadOutcome::kFailed;
      if (!as_json && !http_error && waited.ok()) {
        if (status == "pending") {
          fmt::print("{}: pending after {} s (see `stockwatch uploads --id {}`)\n",
                     SanitizeLine(shown_name), flags.wait_timeout_seconds, id);
        } else {
          json report = ObjectField(upload, "report");
          if (!report.contains("status")) report["status"] = status;
          fmt::print("{}", SanitizeText(ReportText(shown_name, report)));
        }
        std::fflush(stdout);
      }
    }
    upload["file"] = path;
    results.push_back(std::move(upload));
  }
  if (as_json) PrintJson(results);
  if (outcome != UploadOutcome::kOk) throw CLI::RuntimeError(kExitFailure);
}

void AddUploadCommand(CLI::App& app) {
  auto flags = std::make_shared<UploadFlags>();
  CLI::App* cmd = app.add_subcommand(
      "upload", "Upload inventory files to the server and wait for their load reports");
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("FILE", flags->files, "Inventory CSV files")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--name", flags->name, "Name to upload the file as (one FILE only)");
  cmd->add_flag("--no-wait", flags->no_wait, "Do not wait for the load reports");
  cmd->add_option("--wait-timeout", flags->wait_timeout_seconds,
                  "Longest wait for each load report, in seconds (default 600)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback(Guarded([flags] { RunUpload(*flags); }));
}

// ---------------------------------------------------------------------------------------
// inventory

struct InventoryFlags {
  ConnectionFlags connection;
  std::string store;
  std::string item_prefix;
  int64_t max_count = -1;  // -1: no filter
  int limit = 1000;
  std::string format = "table";
};

std::vector<std::string> InventoryRow(const json& item) {
  return {CellText(item, "store"), CellText(item, "item"), CellText(item, "count"),
          CellText(item, "updated_at")};
}

void RunInventory(const InventoryFlags& flags) {
  ApiClient client = Connect(flags.connection);
  Table table({{"STORE"}, {"ITEM"}, {"COUNT", Align::kRight}, {"UPDATED"}});
  std::string cursor;
  bool first_page = true;
  bool first_item = true;
  while (true) {
    const std::string target =
        WithQuery("/api/v1/inventory",
                  {{"store", flags.store},
                   {"item_prefix", flags.item_prefix},
                   {"max_count", flags.max_count >= 0 ? std::to_string(flags.max_count) : ""},
                   {"limit", std::to_string(flags.limit)},
                   {"cursor", cursor}});
    const json page = ExpectJson(client.Get(target));
    const json& items = ArrayField(page, "items");
    std::string out;
    if (flags.format == "table") {
      std::vector<std::vector<std::string>> rows;
      for (const json& item : items) rows.push_back(InventoryRow(item));
      if (first_page) {
        table.Fit(rows);
        out += table.Header();
      }
      for (const auto& row : rows) out += table.Row(row);
    } else if (flags.format == "csv") {
      if (first_page) out += CsvRecord({"store", "item", "count", "updated_at"});
      for (const json& item : items) out += CsvRecord(InventoryRow(item));
    } else {
      if (first_page) out += "{\"items\":[";
      for (const json& item : items) {
        out += first_item ? "\n" : ",\n";
        out += item.dump(-1, ' ', false, json::error_handler_t::replace);
        first_item = false;
      }
    }
    fmt::print("{}", out);
    std::fflush(stdout);
    first_page = false;
    const std::string next = StringField(page, "next_cursor", "");
    if (next.empty()) break;
    if (next == cursor) Fail(kExitFailure, "the server returned the same inventory page twice");
    cursor = next;
  }
  if (flags.format == "json") fmt::print("\n]}}\n");
}

void AddInventoryCommand(CLI::App& app) {
  auto flags = std::make_shared<InventoryFlags>();
  CLI::App* cmd = app.add_subcommand("inventory", "List inventory items, by store and item");
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("--store", flags->store, "Only this store");
  cmd->add_option("--item-prefix", flags->item_prefix, "Only items whose name starts so");
  cmd->add_option("--max-count", flags->max_count, "Only items with a count of at most N")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--limit", flags->limit, "Items fetched per request (default 1000)")
      ->check(CLI::Range(1, kMaxPageSize));
  cmd->add_option("--format", flags->format, "table (default), csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->callback(Guarded([flags] { RunInventory(*flags); }));
}

// ---------------------------------------------------------------------------------------
// Listings: stores, uploads, alerts, subscriptions, deliveries

struct ListFlags {
  ConnectionFlags connection;
  std::string format = "table";
  int limit = 0;  // 0: the server's default
};

std::string LimitParam(int limit) { return limit > 0 ? std::to_string(limit) : ""; }

void AddListFlags(CLI::App& cmd, ListFlags& flags, bool with_limit) {
  AddConnectionFlags(cmd, flags.connection);
  cmd.add_option("--format", flags.format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  if (with_limit) {
    cmd.add_option("--limit", flags.limit, "Most entries to list")->check(CLI::PositiveNumber);
  }
}

void AddStoresCommand(CLI::App& app) {
  auto flags = std::make_shared<ListFlags>();
  CLI::App* cmd = app.add_subcommand("stores", "List stores with item and out-of-stock counts");
  AddListFlags(*cmd, *flags, /*with_limit=*/false);
  cmd->callback(Guarded([flags] {
    ApiClient client = Connect(flags->connection);
    const json doc = ExpectJson(client.Get("/api/v1/stores"));
    if (flags->format == "json") return PrintJson(doc);
    std::vector<std::vector<std::string>> rows;
    for (const json& s : ArrayField(doc, "stores")) {
      rows.push_back({CellText(s, "store"), CellText(s, "items"), CellText(s, "out_of_stock"),
                      CellText(s, "last_updated")});
    }
    PrintTable(
        {{"STORE"}, {"ITEMS", Align::kRight}, {"OUT_OF_STOCK", Align::kRight}, {"LAST_UPDATED"}},
        rows);
  }));
}

struct UploadsFlags {
  ListFlags list;
  int64_t id = 0;  // 0: list
};

void PrintUploadText(const json& upload) {
  const std::string name = StringField(upload, "name", "?");
  fmt::print("upload {}: {} ({} bytes, sha256 {}) by {} at {}\n", CellText(upload, "id"),
             SanitizeLine(name), CellText(upload, "size"), SanitizeLine(CellText(upload, "sha256")),
             SanitizeLine(CellText(upload, "uploader")), CellText(upload, "created_at"));
  const std::string status = StringField(upload, "status", "pending");
  if (status == "pending") {
    fmt::print("{}: pending\n", SanitizeLine(name));
    return;
  }
  json report = ObjectField(upload, "report");
  if (!report.contains("status")) report["status"] = status;
  fmt::print("{}", SanitizeText(ReportText(name, report)));
}

void RunUploads(const UploadsFlags& flags) {
  ApiClient client = Connect(flags.list.connection);
  if (flags.id > 0) {
    const json upload = ExpectJson(client.Get("/api/v1/uploads/" + std::to_string(flags.id)));
    if (flags.list.format == "json") return PrintJson(upload);
    return PrintUploadText(upload);
  }
  const json doc = ExpectJson(
      client.Get(WithQuery("/api/v1/uploads", {{"limit", LimitParam(flags.list.limit)}})));
  if (flags.list.format == "json") return PrintJson(doc);
  std::vector<std::vector<std::string>> rows;
  for (const json& u : ArrayField(doc, "uploads")) {
    const json& report = ObjectField(u, "report");
    rows.push_back({CellText(u, "id"), CellText(u, "name"), CellText(u, "status"),
                    CellText(u, "size"), CellText(report, "rows_read"),
                    CellText(report, "rows_loaded"), CellText(report, "error_count"),
                    CellText(u, "uploader"), CellText(u, "created_at")});
  }
  PrintTable({{"ID", Align::kRight},
              {"NAME"},
              {"STATUS"},
              {"SIZE", Align::kRight},
              {"ROWS", Align::kRight},
              {"LOADED", Align::kRight},
              {"ERRORS", Align::kRight},
              {"UPLOADER"},
              {"CREATED"}},
             rows);
}

void AddUploadsCommand(CLI::App& app) {
  auto flags = std::make_shared<UploadsFlags>();
  CLI::App* cmd =
      app.add_subcommand("uploads", "List uploads, newest first, or show one load report");
  AddConnectionFlags(*cmd, flags->list.connection);
  cmd->add_option("--limit", flags->list.limit, "Most uploads to list")->check(CLI::PositiveNumber);
  cmd->add_option("--id", flags->id, "Show this upload and its load report")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--format", flags->list.format, "table (default; text with --id) or json")
      ->check(CLI::IsMember({"table", "text", "json"}));
  cmd->callback(Guarded([flags] { RunUploads(*flags); }));
}

struct AlertsFlags {
  ListFlags list;
  std::string topic;
};

void AddAlertsCommand(CLI::App& app) {
  auto flags = std::make_shared<AlertsFlags>();
  CLI::App* cmd = app.add_subcommand("alerts", "List published alerts, newest first");
  AddListFlags(*cmd, flags->list, /*with_limit=*/true);
  cmd->add_option("--topic", flags->topic,
                  "Only this topic (NoStock, LowStock, BackInStock or a user topic)");
  cmd->callback(Guarded([flags] {
    ApiClient client = Connect(flags->list.connection);
    const json doc = ExpectJson(client.Get(WithQuery(
        "/api/v1/alerts", {{"topic", flags->topic}, {"limit", LimitParam(flags->list.limit)}})));
    if (flags->list.format == "json") return PrintJson(doc);
    std::vector<std::vector<std::string>> rows;
    for (const json& a : ArrayField(doc, "alerts")) {
      rows.push_back({CellText(a, "timestamp"), CellText(a, "topic"), CellText(a, "store"),
                      CellText(a, "item"), CellText(a, "old_count"), CellText(a, "new_count"),
                      CellText(a, "subject")});
    }
    PrintTable({{"TIME"},
                {"TOPIC"},
                {"STORE"},
                {"ITEM"},
                {"OLD", Align::kRight},
                {"NEW", Align::kRight},
                {"SUBJECT"}},
               rows);
  }));
}

// ---------------------------------------------------------------------------------------
// Subscriptions

struct SubscribeFlags {
  ConnectionFlags connection;
  std::string topic;
  std::string protocol;  // empty: the server infers it from the endpoint
  std::string endpoint;
  std::string filter_policy;
  std::vector<std::string> stores;
  bool confirmed = false;  // admin: no confirmation by the endpoint
  std::string digest;
  std::string quiet_hours;
  std::string timezone;
  std::string format = "text";
};

// A CLI11 check running a core parser: its message (which names the field) is the usage
// error.
template <typename Parse>
CLI::Validator CoreCheck(std::string name, Parse parse) {
  return CLI::Validator(
      [parse](std::string& value) -> std::string {
        absl::Status status = parse(value).status();
        return status.ok() ? std::string() : std::string(status.message());
      },
      "", std::move(name));
}

void AddSubscribeCommand(CLI::App& app) {
  auto flags = std::make_shared<SubscribeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "subscribe", "Subscribe an email address (mailto:...) or a webhook URL to a topic");
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("--topic", flags->topic,
                  "Topic: NoStock, LowStock, BackInStock or a user topic (`topics create`)")
      ->required();
  cmd->add_option("--protocol", flags->protocol,
                  "webhook, email, sms, slack, teams or sns (default: from ENDPOINT)")
      ->check(CLI::IsMember({"webhook", "email", "sms", "slack", "teams", "sns"}));
  cmd->add_option("ENDPOINT", flags->endpoint,
                  "mailto:ops@example.com, or an https:// (or http://) webhook URL")
      ->required();
  CLI::Option* policy = cmd->add_option(
      "--filter-policy", flags->filter_policy,
      R"(SNS-style filter policy on store, item, topic, event, old_count, new_count, e.g. '{"store":["Berlin"],"new_count":[{"numeric":["=",0]}]}')");
  cmd->add_option("--store", flags->stores,
                  "Only alerts of this store (repeatable); short for --filter-policy "
                  "'{\"store\":[...]}'")
      ->excludes(policy);
  cmd->add_option("--digest", flags->digest,
                  "immediate (default), per-upload, a window (5m, 1h) or "
                  "\"daily HH:MM Zone/Name\": many alerts in one message")
      ->check(CoreCheck("DIGEST", [](const std::string& v) { return core::ParseDigest(v); }));
  cmd->add_option("--quiet-hours", flags->quiet_hours,
                  "HH:MM-HH:MM local time (e.g. 22:00-07:00): hold alerts of non-urgent topics "
                  "until it ends")
      ->check(CoreCheck("HH:MM-HH:MM", [](const std::string& v) {
        return core::ParseQuietHours(v, absl::UTCTimeZone());
      }));
  cmd->add_option("--timezone", flags->timezone, "IANA time zone of --quiet-hours (default UTC)")
      ->check(CoreCheck("ZONE", [](const std::string& v) { return core::LoadZone(v); }));
  cmd->add_flag("--confirmed", flags->confirmed,
                "Start confirmed: send no confirmation message to an email or webhook endpoint "
                "(you vouch that it wants the alerts)");
  cmd->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback(Guarded([flags] {
    ApiClient client = Connect(flags->connection);
    json body = {{"topic", flags->topic}, {"endpoint", flags->endpoint}};
    if (flags->confirmed) body["confirmed"] = true;
    if (!flags->digest.empty()) body["digest"] = flags->digest;
    if (!flags->quiet_hours.empty()) body["quiet_hours"] = flags->quiet_hours;
    if (!flags->timezone.empty()) body["timezone"] = flags->timezone;
    if (!flags->protocol.empty()) body["protocol"] = flags->protocol;
    if (!flags->filter_policy.empty()) body["filter_policy"] = flags->filter_policy;
    if (!flags->stores.empty()) body["filter_policy"] = json{{"store", flags->stores}}.dump();
    const json sub = ExpectJson(client.Post("/api/v1/subscriptions", body));
    if (flags->format == "json") return PrintJson(sub);
    fmt::print("subscribed {} to {} (subscription {}, {})\n",
               SanitizeLine(StringField(sub, "endpoint", flags->endpoint)),
               SanitizeLine(StringField(sub, "topic", flags->topic)), CellText(sub, "id"),
               CellText(sub, "status"));
    // Shown once, here: listings never carry it, so a text-mode user must see it now.
    if (const std::string secret = StringField(sub, "signing_secret", ""); !secret.empty()) {
      fmt::print("signing secret (shown once; verifies X-Stockwatch-Signature): {}\n",
                 SanitizeLine(secret));
    }
    if (StringField(sub, "status", "") == "pending_confirmation") {
      fmt::print("a confirmation message is on its way; alerts start once its link is followed\n");
    }
  }));
}

struct SubscriptionUpdateFlags {
  ConnectionFlags connection;
  int64_t id = 0;
  std::string digest;
  std::string quiet_hours;
  bool no_quiet_hours = false;
  std::string timezone;
  std::string filter_policy;
  bool no_filter_policy = false;
  std::string format = "text";
};

// stockwatch subscriptions update ID ...: PATCH /api/v1/subscriptions/{id} with the flags given.
void AddSubscriptionsUpdateCommand(CLI::App& parent) {
  auto flags = std::make_shared<SubscriptionUpdateFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "update", "Change a subscription's digest, quiet hours, time zone or filter policy (admin)");
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("ID", flags->id, "Subscription id (see `stockwatch subscriptions`)")
      ->required()
      ->check(CLI::PositiveNumber);
  CLI::Option* digest =
      cmd->add_option("--digest", flags->digest,
                      "immediate, per-upload, a window (5m, 1h) or \"daily HH:MM Zone/Name\"")
          ->check(CoreCheck("DIGEST", [](const std::string& v) { return core::ParseDigest(v); }));
  CLI::Option* quiet =
      cmd->add_option("--quiet-hours", flags->quiet_hours,
                      "HH:MM-HH:MM local time (e.g. 22:00-07:00) to hold non-urgent alerts")
          ->check(CoreCheck("HH:MM-HH:MM", [](const std::string& v) {
            return core::ParseQuietHours(v, absl::UTCTimeZone());
          }));
  CLI::Option* no_quiet =
      cmd->add_flag("--no-quiet-hours", flags->no_quiet_hours, "Remove the quiet hours")
          ->excludes(quiet);
  CLI::Option* zone =
      cmd->add_option("--timezone", flags->timezone, "IANA time zone of the quiet hours")
          ->check(CoreCheck("ZONE", [](const std::string& v) { return core::LoadZone(v); }));
  CLI::Option* policy = cmd->add_option(
      "--filter-policy", flags->filter_policy,
      R"(SNS-style filter policy, e.g. '{"store":["Berlin"]}', replacing the current one)");
  CLI::Option* no_policy = cmd->add_flag("--no-filter-policy", flags->no_filter_policy,
                                         "Remove the filter policy: every alert of the topic")
                               ->excludes(policy);
  cmd->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback(Guarded([flags, digest, quiet, no_quiet, zone, policy, no_policy] {
    json body = json::object();
    if (digest->count() > 0) body["digest"] = flags->digest;
    if (quiet->count() > 0) body["quiet_hours"] = flags->quiet_hours;
    if (no_quiet->count() > 0) body["quiet_hours"] = nullptr;
    if (zone->count() > 0) body["timezone"] = flags->timezone;
    if (policy->count() > 0) body["filter_policy"] = flags->filter_policy;
    if (no_policy->count() > 0) body["filter_policy"] = nullptr;
    if (body.empty()) {
      Fail(kExitUsage,
           "subscriptions update: nothing to change; give --digest, --quiet-hours, "
           "--no-quiet-hours, --timezone, --filter-policy or --no-filter-policy");
    }
    ApiClient client = Connect(flags->connection);
    const json sub =
        ExpectJson(client.Patch("/api/v1/subscriptions/" + std::to_string(flags->id), body));
    if (flags->format == "json") return PrintJson(sub);
    fmt::print("updated subscription {}: digest {}, quiet hours {} ({}), filter {}\n",
               CellText(sub, "id"), SanitizeLine(CellText(sub, "digest")),
               SanitizeLine(CellText(sub, "quiet_hours")), SanitizeLine(CellText(sub, "timezone")),
               SanitizeLine(CellText(sub, "filter_policy")));
  }));
}

struct SubscriptionTestFlags {
  ConnectionFlags connection;
  int64_t id = 0;
  int64_t wait_seconds = 30;
  std::string format = "text";
};

// stockwatch subscriptions test ID: one test message to that subscription only, followed until
// it is delivered or fails (or --wait runs out), so an operator sees at once whether the
// endpoint works. Exits 1 unless it was delivered (or, with --wait 0, queued).
void AddSubscriptionsTestCommand(CLI::App& parent) {
  auto flags = std::make_shared<SubscriptionTestFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "test", "Send a test message to one subscription and wait for its delivery");
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("ID", flags->id, "Subscription id (see `stockwatch subscriptions`)")
      ->required()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--wait", flags->wait_seconds,
                  "Seconds to follow the delivery (default 30; 0: only queue it)")
      ->check(CLI::Range(0, 600));
  cmd->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->callback(Guarded([flags] {
    ApiClient client = Connect(flags->connection);
    json delivery = ExpectJson(client.Post(
        "/api/v1/subscriptions/" + std::to_string(flags->id) + "/test", json::object()));
    const std::string path = "/api/v1/deliveries/" + CellText(delivery, "id");
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(flags->wait_seconds);
    // The outbox sends it at once; a short poll sees the outcome within a few attempts'
    // time. A failed attempt that will be retried leaves it pending, with last_error set.
    while (CellText(delivery, "state") == "pending" &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      delivery = ExpectJson(client.Get(path));
    }
    const std::string state = CellText(delivery, "state");
    if (flags->format == "json") {
      PrintJson(delivery);
    } else {
      fmt::print("test message to subscription {} ({} {}): delivery {} {}", flags->id,
                 SanitizeLine(CellText(delivery, "protocol")),
                 SanitizeLine(CellText(delivery, "endpoint")), CellText(delivery, "id"), state);
      const std::string error = CellText(delivery, "last_error");
      if (!error.empty() && state != "delivered") fmt::print(": {}", SanitizeLine(error));
      fmt::print("\n");
    }
    if (state == "delivered" || (flags->wait_seconds == 0 && state == "pending")) return;
    throw CLI::RuntimeError(kExitFailure);
  }));
}

void AddSubscriptionsCommand(CLI::App& app) {
  auto flags = std::make_shared<ListFlags>();
  CLI::App* cmd =
      app.add_subcommand("subscriptions",
                         "List subscriptions; `subscriptions update` changes one, `subscriptions "
                         "test` sends one a test message");
  cmd->require_subcommand(0, 1);
  AddListFlags(*cmd, *flags, /*with_limit=*/false);
  AddSubscriptionsUpdateCommand(*cmd);
  AddSubscriptionsTestCommand(*cmd);
  cmd->callback(Guarded([flags, cmd] {
    if (!cmd->get_subcommands().empty()) return;
    ApiClient client = Connect(flags->connection);
    const json doc = ExpectJson(client.Get("/api/v1/subscriptions"));
    if (flags->format == "json") return PrintJson(doc);
    std::vector<std::vector<std::string>> rows;
    for (const json& s : ArrayField(doc, "subscriptions")) {
      rows.push_back({CellText(s, "id"), CellText(s, "topic"), CellText(s, "protocol"),
                      CellText(s, "created_at"), CellText(s, "endpoint")});
    }
    PrintTable({{"ID", Align::kRight}, {"TOPIC"}, {"PROTOCOL"}, {"CREATED"}, {"ENDPOINT"}}, rows);
  }));
}

struct UnsubscribeFlags {
  ConnectionFlags connection;
  int64_t id = 0;
};

void AddUnsubscribeCommand(CLI::App& app) {
  auto flags = std::make_shared<UnsubscribeFlags>();
  CLI::App* cmd = app.add_subcommand("unsubscribe", "Delete a subscription");
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("ID", flags->id, "Subscription id (see `stockwatch subscriptions`)")
      ->required()
      ->check(CLI::PositiveNumber);
  cmd->callback(Guarded([flags] {
    ApiClient client = Connect(flags->connection);
    ExpectJson(client.Delete("/api/v1/subscriptions/" + std::to_string(flags->id)));
    fmt::print("unsubscribed subscription {}\n", flags->id);
  }));
}

// ---------------------------------------------------------------------------------------
// sms opt-outs (STOP)

struct SmsFlags {
  ConnectionFlags connection;
  std::string number;
  std::string format;  // empty: table for opt-outs, text otherwise
};

void AddSmsCommand(CLI::App& app) {
  auto flags = std::make_shared<SmsFlags>();
  CLI::App* cmd = app.add_subcommand("sms", "SMS opt-outs: numbers that answered STOP");
  cmd->require_subcommand(1);
  for (const bool opt_out : {true, false}) {
    CLI::App* sub =
        cmd->add_subcommand(opt_out ? "opt-out" : "opt-in",
                            opt_out ? "Send no more SMS to NUMBER (as if it answered STOP)"
                                    : "Send SMS to NUMBER again (as if it answered START)");
    AddConnectionFlags(*sub, flags->connection);
    sub->add_option("NUMBER", flags->number, "E.164 number, e.g. +4930123456")->required();
    sub->callback(Guarded([flags, opt_out] {
      ApiClient client = Connect(flags->connection);
      const std::string target = "/api/v1/sms/opt-outs/" + UrlEncode(flags->number);
      if (opt_out) {
        ExpectJson(client.Put(target, json::object()));
      } else {
        ExpectJson(client.Delete(target));
      }
      fmt::print("{} opted {}\n", SanitizeLine(flags->number), opt_out ? "out" : "in");
    }));
  }
  CLI::App* list = cmd->add_subcommand("opt-outs", "List the numbers that opted out");
  AddConnectionFlags(*list, flags->connection);
  list->add_option("--format", flags->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  list->callback(Guarded([flags] {
    ApiClient client = Connect(flags->connection);
    const json doc = ExpectJson(client.Get("/api/v1/sms/opt-outs"));
    if (flags->format == "json") return PrintJson(doc);
    std::vector<std::vector<std::string>> rows;
    for (const json& o : ArrayField(doc, "opt_outs")) {
      rows.push_back({CellText(o, "number"), CellText(o, "at")});
    }
    PrintTable({{"NUMBER"}, {"SINCE"}}, rows);
  }));
}

// ---------------------------------------------------------------------------------------
// topics

struct TopicsFlags {
  ConnectionFlags connection;
  std::string format;  // empty: table for list, text for set-urgent, create and delete
  std::string topic;
  std::string urgent;
  std::vector<std::string> rules;  // topics create
  std::string filter_policy;       // topics create
};

// "LowStock,NoStock" from a topic's "rules" array; "-" when there is none.
std::string RulesCell(const json& topic) {
  std::string out;
  if (auto it = topic.find("rules"); it != topic.end() && it->is_array()) {
    for (const json& rule : *it) {
      if (!rule.is_string()) continue;
      if (!out.empty()) out += ',';
      out += rule.get<std::string>();
    }
  }
  return out.empty() ? "-" : out;
}

// A topic's filter policy as compact JSON; "-" for none.
std::string FilterCell(const json& topic) {
  auto it = topic.find("filter_policy");
  if (it == topic.end() || it->is_null()) return "-";
  return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

void RunTopicsList(const TopicsFlags& flags) {
  ApiClient client = Connect(flags.connection);
  const json doc = ExpectJson(client.Get("/api/v1/topics"));
  if (flags.format == "json") return PrintJson(doc);
  std::set<std::string> urgent;
  for (const json& t : ArrayField(doc, "urgent")) {
    if (t.is_string()) urgent.insert(t.get<std::string>());
  }
  // Rules and filters come from "details" (servers before user topics have none).
  std::map<std::string, json> details;
  for (const json& d : ArrayField(doc, "details")) {
    if (d.is_object() && d.contains("name") && d["name"].is_string()) {
      details[d["name"].get<std::string>()] = d;
    }
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& t : ArrayField(doc, "topics")) {
    const std::string name = t.is_string() ? t.get<std::string>() : std::string();
    const json detail = details.contains(name) ? details[name] : json::object();
    rows.push_back({SanitizeLine(name), urgent.contains(name) ? "yes" : "no", RulesCell(detail),
                    FilterCell(detail)});
  }
  PrintTable({{"TOPIC"}, {"URGENT"}, {"RULES"}, {"FILTER"}}, rows);
}

void RunTopicsCreate(const TopicsFlags& flags) {
  ApiClient client = Connect(flags.connection);
  json body = {{"name", flags.topic}, {"rules", flags.rules}};
  if (!flags.filter_policy.empty()) body["filter_policy"] = flags.filter_policy;
  const json doc = ExpectJson(client.Post("/api/v1/topics", body));
  if (flags.format == "json") return PrintJson(doc);
  fmt::print("created topic {} (rules: {}; filter: {})\n",
             SanitizeLine(StringField(doc, "name", flags.topic)), SanitizeLine(RulesCell(doc)),
             SanitizeLine(FilterCell(doc)));
}

void RunTopicsDelete(const TopicsFlags& flags) {
  ApiClient client = Connect(flags.connection);
  ExpectJson(client.Delete("/api/v1/topics/" + UrlEncode(flags.topic)));
  if (flags.format == "json") return PrintJson(json{{"deleted", flags.topic}});
  fmt::print("deleted topic {}\n", SanitizeLine(flags.topic));
}

void RunTopicsSetUrgent(const TopicsFlags& flags) {
  ApiClient client = Connect(flags.connection);
  const json doc = ExpectJson(client.Put("/api/v1/topics/" + UrlEncode(flags.topic),
                                         json{{"urgent", flags.urgent == "true"}}));
  if (flags.format == "json") return PrintJson(doc);
  fmt::print("topic {} is {}\n", SanitizeLine(flags.topic),
             flags.urgent == "true" ? "urgent (skips quiet hours)" : "not urgent");
}

void AddTopicsCommand(CLI::App& app) {
  auto flags = std::make_shared<TopicsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "topics",
      "List topics, create or delete user topics, or mark one urgent so it skips quiet hours");
  cmd->require_subcommand(0, 1);
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("--format", flags->format,
                  "table (default) or json; text or json for set-urgent, create and delete")
      ->check(CLI::IsMember({"table", "text", "json"}));
  CLI::App* list = cmd->add_subcommand("list", "List topics and whether they are urgent");
  list->fallthrough();
  list->callback(Guarded([flags] { RunTopicsList(*flags); }));
  CLI::App* set =
      cmd->add_subcommand("set-urgent", "Mark a topic urgent (its alerts skip quiet hours) or not");
  set->fallthrough();
  set->add_option("TOPIC", flags->topic, "Topic name")->required();
  set->add_option("URGENT", flags->urgent, "true or false")
      ->required()
      ->check(CLI::IsMember({"true", "false"}));
  set->footer("Also takes --server, --token and --format (text or json) of `topics`.");
  set->callback(Guarded([flags] { RunTopicsSetUrgent(*flags); }));
  CLI::App* create = cmd->add_subcommand(
      "create", "Create a user topic: the chosen rules publish copies of their alerts to it");
  create->fallthrough();
  create->add_option("NAME", flags->topic, "Topic name: 1-256 of A-Z a-z 0-9 _ -")->required();
  create
      ->add_option("--rules", flags->rules,
                   "Rules that publish to it, comma-separated: NoStock, LowStock, BackInStock")
      ->required()
      ->delimiter(',')
      ->check(CLI::IsMember({"NoStock", "LowStock", "BackInStock"}));
  create->add_option(
      "--filter-policy", flags->filter_policy,
      R"(SNS-style filter policy narrowing which alerts it gets, e.g. '{"store":["Berlin"]}')");
  create->footer("Also takes --server, --token and --format (text or json) of `topics`.");
  create->callback(Guarded([flags] { RunTopicsCreate(*flags); }));
  CLI::App* del = cmd->add_subcommand(
      "delete", "Delete a user topic and its subscriptions (built-in topics stay)");
  del->fallthrough();
  del->add_option("NAME", flags->topic, "Topic name")->required();
  del->footer("Also takes --server, --token and --format (text or json) of `topics`.");
  del->callback(Guarded([flags] { RunTopicsDelete(*flags); }));
  cmd->callback(Guarded([flags, cmd] {
    if (cmd->get_subcommands().empty()) RunTopicsList(*flags);
  }));
}

// ---------------------------------------------------------------------------------------
// thresholds

struct ThresholdsFlags {
  ConnectionFlags connection;
  std::string format;  // empty: table for list, text for set
  std::string store;
  std::string item;
  std::string value;
};

void RunThresholdsList(const ThresholdsFlags& flags) {
  ApiClient client = Connect(flags.connection);
  const json doc = ExpectJson(client.Get("/api/v1/thresholds"));
  if (flags.format == "json") return PrintJson(doc);
  std::vector<std::vector<std::string>> rows;
  for (const json& t : ArrayField(doc, "thresholds")) {
    const auto any = [](const std::string& text) { return text == "-" ? "*" : text; };
    rows.push_back({any(CellText(t, "store")), any(CellText(t, "item")), CellText(t, "value")});
  }
  PrintTable({{"STORE"}, {"ITEM"}, {"VALUE", Align::kRight}}, rows);
}

void RunThresholdsSet(const ThresholdsFlags& flags) {
  std::optional<int64_t> value;
  if (flags.value != "none") {
    int64_t parsed = 0;
    const char* end = flags.value.data() + flags.value.size();
    const auto [ptr, ec] = std::from_chars(flags.value.data(), end, parsed);
    if (ec != std::errc() || ptr != end || parsed < 0) {
      Fail(kExitUsage, fmt::format("VALUE must be a whole number of at least 0, or none, not "
                                   "\"{}\"",
                                   flags.value));
    }
    value = parsed;
  }
  ApiClient client = Connect(flags.connection);
  const auto or_null = [](const std::string& text) { return text.empty() ? json() : json(text); };
  const json body = {{"store", or_null(flags.store)},
                     {"item", or_null(flags.item)},
                     {"value", value ? json(*value) : json()}};
  const json answer = ExpectJson(client.Put("/api/v1/thresholds", body));
  if (flags.format == "json") return PrintJson(answer);
  const std::string where =
      fmt::format("store={} item={}", flags.store.empty() ? "*" : SanitizeLine(flags.store),
                  flags.item.empty() ? "*" : SanitizeLine(flags.item));
  if (value) {
    fmt::print("threshold {} set to {}\n", where, *value);
  } else {
    fmt::print("threshold {} removed\n", where);
  }
}

void AddThresholdsCommand(CLI::App& app) {
  auto flags = std::make_shared<ThresholdsFlags>();
  CLI::App* cmd =
      app.add_subcommand("thresholds", "List LowStock thresholds, or set one (`thresholds set`)");
  cmd->require_subcommand(0, 1);
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("--format", flags->format, "table (default) or json; text or json for set")
      ->check(CLI::IsMember({"table", "text", "json"}));

  // The subcommands pass options they do not know (--server, --token, --format) up to
  // `thresholds`, so they may be given after `set` or `list` too.
  CLI::App* list = cmd->add_subcommand("list", "List thresholds");
  list->fallthrough();
  list->footer("Also takes --server, --token and --format of `thresholds`.");
  list->callback(Guarded([flags] { RunThresholdsList(*flags); }));

  CLI::App* set = cmd->add_subcommand(
      "set", "Set the threshold of a store, an item, both, or the default; VALUE none removes");
  set->fallthrough();
  set->add_option("--store", flags->store, "Store (default: any store)");
  set->add_option("--item", flags->item, "Item (default: any item)");
  set->add_option("VALUE", flags->value, "A count at or below which LowStock fires, or none")
      ->required();
  set->footer("Also takes --server, --token and --format (text or json) of `thresholds`.");
  set->callback(Guarded([flags] { RunThresholdsSet(*flags); }));

  cmd->callback(Guarded([flags, cmd] {
    if (cmd->get_subcommands().empty()) RunThresholdsList(*flags);
  }));
}

// ---------------------------------------------------------------------------------------
// deliveries

struct DeliveriesFlags {
  ListFlags list;
  bool failed = false;
  std::string state;
  int64_t id = 0;
  bool all = false;
  std::string format = "text";
};

void RunDeliveriesList(const DeliveriesFlags& flags) {
  ApiClient client = Connect(flags.list.connection);
  const std::string state = flags.failed ? "failed" : flags.state;
  const json doc = ExpectJson(client.Get(WithQuery(
      "/api/v1/deliveries", {{"state", state}, {"limit", LimitParam(flags.list.limit)}})));
  if (flags.list.format == "json") return PrintJson(doc);
  std::vector<std::vector<std::string>> rows;
  for (const json& d : ArrayField(doc, "deliveries")) {
    std::string last_error = CellText(d, "last_error");
    if (last_error.empty()) last_error = "-";
    rows.push_back({CellText(d, "id"), CellText(d, "state"), CellText(d, "attempts"),
                    CellText(d, "topic"), CellText(d, "endpoint"), CellText(d, "updated_at"),
                    last_error});
  }
  PrintTable({{"ID", Align::kRight},
              {"STATE"},
              {"ATTEMPTS", Align::kRight},
              {"TOPIC"},
              {"ENDPOINT"},
              {"UPDATED"},
              {"LAST_ERROR"}},
             rows);
}

void AddDeliveriesListFlags(CLI::App& cmd, DeliveriesFlags& flags) {
  AddListFlags(cmd, flags.list, /*with_limit=*/true);
  CLI::Option* failed =
      cmd.add_flag("--failed", flags.failed, "Only the dead-letter queue: failed for good");
  cmd.add_option("--state", flags.state, "Only this state: pending, delivered or failed")
      ->check(CLI::IsMember({"pending", "delivered", "failed"}))
      ->excludes(failed);
}

void RunDeliveriesShow(const DeliveriesFlags& flags) {
  ApiClient client = Connect(flags.list.connection);
  const json doc = ExpectJson(client.Get("/api/v1/deliveries/" + std::to_string(flags.id)));
  if (flags.format == "json") return PrintJson(doc);
  for (const char* field :
       {"id", "state", "topic", "store", "item", "protocol", "endpoint", "attempts", "redrives",
        "since", "next_attempt_at", "updated_at", "last_error"}) {
    fmt::print("{:<16}{}\n", std::string(field) + ":", CellText(doc, field));
  }
  const json& attempts = ArrayField(doc, "failed_attempts");
  fmt::print("failed attempts: {}\n", attempts.size());
  for (const json& a : attempts) {
    fmt::print("  {}  {}\n", CellText(a, "at"), CellText(a, "error"));
  }
}

void RunDeliveriesRedrive(const DeliveriesFlags& flags) {
  ApiClient client = Connect(flags.list.connection);
  const std::string path = flags.all
                               ? std::string("/api/v1/deliveries/redrive")
                               : "/api/v1/deliveries/" + std::to_string(flags.id) + "/redrive";
  const json doc = ExpectJson(client.Post(path, "{}"));
  if (flags.format == "json") return PrintJson(doc);
  fmt::print("redriven {} deliveries\n", CellText(doc, "redriven"));
}

// stockwatch deliveries [list] [--failed | --state S]: `deliveries` alone lists, as before.
void AddDeliveriesCommand(CLI::App& app) {
  auto flags = std::make_shared<DeliveriesFlags>();
  CLI::App* cmd = app.add_subcommand(
      "deliveries", "Alert deliveries to subscribers: list, show, redrive the dead-letter queue");
  cmd->require_subcommand(0, 1);
  AddDeliveriesListFlags(*cmd, *flags);

  CLI::App* list = cmd->add_subcommand("list", "List deliveries, newest first");
  AddDeliveriesListFlags(*list, *flags);
  list->callback(Guarded([flags] { RunDeliveriesList(*flags); }));

  CLI::App* show = cmd->add_subcommand("show", "One delivery with every failed attempt");
  AddConnectionFlags(*show, flags->list.connection);
  show->add_option("ID", flags->id, "Delivery id")->required()->check(CLI::PositiveNumber);
  show->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  show->callback(Guarded([flags] { RunDeliveriesShow(*flags); }));

  CLI::App* redrive = cmd->add_subcommand(
      "redrive", "Send failed deliveries again (attempts restart; their history is kept)");
  AddConnectionFlags(*redrive, flags->list.connection);
  CLI::Option* id = redrive->add_option("ID", flags->id, "Delivery id")->check(CLI::PositiveNumber);
  CLI::Option* all = redrive->add_flag("--all", flags->all, "Every failed delivery");
  id->excludes(all);
  redrive->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  redrive->callback(Guarded([flags, id, all] {
    if (id->count() == 0 && all->count() == 0) {
      Fail(kExitUsage, "deliveries redrive: give a delivery ID or --all");
    }
    RunDeliveriesRedrive(*flags);
  }));

  cmd->callback(Guarded([flags, cmd] {
    if (cmd->get_subcommands().empty()) RunDeliveriesList(*flags);
  }));
}

// ---------------------------------------------------------------------------------------
// S3 access keys

struct KeysFlags {
  ConnectionFlags connection;
  std::vector<std::string> stores;
  bool all_stores = false;
  std::string description;
  std::string id;
  std::string format;  // empty: table for list, text otherwise
};

// "Berlin, Paris", or "*" for an all-stores key.
std::string KeyStores(const json& key) {
  if (key.value("all_stores", false)) return "*";
  std::string out;
  for (const json& store : ArrayField(key, "stores")) {
    if (!store.is_string()) continue;
    if (!out.empty()) out += ", ";
    out += SanitizeLine(store.get<std::string>());
  }
  return out;
}

void RunKeysCreate(const KeysFlags& flags) {
  if (flags.stores.empty() && !flags.all_stores) {
    Fail(kExitUsage,
         "say which stores the key may write: --store NAME (repeatable) or "
         "--all-stores");
  }
  ApiClient client = Connect(flags.connection);
  json body = {{"description", flags.description}};
  if (flags.all_stores) {
    body["all_stores"] = true;
  } else {
    body["stores"] = flags.stores;
  }
  const json key = ExpectJson(client.Post("/api/v1/keys", body));
  if (flags.format == "json") return PrintJson(key);
  fmt::print("access key id:     {}\nsecret access key: {}\nstores:            {}\n",
             CellText(key, "access_key_id"), CellText(key, "secret_access_key"), KeyStores(key));
  fmt::print(stderr, "The secret is shown only now: keep it safe.\n");
}

void RunKeysList(const KeysFlags& flags) {
  ApiClient client = Connect(flags.connection);
  const json doc = ExpectJson(client.Get("/api/v1/keys"));
  if (flags.format == "json") return PrintJson(doc);
  std::vector<std::vector<std::string>> rows;
  for (const json& k : ArrayField(doc, "keys")) {
    rows.push_back({CellText(k, "access_key_id"), KeyStores(k), CellText(k, "created_at"),
                    CellText(k, "revoked_at"), CellText(k, "description")});
  }
  PrintTable({{"ACCESS_KEY_ID"}, {"STORES"}, {"CREATED"}, {"REVOKED"}, {"DESCRIPTION"}}, rows);
}

void RunKeysRevoke(const KeysFlags& flags) {
  ApiClient client = Connect(flags.connection);
  const json key = ExpectJson(client.Delete("/api/v1/keys/" + UrlEncode(flags.id)));
  if (flags.format == "json") return PrintJson(key);
  fmt::print("revoked access key {}\n", SanitizeLine(flags.id));
}

void AddKeysCommand(CLI::App& app) {
  auto flags = std::make_shared<KeysFlags>();
  CLI::App* cmd = app.add_subcommand("keys", "Manage S3 access keys (create, list, revoke)");
  cmd->require_subcommand(1);
  CLI::App* create = cmd->add_subcommand(
      "create", "Create an access key for the S3 API, scoped to stores; prints its secret once");
  AddConnectionFlags(*create, flags->connection);
  CLI::Option* stores = create->add_option("--store", flags->stores,
                                           "A store whose rows the key may upload (repeatable)");
  create->add_flag("--all-stores", flags->all_stores, "The key may upload rows of any store")
      ->excludes(stores);
  create->add_option("--description", flags->description, "A note on who uses the key");
  create->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  create->callback(Guarded([flags] { RunKeysCreate(*flags); }));

  CLI::App* list = cmd->add_subcommand("list", "List access keys (never their secrets)");
  AddConnectionFlags(*list, flags->connection);
  list->add_option("--format", flags->format, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  list->callback(Guarded([flags] { RunKeysList(*flags); }));

  CLI::App* revoke = cmd->add_subcommand("revoke", "Revoke an access key at once");
  AddConnectionFlags(*revoke, flags->connection);
  revoke->add_option("ID", flags->id, "Access key id")->required();
  revoke->add_option("--format", flags->format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  revoke->callback(Guarded([flags] { RunKeysRevoke(*flags); }));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// templates

struct TemplatesFlags {
  ConnectionFlags connection;
  std::string format;  // empty: table for list, text for the others
  std::string topic;
  std::string protocol;  // empty: any protocol
  std::optional<std::string> subject;
  std::optional<std::string> body;
};

// "email", or "any protocol" when none was given.
std::string ProtocolText(const std::string& protocol) {
  return protocol.empty() ? "any protocol" : protocol;
}

void RunTemplatesList(const TemplatesFlags& flags) {
  ApiClient client = Connect(flags.connection);
  const json doc = ExpectJson(client.Get("/api/v1/templates"));
  if (flags.format == "json") return PrintJson(doc);
  std::vector<std::vector<std::string>> rows;
  for (const json& t : ArrayField(doc, "templates")) {
    const std::string protocol = CellText(t, "protocol");
    rows.push_back({CellText(t, "topic"), protocol == "-" ? "*" : protocol, CellText(t, "subject"),
                    SanitizeLine(StringField(t, "body", ""))});
  }
  PrintTable({{"TOPIC"}, {"PROTOCOL"}, {"SUBJECT"}, {"BODY"}}, rows);
}

void RunTemplatesSet(const TemplatesFlags& flags) {
  ApiClient client = Connect(flags.connection);
  const json body = {{"protocol", flags.protocol.empty() ? json() : json(flags.protocol)},
                     {"subject", flags.subject.value_or("")},
                     {"body", flags.body.value_or("")}};
  const json doc = ExpectJson(client.Put("/api/v1/templates/" + UrlEncode(flags.topic), body));
  if (flags.format == "json") return PrintJson(doc);
  fmt::print("templates of {} for {} set\n", SanitizeLine(flags.topic),
             ProtocolText(flags.protocol));
}

void RunTemplatesReset(const TemplatesFlags& flags) {
  ApiClient client = Connect(flags.connection);
  std::string target = "/api/v1/templates/" + UrlEncode(flags.topic);
  if (!flags.protocol.empty()) target += "?protocol=" + UrlEncode(flags.protocol);
  ExpectJson(client.Delete(target));
  const json reset = {{"topic", flags.topic},
                      {"protocol", flags.protocol.empty() ? json() : json(flags.protocol)}};
  if (flags.format == "json") return PrintJson(json{{"reset", reset}});
  fmt::print("templates of {} for {} reset\n", SanitizeLine(flags.topic),
             ProtocolText(flags.protocol));
}

void RunTemplatesPreview(const TemplatesFlags& flags) {
  ApiClient client = Connect(flags.connection);
  json body = {{"topic", flags.topic},
               {"protocol", flags.protocol.empty() ? json() : json(flags.protocol)}};
  if (flags.subject) body["subject"] = *flags.subject;
  if (flags.body) body["body"] = *flags.body;
  const json doc = ExpectJson(client.Post("/api/v1/templates/preview", body));
  if (flags.format == "json") return PrintJson(doc);
  fmt::print("Subject: {}\n\n{}\n", SanitizeLine(StringField(doc, "subject", "")),
             SanitizeText(StringField(doc, "body", "")));
}

void AddTemplatesCommand(CLI::App& app) {
  auto flags = std::make_shared<TemplatesFlags>();
  CLI::App* cmd = app.add_subcommand(
      "templates", "List, set, reset or preview message templates per topic and protocol");
  cmd->require_subcommand(0, 1);
  AddConnectionFlags(*cmd, flags->connection);
  cmd->add_option("--format", flags->format, "table (default) or json; text or json for the others")
      ->check(CLI::IsMember({"table", "text", "json"}));
  const auto protocol_flag = [&](CLI::App* sub) {
    sub->add_option("--protocol", flags->protocol,
                    "Protocol the templates are for (default: any protocol of the topic)")
        ->check(CLI::IsMember({"webhook", "email", "sms", "slack", "teams", "sns"}));
  };
  const std::string footer = "Also takes --server, --token and --format of `templates`.";

  CLI::App* list = cmd->add_subcommand("list", "List configured templates");
  list->fallthrough();
  list->footer(footer);
  list->callback(Guarded([flags] { RunTemplatesList(*flags); }));

  CLI::App* set = cmd->add_subcommand(
      "set",
      "Set the subject and body template of a topic (admin); placeholders such as "
      "{store} {item} {old_count} {new_count} {threshold}");
  set->fallthrough();
  set->add_option("TOPIC", flags->topic, "Topic name")->required();
  protocol_flag(set);
  set->add_option("--subject", flags->subject, "Subject template (one line)")->required();
  set->add_option("--body", flags->body, "Body template")->required();
  set->footer(footer);
  set->callback(Guarded([flags] { RunTemplatesSet(*flags); }));

  CLI::App* reset = cmd->add_subcommand(
      "reset", "Remove a topic's templates (admin): its alerts keep their built-in wording");
  reset->fallthrough();
  reset->add_option("TOPIC", flags->topic, "Topic name")->required();
  protocol_flag(reset);
  reset->footer(footer);
  reset->callback(Guarded([flags] { RunTemplatesReset(*flags); }));

  CLI::App* preview = cmd->add_subcommand(
      "preview", "Render a topic's templates (or the given ones) with sample values");
  preview->fallthrough();
  preview->add_option("TOPIC", flags->topic, "Topic name")->required();
  protocol_flag(preview);
  preview->add_option("--subject", flags->subject, "Subject template (default: the current one)");
  preview->add_option("--body", flags->body, "Body template (default: the current one)");
  preview->footer(footer);
  preview->callback(Guarded([flags] { RunTemplatesPreview(*flags); }));

  cmd->callback(Guarded([flags, cmd] {
    if (cmd->get_subcommands().empty()) RunTemplatesList(*flags);
  }));
}

void AddClientCommands(CLI::App& app) {
  AddUploadCommand(app);
  AddInventoryCommand(app);
  AddStoresCommand(app);
  AddUploadsCommand(app);
  AddAlertsCommand(app);
  AddSubscribeCommand(app);
  AddSubscriptionsCommand(app);
  AddUnsubscribeCommand(app);
  AddSmsCommand(app);
  AddTopicsCommand(app);
  AddThresholdsCommand(app);
  AddTemplatesCommand(app);
  AddDeliveriesCommand(app);
  AddKeysCommand(app);
}

}  // namespace stockwatch::cli
