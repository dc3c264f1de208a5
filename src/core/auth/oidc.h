// OpenID Connect sign-in, the parts that are pure computation: PKCE (RFC 7636, S256), the
// state and nonce values, the authorization URL, and what a verified ID token makes of a
// local account: its name and, from its groups, its role and stores. The network side
// (discovery, key sets, the token exchange) is adapters/oidc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/account.h"
#include "core/model/types.h"
#include "nlohmann/json.hpp"

namespace stockwatch::core {

// Random bytes in a state, nonce or code verifier: 32 (256 bits), so the verifier is 43
// characters, RFC 7636's minimum.
inline constexpr size_t kOidcRandomBytes = 32;

// `bytes` bytes from OpenSSL's CSPRNG, base64url without padding. Aborts (SW_CHECK) if the
// CSPRNG fails: there is nothing safe to fall back to.
std::string RandomUrlToken(size_t bytes = kOidcRandomBytes);

// The S256 code challenge of a code verifier: base64url(SHA-256(verifier)).
std::string PkceChallenge(std::string_view verifier);

// Whether `verifier` is a valid PKCE code verifier: 43..128 characters of
// [A-Za-z0-9-._~].
bool IsValidPkceVerifier(std::string_view verifier);

// The secrets of one sign-in attempt, kept by the server until the provider redirects back.
struct OidcAttempt {
  std::string state;          // RandomUrlToken(): echoed by the provider, checked on return
  std::string nonce;          // RandomUrlToken(): must come back in the ID token
  std::string code_verifier;  // RandomUrlToken(): 43 characters; sent with the token request
};

// A fresh attempt.
OidcAttempt NewOidcAttempt();

// What goes into the authorization URL.
struct AuthorizationRequest {
  std::string endpoint;      // the provider's authorization endpoint (may have a query)
  std::string client_id;     // the app client id
  std::string redirect_uri;  // our callback, registered with the provider
  std::string scopes;        // space-separated, e.g. "openid email"
  std::string state;
  std::string nonce;
  std::string code_challenge;  // PkceChallenge(code_verifier)
};

// `endpoint` with the query of an authorization code request appended (response_type=code,
// client_id, redirect_uri, scope, state, nonce, code_challenge, code_challenge_method=S256),
// every value percent-encoded. "openid" is added to the scopes when missing.
std::string AuthorizationUrl(const AuthorizationRequest& request);

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string PercentEncode(std::string_view text);

// Splits a comma-separated list, trimming blanks and dropping empty entries.
std::vector<std::string> SplitCommaList(std::string_view text);

// How groups in the ID token become a role.
struct OidcRoleMapping {
  // Claim holding the user's groups: an array of strings, or a string of comma-separated
  // names. Default "cognito:groups" (Amazon Cognito's).
  std::string groups_claim = "cognito:groups";
  // Members of any of these groups are admins. Default none.
  std::vector<std::string> admin_groups;
  // Members of any of these groups (and of no admin group) are managers of the stores listed
  // in `manager_stores_claim`. Default none.
  std::vector<std::string> manager_groups;
  // Claim listing a manager's stores: an array of strings, or a string of comma-separated
  // names. Default "custom:stores" (a Cognito custom attribute, which Cognito puts in ID
  // tokens under that name).
  std::string manager_stores_claim = "custom:stores";
  // Members of any of these groups (and of no admin or manager group) are viewers. Default
  // none.
  std::vector<std::string> viewer_groups;
  // When true, a user in none of the groups above is refused; when false, such a user is a
  // viewer. Default false.
  bool require_group = false;
};

// A role and scope for a local account.
struct MappedRole {
  Role role = Role::kViewer;
  ObjectScope scope;  // canonical for the role
};

// The role of the user `claims` describe: admin if in an admin group, else manager (of the
// stores in mapping.manager_stores_claim) if in a manager group, else viewer if in a viewer
// group, else viewer or, with require_group, refused. Group names compare exactly.
// kPermissionDenied if refused, or in a manager group with no store listed (a manager
// without stores cannot exist, and a viewer would see every store).
absl::StatusOr<MappedRole> MapOidcRole(const nlohmann::json& claims,
                                       const OidcRoleMapping& mapping);

// The local user name for the user `claims` describe: the first of `email` (only when
// `email_verified` is true or "true"), `cognito:username` and `sub` that is a valid user name
// (CheckUserName()). Claims a user may change at will (`preferred_username`, `name`) are never
// used: they would let one user take another's name. kPermissionDenied if none is.
absl::StatusOr<std::string> OidcUserName(const nlohmann::json& claims);

}  // namespace stockwatch::core
