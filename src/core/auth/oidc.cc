#include "core/auth/oidc.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <optional>

#include "base/status.h"
#include "core/auth/jwt.h"

namespace stockwatch::core {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The strings of a list claim: an array of strings (other members ignored) or a string of
// comma-separated names. Empty when absent or of another type.
std::vector<std::string> ListClaim(const nlohmann::json& claims, std::string_view name) {
  std::vector<std::string> out;
  auto it = claims.find(name);
  if (it == claims.end()) return out;
  if (it->is_string()) return SplitCommaList(it->get<std::string>());
  if (it->is_array()) {
    for (const nlohmann::json& entry : *it) {
      if (entry.is_string() && !entry.get<std::string>().empty()) {
        out.push_back(entry.get<std::string>());
      }
    }
  }
  return out;
}

bool InAny(const std::vector<std::string>& groups, const std::vector<std::string>& wanted) {
  return std::any_of(groups.begin(), groups.end(), [&wanted](const std::string& group) {
    return std::find(wanted.begin(), wanted.end(), group) != wanted.end();
  });
}

std::optional<std::string> StringClaim(const nlohmann::json& claims, std::string_view name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

std::string RandomUrlToken(size_t bytes) {
  std::string raw(bytes, '\0');
  SW_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) == 1);
  return Base64UrlEncode(raw);
}

std::string PkceChallenge(std::string_view verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

bool IsValidPkceVerifier(std::string_view verifier) {
  return verifier.size() >= 43 && verifier.size() <= 128 &&
         std::all_of(verifier.begin(), verifier.end(), IsUnreserved);
}

OidcAttempt NewOidcAttempt() {
  OidcAttempt attempt;
  attempt.state = RandomUrlToken();
  attempt.nonce = RandomUrlToken();
  attempt.code_verifier = RandomUrlToken();
  return attempt;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

std::vector<std::string> SplitCommaList(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view entry = TrimBlanks(text.substr(0, comma));
    if (!entry.empty()) out.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string AuthorizationUrl(const AuthorizationRequest& request) {
  std::string scopes = request.scopes;
  bool has_openid = false;
  for (size_t start = 0; start <= scopes.size();) {
    size_t end = scopes.find(' ', start);
    if (end == std::string::npos) end = scopes.size();
    if (std::string_view(scopes).substr(start, end - start) == "openid") has_openid = true;
    start = end + 1;
  }
  if (!has_openid) scopes = scopes.empty() ? "openid" : "openid " + scopes;

  std::string url = request.endpoint;
  // An endpoint may carry its own query (some providers select a tenant or policy there).
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "response_type=code";
  url += "&client_id=" + PercentEncode(request.client_id);
  url += "&redirect_uri=" + PercentEncode(request.redirect_uri);
  url += "&scope=" + PercentEncode(scopes);
  url += "&state=" + PercentEncode(request.state);
  url += "&nonce=" + PercentEncode(request.nonce);
  url += "&code_challenge=" + PercentEncode(request.code_challenge);
  url += "&code_challenge_method=S256";
  return url;
}

absl::StatusOr<MappedRole> MapOidcRole(const nlohmann::json& claims,
                                       const OidcRoleMapping& mapping) {
  const std::vector<std::string> groups = ListClaim(claims, mapping.groups_claim);
  MappedRole mapped;
  if (InAny(groups, mapping.admin_groups)) {
    mapped.role = Role::kAdmin;
  } else if (InAny(groups, mapping.manager_groups)) {
    mapped.role = Role::kManager;
    mapped.scope.all_stores = false;
    mapped.scope.stores = ListClaim(claims, mapping.manager_stores_claim);
    if (mapped.scope.stores.empty()) {
      return absl::PermissionDeniedError("oidc: the user is in a manager group but \"" +
                                         mapping.manager_stores_claim +
                                         "\" in its id token lists no store");
    }
  } else if (InAny(groups, mapping.viewer_groups) || !mapping.require_group) {
    mapped.role = Role::kViewer;
  } else {
    return absl::PermissionDeniedError(
        "oidc: the user is in none of the groups oidc.admin_groups, oidc.manager_groups and "
        "oidc.viewer_groups name (claim \"" +
        mapping.groups_claim + "\"), and oidc.require_group is set");
  }
  absl::StatusOr<ObjectScope> scope = CanonicalScopeForRole(mapped.role, mapped.scope);
  if (!scope.ok())
    return absl::PermissionDeniedError("oidc: " + std::string(scope.status().message()));
  mapped.scope = *std::move(scope);
  return mapped;
}

absl::StatusOr<std::string> OidcUserName(const nlohmann::json& claims) {
  std::vector<std::string> candidates;
  if (std::optional<std::string> email = StringClaim(claims, "email")) {
    auto verified = claims.find("email_verified");
    // Cognito sends "true" as a string in some tokens, other providers a boolean.
    if (verified != claims.end() &&
        ((verified->is_boolean() && verified->get<bool>()) ||
         (verified->is_string() && verified->get<std::string>() == "true"))) {
      candidates.push_back(*std::move(email));
    }
  }
  if (std::optional<std::string> name = StringClaim(claims, "cognito:username")) {
    candidates.push_back(*std::move(name));
  }
  if (std::optional<std::string> sub = StringClaim(claims, "sub")) {
    candidates.push_back(*std::move(sub));
  }
  for (std::string& candidate : candidates) {
    if (CheckUserName(candidate).ok()) return std::move(candidate);
  }
  return absl::PermissionDeniedError(
      "oidc: no claim of the id token (email, cognito:username, sub) is a valid user name");
}

}  // namespace stockwatch::core
