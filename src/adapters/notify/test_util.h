// Test helpers for the notify channel tests: temporary directories, child processes (the
// Python sinks in tests/integration/), a port nobody listens on, a scripted HTTP server, and
// the fixtures the channel tests share (a sample delivery, loopback options, status tables).
// Test code only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adapters/notify/webhook_channel.h"
#include "base/status.h"
#include "core/model/types.h"
#include "core/ports/channel.h"
#include "gtest/gtest.h"

extern char** environ;

namespace stockwatch::adapters::notify_test {

// A fresh directory under the test temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "sw_notify_XXXXXX";
    SW_CHECK(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& Path() const { return path_; }

  // Regular files directly in the directory whose names end in `suffix`, sorted by name.
  std::vector<std::filesystem::path> Files(std::string_view suffix) const {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.ends_with(suffix) && !name.starts_with(".")) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  }

 private:
  std::filesystem::path path_;
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// tests/integration/, found from this header's place in the tree; STOCKWATCH_INTEGRATION_DIR
// overrides it.
inline std::filesystem::path IntegrationDir() {
  if (const char* dir = std::getenv("STOCKWATCH_INTEGRATION_DIR"); dir != nullptr) return dir;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() /
         "tests" / "integration";
}

// A child process with its stdout on a pipe. The destructor sends SIGTERM and reaps it.
class Subprocess {
 public:
  // Starts argv[0] (a full path) with `argv`, stdin from /dev/null, stderr inherited.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (rc != 0) {
      close(pipe_fds[0]);
      return absl::InternalError("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    }
    return std::unique_ptr<Subprocess>(new Subprocess(pid, pipe_fds[0]));
  }

  // Runs argv[0] (a full path) with `argv`, stdin and stdout on /dev/null, and waits for it.
  // Returns its exit status, or -1 if it could not be started or was killed by a signal.
  static int Run(const std::vector<std::string>& argv) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  }

  ~Subprocess() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    close(stdout_fd_);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Reads stdout until a line starting with `prefix` and returns it without the newline.
  // kDeadlineExceeded after `timeout` (a guard against a hung child, not a timing check);
  // kUnavailable if the child closes stdout first (it died: see its stderr).
  absl::StatusOr<std::string> WaitForLine(std::string_view prefix,
                                          std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      for (size_t end = buffered_.find('\n'); end != std::string::npos;
           end = buffered_.find('\n')) {
        std::string line = buffered_.substr(0, end);
        buffered_.erase(0, end + 1);
        if (line.starts_with(prefix)) return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return absl::DeadlineExceededError("no line from child");
      pollfd fd{stdout_fd_, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
      if (n <= 0) return absl::UnavailableError("child closed stdout");
      buffered_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  std::string buffered_;
};

// One of the Python sinks of tests/integration/ (smtp_sink.py, webhook_sink.py) running on a
// free port and writing into its own temporary directory.
class Sink {
 public:
  // `script` is the file name in tests/integration/; `extra_args` follow --port 0 --dir D.
  static absl::StatusOr<std::unique_ptr<Sink>> Start(const std::string& script,
                                                     std::vector<std::string> extra_args = {}) {
    auto sink = std::unique_ptr<Sink>(new Sink());
    std::vector<std::string> argv = {
        "/usr/bin/python3",        (IntegrationDir() / script).string(), "--port", "0", "--dir",
        sink->dir_.Path().string()};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto process = Subprocess::Start(argv);
    if (!process.ok()) return process.status();
    sink->process_ = std::move(*process);
    auto line = sink->process_->WaitForLine("listening ", std::chrono::seconds(30));
    if (!line.ok()) return line.status();
    sink->port_ = std::atoi(line->c_str() + std::string_view("listening ").size());
    if (sink->port_ <= 0) return absl::InternalError("bad line from sink: " + *line);
    return sink;
  }

  int Port() const { return port_; }
  const TempDir& Dir() const { return dir_; }

 private:
  Sink() = default;
  TempDir dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

// A 127.0.0.1 port with no listener: bound and closed again, so connecting is refused
// (unless another process binds it in between, which the kernel makes unlikely).
inline int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  SW_CHECK(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  socklen_t length = sizeof(address);
  SW_CHECK(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  close(fd);
  return ntohs(address.sin_port);
}

// How long the scripted server waits for a peer before giving up, so a broken channel fails
// the test instead of hanging it. Not a timing assertion.
constexpr int kGuardMillis = 10000;

struct HttpRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct ScriptedReply {
  int status = 200;
  std::string extra_headers;  // complete "Name: value\r\n" lines
  bool hang = false;          // read the request, never answer, wait for the peer to close
  std::string body = "ok";    // the response body
};

inline ScriptedReply Reply(int status, std::string extra_headers = "", std::string body = "ok") {
  ScriptedReply reply;
  reply.status = status;
  reply.extra_headers = std::move(extra_headers);
  reply.body = std::move(body);
  return reply;
}

inline ScriptedReply Hang() {
  ScriptedReply reply;
  reply.hang = true;
  return reply;
}

// A one-thread HTTP/1.1 server on 127.0.0.1 that answers requests from a script, in order,
// over as many connections as the client opens (one at a time), then stops.
class ScriptedHttpServer {
 public:
  using Responder = std::function<ScriptedReply(const HttpRequest&)>;

  explicit ScriptedHttpServer(std::vector<ScriptedReply> replies)
      : request_count_(replies.size()), replies_(std::move(replies)) {
    Start();
  }

  // Answers `request_count` requests with whatever `responder` returns for each (a fake of
  // the remote API), then stops.
  ScriptedHttpServer(size_t request_count, Responder responder)
      : request_count_(request_count), responder_(std::move(responder)) {
    Start();
  }
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;
  ~ScriptedHttpServer() { Join(); }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int Port() const { return port_; }

  // Waits until the script is done; then Requests() and Connections() are complete.
  void Join() {
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
  }
  const std::vector<HttpRequest>& Requests() const { return requests_; }
  int Connections() const { return connections_; }

 private:
  void Start() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SW_CHECK(listen_fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SW_CHECK(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    SW_CHECK(listen(listen_fd_, 16) == 0);
    socklen_t length = sizeof(address);
    SW_CHECK(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Run(); });
  }

  static bool WaitReadable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, kGuardMillis) == 1;
  }

  // Reads one request; nullopt if the peer closed the connection (or went silent) first.
  static std::optional<HttpRequest> ReadRequest(int fd, std::string& buffered) {
    size_t header_end;
    while ((header_end = buffered.find("\r\n\r\n")) == std::string::npos) {
      char chunk[4096];
      if (!WaitReadable(fd)) return std::nullopt;
      const ssize_t n = read(fd, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buffered.append(chunk, static_cast<size_t>(n));
    }
    HttpRequest request;
    std::string head = buffered.substr(0, header_end);
    buffered.erase(0, header_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const size_t first_space = request_line.find(' ');
    const size_t second_space = request_line.find(' ', first_space + 1);
    request.method = request_line.substr(0, first_space);
    request.target = request_line.substr(first_space + 1, second_space - first_space - 1);
    while (line_end != std::string::npos && line_end < head.size()) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[name] = std::string(TrimHeaderValue(line.substr(colon + 1)));
    }
    const size_t length =
        request.headers.count("content-length") ? std::stoul(request.headers["content-length"]) : 0;
    while (buffered.size() < length) {
      char chunk[4096];
      if (!WaitReadable(fd)) return std::nullopt;
      const ssize_t n = read(fd, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buffered.append(chunk, static_cast<size_t>(n));
    }
    request.body = buffered.substr(0, length);
    buffered.erase(0, length);
    return request;
  }

  static std::string TrimHeaderValue(std::string text) {
    while (!text.empty() && text.front() == ' ') text.erase(0, 1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
    return text;
  }

  void Run() {
    size_t next = 0;
    while (next < request_count_) {
      if (!WaitReadable(listen_fd_)) return;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ++connections_;
      std::string buffered;
      while (next < request_count_) {
        std::optional<HttpRequest> request = ReadRequest(fd, buffered);
        if (!request) break;
        requests_.push_back(std::move(*request));
        const ScriptedReply reply =
            replies_.empty() ? responder_(requests_.back()) : replies_[next];
        ++next;
        if (reply.hang) {
          char sink[256];
          while (WaitReadable(fd) && read(fd, sink, sizeof(sink)) > 0) {
          }
          break;
        }
        const std::string response =
            "HTTP/1.1 " + std::to_string(reply.status) +
            " Scripted\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n" +
            reply.extra_headers + "\r\n" + reply.body;
        SW_CHECK(write(fd, response.data(), response.size()) ==
                 static_cast<ssize_t>(response.size()));
      }
      close(fd);
    }
  }

  size_t request_count_ = 0;
  std::vector<ScriptedReply> replies_;  // the script, or empty when responder_ answers
  Responder responder_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  // Written by the server thread, read after Join().
  std::vector<HttpRequest> requests_;
  int connections_ = 0;
};

inline core::TimePoint At(std::chrono::sys_days day, std::chrono::milliseconds since_midnight) {
  return core::TimePoint(day) + since_midnight;
}

// The NoStock alert "Berlin is out of stock of Echo Plus." (delivery 42, message "17-NoStock")
// for a subscription with `endpoint` and `protocol`.
inline core::Delivery MakeDelivery(std::string endpoint,
                                   core::Protocol protocol = core::Protocol::kWebhook) {
  using namespace std::chrono;
  core::Delivery delivery;
  delivery.id = 42;
  delivery.message.id = "17-NoStock";
  delivery.message.topic = "NoStock";
  delivery.message.subject = "Inventory Alert!";
  delivery.message.body = "Berlin is out of stock of Echo Plus.";
  delivery.message.store = "Berlin";
  delivery.message.item = "Echo Plus";
  delivery.message.old_count = 3;
  delivery.message.new_count = 0;
  delivery.message.change_sequence = 17;
  delivery.message.at = At(2024y / May / 1, 12h + 34min + 56s + 789ms);
  delivery.subscription.id = 5;
  delivery.subscription.topic = "NoStock";
  delivery.subscription.protocol = protocol;
  delivery.subscription.endpoint = std::move(endpoint);
  return delivery;
}

// `options` with private targets allowed: the peers of these tests listen on 127.0.0.1, which
// the channels refuse by default.
inline WebhookChannelOptions Loopback(WebhookChannelOptions options = {}) {
  options.allow_private_targets = true;
  return options;
}

// One row of a status table: what the scripted server answers, and the outcome the channel
// must make of it.
struct StatusCase {
  ScriptedReply reply;
  core::SendResult::Kind kind;
  std::string error;  // part of the expected error text; what part is up to the test
  std::optional<std::chrono::seconds> retry_after;
};

// The replies of `cases`, in order: the script of a ScriptedHttpServer.
inline std::vector<ScriptedReply> RepliesOf(const std::vector<StatusCase>& cases) {
  std::vector<ScriptedReply> replies;
  replies.reserve(cases.size());
  for (const StatusCase& c : cases) replies.push_back(c.reply);
  return replies;
}

// Checks `result` against `expected`: its kind and retry_after, and its error text, which must
// be `error` unless delivered (then it must be empty).
inline void ExpectOutcome(const core::SendResult& result, const StatusCase& expected,
                          const std::string& error) {
  EXPECT_EQ(result.kind, expected.kind) << expected.reply.status << ": " << result.error;
  EXPECT_EQ(result.error, expected.kind == core::SendResult::Kind::kDelivered ? "" : error)
      << expected.reply.status;
  EXPECT_EQ(result.retry_after, expected.retry_after) << expected.reply.status;
}

// Every record a webhook_sink.py saved, parsed, in the order they arrived.
inline std::vector<nlohmann::json> SinkRecords(const Sink& sink) {
  std::vector<nlohmann::json> records;
  for (const auto& file : sink.Dir().Files(".json")) {
    records.push_back(nlohmann::json::parse(ReadFile(file)));
  }
  return records;
}

// Calls send(id) `per_thread` times on each of `threads` threads at once, with distinct ids
// (thread * 1000 + i), and returns how many calls returned false.
inline int SendConcurrently(int threads, int per_thread, const std::function<bool(int64_t)>& send) {
  std::vector<int> failures(static_cast<size_t>(threads), 0);
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        if (!send(int64_t{t} * 1000 + i)) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  int total = 0;
  for (int count : failures) total += count;
  return total;
}

}  // namespace stockwatch::adapters::notify_test
