// The IdentityProvider port: an OpenID Connect provider that signs users in for the
// dashboard (authorization code flow with PKCE).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace stockwatch::core {

// An OpenID Connect provider. Thread-safe.
class IdentityProvider {
 public:
  virtual ~IdentityProvider() = default;

  // The provider's authorization endpoint, where the browser is sent to sign in.
  // kUnavailable if it has to be discovered and the provider cannot be reached or answers
  // something unusable.
  virtual absl::StatusOr<std::string> AuthorizationEndpoint() = 0;

  // Redeems an authorization code: exchanges `code` at the token endpoint (with the
  // `code_verifier` whose challenge went into the authorization request, and the same
  // `redirect_uri`), then verifies the ID token that comes back against the provider's key
  // set (core/auth/jwt.h: RS256, issuer, audience = the client id, times, `token_use`, and
  // `nonce`). Returns the ID token's claims.
  // kUnauthenticated if the provider refuses the code or the ID token fails a check (the
  // message says which, never the token); kUnavailable if the provider cannot be reached or
  // answers something unusable.
  virtual absl::StatusOr<nlohmann::json> Redeem(std::string_view code,
                                                std::string_view code_verifier,
                                                std::string_view redirect_uri,
                                                std::string_view nonce) = 0;
};

}  // namespace stockwatch::core
