#include "server/router.h"

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "base/status.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/status_http.h"

namespace stockwatch::server {
namespace {

// Longest part of a request path echoed back in an error message.
constexpr size_t kMaxEchoedPathBytes = 200;

HttpResponse MethodNotAllowed(std::string_view method, std::string_view allow) {
  HttpResponse response = ErrorResponse(WithHttpStatus(
      absl::UnimplementedError(fmt::format("method {} is not allowed here; use {}", method, allow)),
      405));
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

absl::Status NoRoute(std::string_view method, std::string_view path) {
  return absl::NotFoundError(
      fmt::format("no route for {} {}", method, path.substr(0, kMaxEchoedPathBytes)));
}

}  // namespace

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

absl::StatusOr<std::string> ReadWholeBody(BodyReader& body, uint64_t limit) {
  std::optional<uint64_t> declared = body.content_length();
  if (declared && *declared > limit) {
    return PayloadTooLarge(
        fmt::format("request body of {} bytes exceeds the limit of {} bytes", *declared, limit));
  }
  std::string out;
  if (declared) out.reserve(*declared);
  char buffer[16 * 1024];
  while (true) {
    SW_ASSIGN_OR_RETURN(size_t n, body.Read(std::span<char>(buffer, sizeof buffer), limit));
    if (n == 0) break;
    out.append(buffer, n);
  }
  return out;
}

ApiRouter::ApiRouter(const Services& services, const ServerOptions& options)
    : services_(services), options_(options) {}

HttpResponse ApiRouter::ErrorFor(const absl::Status& status, const std::string&) {
  HttpResponse response = ErrorResponse(status);
  AddSecurityHeaders(response, options_.tls);
  return response;
}

HttpResponse ApiRouter::Handle(HttpRequest& request) {
  // Every response, whichever branch of HandleRequest answers it, carries the security headers.
  HttpResponse response = HandleRequest(request);
  AddSecurityHeaders(response, Secure(request));
  return response;
}

HttpResponse ApiRouter::HandleRequest(HttpRequest& request) {
  TargetParts target = SplitTarget(request.target);
  // Open routes: liveness, so a load balancer needs no token, and the subscriber links below.
  if (target.path == "/healthz") {
    if (request.method != "GET") return MethodNotAllowed(request.method, "GET");
    return JsonResponse(200, {{"status", "ok"}});
  }
  // Links sent to subscribers: the token they carry is the credential.
  if (IsSubscriberRoute(target.path)) return SubscriberRoute(request, target.path, target.query);
  // Logging in needs no credentials: the password is the credential (auth_handlers.cc).
  if (target.path == "/api/v1/login") return Login(request);
  // Signing in with OpenID Connect: the provider is the credential (oidc_handlers.cc).
  if (target.path.starts_with("/api/v1/oidc/")) {
    return OidcRoute(request, target.path, target.query);
  }
  // The dashboard's static files: the app itself asks for credentials (POST /api/v1/login).
  if (IsWebRoute(target.path)) return WebRoute(request, target.path);
  absl::StatusOr<core::Principal> principal = Authenticate(request);
  if (!principal.ok()) return ErrorResponse(principal.status());
  absl::StatusOr<HttpResponse> response = Route(request, *principal);
  if (!response.ok()) return ErrorResponse(response.status());
  return *std::move(response);
}

absl::StatusOr<HttpResponse> ApiRouter::RouteApi(HttpRequest& request,
                                                 const core::Principal& principal) {
  TargetParts target = SplitTarget(request.target);
  SW_ASSIGN_OR_RETURN(QueryParams query, QueryParams::Parse(target.query));
  std::vector<std::string_view> segments = PathSegments(target.path);
  const std::string& method = request.method;
  bool get = method == "GET";

  if (segments.size() == 1 && segments[0] == "metrics") {
    if (!get) return MethodNotAllowed(method, "GET");
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = base::Metrics::Get().RenderPrometheus();
    return response;
  }
  if (segments.size() < 3 || segments[0] != "api" || segments[1] != "v1") {
    return NoRoute(method, target.path);
  }
  std::span<const std::string_view> rest(segments.begin() + 2, segments.end());
  std::string_view collection = rest[0];

  if (collection == "uploads") {
    if (rest.size() == 1) {
      if (!get) return MethodNotAllowed(method, "GET");
      return ListUploads(query, principal);
    }
    if (rest.size() == 2) {
      if (method == "PUT") return PutUpload(request, principal, rest[1]);
      if (!get) return MethodNotAllowed(method, "GET, PUT");
      return GetUpload(rest[1], query);
    }
    if (rest.size() == 3 && (rest[2] == "content" || rest[2] == "event")) {
      if (!get) return MethodNotAllowed(method, "GET");
      return rest[2] == "content" ? GetUploadContent(rest[1]) : GetUploadEvent(rest[1]);
    }
  } else if (collection == "inventory") {
    if (rest.size() == 1 || rest.size() == 3) {
      if (!get) return MethodNotAllowed(method, "GET");
      return rest.size() == 1 ? ListInventory(query, principal)
                              : GetItem(rest[1], rest[2], principal);
    }
  } else if (rest.size() == 1 && collection == "stores") {
    if (!get) return MethodNotAllowed(method, "GET");
    return ListStores(principal);
  } else if (rest.size() == 2 && collection == "stats" && rest[1] == "out-of-stock") {
    if (!get) return MethodNotAllowed(method, "GET");
    return OutOfStockStats(query, principal);
  } else if (rest.size() == 1 && collection == "events") {
    if (!get) return MethodNotAllowed(method, "GET");
    return StreamEvents(request, principal);
  } else if (rest.size() == 1 && collection == "changes") {
    if (!get) return MethodNotAllowed(method, "GET");
    return ListChanges(query, principal);
  } else if (rest.size() == 1 && collection == "alerts") {
    if (!get) return MethodNotAllowed(method, "GET");
    return ListAlerts(query, principal);
  } else if (rest.size() == 1 && collection == "topics") {
    if (get) return ListTopics();
    if (method == "POST") return CreateTopic(request, principal);
    return MethodNotAllowed(method, "GET, POST");
  } else if (rest.size() == 2 && collection == "topics") {
    if (method == "PUT") return UpdateTopic(rest[1], request, principal);
    if (method == "DELETE") return DeleteTopic(rest[1], principal);
    return MethodNotAllowed(method, "PUT, DELETE");
  } else if (collection == "subscriptions") {
    if (rest.size() == 1) {
      if (get) return ListSubscriptions();
      if (method == "POST") return CreateSubscription(request, principal);
      return MethodNotAllowed(method, "GET, POST");
    }
    if (rest.size() == 2) {
      if (method == "PATCH") return UpdateSubscription(rest[1], request, principal);
      if (method != "DELETE") return MethodNotAllowed(method, "PATCH, DELETE");
      return DeleteSubscription(rest[1]);
    }
    if (rest.size() == 3 && rest[2] == "test") {
      if (method != "POST") return MethodNotAllowed(method, "POST");
      return SendTestMessage(rest[1]);
    }
  } else if (collection == "deliveries") {
    if (rest.size() == 1) {
      if (!get) return MethodNotAllowed(method, "GET");
      return ListDeliveries(query, principal);
    }
    if (rest.size() == 2 && rest[1] == "redrive") {
      if (method != "POST") return MethodNotAllowed(method, "POST");
      return RedriveDeliveries(std::nullopt);
    }
    if (rest.size() == 2) {
      if (!get) return MethodNotAllowed(method, "GET");
      return GetDelivery(rest[1]);
    }
    if (rest.size() == 3 && rest[2] == "redrive") {
      if (method != "POST") return MethodNotAllowed(method, "POST");
      return RedriveDeliveries(rest[1]);
    }
  } else if (collection == "sms" && rest.size() >= 2 && rest[1] == "opt-outs") {
    if (rest.size() == 2) {
      if (!get) return MethodNotAllowed(method, "GET");
      return ListSmsOptOuts();
    }
    if (rest.size() == 3) {
      if (method == "PUT") return SetSmsOptOut(rest[2], true);
      if (method == "DELETE") return SetSmsOptOut(rest[2], false);
      return MethodNotAllowed(method, "PUT, DELETE");
    }
  } else if (collection == "keys") {
    if (rest.size() == 1) {
      if (get) return ListKeys();
      if (method == "POST") return CreateKey(request);
      return MethodNotAllowed(method, "GET, POST");
    }
    if (rest.size() == 2) {
      if (method != "DELETE") return MethodNotAllowed(method, "DELETE");
      return RevokeKey(rest[1]);
    }
  } else if (collection == "templates") {
    if (rest.size() == 1) {
      if (!get) return MethodNotAllowed(method, "GET");
      return ListTemplates();
    }
    if (rest.size() == 2) {
      // "preview" may also be a topic's name: POST previews, PUT and DELETE are the topic's.
      if (method == "POST" && rest[1] == "preview") return PreviewTemplate(request);
      if (method == "PUT") return PutTemplate(rest[1], request, principal);
      if (method == "DELETE") return DeleteTemplate(rest[1], query, principal);
      return MethodNotAllowed(method, rest[1] == "preview" ? "POST, PUT, DELETE" : "PUT, DELETE");
    }
  } else if (rest.size() == 1 && collection == "settings") {
    if (!get) return MethodNotAllowed(method, "GET");
    return ListSettings();
  } else if (rest.size() == 1 && collection == "thresholds") {
    if (get) return ListThresholds();
    if (method == "PUT") return PutThreshold(request, principal);
    return MethodNotAllowed(method, "GET, PUT");
  }
  return NoRoute(method, target.path);
}

absl::StatusOr<std::string> ApiRouter::ReadSmallBody(HttpRequest& request) {
  return ReadWholeBody(*request.body, options_.max_body_bytes);
}

absl::StatusOr<nlohmann::json> ApiRouter::ReadJsonObject(HttpRequest& request) {
  SW_ASSIGN_OR_RETURN(std::string text, ReadSmallBody(request));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError("request body is not valid JSON");
  if (!json.is_object()) return absl::InvalidArgumentError("request body must be a JSON object");
  return json;
}

}  // namespace stockwatch::server
