// Routing, authentication and the handlers of every route in docs/API.md. Free of Beast:
// handlers see an HttpRequest with a BodyReader, never a socket.
#pragma once

#include <atomic>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/ports/credential_store.h"
#include "nlohmann/json.hpp"
#include "server/http_message.h"
#include "server/http_server.h"
#include "server/oidc_sign_in.h"
#include "server/request_handler.h"
#include "server/url.h"

namespace stockwatch::server {

// OK for an admin; kPermissionDenied "only an admin may <what>" for anyone else.
absl::Status RequireAdmin(const core::Principal& principal, std::string_view what);

// The session cookie's name: `__Host-sw_session` under TLS, else `sw_session`.
std::string_view SessionCookieName(bool tls);
// The value of cookie `name` in a Cookie header, if present.
std::optional<std::string_view> CookieValue(std::string_view cookie_header, std::string_view name);
// Whether `origin` (an Origin header) names this server: the request's `host` over http or
// https, or `public_url` (notify.public_url; compared without a trailing slash).
bool SameOrigin(std::string_view origin, std::string_view host, std::string_view public_url);
// The throttling key of a client address: an IPv6 address by its /64, anything else as is.
std::string ThrottleAddressKey(std::string_view address);
// Whether a subscription's filter policy limits `store` to stores inside `scope` (a
// manager's subscriptions must): {"store":["Berlin",...]} with exact names only.
bool PolicyWithinScope(std::string_view filter_policy, const core::ObjectScope& scope);

// How often `GET /api/v1/uploads/{id}?wait=N` re-reads the report while the upload is
// pending. Polling keeps the InventoryStore port free of a notification API; a GetReport
// is a point read, so 200 reads a second per waiting client are cheap.
inline constexpr std::chrono::milliseconds kReportPollInterval{5};
// GET /api/v1/events (event_handlers.cc): how often an open stream looks for new uploads,
// changes and alerts, the `: keepalive` comment sent after this long without an event,
// and the reconnection delay suggested to the browser (`retry:`).
inline constexpr std::chrono::milliseconds kEventPollInterval{100};
inline constexpr std::chrono::seconds kEventKeepAlive{15};
inline constexpr int64_t kEventRetryMillis = 2000;
// Longest `wait` accepted, in seconds.
inline constexpr int64_t kMaxWaitSeconds = 60;
// Most errors listed in the `details` of a refused upload.
inline constexpr size_t kMaxUploadErrorDetails = 10;
// Longest upload name, in bytes (after URL-decoding).
inline constexpr size_t kMaxUploadNameBytes = 1024;

// Answers requests. Thread-safe: every call works on its own request; shared state lives
// behind the (thread-safe) ports.
class ApiRouter final : public RequestHandler {
 public:
  // `services` and `options` must outlive the router.
  ApiRouter(const Services& services, const ServerOptions& options);

  // Authenticates, routes and handles one request, returning the response to send. Errors
  // become JSON error responses (StatusToHttp). May throw on a bug or std::bad_alloc; the
  // caller turns that into a 500.
  HttpResponse Handle(HttpRequest& request) override;
  // A JSON error (status_http.h).
  HttpResponse ErrorFor(const absl::Status& status, const std::string& request_id) override;

  // Makes pending and future long polls (`?wait=`) return at once. Called on shutdown.
  void Shutdown() override { shutting_down_.store(true, std::memory_order_relaxed); }

  // GET /api/v1/events for `principal` (event_handlers.cc): a text/event-stream response
  // whose producer sends the uploads, changes and alerts in `principal.scope` from now, or
  // from the request's Last-Event-ID. The producer uses this router: it must outlive it.
  absl::StatusOr<HttpResponse> StreamEvents(const HttpRequest& request,
                                            const core::Principal& principal);

 private:
  friend class EventStream;  // event_handlers.cc

  // Whether `request` came over HTTPS (this listener's TLS, or a trusted proxy's
  // X-Forwarded-Proto): its cookies are then `Secure` (the session's `__Host-`) and its
  // response carries HSTS.
  bool Secure(const HttpRequest& request) const { return options_.tls || request.secure; }
  // Handle without the security headers, which Handle adds to whatever this answers.
  HttpResponse HandleRequest(HttpRequest& request);
  // Authorizes (the role matrix in docs/API.md), then answers the account routes or
  // RouteApi(), filtering what a store-scoped principal may see (auth_handlers.cc).
  absl::StatusOr<HttpResponse> Route(HttpRequest& request, const core::Principal& principal);
  absl::StatusOr<HttpResponse> RouteApi(HttpRequest& request, const core::Principal& principal);
  // A session cookie (with the CSRF token and Origin checks of a state change) or a bearer
  // token; the principal carries its user's role and stores (auth_handlers.cc).
  absl::StatusOr<core::Principal> Authenticate(const HttpRequest& request);
  absl::StatusOr<core::Principal> AuthenticateBearer(std::string_view authorization);
  absl::StatusOr<core::Principal> AuthenticateSession(const HttpRequest& request,
                                                      std::string_view session_id);
  // The role checks of the matrix in docs/API.md: kPermissionDenied when `principal` may not
  // send `method` to the route of `segments`.
  absl::Status Authorize(std::string_view method, std::span<const std::string_view> segments,
                         const core::Principal& principal);
  // For a store-scoped principal: refuses (403, or 404 for what it may not see) requests
  // about stores outside its scope, before they run.
  absl::Status CheckStoreScope(std::string_view method, std::span<const std::string_view> segments,
                               const core::Principal& principal);
  // For a store-scoped principal: drops from a listing what lies outside its scope.
  absl::Status FilterForScope(std::span<const std::string_view> segments,
                              const core::Principal& principal, HttpResponse& response);

  // Accounts (auth_handlers.cc).
  HttpResponse Login(HttpRequest& request);
  // Sets `retry_after` (seconds) when the login is throttled.
  absl::StatusOr<HttpResponse> LoginOrError(HttpRequest& request, int64_t& retry_after);
  absl::StatusOr<HttpResponse> Logout(const core::Principal& principal, bool secure);
  absl::StatusOr<HttpResponse> GetMe(const core::Principal& principal);
  // Sets `retry_after` (seconds) when the change is throttled.
  absl::StatusOr<HttpResponse> ChangePassword(HttpRequest& request,
                                              const core::Principal& principal,
                                              int64_t& retry_after);
  absl::StatusOr<HttpResponse> ListTokens(const core::Principal& principal);
  absl::StatusOr<HttpResponse> CreateToken(HttpRequest& request, const core::Principal& principal);
  absl::StatusOr<HttpResponse> DeleteToken(std::string_view raw_id,
                                           const core::Principal& principal);
  absl::StatusOr<HttpResponse> ListUsers();
  absl::StatusOr<HttpResponse> CreateUser(HttpRequest& request);
  absl::StatusOr<HttpResponse> UpdateUser(std::string_view raw_name, HttpRequest& request);
  absl::StatusOr<HttpResponse> DeleteUser(std::string_view raw_name);
  // The Set-Cookie value that ends the session cookie (of a `secure` request: Secure()).
  std::string ClearedSessionCookie(bool secure) const;

  // Sign-in with OpenID Connect, reachable without credentials (oidc_handlers.cc).
  // REQUIRES: `path` starts with "/api/v1/oidc/".
  HttpResponse OidcRoute(HttpRequest& request, std::string_view path, std::string_view query);
  absl::StatusOr<HttpResponse> OidcLogin(bool secure);
  absl::StatusOr<HttpResponse> OidcCallback(HttpRequest& request, std::string_view query);
  // The local account the verified ID token `claims` describe, made or updated to the role
  // its groups give.
  absl::StatusOr<core::User> OidcUser(const nlohmann::json& claims);
  // oidc.redirect_url, or the public base URL + "/api/v1/oidc/callback".
  std::string OidcRedirectUrl() const;

  // Uploads (upload_handlers.cc).
  absl::StatusOr<HttpResponse> PutUpload(HttpRequest& request, const core::Principal& principal,
                                         std::string_view raw_name);
  absl::StatusOr<HttpResponse> ListUploads(const QueryParams& query,
                                           const core::Principal& principal);
  absl::StatusOr<HttpResponse> GetUpload(std::string_view raw_id, const QueryParams& query);
  absl::StatusOr<HttpResponse> GetUploadContent(std::string_view raw_id);
  absl::StatusOr<HttpResponse> GetUploadEvent(std::string_view raw_id);
  // `upload` JSON with status and, when applied, the report.
  absl::StatusOr<nlohmann::json> UploadWithStatus(const core::ObjectCreatedEvent& event);

  // Everything else (api_handlers.cc).
  // Inventory routes: only the stores in `principal.scope`.
  absl::StatusOr<HttpResponse> ListInventory(const QueryParams& query,
                                             const core::Principal& principal);
  absl::StatusOr<HttpResponse> GetItem(std::string_view raw_store, std::string_view raw_item,
                                       const core::Principal& principal);
  absl::StatusOr<HttpResponse> ListStores(const core::Principal& principal);
  // GET /api/v1/stats/out-of-stock (stats_handlers.cc).
  absl::StatusOr<HttpResponse> OutOfStockStats(const QueryParams& query,
                                               const core::Principal& principal);
  // Listings of a store-scoped principal are scoped while they are read, so their pages are
  // full and their cursors right (FilterForScope then keeps every entry).
  absl::StatusOr<HttpResponse> ListChanges(const QueryParams& query,
                                           const core::Principal& principal);
  absl::StatusOr<HttpResponse> ListAlerts(const QueryParams& query,
                                          const core::Principal& principal);
  absl::StatusOr<HttpResponse> ListTopics();
  absl::StatusOr<HttpResponse> UpdateTopic(std::string_view raw_name, HttpRequest& request,
                                           const core::Principal& principal);
  // User topics: admin only.
  absl::StatusOr<HttpResponse> CreateTopic(HttpRequest& request, const core::Principal& principal);
  absl::StatusOr<HttpResponse> DeleteTopic(std::string_view raw_name,
                                           const core::Principal& principal);
  absl::StatusOr<HttpResponse> ListSubscriptions();
  absl::StatusOr<HttpResponse> CreateSubscription(HttpRequest& request,
                                                  const core::Principal& principal);
  // Changes a subscription's filter policy and schedule: admin only.
  absl::StatusOr<HttpResponse> UpdateSubscription(std::string_view raw_id, HttpRequest& request,
                                                  const core::Principal& principal);
  absl::StatusOr<HttpResponse> DeleteSubscription(std::string_view raw_id);
  // POST /api/v1/subscriptions/{id}/test: one test message to that subscription only.
  absl::StatusOr<HttpResponse> SendTestMessage(std::string_view raw_id);
  absl::StatusOr<HttpResponse> ListDeliveries(const QueryParams& query,
                                              const core::Principal& principal);
  absl::StatusOr<HttpResponse> GetDelivery(std::string_view raw_id);
  // One failed delivery (`raw_id`) or, without it, every failed delivery.
  absl::StatusOr<HttpResponse> RedriveDeliveries(std::optional<std::string_view> raw_id);
  absl::StatusOr<HttpResponse> ListThresholds();
  absl::StatusOr<HttpResponse> PutThreshold(HttpRequest& request, const core::Principal& principal);

  // Message templates (template_handlers.cc). Changes need an admin principal.
  absl::StatusOr<HttpResponse> ListTemplates();
  absl::StatusOr<HttpResponse> PutTemplate(std::string_view raw_topic, HttpRequest& request,
                                           const core::Principal& principal);
  absl::StatusOr<HttpResponse> DeleteTemplate(std::string_view raw_topic, const QueryParams& query,
                                              const core::Principal& principal);
  absl::StatusOr<HttpResponse> PreviewTemplate(HttpRequest& request);

  // GET /api/v1/settings (settings_handlers.cc): every setting in force, secrets redacted.
  absl::StatusOr<HttpResponse> ListSettings();

  // S3 access keys (key_handlers.cc).
  absl::StatusOr<HttpResponse> ListKeys();
  absl::StatusOr<HttpResponse> CreateKey(HttpRequest& request);
  absl::StatusOr<HttpResponse> RevokeKey(std::string_view raw_id);

  // Subscriber routes, reachable without credentials (subscriber_handlers.cc).
  // REQUIRES: IsSubscriberRoute(path).
  HttpResponse SubscriberRoute(HttpRequest& request, std::string_view path, std::string_view query);
  absl::StatusOr<HttpResponse> Confirm(std::string_view query, bool json);
  absl::StatusOr<HttpResponse> UnsubscribePage(std::string_view query, bool json);
  absl::StatusOr<HttpResponse> UnsubscribeNow(HttpRequest& request, std::string_view query,
                                              bool json);
  absl::StatusOr<HttpResponse> SmsInbound(HttpRequest& request, std::string_view query);
  // The subscription an unsubscribe token names; kNotFound for a token that is not ours.
  absl::StatusOr<int64_t> UnsubscribeTokenId(std::string_view token);
  // SMS opt-outs (subscriber_handlers.cc).
  absl::StatusOr<HttpResponse> ListSmsOptOuts();
  absl::StatusOr<HttpResponse> SetSmsOptOut(std::string_view raw_number, bool opt_out);

  // The dashboard's static files, reachable without credentials (web_handlers.cc): GET and
  // HEAD of `/` (index.html) and `/assets/<file>`, with ETag/If-None-Match, Cache-Control and
  // gzip when Accept-Encoding allows. REQUIRES: IsWebRoute(path).
  HttpResponse WebRoute(const HttpRequest& request, std::string_view path);

  // Reads a whole (small) request body, up to options_.max_body_bytes; 413 beyond.
  absl::StatusOr<std::string> ReadSmallBody(HttpRequest& request);
  // Reads the body as a JSON object; kInvalidArgument if it is not one.
  absl::StatusOr<nlohmann::json> ReadJsonObject(HttpRequest& request);

  Services services_;
  const ServerOptions& options_;
  std::atomic<bool> shutting_down_{false};
  OidcAttemptStore oidc_attempts_;  // sign-ins waiting for the provider (oidc_handlers.cc)
};

// Whether `path` is a subscriber route (GET /confirm, /api/v1/subscriptions/confirm, GET and
// POST /unsubscribe, POST /sms/inbound): answered without credentials.
bool IsSubscriberRoute(std::string_view path);

// Whether `path` is one of the dashboard's static files: `/` or `/assets/...` (web_handlers.cc).
bool IsWebRoute(std::string_view path);

// The answer to a request for one of the dashboard's static files (ApiRouter::WebRoute, and
// the `api` Lambda function): GET and HEAD only (405 else), 404 for a file that does not
// exist, ETag/If-None-Match (304), Cache-Control, and the gzipped file when Accept-Encoding
// allows. REQUIRES: IsWebRoute(path).
HttpResponse WebAssetResponse(const HttpRequest& request, std::string_view path);

// Adds the security headers every response of the API listener carries (docs/API.md,
// "Security headers"): Content-Security-Policy, X-Content-Type-Options, Referrer-Policy,
// X-Frame-Options, and Strict-Transport-Security when `tls`. A header the handler set
// already is kept as it is.
void AddSecurityHeaders(HttpResponse& response, bool tls);

// A JSON response; invalid UTF-8 in strings (names are bytes) is replaced, never thrown on.
HttpResponse JsonResponse(int status, const nlohmann::json& body);

// Reads the whole body of `request` into a string, refusing (413) more than `limit` bytes.
absl::StatusOr<std::string> ReadWholeBody(BodyReader& body, uint64_t limit);

}  // namespace stockwatch::server
