// Test helpers for the notify channel tests: temporary directories, child processes (the
// Python sinks in tests/integration/) and a port nobody listens on. Test code only.
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
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/status.h"
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

}  // namespace stockwatch::adapters::notify_test
