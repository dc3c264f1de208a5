// The HTTP listener of `stockwatch serve`: the JSON API under /api/v1, the upload route,
// /healthz and /metrics. See docs/API.md for the routes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/config.h"
#include "base/work_signal.h"
#include "core/auth/login_throttle.h"
#include "core/auth/password.h"
#include "core/csv/inventory_csv.h"
#include "core/delivery/subscriber_links.h"
#include "core/ports/access_key_store.h"
#include "core/ports/change_stream.h"
#include "core/ports/clock.h"
#include "core/ports/credential_store.h"
#include "core/ports/identity_provider.h"
#include "core/ports/inventory_store.h"
#include "core/ports/notifier.h"
#include "core/ports/object_store.h"
#include "core/ports/user_store.h"
#include "server/oidc_sign_in.h"
#include "server/request_handler.h"

namespace stockwatch::server {

// The ports and wake-ups the handlers use. All referenced objects outlive the server.
struct Services {
  core::ObjectStore& objects;
  core::InventoryStore& inventory;
  core::ChangeStream& changes;
  core::Notifier& notifier;
  core::CredentialStore& credentials;
  core::Clock& clock;
  base::WorkSignal& loader_wakeup;    // notified after each upload is committed
  core::AccessKeyStore& access_keys;  // S3 access keys, managed under /api/v1/keys
  // Local accounts and their sessions: login, session cookies, /api/v1/users.
  core::UserStore& users;
  // Notified when deliveries become due outside the pipeline (a redrive); may be null.
  base::WorkSignal* deliver_wakeup = nullptr;
  // Checks passwords at login and hashes new ones. Null: every login and password change is
  // refused (503).
  const core::PasswordHasher* passwords = nullptr;
  // Failed logins per account and per address (429 with Retry-After when locked). Null: no
  // throttling.
  core::LoginThrottle* login_throttle = nullptr;
  // The OpenID Connect provider of `/api/v1/oidc/*` sign-ins. Null: OIDC sign-in is off.
  core::IdentityProvider* identity_provider = nullptr;
};

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port. Default 127.0.0.1:8080.
  std::string listen = "127.0.0.1:8080";
  // Whether clients reach this listener over TLS: the session cookie is then
  // `__Host-sw_session` with `Secure`, and responses carry Strict-Transport-Security. Set
  // by the server itself when it serves TLS (tls_cert_file). Default false.
  bool tls = false;
  // TLS: the PEM certificate (chain, the server's first) and its PEM private key, which must
  // not be readable by every user (Start() refuses it otherwise) nor encrypted. With both
  // set, the listener speaks HTTPS only (TLS 1.2 or later); a plain HTTP request is answered
  // 400 and the connection closed. Both or neither. Default: neither (plain HTTP).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Whether a reverse proxy in front of the listener is trusted: its X-Forwarded-Proto:
  // https marks a request as secure (cookie and HSTS as under TLS) and the last hop of its
  // X-Forwarded-For is the client's address (login throttling); see ApplyForwardedHeaders.
  // Without it both headers are ignored. Default false.
  bool trust_proxy = false;
  // Largest upload body accepted, in bytes. Default 1 GiB.
  uint64_t max_upload_bytes = uint64_t{1} << 30;
  // Largest body of any other request, in bytes. Default 1 MiB.
  uint64_t max_body_bytes = uint64_t{1} << 20;
  // Largest request header block, in bytes. Default 16 KiB.
  uint32_t max_header_bytes = 16 * 1024;
  // Connections served at once; more wait in the accept queue. Default 256.
  size_t max_connections = 256;
  // Streamed responses of unknown length (HttpResponse::producer, e.g. GET /api/v1/events)
  // open at once; one more is answered 503 with Retry-After, so streams cannot take every
  // connection. Default 64.
  size_t max_streams = 64;
  // A connection idle this long between requests is closed; it also bounds the time to
  // receive a request's header. Default 60 s.
  std::chrono::seconds idle_timeout{60};
  // Longest a read of a request body or a write of a response may go without progress
  // (the per-request timeout; a 1 GiB upload may take minutes as long as bytes flow).
  // The connection is closed when it passes. Default 30 s.
  std::chrono::seconds io_timeout{30};
  // Bad-row policy applied while an upload arrives (the loader applies the same one).
  // Default kSkip.
  core::BadRowPolicy bad_row_policy = core::BadRowPolicy::kSkip;
  // Bucket that API uploads go to. Default "inventory".
  std::string bucket = "inventory";
  // Region named in the S3-shaped event documents (`/api/v1/uploads/{id}/event`).
  // Default "us-east-1".
  std::string region = "us-east-1";
  // The subscriber routes (GET /confirm, /unsubscribe, POST /sms/inbound; no credentials):
  // the public base URL (links.base_url; /sms/inbound checks Twilio's signature over it)
  // and the key of unsubscribe tokens (server/subscriber_tokens.h). An empty key refuses
  // every unsubscribe token. Defaults: no base URL, no key.
  core::SubscriberLinks links;
  // OpenID Connect sign-in (used when Services::identity_provider is set).
  OidcSignInOptions oidc;
  // The settings in force, listed (secrets redacted) by GET /api/v1/settings; not owned, must
  // outlive the server. Null: the route lists every setting at its default.
  const base::Config* settings = nullptr;
  std::string link_key;
  // Checks the X-Twilio-Signature of POST /sms/inbound: (full URL, decoded form
  // parameters, header value) -> genuine. Null: every inbound SMS is refused (403).
  std::function<bool(std::string_view, const std::vector<std::pair<std::string, std::string>>&,
                     std::string_view)>
      verify_sms_signature;
  // Reads an inbound text: true for an opt-out keyword (STOP), false for an opt-in one
  // (START), nullopt for anything else. Null: every text is "anything else".
  std::function<std::optional<bool>(std::string_view)> parse_sms_keyword;
};

// Checks a TLS certificate and key as HttpServer::Start() does (ServerOptions::tls_cert_file
// and tls_key_file), so that a command can refuse them before doing anything else.
// kInvalidArgument naming the file and the problem.
absl::Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file);

// Serves HTTP/1.1 on a listening socket, or HTTPS with ServerOptions::tls_cert_file:
// keep-alive, pipelining, chunked or Content-Length bodies, `Expect: 100-continue`. The TLS
// handshake is bounded by `io_timeout`. One acceptor thread; requests are served with
// blocking I/O by a few worker threads, and a connection between requests waits in an epoll
// set holding no thread (http_server.cc, "Threading"); at most `max_connections` at once
// (more wait in the listen queue). A watchdog closes connections idle past `idle_timeout`
// or making no progress for `io_timeout`. Uploads are streamed through the CSV validator
// into the ObjectStore, never held in memory whole. Thread-safe.
class HttpServer {
 public:
  // Serves the JSON API (an ApiRouter over `services`).
  HttpServer(Services services, ServerOptions options);
  // Serves `handler`, which must outlive the server. Of `options`, the listener uses
  // listen, tls_cert_file, tls_key_file, trust_proxy, max_header_bytes, max_connections,
  // max_streams, idle_timeout and io_timeout.
  HttpServer(RequestHandler& handler, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads. kInvalidArgument for a bad listen
  // address, or for a TLS certificate or key that cannot be used (only one of the two given,
  // unreadable, not PEM, an encrypted or world-readable key, a key not matching the
  // certificate; the message names the file); kUnavailable if the address cannot be bound.
  absl::Status Start();
  // The bound port (after Start()).
  uint16_t port() const;
  // Stops accepting, closes connections and joins the threads. Idempotent.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stockwatch::server
