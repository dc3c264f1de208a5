// The secrets of a login session: its id, which only the client keeps (in a cookie), the
// hash of it that the UserStore keeps, and its CSRF token.
#pragma once

#include <string>
#include <string_view>

namespace stockwatch::core {

struct SessionSecrets {
  std::string id;          // 32 random bytes, base64url without padding (43 characters)
  std::string id_hash;     // HashSessionId(id): 32 bytes
  std::string csrf_token;  // 32 random bytes, base64url without padding
};

// Fresh secrets from libsodium's CSPRNG. REQUIRES: sodium_init() has succeeded (as
// PasswordHasher::Create() does).
SessionSecrets NewSessionSecrets();
// The SHA-256 of a session id as the client sent it: 32 bytes. The store looks sessions up
// by it, so a copy of the database does not let anyone into a session.
std::string HashSessionId(std::string_view id);

}  // namespace stockwatch::core
