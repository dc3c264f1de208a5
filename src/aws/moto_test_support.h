// moto_server for the C++ tests that talk to it (aws_moto_test, dynamodb_mirror_moto_test):
// started on a free loopback port in its own process group, waited for, stopped; and plain
// (unsigned) calls to moto's own API. Test-only, header-only.
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

namespace stockwatch::aws::moto_test {

inline size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// A plain (unsigned) HTTP call to moto's own API (/moto-api/...). Returns the body, or
// "" with *status 0 when nothing answered.
inline std::string PlainHttp(const std::string& method, const std::string& url,
                             const std::string& body = "", long* status = nullptr) {
  CURL* curl = curl_easy_init();
  std::string out;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: text/plain");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  long code = 0;
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (status != nullptr) *status = code;
  return out;
}

// A port below the ephemeral range (RECIPES.md) that nothing listens on right now.
inline int PickFreePort() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int tries = 0; tries < 100; ++tries) {
    const int port = pick(rng);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

// One moto_server process, in its own process group, stopped by its id.
class MotoServer {
 public:
  bool Start() {
    const int port = PickFreePort();
    if (port == 0) return false;
    log_ = (std::filesystem::temp_directory_path() /
            ("aws_moto_test_" + std::to_string(getpid()) + "_" + std::to_string(port) + ".log"))
               .string();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      FILE* log = std::freopen(log_.c_str(), "w", stdout);
      if (log != nullptr) dup2(fileno(stdout), STDERR_FILENO);
      const std::string port_text = std::to_string(port);
      execlp("moto_server", "moto_server", "-H", "127.0.0.1", "-p", port_text.c_str(),
             static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ < 0) return false;
    endpoint_ = "http://127.0.0.1:" + std::to_string(port);
    // moto takes a few seconds to import; wait until its API answers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      int exit_status = 0;
      if (waitpid(pid_, &exit_status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      long status = 0;
      PlainHttp("GET", endpoint_ + "/moto-api/", "", &status);
      if (status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    int exit_status = 0;
    waitpid(pid_, &exit_status, 0);
    pid_ = -1;
    std::filesystem::remove(log_);
  }

  const std::string& endpoint() const { return endpoint_; }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
  std::string log_;
};

// The moto_server a test suite shares: call StartSuiteMoto() in SetUpTestSuite (nullptr
// when it did not start; each test's SetUp then fails saying so) and StopSuiteMoto() in
// TearDownTestSuite.
inline MotoServer* StartSuiteMoto() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto* moto = new MotoServer();
  if (!moto->Start()) {
    delete moto;
    return nullptr;
  }
  return moto;
}

inline void StopSuiteMoto(MotoServer*& moto) {
  if (moto != nullptr) moto->Stop();
  delete moto;
  moto = nullptr;
}

}  // namespace stockwatch::aws::moto_test
