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
#include "server/request_handler.h"
#include "server/url.h"

namespace stockwatch::server {

// OK for an admin; kPermissionDenied "only an admin may <what>" for anyone else (today every
// token is an admin's; roles grow with the dashboard).
absl::Status RequireAdmin(const core::Principal& principal, std::string_view what);

// How often `GET /api/v1/uploads/{id}?wait=N` re-reads the report while the upload is
// pending. Polling keeps the InventoryStore port free of a notification API; a GetReport
// is a point read, so 200 reads a second per waiting client are cheap.
inline constexpr std::chrono::milliseconds kReportPollInterval{5};
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

 private:
  absl::StatusOr<HttpResponse> Route(HttpRequest& request, const core::Principal& principal);
  absl::StatusOr<core::Principal> Authenticate(const HttpRequest& request);

  // Uploads (upload_handlers.cc).
  absl::StatusOr<HttpResponse> PutUpload(HttpRequest& request, const core::Principal& principal,
                                         std::string_view raw_name);
  absl::StatusOr<HttpResponse> ListUploads(const QueryParams& query);
  absl::StatusOr<HttpResponse> GetUpload(std::string_view raw_id, const QueryParams& query);
  absl::StatusOr<HttpResponse> GetUploadContent(std::string_view raw_id);
  absl::StatusOr<HttpResponse> GetUploadEvent(std::string_view raw_id);
  // `upload` JSON with status and, when applied, the report.
  absl::StatusOr<nlohmann::json> UploadWithStatus(const core::ObjectCreatedEvent& event);

  // Everything else (api_handlers.cc).
  absl::StatusOr<HttpResponse> ListInventory(const QueryParams& query);
  absl::StatusOr<HttpResponse> GetItem(std::string_view raw_store, std::string_view raw_item);
  absl::StatusOr<HttpResponse> ListStores();
  absl::StatusOr<HttpResponse> ListChanges(const QueryParams& query);
  absl::StatusOr<HttpResponse> ListAlerts(const QueryParams& query);
  absl::StatusOr<HttpResponse> ListTopics();
  absl::StatusOr<HttpResponse> UpdateTopic(std::string_view raw_name, HttpRequest& request,
                                           const core::Principal& principal);
  // User topics: admin only.
  absl::StatusOr<HttpResponse> CreateTopic(HttpRequest& request, const core::Principal& principal);
  absl::StatusOr<HttpResponse> DeleteTopic(std::string_view raw_name,
                                           const core::Principal& principal);
  absl::StatusOr<HttpResponse> ListSubscriptions();
  absl::StatusOr<HttpResponse> CreateSubscription(HttpRequest& request);
  // Changes a subscription's filter policy and schedule: admin only.
  absl::StatusOr<HttpResponse> UpdateSubscription(std::string_view raw_id, HttpRequest& request,
                                                  const core::Principal& principal);
  absl::StatusOr<HttpResponse> DeleteSubscription(std::string_view raw_id);
  absl::StatusOr<HttpResponse> ListDeliveries(const QueryParams& query);
  absl::StatusOr<HttpResponse> GetDelivery(std::string_view raw_id);
  // One failed delivery (`raw_id`) or, without it, every failed delivery.
  absl::StatusOr<HttpResponse> RedriveDeliveries(std::optional<std::string_view> raw_id);
  absl::StatusOr<HttpResponse> ListThresholds();
  absl::StatusOr<HttpResponse> PutThreshold(HttpRequest& request);

  // Message templates (template_handlers.cc). Changes need an admin principal.
  absl::StatusOr<HttpResponse> ListTemplates();
  absl::StatusOr<HttpResponse> PutTemplate(std::string_view raw_topic, HttpRequest& request,
                                           const core::Principal& principal);
  absl::StatusOr<HttpResponse> DeleteTemplate(std::string_view raw_topic, const QueryParams& query,
                                              const core::Principal& principal);
  absl::StatusOr<HttpResponse> PreviewTemplate(HttpRequest& request);

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

  // Reads a whole (small) request body, up to options_.max_body_bytes; 413 beyond.
  absl::StatusOr<std::string> ReadSmallBody(HttpRequest& request);
  // Reads the body as a JSON object; kInvalidArgument if it is not one.
  absl::StatusOr<nlohmann::json> ReadJsonObject(HttpRequest& request);

  Services services_;
  const ServerOptions& options_;
  std::atomic<bool> shutting_down_{false};
};

// Whether `path` is a subscriber route (GET /confirm, /api/v1/subscriptions/confirm, GET and
// POST /unsubscribe, POST /sms/inbound): answered without credentials.
bool IsSubscriberRoute(std::string_view path);

// A JSON response; invalid UTF-8 in strings (names are bytes) is replaced, never thrown on.
HttpResponse JsonResponse(int status, const nlohmann::json& body);

// Reads the whole body of `request` into a string, refusing (413) more than `limit` bytes.
absl::StatusOr<std::string> ReadWholeBody(BodyReader& body, uint64_t limit);

}  // namespace stockwatch::server
