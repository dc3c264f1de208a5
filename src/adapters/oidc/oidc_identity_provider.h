// OidcIdentityProvider: the IdentityProvider port over HTTP(S) with libcurl, for any OpenID
// Connect provider (Amazon Cognito user pools included): discovery, the JSON Web Key Set
// (cached, fetched again for an unknown key id), and the authorization code exchange.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/auth/jwt.h"
#include "core/ports/clock.h"
#include "core/ports/identity_provider.h"

namespace stockwatch::adapters {

struct OidcProviderOptions {
  // The provider's issuer: the ID token's `iss` must equal it exactly, and discovery reads
  // `<issuer>/.well-known/openid-configuration`. Required. For a Cognito user pool:
  // https://cognito-idp.<region>.amazonaws.com/<pool id>.
  std::string issuer;
  // The app client id: the ID token's `aud` must contain it. Required.
  std::string client_id;
  // The app client secret, sent with HTTP Basic to the token endpoint; empty for a public
  // client (PKCE alone). Default empty.
  std::string client_secret;
  // Endpoints; any left empty is taken from discovery. Defaults empty.
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  // Whether an ID token must carry the nonce of its sign-in (core::IdTokenExpectations).
  // Default true.
  bool require_nonce = true;
  // Clock skew allowed on the token's times. Default 60 s.
  std::chrono::seconds leeway{60};
  // Each request to the provider: the whole transfer, and the connection. Defaults 10 s, 5 s.
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{5000};
  // Largest response body read from the provider; a larger one fails the request
  // (kUnavailable). Default 1 MiB.
  size_t max_response_bytes = size_t{1} << 20;
  // How long a fetched key set is used before it is fetched again. Default 1 h.
  std::chrono::seconds jwks_max_age{3600};
  // A token naming a key id the cached set lacks (the provider rotated its keys) fetches the
  // set again, but not sooner than this after the last fetch, so forged key ids cannot make
  // us hammer the provider. Default 60 s.
  std::chrono::seconds jwks_min_refetch_interval{60};
};

// Thread-safe. Discovery and the key set are fetched lazily on first use; a failed fetch is
// tried again on the next call.
class OidcIdentityProvider final : public core::IdentityProvider {
 public:
  // `clock` must outlive the provider. REQUIRES: issuer and client_id are not empty.
  OidcIdentityProvider(OidcProviderOptions options, core::Clock& clock);

  absl::StatusOr<std::string> AuthorizationEndpoint() override;
  absl::StatusOr<nlohmann::json> Redeem(std::string_view code, std::string_view code_verifier,
                                        std::string_view redirect_uri,
                                        std::string_view nonce) override;

  // Verifies an ID token a client presents as `Authorization: Bearer` (the `api` Lambda
  // function, whose users sign in to the Cognito user pool in the browser) and returns its
  // claims: the same checks as Redeem() (core::VerifyIdToken) except the nonce, which only a
  // sign-in this process started could know. The key set comes from options.jwks_uri, or
  // discovery when it is empty. kUnauthenticated if a check fails; kUnavailable if the key
  // set cannot be fetched.
  absl::StatusOr<nlohmann::json> VerifyBearer(std::string_view token);

 private:
  struct Endpoints {
    std::string authorization;
    std::string token;
    std::string jwks;
  };
  // The endpoints, discovering what the options leave out.
  absl::StatusOr<Endpoints> GetEndpoints();
  // The key set, fetched when missing or older than jwks_max_age, or (rate-limited) when it
  // lacks `kid`.
  absl::StatusOr<core::JwkSet> GetKeys(const std::string& jwks_uri, std::string_view kid);

  const OidcProviderOptions options_;
  core::Clock& clock_;
  std::mutex mu_;
  std::optional<Endpoints> endpoints_;                                    // guarded by mu_
  std::optional<core::JwkSet> keys_;                                      // guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> keys_fetched_at_;  // guarded by mu_
};

}  // namespace stockwatch::adapters
