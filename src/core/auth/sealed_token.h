// Sealed tokens: a small JSON document encrypted and authenticated with a server secret, for
// state a stateless server hands to a browser to keep (the `api` Lambda function's session
// and sign-in attempt cookies). The browser can neither read nor change what it holds; a
// token sealed for one purpose does not open for another; each carries its expiry.
//
// libsodium's secretbox (XSalsa20-Poly1305) does the sealing; the key of each purpose is
// BLAKE2b(purpose, keyed with the secret), so one secret serves several purposes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/model/types.h"
#include "nlohmann/json.hpp"

namespace stockwatch::core {

// Shortest server secret accepted, in bytes.
inline constexpr size_t kMinSealSecretBytes = 32;
// Largest token Open() looks at (a cookie is at most 4096 bytes).
inline constexpr size_t kMaxSealedTokenBytes = 4096;

class TokenSealer {
 public:
  // REQUIRES: secret.size() >= kMinSealSecretBytes (CheckSealSecret).
  explicit TokenSealer(std::string_view secret);
  ~TokenSealer();
  TokenSealer(const TokenSealer&) = delete;
  TokenSealer& operator=(const TokenSealer&) = delete;

  // `claims` (an object) with "exp" = `expires_at` in Unix seconds added, encrypted for
  // `purpose`: base64url text, safe in a cookie value.
  std::string Seal(std::string_view purpose, nlohmann::json claims, TimePoint expires_at) const;

  // The claims of a token Seal() made for `purpose`, if it has not expired at `now`.
  // kUnauthenticated for anything else (tampered, another purpose or secret, expired,
  // malformed, too long); the message says which, without the token.
  absl::StatusOr<nlohmann::json> Open(std::string_view purpose, std::string_view token,
                                      TimePoint now) const;

 private:
  std::string secret_;  // wiped on destruction
};

// kInvalidArgument unless `secret` is long enough to seal with; `name` names it in the
// message (e.g. "SESSION_SECRET").
absl::Status CheckSealSecret(std::string_view secret, std::string_view name);

}  // namespace stockwatch::core
