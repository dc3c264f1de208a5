// The Beast listener. The only translation unit of the server that includes Beast; routing
// and handlers live in router.cc and friends and never see a socket.
//
// Threading: one acceptor thread runs an io_context with the asynchronous accept loop and a
// watchdog timer. Requests are served by worker threads with synchronous Beast calls, from
// the header to the last byte of the response: blocking I/O keeps the upload path a plain
// loop (read a chunk, validate it, store it) and lets a long poll simply sleep. A connection
// waiting for its next request holds no thread: it is parked in an epoll set (one-shot), and
// the workers wait in epoll_wait for whichever parked connection becomes readable (a new
// connection starts parked too). So a few workers serve many keep-alive connections, going
// from one ready connection to the next without sleeping while requests keep coming; a
// thread per connection, as before, made the scheduler the bottleneck (bench/RESULTS.md).
// Workers beyond kMinWorkers exit after kWorkerIdleExit without work. When no worker has
// come back to epoll_wait for kSpawnAfter (all of them in long polls, streams, slow uploads),
// the watcher thread starts another, so blocked workers never starve the other connections.
// TLS connections are not parked once their handshake is done (OpenSSL may hold decrypted
// bytes the socket no longer shows): their worker stays with them until they close.
// `max_connections` bounds the connections; more wait in the listen queue.
//
// Timeouts: synchronous socket calls have none, so every connection publishes a deadline
// before each blocking call (and when parked, its idle timeout) and the watchdog shuts down
// (shutdown(2), never close) the socket of any connection past its deadline, which makes the
// blocked call fail (or the parked connection readable). Only the worker serving a connection
// (or Stop(), once the workers are gone) closes its socket, under the registry mutex, so the
// watchdog never touches a closed (and possibly reused) descriptor.

#include "server/http_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/metrics.h"
#include "base/status.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/status_http.h"
#include "spdlog/spdlog.h"

namespace stockwatch::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Steady = std::chrono::steady_clock;

// How often the watchdog looks for connections past their deadline: the granularity of
// every timeout.
constexpr std::chrono::milliseconds kWatchdogInterval{100};
// A body the handler left unread is read and discarded up to this size to keep the
// connection alive; a longer one closes the connection.
constexpr uint64_t kMaxDrainBytes = 64 * 1024;
// Lingering close: after the response, what the client still sends is read and discarded
// for up to this long and this much, so that closing with unread input (which makes the
// kernel send RST) does not destroy a response the client has not read yet.
constexpr std::chrono::seconds kLingerTime{2};
constexpr uint64_t kMaxLingerBytes = 4 * 1024 * 1024;
// Bytes per write of a streamed response.
constexpr size_t kStreamChunkBytes = 64 * 1024;
// Longest a StreamProducer is asked to wait for more of its body: the delay before a
// streamed response notices that the client went away or the server is stopping.
constexpr std::chrono::milliseconds kProducerWait{200};
// Retry-After of the 503 answering a stream beyond ServerOptions::max_streams, in seconds.
constexpr char kStreamRetryAfterSeconds[] = "5";
// Workers kept even when idle; more exit after kWorkerIdleExit without a ready connection.
constexpr size_t kMinWorkers = 4;
constexpr int kWorkerIdleExitMillis = 1000;
// Under ThreadSanitizer, a connection is parked with EPOLL_CTL_DEL + ADD rather than MOD: GCC
// 12's ThreadSanitizer sees EPOLL_CTL_ADD -> epoll_wait as the hand-off between two workers it
// is, but not MOD, and would report the next worker's use of the connection as a race.
#if defined(__SANITIZE_THREAD__)
constexpr bool kReAddToPark = true;
#else
constexpr bool kReAddToPark = false;
#endif
// When no worker has entered epoll_wait for this long, the watcher starts another.
constexpr std::chrono::milliseconds kSpawnAfter{10};
// Longest client-supplied X-Request-Id echoed back; a longer or odd one is replaced.
constexpr size_t kMaxRequestIdBytes = 128;
constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

int64_t ToNanos(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return IsAsciiAlnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

std::string NewRequestId() {
  unsigned char bytes[8];
  randombytes_buf(bytes, sizeof bytes);
  char hex[2 * sizeof bytes + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  return hex;
}

// Errors meaning the peer went away or the watchdog shut the socket; not worth a log line.
bool IsDisconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::shut_down ||
         ec == net::error::operation_aborted || ec == net::error::bad_descriptor ||
         ec == net::ssl::error::stream_truncated;
}

// The bytes of one connection: the TCP socket itself, or TLS over it once `tls` is set.
// Beast's synchronous reads and writes take it as a SyncReadStream and SyncWriteStream.
class ConnectionStream {
 public:
  explicit ConnectionStream(tcp::socket& socket) : socket_(socket) {}

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    return tls ? tls->read_some(buffers, ec) : socket_.read_some(buffers, ec);
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, beast::error_code& ec) {
    return tls ? tls->write_some(buffers, ec) : socket_.write_some(buffers, ec);
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    beast::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

  // Set for a TLS listener before the handshake; reset to answer a plain HTTP request.
  std::optional<beast::ssl_stream<tcp::socket&>> tls;

 private:
  tcp::socket& socket_;
};

// Whether a failed TLS handshake was a plain HTTP request sent to the TLS port.
bool IsPlainHttpRequest(const beast::error_code& ec) {
  return &ec.category() == &net::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

// The OpenSSL error that made the last call fail, as text, and the error queue cleared.
std::string OpenSslError() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : fmt::format("OpenSSL error {:#x}", code);
  ERR_clear_error();
  return text;
}

// Refuses every passphrase request, so that an encrypted key fails to load instead of
// OpenSSL prompting on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

// The TLS context of a listener serving `cert_file` with `key_file` (ServerOptions).
absl::StatusOr<std::unique_ptr<net::ssl::context>> LoadTlsContext(const std::string& cert_file,
                                                                  const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key: only the " +
                                      std::string(cert_file.empty() ? "key" : "certificate") +
                                      " is given");
  }
  if (std::FILE* file = std::fopen(cert_file.c_str(), "r")) {
    std::fclose(file);
  } else {
    return absl::InvalidArgumentError(
        fmt::format("TLS certificate {}: cannot read it: {}", cert_file, std::strerror(errno)));
  }
  struct stat key_stat {};
  if (::stat(key_file.c_str(), &key_stat) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("TLS key {}: cannot read it: {}", key_file, std::strerror(errno)));
  }
  // A key every user can read is no longer a secret: refuse it rather than serve with it.
  if ((key_stat.st_mode & S_IROTH) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("TLS key {} is readable by every user (mode {:04o}); make it private, "
                    "e.g. chmod 600 {}",
                    key_file, key_stat.st_mode & 07777, key_file));
  }
  auto context = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  ERR_clear_error();
  // TLS 1.2 at least; for 1.2 only forward-secret AEAD suites (TLS 1.3's are all such).
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return absl::InternalError("TLS: cannot set the cipher list: " + OpenSslError());
  }
  SSL_CTX_set_default_passwd_cb(native, &NoPassphrase);
  // The key first: a certificate loaded after it drops a key that does not match, which the
  // check below then names as such (the other order fails inside the key's loading).
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        fmt::format("TLS key {}: not a usable PEM private key (an encrypted key is not "
                    "supported): {}",
                    key_file, OpenSslError()));
  }
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(fmt::format(
        "TLS certificate {}: not a usable PEM certificate: {}", cert_file, OpenSslError()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        fmt::format("TLS key {} does not match the certificate {}", key_file, cert_file));
  }
  return context;
}

// One accepted connection. `socket` is used only by the connection's thread; `fd`,
// `deadline_ns` and `timed_out` are shared with the watchdog.
struct Connection {
  explicit Connection(tcp::socket s)
      : socket(std::move(s)), fd(socket.native_handle()), stream(socket) {}

  void SetTimeout(std::chrono::nanoseconds timeout) {
    deadline_ns.store(ToNanos(Steady::now() + timeout), std::memory_order_relaxed);
  }
  void ClearTimeout() { deadline_ns.store(kNoDeadline, std::memory_order_relaxed); }

  // The peer's IP address as text, looked up on the first request and kept for the others:
  // getpeername(2) and inet_ntop per request were a measurable part of a small request.
  // Connection thread only.
  const std::string& PeerAddress() {
    if (!peer_address) {
      beast::error_code ec;
      const tcp::endpoint peer = socket.remote_endpoint(ec);
      peer_address = ec ? std::string() : peer.address().to_string();
    }
    return *peer_address;
  }

  tcp::socket socket;
  const int fd;
  ConnectionStream stream;                  // every request and response goes through it
  std::optional<std::string> peer_address;  // PeerAddress(); connection thread only
  std::atomic<int64_t> deadline_ns{kNoDeadline};
  std::atomic<bool> timed_out{false};
  bool finished = false;  // the socket is closed; guarded by HttpServer::Impl::mu_
  // Serving worker only (a parked connection has none; the poller hands it to the next):
  beast::flat_buffer buffer;  // bytes read past the last request (pipelining)
  bool started = false;       // the TLS handshake is done (or not needed)
  bool in_epoll = false;      // added to the epoll set once
};

// The BodyReader of one request: pulls the body through the Beast parser into the
// handler's buffer, answering `Expect: 100-continue` first.
class BeastBodyReader final : public BodyReader {
 public:
  BeastBodyReader(Connection& connection, beast::flat_buffer& buffer,
                  http::request_parser<http::buffer_body>& parser, std::chrono::seconds timeout)
      : connection_(connection), buffer_(buffer), parser_(parser), timeout_(timeout) {
    const auto& message = parser_.get();
    expects_continue_ =
        message.version() >= 11 &&
        EqualsIgnoreCase(TrimAsciiWhitespace(View(message[http::field::expect])), "100-continue");
  }

  absl::StatusOr<size_t> Read(std::span<char> out, uint64_t limit) override {
    if (!error_.ok()) return error_;
    if (parser_.is_done()) return 0;
    if (std::optional<uint64_t> declared = content_length(); declared && *declared > limit) {
      return Fail(PayloadTooLarge(
          fmt::format("request body of {} bytes exceeds the limit of {} bytes", *declared, limit)));
    }
    if (expects_continue_ && !continue_sent_) {
      continue_sent_ = true;
      http::response<http::empty_body> interim{http::status::continue_, 11};
      beast::error_code ec;
      connection_.SetTimeout(timeout_);
      http::write(connection_.stream, interim, ec);
      connection_.ClearTimeout();
      if (ec) return Fail(IoError(ec, "sending 100 Continue"));
    }
    while (true) {
      auto& body = parser_.get().body();
      body.data = out.data();
      body.size = out.size();
      beast::error_code ec;
      connection_.SetTimeout(timeout_);
      http::read_some(connection_.stream, buffer_, parser_, ec);
      connection_.ClearTimeout();
      if (ec == http::error::need_buffer) ec = {};
      size_t n = out.size() - body.size;
      if (ec) return Fail(IoError(ec, "reading the request body"));
      received_ += n;
      if (received_ > limit) {
        return Fail(
            PayloadTooLarge(fmt::format("request body exceeds the limit of {} bytes", limit)));
      }
      if (n > 0 || parser_.is_done()) return n;
    }
  }

  std::optional<uint64_t> content_length() const override {
    boost::optional<uint64_t> length = parser_.content_length();
    if (!length) return std::nullopt;
    return *length;
  }

  // Whether the connection can carry another request: the body was read to its end, or
  // the rest was small enough to read and discard now.
  bool FinishForKeepAlive() {
    if (!error_.ok()) return false;
    if (parser_.is_done()) return true;
    // The client waits for 100 Continue before sending the body: don't ask for it.
    if (expects_continue_ && !continue_sent_) return false;
    std::optional<uint64_t> declared = content_length();
    if (declared && *declared - received_ > kMaxDrainBytes) return false;
    char discard[16 * 1024];
    uint64_t drained = 0;
    while (!parser_.is_done()) {
      absl::StatusOr<size_t> n =
          Read(std::span<char>(discard, sizeof discard), std::numeric_limits<uint64_t>::max());
      if (!n.ok()) return false;
      drained += *n;
      if (drained > kMaxDrainBytes) return false;
    }
    return true;
  }

 private:
  absl::Status Fail(absl::Status status) {
    error_ = std::move(status);
    return error_;
  }

  absl::Status IoError(const beast::error_code& ec, std::string_view doing) {
    if (connection_.timed_out.load(std::memory_order_relaxed)) {
      return absl::DeadlineExceededError(
          fmt::format("timed out {} (no progress for {} s)", doing, timeout_.count()));
    }
    if (&ec.category() == &http::make_error_code(http::error::need_buffer).category() &&
        !IsDisconnect(ec)) {
      // A parse error in the chunked framing.
      return absl::InvalidArgumentError(fmt::format("malformed request body: {}", ec.message()));
    }
    return absl::UnavailableError(fmt::format("connection failed {}: {}", doing, ec.message()));
  }

  Connection& connection_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  const std::chrono::seconds timeout_;
  bool expects_continue_ = false;
  bool continue_sent_ = false;
  uint64_t received_ = 0;
  absl::Status error_;
};

}  // namespace

// A worker thread; `exited` (guarded by Impl::workers_mu_) once it returns, to be joined.
struct Worker {
  std::thread thread;
  bool exited = false;
};

class HttpServer::Impl {
 public:
  Impl(const Services& services, ServerOptions options)
      : options_(std::move(options)),
        owned_router_(std::make_unique<ApiRouter>(services, options_)),
        handler_(*owned_router_) {
    Init();
  }
  Impl(RequestHandler& handler, ServerOptions options)
      : options_(std::move(options)), handler_(handler) {
    Init();
  }

  void Init() {
    options_.max_connections = std::max<size_t>(options_.max_connections, 1);
    // The router decides the cookie's name and HSTS on `tls`.
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) options_.tls = true;
    SW_CHECK(sodium_init() >= 0);
  }

  ~Impl() { Stop(); }

  absl::Status Start() {
    {
      std::lock_guard lock(state_mu_);
      if (started_) return absl::FailedPreconditionError("server already started");
      started_ = true;
    }
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      absl::StatusOr<std::unique_ptr<net::ssl::context>> context =
          LoadTlsContext(options_.tls_cert_file, options_.tls_key_file);
      if (!context.ok()) return context.status();
      tls_context_ = *std::move(context);
    }
    absl::StatusOr<tcp::endpoint> endpoint = ResolveListen();
    if (!endpoint.ok()) return endpoint.status();
    beast::error_code ec;
    acceptor_.open(endpoint->protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor_.close(ec);
      return absl::UnavailableError(
          fmt::format("cannot listen on {}: {}", options_.listen, ec.message()));
    }
    port_.store(acceptor_.local_endpoint().port(), std::memory_order_relaxed);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event stop_event{};
    stop_event.events = EPOLLIN;  // level-triggered and never read: wakes every worker
    stop_event.data.ptr = nullptr;
    if (epoll_fd_ < 0 || stop_fd_ < 0 ||
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &stop_event) != 0) {
      const std::string error = std::strerror(errno);
      acceptor_.close(ec);
      return absl::UnavailableError("http server: epoll: " + error);
    }
    last_wait_ns_.store(ToNanos(Steady::now()), std::memory_order_relaxed);
    {
      std::lock_guard lock(workers_mu_);
      for (size_t i = 0; i < kMinWorkers; ++i) SpawnWorkerLocked();
    }
    watch_thread_ = std::thread([this] { WatchWorkers(); });
    DoAccept();
    ArmWatchdog();
    accept_thread_ = std::thread([this] { RunAcceptor(); });
    spdlog::info("{} server listening on {}:{}", tls_context_ ? "https" : "http",
                 endpoint->address().to_string(), port());
    return absl::OkStatus();
  }

  uint16_t port() const { return port_.load(std::memory_order_relaxed); }

  void Stop() {
    {
      std::lock_guard lock(state_mu_);
      if (stopped_ || !started_) {
        stopped_ = true;
        return;
      }
      stopped_ = true;
    }
    stopping_.store(true, std::memory_order_relaxed);
    handler_.Shutdown();
    net::post(accept_ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      watchdog_.cancel();
    });
    if (accept_thread_.joinable()) accept_thread_.join();
    // The acceptor thread is gone, so the registry changes no more except for `finished`.
    {
      std::lock_guard lock(mu_);
      for (const auto& connection : connections_) {
        if (!connection->finished) ::shutdown(connection->fd, SHUT_RDWR);
      }
    }
    if (watch_thread_.joinable()) watch_thread_.join();
    const uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) != sizeof one) {
      spdlog::error("http server: cannot wake the workers: {}", std::strerror(errno));
    }
    // Workers finish what they serve (every blocked call fails now) and exit within a poll
    // interval; parked connections are closed below.
    std::list<Worker> workers;
    {
      std::lock_guard lock(workers_mu_);
      workers.swap(workers_);
    }
    for (Worker& worker : workers) worker.thread.join();
    std::lock_guard lock(mu_);
    for (const auto& connection : connections_) {
      if (!connection->finished) {
        beast::error_code ec;
        connection->socket.close(ec);
        connection->finished = true;
      }
    }
    connections_.clear();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (stop_fd_ >= 0) ::close(stop_fd_);
    epoll_fd_ = stop_fd_ = -1;
  }

 private:
  absl::StatusOr<tcp::endpoint> ResolveListen() {
    const std::string& listen = options_.listen;
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("listen address \"{}\" is not host:port", listen));
    }
    std::string host = listen.substr(0, colon);
    std::string port = listen.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    absl::StatusOr<int64_t> port_number = ParseInteger("listen port", port, 0, 65535);
    if (!port_number.ok()) return port_number.status();
    if (host.empty() || host == "*") host = "0.0.0.0";
    tcp::resolver resolver(accept_ioc_);
    beast::error_code ec;
    auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("listen address \"{}\": {}", listen, ec ? ec.message() : "no address"));
    }
    return results.begin()->endpoint();
  }

  void RunAcceptor() {
    try {
      accept_ioc_.run();
    } catch (const std::exception& e) {
      spdlog::critical("http acceptor thread failed: {}", e.what());
    }
  }

  // Acceptor thread only, like every function below up to Serve().
  void DoAccept() {
    acceptor_.async_accept(socket_ioc_, [this](beast::error_code ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (stopping_.load(std::memory_order_relaxed) || ec == net::error::operation_aborted) return;
    if (ec) {
      // E.g. out of descriptors: let the watchdog retry in a moment instead of spinning.
      spdlog::warn("http accept failed: {}", ec.message());
      accept_paused_ = true;
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto connection = std::make_unique<Connection>(std::move(socket));
    Connection* raw = connection.get();
    size_t count = 0;
    {
      std::lock_guard lock(mu_);
      connections_.push_back(std::move(connection));
      count = connections_.size();
    }
    // It waits parked for its first bytes (a request, or a TLS ClientHello).
    if (!Park(*raw)) {
      std::lock_guard lock(mu_);
      beast::error_code close_ec;
      raw->socket.close(close_ec);
      raw->finished = true;
    }
    if (count >= options_.max_connections) {
      accept_paused_ = true;
    } else {
      DoAccept();
    }
  }

  void ArmWatchdog() {
    watchdog_.expires_after(kWatchdogInterval);
    watchdog_.async_wait([this](beast::error_code ec) {
      if (ec || stopping_.load(std::memory_order_relaxed)) return;
      ShutDownExpired();
      Reap();
      ArmWatchdog();
    });
  }

  void ShutDownExpired() {
    int64_t now = ToNanos(Steady::now());
    std::lock_guard lock(mu_);
    for (const auto& connection : connections_) {
      if (connection->finished || connection->timed_out.load(std::memory_order_relaxed)) {
        continue;
      }
      if (connection->deadline_ns.load(std::memory_order_relaxed) <= now) {
        connection->timed_out.store(true, std::memory_order_relaxed);
        ::shutdown(connection->fd, SHUT_RDWR);
      }
    }
  }

  // Forgets finished connections, joins workers that exited, and resumes accepting if it was
  // paused.
  void Reap() {
    size_t count = 0;
    {
      std::lock_guard lock(mu_);
      for (auto it = connections_.begin(); it != connections_.end();) {
        if ((*it)->finished) {
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
      count = connections_.size();
    }
    std::list<Worker> exited;
    {
      std::lock_guard lock(workers_mu_);
      for (auto it = workers_.begin(); it != workers_.end();) {
        auto next = std::next(it);
        if (it->exited) exited.splice(exited.end(), workers_, it);
        it = next;
      }
    }
    for (Worker& worker : exited) worker.thread.join();
    if (accept_paused_ && count < options_.max_connections &&
        !stopping_.load(std::memory_order_relaxed)) {
      accept_paused_ = false;
      DoAccept();
    }
  }

  // --- Workers and the poller. ---

  // REQUIRES: workers_mu_ held.
  void SpawnWorkerLocked() {
    workers_.emplace_back();
    Worker& worker = workers_.back();
    try {
      worker.thread = std::thread([this, &worker] { WorkerLoop(worker); });
      ++live_workers_;
    } catch (const std::system_error& e) {
      spdlog::error("http server cannot start a worker thread: {}", e.what());
      workers_.pop_back();
    }
  }

  // Serves whichever parked connection becomes readable, one after another.
  void WorkerLoop(Worker& self) {
    while (!stopping_.load(std::memory_order_relaxed)) {
      last_wait_ns_.store(ToNanos(Steady::now()), std::memory_order_relaxed);
      epoll_event event{};
      const int n = ::epoll_wait(epoll_fd_, &event, 1, kWorkerIdleExitMillis);
      if (n < 0 && errno != EINTR) {
        spdlog::critical("http server: epoll_wait: {}", std::strerror(errno));
        break;
      }
      if (n == 1 && event.data.ptr == nullptr) break;  // Stop() signalled stop_fd_
      if (n == 1) {
        Serve(*static_cast<Connection*>(event.data.ptr));
        continue;
      }
      if (n == 0) {
        std::lock_guard lock(workers_mu_);
        if (live_workers_ > kMinWorkers) {
          --live_workers_;
          self.exited = true;
          return;
        }
      }
    }
    std::lock_guard lock(workers_mu_);
    --live_workers_;
    self.exited = true;
  }

  // Starts a worker when none has come back to epoll_wait for kSpawnAfter: every worker is
  // held by a long request, and parked connections that become ready need one.
  void WatchWorkers() {
    while (!stopping_.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(kSpawnAfter);
      const int64_t last = last_wait_ns_.load(std::memory_order_relaxed);
      if (ToNanos(Steady::now()) - last < std::chrono::nanoseconds(kSpawnAfter).count()) continue;
      std::lock_guard lock(workers_mu_);
      if (live_workers_ < options_.max_connections + kMinWorkers) {
        SpawnWorkerLocked();
        // The new worker enters epoll_wait at once; wait for another interval before the next.
        last_wait_ns_.store(ToNanos(Steady::now()), std::memory_order_relaxed);
      }
    }
  }

  // Serves `connection` until it waits for its next request (parked) or is done (closed).
  // The serving worker only.
  void Serve(Connection& connection) {
    bool open = false;
    try {
      open = ServeRequests(connection);
    } catch (const std::exception& e) {
      spdlog::error("http connection failed: {}", e.what());
    } catch (...) {
      spdlog::error("http connection failed: unknown exception");
    }
    if (open && Park(connection)) return;
    {
      std::lock_guard lock(mu_);
      beast::error_code ec;
      connection.socket.close(ec);  // also leaves the epoll set
      connection.finished = true;
    }
    net::post(accept_ioc_, [this] { Reap(); });
  }

  // Puts an idle plain-HTTP connection in the epoll set, with its idle timeout. Returns
  // false if it cannot (then it is closed).
  bool Park(Connection& connection) {
    if (stopping_.load(std::memory_order_relaxed)) return false;
    // A TLS connection's handshake is bounded like any other read: a client that connects and
    // sends nothing is cut off after io_timeout.
    connection.SetTimeout(tls_context_ && !connection.started ? options_.io_timeout
                                                              : options_.idle_timeout);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    event.data.ptr = &connection;
    bool added = connection.in_epoll;
    if (added && kReAddToPark) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd, nullptr);
      added = false;
    }
    // Set before the call: once it returns, another worker may hold the connection, and this
    // one must not touch it any more.
    connection.in_epoll = true;
    if (::epoll_ctl(epoll_fd_, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, connection.fd, &event) != 0) {
      spdlog::warn("http server: epoll_ctl: {}", std::strerror(errno));
      connection.in_epoll = added;
      return false;
    }
    return true;
  }

  // Serves requests of `connection` one after another. Returns true when it is idle and may
  // be parked (plain HTTP, keep-alive, nothing read past the last request), false when it is
  // done and must be closed.
  bool ServeRequests(Connection& connection) {
    if (!connection.started) {
      connection.started = true;
      if (tls_context_ && !Handshake(connection)) return false;
    }
    beast::flat_buffer& buffer = connection.buffer;
    bool served = false;
    while (!stopping_.load(std::memory_order_relaxed)) {
      // Waiting for the next request is the poller's job, unless bytes are already here.
      if (served && !connection.stream.tls && buffer.size() == 0) return true;
      http::request_parser<http::buffer_body> parser;
      parser.header_limit(options_.max_header_bytes);
      // Body limits depend on the route; the handler enforces them through BodyReader.
      // (Not boost::none: Beast 1.74 compares a Content-Length against an empty limit as
      // "too large".)
      parser.body_limit(std::numeric_limits<uint64_t>::max());
      beast::error_code ec;
      connection.SetTimeout(options_.idle_timeout);
      http::read_header(connection.stream, buffer, parser, ec);
      connection.ClearTimeout();
      if (ec) {
        if (!parser.got_some() || IsDisconnect(ec) || connection.timed_out.load()) return false;
        RefuseMalformed(connection, ec);
        return false;
      }
      if (!ServeOne(connection, buffer, parser)) return false;
      served = true;
    }
    return false;
  }

  // Starts TLS on a new connection of a TLS listener. Returns whether it may carry requests.
  // A plain HTTP request gets a plain 400 naming the fix, as a browser shows it.
  bool Handshake(Connection& connection) {
    connection.stream.tls.emplace(connection.socket, *tls_context_);
    beast::error_code ec;
    // Bounded like any other read: a client that connects and sends nothing is cut off.
    connection.SetTimeout(options_.io_timeout);
    connection.stream.tls->handshake(net::ssl::stream_base::server, ec);
    connection.ClearTimeout();
    if (!ec) return true;
    if (IsPlainHttpRequest(ec)) {
      connection.stream.tls.reset();
      base::Metrics::Get().http_requests.fetch_add(1, std::memory_order_relaxed);
      const std::string request_id = NewRequestId();
      HttpResponse response = handler_.ErrorFor(
          absl::InvalidArgumentError(
              "this port speaks HTTPS only: send the request to https:// instead of http://"),
          request_id);
      if (WriteResponse(connection, 11, request_id, response, /*keep_alive=*/false)) {
        LingeringClose(connection);
      }
    } else if (!IsDisconnect(ec) && !connection.timed_out.load(std::memory_order_relaxed)) {
      // Scanners and clients that distrust the certificate end here: not worth a warning.
      spdlog::debug("tls handshake failed: {}", ec.message());
    }
    return false;
  }

  // Handles one request whose header is parsed. Returns whether the connection stays open.
  bool ServeOne(Connection& connection, beast::flat_buffer& buffer,
                http::request_parser<http::buffer_body>& parser) {
    base::Metrics::Get().http_requests.fetch_add(1, std::memory_order_relaxed);
    const auto& message = parser.get();
    HttpRequest request;
    request.received_at = Steady::now();
    request.method = std::string(View(message.method_string()));
    request.target = std::string(View(message.target()));
    // The peer's address, for per-address login throttling.
    request.client_address = connection.PeerAddress();
    for (const auto& field : message) {
      request.headers.emplace_back(AsciiLower(View(field.name_string())),
                                   std::string(View(field.value())));
    }
    request.secure = tls_context_ != nullptr;
    if (options_.trust_proxy) ApplyForwardedHeaders(request);
    std::optional<std::string_view> client_id = request.Header("x-request-id");
    request.request_id =
        client_id && IsAcceptableRequestId(*client_id) ? std::string(*client_id) : NewRequestId();

    BeastBodyReader body(connection, buffer, parser, options_.io_timeout);
    request.body = &body;
    HttpResponse response;
    StreamSlot stream_slot(*this);
    try {
      response = handler_.Handle(request);
      if (response.producer && !stream_slot.Acquire()) {
        response = handler_.ErrorFor(
            absl::UnavailableError(fmt::format("too many open streams (at most {}); retry later",
                                               options_.max_streams)),
            request.request_id);
        response.headers.emplace_back("Retry-After", kStreamRetryAfterSeconds);
      }
    } catch (const std::exception& e) {
      spdlog::error("request {} {} {} failed: {}", request.request_id, request.method,
                    request.target, e.what());
      response = handler_.ErrorFor(absl::InternalError("internal error"), request.request_id);
      response.close = true;
    } catch (...) {
      spdlog::error("request {} {} {} failed: unknown exception", request.request_id,
                    request.method, request.target);
      response = handler_.ErrorFor(absl::InternalError("internal error"), request.request_id);
      response.close = true;
    }
    bool keep_alive = !response.close && parser.keep_alive() &&
                      !stopping_.load(std::memory_order_relaxed) && body.FinishForKeepAlive();
    auto elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - request.received_at);
    if (response.status >= 500) {
      spdlog::warn("{} {} -> {} ({} us, request {}): {}", request.method, request.target,
                   response.status, elapsed.count(), request.request_id, response.body);
    } else {
      spdlog::debug("{} {} -> {} ({} us, request {})", request.method, request.target,
                    response.status, elapsed.count(), request.request_id);
    }
    if (!WriteResponse(connection, message.version(), request.request_id, response, keep_alive)) {
      return false;
    }
    // Input left unread (an unread body, pipelined requests) must be drained before
    // closing; a request read to its end can simply be closed.
    if (!keep_alive && (!parser.is_done() || buffer.size() > 0)) LingeringClose(connection);
    return keep_alive;
  }

  // One of the ServerOptions::max_streams slots of open streamed responses, held from
  // Acquire() to destruction.
  class StreamSlot {
   public:
    explicit StreamSlot(Impl& impl) : impl_(impl) {}
    ~StreamSlot() {
      if (held_) impl_.open_streams_.fetch_sub(1, std::memory_order_relaxed);
    }
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;
    bool Acquire() {
      size_t open = impl_.open_streams_.load(std::memory_order_relaxed);
      do {
        if (open >= impl_.options_.max_streams) return false;
      } while (
          !impl_.open_streams_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
      held_ = true;
      return true;
    }

   private:
    Impl& impl_;
    bool held_ = false;
  };

  // Answers a request whose header could not be parsed, then closes.
  void RefuseMalformed(Connection& connection, const beast::error_code& ec) {
    base::Metrics::Get().http_requests.fetch_add(1, std::memory_order_relaxed);
    absl::Status status =
        ec == http::error::header_limit
            ? WithHttpStatus(absl::ResourceExhaustedError(fmt::format(
                                 "request header exceeds {} bytes", options_.max_header_bytes)),
                             431)
            : absl::InvalidArgumentError(fmt::format("malformed request: {}", ec.message()));
    const std::string request_id = NewRequestId();
    HttpResponse response = handler_.ErrorFor(status, request_id);
    if (WriteResponse(connection, 11, request_id, response, /*keep_alive=*/false)) {
      LingeringClose(connection);
    }
  }

  bool WriteResponse(Connection& connection, unsigned version, const std::string& request_id,
                     HttpResponse& response, bool keep_alive) {
    auto fill_header = [&](auto& message) {
      message.result(static_cast<unsigned>(response.status));
      message.version(version == 10 ? 10 : 11);
      message.set(http::field::server, "stockwatch");
      message.set("X-Request-Id", request_id);
      if (!response.content_type.empty()) {
        message.set(http::field::content_type, response.content_type);
      }
      for (const auto& [name, value] : response.headers) message.insert(name, value);
      message.keep_alive(keep_alive);
    };
    beast::error_code ec;
    if (response.producer && !response.stream) {
      http::response<http::buffer_body> message;
      fill_header(message);
      return WriteProduced(connection, message, *response.producer);
    }
    if (response.stream) {
      http::response<http::buffer_body> message;
      fill_header(message);
      return WriteStream(connection, message, *response.stream, response.stream_size);
    }
    if (response.head_content_length) {
      http::response<http::empty_body> message;
      fill_header(message);
      message.content_length(*response.head_content_length);
      http::response_serializer<http::empty_body> serializer(message);
      connection.SetTimeout(options_.io_timeout);
      http::write_header(connection.stream, serializer, ec);
      connection.ClearTimeout();
      return !ec;
    }
    http::response<http::string_body> message;
    fill_header(message);
    if (response.status != 204 && response.status != 304) {
      message.body() = std::move(response.body);
      message.prepare_payload();
    }
    connection.SetTimeout(options_.io_timeout);
    http::write(connection.stream, message, ec);
    connection.ClearTimeout();
    return !ec;
  }

  bool WriteStream(Connection& connection, http::response<http::buffer_body>& message,
                   core::ObjectReader& reader, uint64_t size) {
    message.content_length(size);
    message.body().data = nullptr;
    message.body().more = true;
    http::response_serializer<http::buffer_body> serializer(message);
    beast::error_code ec;
    connection.SetTimeout(options_.io_timeout);
    http::write_header(connection.stream, serializer, ec);
    connection.ClearTimeout();
    if (ec) return false;
    auto chunk = std::make_unique<char[]>(kStreamChunkBytes);
    uint64_t sent = 0;
    while (true) {
      absl::StatusOr<size_t> n = reader.Read(std::span<char>(chunk.get(), kStreamChunkBytes));
      if (!n.ok() || sent + (n.ok() ? *n : 0) > size) {
        // The status line is out; all we can do is cut the response short.
        spdlog::error("streaming a response failed after {} of {} bytes: {}", sent, size,
                      n.ok() ? "object longer than recorded" : n.status().ToString());
        return false;
      }
      if (*n == 0) break;
      message.body().data = chunk.get();
      message.body().size = *n;
      message.body().more = true;
      connection.SetTimeout(options_.io_timeout);
      http::write(connection.stream, serializer, ec);
      connection.ClearTimeout();
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return false;
      sent += *n;
    }
    if (sent != size) {
      spdlog::error("streaming a response ended after {} of {} bytes", sent, size);
      return false;
    }
    message.body().data = nullptr;
    message.body().size = 0;
    message.body().more = false;
    connection.SetTimeout(options_.io_timeout);
    http::write(connection.stream, serializer, ec);
    connection.ClearTimeout();
    return !ec;
  }

  // Sends the body `producer` makes, one chunk per piece, until it ends, the client goes
  // away or the server stops. Returns whether the response was sent whole (so the
  // connection may carry another request).
  bool WriteProduced(Connection& connection, http::response<http::buffer_body>& message,
                     StreamProducer& producer) {
    // HTTP/1.0 has no chunked encoding: the end of the body is the end of the connection.
    const bool chunked = message.version() >= 11;
    if (chunked) {
      message.chunked(true);
    } else {
      message.keep_alive(false);
    }
    message.body().data = nullptr;
    message.body().more = true;
    http::response_serializer<http::buffer_body> serializer(message);
    beast::error_code ec;
    connection.SetTimeout(options_.io_timeout);
    http::write_header(connection.stream, serializer, ec);
    connection.ClearTimeout();
    if (ec) return false;
    std::string piece;
    bool more = true;
    while (more) {
      if (stopping_.load(std::memory_order_relaxed) || PeerClosed(connection)) return false;
      piece.clear();
      more = producer.Next(piece, kProducerWait);
      if (piece.empty()) continue;
      message.body().data = piece.data();
      message.body().size = piece.size();
      message.body().more = true;
      connection.SetTimeout(options_.io_timeout);
      http::write(connection.stream, serializer, ec);
      connection.ClearTimeout();
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return false;
    }
    if (!chunked) return false;
    message.body().data = nullptr;
    message.body().size = 0;
    message.body().more = false;
    connection.SetTimeout(options_.io_timeout);
    http::write(connection.stream, serializer, ec);
    connection.ClearTimeout();
    return !ec;
  }

  // Whether the client has closed its side (or the connection failed), without blocking.
  // Bytes it sent (a pipelined request) stay unread. Under TLS a closing client first sends
  // an alert record (close_notify; record type 21), which is taken as closed too.
  static bool PeerClosed(Connection& connection) {
    constexpr unsigned char kTlsAlertRecord = 21;
    unsigned char byte = 0;
    ssize_t n = ::recv(connection.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return connection.stream.tls && byte == kTlsAlertRecord;
    if (n == 0) return true;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }

  void LingeringClose(Connection& connection) {
    beast::error_code ec;
    connection.socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    connection.SetTimeout(kLingerTime);
    char discard[16 * 1024];
    uint64_t total = 0;
    while (total < kMaxLingerBytes) {
      size_t n = connection.socket.read_some(net::buffer(discard), ec);
      if (ec) break;
      total += n;
    }
    connection.ClearTimeout();
  }

  ServerOptions options_;
  std::unique_ptr<ApiRouter> owned_router_;  // when serving the JSON API
  RequestHandler& handler_;
  // The certificate and key of a TLS listener (ServerOptions::tls_cert_file); null for plain
  // HTTP. Set by Start(), read-only afterwards.
  std::unique_ptr<net::ssl::context> tls_context_;
  net::io_context accept_ioc_{1};
  // Owns the connection sockets and is never run: they only see blocking calls.
  net::io_context socket_ioc_;
  tcp::acceptor acceptor_{accept_ioc_};
  net::steady_timer watchdog_{accept_ioc_};
  std::thread accept_thread_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> open_streams_{0};  // streamed responses being sent (StreamSlot)
  bool accept_paused_ = false;           // acceptor thread only

  std::mutex state_mu_;
  bool started_ = false;  // guarded by state_mu_
  bool stopped_ = false;  // guarded by state_mu_

  std::mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_;  // guarded by mu_

  // The workers (WorkerLoop) and their watcher (WatchWorkers).
  int epoll_fd_ = -1;  // set by Start(), closed by Stop()
  int stop_fd_ = -1;   // an eventfd in the epoll set, written by Stop()
  std::thread watch_thread_;
  // When a worker last entered epoll_wait (Steady nanoseconds).
  std::atomic<int64_t> last_wait_ns_{0};
  std::mutex workers_mu_;
  std::list<Worker> workers_;  // guarded by workers_mu_; joined by Reap() or Stop()
  size_t live_workers_ = 0;    // workers not exited; guarded by workers_mu_
};

absl::Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file) {
  return LoadTlsContext(cert_file, key_file).status();
}

HttpServer::HttpServer(Services services, ServerOptions options)
    : impl_(std::make_unique<Impl>(services, std::move(options))) {}

HttpServer::HttpServer(RequestHandler& handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(handler, std::move(options))) {}

HttpServer::~HttpServer() = default;

absl::Status HttpServer::Start() { return impl_->Start(); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace stockwatch::server
