// Sign-in with OpenID Connect on the JSON API (oidc_handlers.cc): the options of its routes,
// and the sign-in attempts waiting for the provider to send the browser back.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/auth/oidc.h"

namespace stockwatch::server {

// How long a sign-in attempt waits for the provider's redirect back, and how many may wait.
inline constexpr std::chrono::seconds kOidcAttemptTtl{600};
inline constexpr size_t kMaxOidcAttempts = 10000;
// The cookie naming a browser's attempt (HttpOnly, SameSite=Lax so that the provider's
// redirect back carries it, Path=/api/v1/oidc, Max-Age=kOidcAttemptTtl).
inline constexpr char kOidcCookie[] = "sw_oidc";

struct OidcSignInOptions {
  // The app client id, sent in the authorization request. Default empty.
  std::string client_id;
  // Our callback as registered with the provider; empty: the public base URL (links) +
  // "/api/v1/oidc/callback". Default empty.
  std::string redirect_url;
  // Scopes asked for, space-separated ("openid" is always added). Default "openid email".
  std::string scopes = "openid email";
  // How the ID token's groups become a role (core/auth/oidc.h). Default: no groups, so
  // everyone is a viewer.
  core::OidcRoleMapping roles;
};

// Sign-in attempts by the random key in the browser's kOidcCookie. Bounded: past
// `max_attempts` the oldest is dropped. Thread-safe.
class OidcAttemptStore {
 public:
  explicit OidcAttemptStore(size_t max_attempts = kMaxOidcAttempts,
                            std::chrono::seconds ttl = kOidcAttemptTtl)
      : max_attempts_(max_attempts), ttl_(ttl) {}

  // Keeps `attempt` under `key` until `now` + ttl.
  void Put(const std::string& key, const core::OidcAttempt& attempt,
           std::chrono::steady_clock::time_point now);
  // Removes and returns the attempt under `key` if it has not expired at `now`: each attempt
  // is used at most once.
  std::optional<core::OidcAttempt> Take(std::string_view key,
                                        std::chrono::steady_clock::time_point now);
  size_t size();

 private:
  struct Entry {
    core::OidcAttempt attempt;
    std::chrono::steady_clock::time_point expires_at;
  };
  const size_t max_attempts_;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> attempts_;  // guarded by mu_
};

}  // namespace stockwatch::server
