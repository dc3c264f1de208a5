// The dashboard's static files (web_assets.h) and the security headers of every response.
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/status_http.h"
#include "server/web_assets.h"

namespace stockwatch::server {
namespace {

// No inline script or style anywhere (web/build.mjs checks index.html); data: images only
// for the icon placeholder; nothing from another host.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// Splits a comma-separated header value into trimmed elements and calls `each` on every
// one until it returns true; returns whether one did.
template <typename Fn>
bool AnyListElement(std::string_view value, Fn each) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view element = TrimAsciiWhitespace(value.substr(0, comma));
    if (!element.empty() && each(element)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// RFC 9110 13.1.2: If-None-Match uses the weak comparison, so W/"x" matches "x".
bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  return AnyListElement(if_none_match, [&](std::string_view tag) {
    if (tag == "*") return true;
    if (tag.size() > 2 && tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    return tag == etag;
  });
}

// Whether Accept-Encoding accepts gzip: a `gzip` (or `*`) coding without q=0.
bool AcceptsGzip(std::string_view accept_encoding) {
  return AnyListElement(accept_encoding, [](std::string_view coding) {
    std::string_view name = TrimAsciiWhitespace(coding.substr(0, coding.find(';')));
    if (!EqualsIgnoreCase(name, "gzip") && name != "*") return false;
    size_t q = coding.find(';');
    if (q == std::string_view::npos) return true;
    std::string_view params = TrimAsciiWhitespace(coding.substr(q + 1));
    if (params.size() < 2 || !EqualsIgnoreCase(params.substr(0, 2), "q=")) return true;
    std::string_view weight = TrimAsciiWhitespace(params.substr(2));
    // q=0, q=0.0, q=0.00, q=0.000 refuse; any other weight accepts.
    return weight.find_first_not_of("0.") != std::string_view::npos;
  });
}

const WebAsset* FindAsset(std::string_view path) {
  for (const WebAsset& asset : WebAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace

bool IsWebRoute(std::string_view path) { return path == "/" || path.substr(0, 8) == "/assets/"; }

HttpResponse ApiRouter::WebRoute(const HttpRequest& request, std::string_view path) {
  return WebAssetResponse(request, path);
}

HttpResponse WebAssetResponse(const HttpRequest& request, std::string_view path) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse response = ErrorResponse(
        WithHttpStatus(absl::UnimplementedError(fmt::format(
                           "method {} is not allowed here; use GET, HEAD", request.method)),
                       405));
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  const WebAsset* asset = FindAsset(path);
  if (asset == nullptr) {
    return ErrorResponse(absl::NotFoundError(
        fmt::format("no dashboard file {}", path.substr(0, std::min<size_t>(path.size(), 200)))));
  }
  HttpResponse response;
  response.content_type = std::string(asset->content_type);
  response.headers.emplace_back("ETag", std::string(asset->etag));
  // index.html names the hashed files, so it is checked on every load; they never change.
  response.headers.emplace_back(
      "Cache-Control", asset->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (!asset->gzip.empty()) response.headers.emplace_back("Vary", "Accept-Encoding");
  std::optional<std::string_view> if_none_match = request.Header("if-none-match");
  if (if_none_match && EtagMatches(*if_none_match, asset->etag)) {
    response.status = 304;
    response.content_type.clear();
    return response;
  }
  std::string_view body = asset->body;
  std::optional<std::string_view> accept_encoding = request.Header("accept-encoding");
  if (!asset->gzip.empty() && accept_encoding && AcceptsGzip(*accept_encoding)) {
    body = asset->gzip;
    response.headers.emplace_back("Content-Encoding", "gzip");
  }
  if (request.method == "HEAD") {
    response.head_content_length = body.size();
  } else {
    response.body = std::string(body);
  }
  return response;
}

void AddSecurityHeaders(HttpResponse& response, bool tls) {
  // A handler's own value (e.g. the subscriber pages' Referrer-Policy) is kept, not doubled.
  auto set = [&response](std::string_view name, std::string_view value) {
    for (const auto& header : response.headers) {
      if (EqualsIgnoreCase(header.first, name)) return;
    }
    response.headers.emplace_back(std::string(name), std::string(value));
  };
  set("Content-Security-Policy", kContentSecurityPolicy);
  set("X-Content-Type-Options", "nosniff");
  set("Referrer-Policy", "no-referrer");
  set("X-Frame-Options", "DENY");
  if (tls) set("Strict-Transport-Security", "max-age=31536000");
}

}  // namespace stockwatch::server
