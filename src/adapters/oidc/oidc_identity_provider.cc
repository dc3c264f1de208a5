#include "adapters/oidc/oidc_identity_provider.h"

#include <curl/curl.h>

#include <memory>
#include <utility>
#include <vector>

#include "base/status.h"
#include "core/auth/oidc.h"

namespace stockwatch::adapters {
namespace {

struct HttpResult {
  long status = 0;
  std::string body;
};

struct BodySink {
  std::string* body;
  size_t limit;
  bool overflow = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t n = size * count;
  if (sink->body->size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

struct CurlFree {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// `url` cut at its query, for error messages (a query may carry secrets).
std::string Shown(std::string_view url) { return std::string(url.substr(0, url.find('?'))); }

// One GET (empty `form`) or form POST to `url`. kUnavailable when no response arrives in
// time, the body is larger than `options.max_response_bytes`, or the URL is not http(s).
absl::StatusOr<HttpResult> Fetch(const OidcProviderOptions& options, const std::string& url,
                                 const std::string& form, const std::string& basic_user,
                                 const std::string& basic_password) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (curl == nullptr) return absl::ResourceExhaustedError("oidc: curl_easy_init failed");
  HttpResult result;
  BodySink sink{&result.body, options.max_response_bytes};
  char error[CURL_ERROR_SIZE] = {0};
  std::unique_ptr<curl_slist, SlistFree> headers(
      curl_slist_append(nullptr, "Accept: application/json"));
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "stockwatch/0.1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  if (!form.empty()) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form.size()));
  }
  if (!basic_user.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, basic_user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, basic_password.c_str());
  }
  const CURLcode rc = curl_easy_perform(c);
  if (sink.overflow) {
    return absl::UnavailableError("oidc: " + Shown(url) + " answered more than " +
                                  std::to_string(options.max_response_bytes) + " bytes");
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError("oidc: " + Shown(url) + ": " +
                                  (error[0] != '\0' ? error : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  return result;
}

// The JSON object a 200 response holds; kUnavailable otherwise.
absl::StatusOr<nlohmann::json> JsonObject(const HttpResult& result, const std::string& url) {
  if (result.status != 200) {
    return absl::UnavailableError("oidc: " + Shown(url) + " answered HTTP " +
                                  std::to_string(result.status));
  }
  nlohmann::json doc = nlohmann::json::parse(result.body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return absl::UnavailableError("oidc: " + Shown(url) + " did not answer a JSON object");
  }
  return doc;
}

// application/x-www-form-urlencoded: RFC 6749 appendix B, as the token endpoint expects it.
std::string FormEncode(const std::vector<std::pair<std::string_view, std::string_view>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += core::PercentEncode(name) + "=" + core::PercentEncode(value);
  }
  return out;
}

// The printable-ASCII start of a provider's error code, for messages.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 100)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

OidcIdentityProvider::OidcIdentityProvider(OidcProviderOptions options, core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  SW_CHECK(!options_.issuer.empty() && !options_.client_id.empty());
}

absl::StatusOr<OidcIdentityProvider::Endpoints> OidcIdentityProvider::GetEndpoints() {
  std::lock_guard<std::mutex> lock(mu_);
  if (endpoints_) return *endpoints_;
  Endpoints endpoints{options_.authorization_endpoint, options_.token_endpoint, options_.jwks_uri};
  if (endpoints.authorization.empty() || endpoints.token.empty() || endpoints.jwks.empty()) {
    std::string issuer = options_.issuer;
    while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
    const std::string url = issuer + "/.well-known/openid-configuration";
    SW_ASSIGN_OR_RETURN(HttpResult result, Fetch(options_, url, "", "", ""));
    SW_ASSIGN_OR_RETURN(nlohmann::json doc, JsonObject(result, url));
    // OpenID Connect Discovery 4.3: the document must be the issuer's own.
    if (doc.value("issuer", nlohmann::json()) != options_.issuer) {
      return absl::UnavailableError("oidc: " + url + " names another issuer than oidc.issuer");
    }
    auto take = [&doc](std::string& field, const char* name) {
      if (field.empty() && doc.contains(name) && doc[name].is_string()) {
        field = doc[name].get<std::string>();
      }
    };
    take(endpoints.authorization, "authorization_endpoint");
    take(endpoints.token, "token_endpoint");
    take(endpoints.jwks, "jwks_uri");
    if (endpoints.authorization.empty() || endpoints.token.empty() || endpoints.jwks.empty()) {
      return absl::UnavailableError("oidc: " + url +
                                    " lacks authorization_endpoint, token_endpoint or jwks_uri");
    }
  }
  endpoints_ = endpoints;
  return endpoints;
}

absl::StatusOr<core::JwkSet> OidcIdentityProvider::GetKeys(const std::string& jwks_uri,
                                                           std::string_view kid) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = clock_.Monotonic();
  const bool stale = !keys_ || now - *keys_fetched_at_ >= options_.jwks_max_age;
  const bool lacks_kid = keys_ && keys_->Find(kid) == nullptr &&
                         now - *keys_fetched_at_ >= options_.jwks_min_refetch_interval;
  if (stale || lacks_kid) {
    absl::StatusOr<HttpResult> result = Fetch(options_, jwks_uri, "", "", "");
    absl::StatusOr<nlohmann::json> doc = result.ok()
                                             ? JsonObject(*result, jwks_uri)
                                             : absl::StatusOr<nlohmann::json>(result.status());
    absl::StatusOr<core::JwkSet> keys =
        doc.ok() ? core::JwkSet::Parse(doc->dump()) : absl::StatusOr<core::JwkSet>(doc.status());
    if (keys.ok()) {
      keys_ = *std::move(keys);
      keys_fetched_at_ = now;
    } else if (!keys_) {
      return absl::UnavailableError(keys.status().message());
    }
    // Else keep using the set we have: a provider hiccup must not stop sign-ins.
  }
  return *keys_;
}

absl::StatusOr<std::string> OidcIdentityProvider::AuthorizationEndpoint() {
  SW_ASSIGN_OR_RETURN(Endpoints endpoints, GetEndpoints());
  return endpoints.authorization;
}

absl::StatusOr<nlohmann::json> OidcIdentityProvider::Redeem(std::string_view code,
                                                            std::string_view code_verifier,
                                                            std::string_view redirect_uri,
                                                            std::string_view nonce) {
  SW_ASSIGN_OR_RETURN(Endpoints endpoints, GetEndpoints());
  std::vector<std::pair<std::string_view, std::string_view>> fields = {
      {"grant_type", "authorization_code"},
      {"code", code},
      {"redirect_uri", redirect_uri},
      {"client_id", options_.client_id},
      {"code_verifier", code_verifier}};
  // RFC 6749 2.3.1: a confidential client authenticates with HTTP Basic, its id and secret
  // form-encoded first.
  std::string user;
  std::string password;
  if (!options_.client_secret.empty()) {
    user = core::PercentEncode(options_.client_id);
    password = core::PercentEncode(options_.client_secret);
  }
  SW_ASSIGN_OR_RETURN(HttpResult result,
                      Fetch(options_, endpoints.token, FormEncode(fields), user, password));
  nlohmann::json doc = nlohmann::json::parse(result.body, nullptr, /*allow_exceptions=*/false);
  if (result.status == 400 || result.status == 401) {
    // RFC 6749 5.2: invalid_grant for a used, expired or forged code, a wrong verifier...
    std::string error = "unknown error";
    if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
      error = Printable(doc["error"].get<std::string>());
    }
    return absl::UnauthenticatedError("oidc: the provider refused the code: " + error);
  }
  SW_ASSIGN_OR_RETURN(doc, JsonObject(result, endpoints.token));
  if (!doc.contains("id_token") || !doc["id_token"].is_string()) {
    return absl::UnavailableError("oidc: the token endpoint answered no id_token");
  }
  const std::string token = doc["id_token"].get<std::string>();
  SW_ASSIGN_OR_RETURN(core::Jws jws, core::ParseJws(token));
  SW_ASSIGN_OR_RETURN(core::JwkSet keys, GetKeys(endpoints.jwks, jws.kid));
  core::IdTokenExpectations expect;
  expect.issuer = options_.issuer;
  expect.audience = options_.client_id;
  expect.nonce = std::string(nonce);
  expect.require_nonce = options_.require_nonce;
  expect.now = clock_.Now();
  expect.leeway = options_.leeway;
  return core::VerifyIdToken(jws, keys, expect);
}

absl::StatusOr<nlohmann::json> OidcIdentityProvider::VerifyBearer(std::string_view token) {
  SW_ASSIGN_OR_RETURN(core::Jws jws, core::ParseJws(token));
  std::string jwks_uri = options_.jwks_uri;
  if (jwks_uri.empty()) {
    SW_ASSIGN_OR_RETURN(Endpoints endpoints, GetEndpoints());
    jwks_uri = endpoints.jwks;
  }
  SW_ASSIGN_OR_RETURN(core::JwkSet keys, GetKeys(jwks_uri, jws.kid));
  core::IdTokenExpectations expect;
  expect.issuer = options_.issuer;
  expect.audience = options_.client_id;
  expect.require_nonce = false;
  expect.now = clock_.Now();
  expect.leeway = options_.leeway;
  return core::VerifyIdToken(jws, keys, expect);
}

}  // namespace stockwatch::adapters
