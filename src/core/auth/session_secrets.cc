#include "core/auth/session_secrets.h"

#include <sodium.h>

namespace stockwatch::core {
namespace {

std::string RandomToken() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof(bytes));
  char out[sodium_base64_ENCODED_LEN(sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof(out), bytes, sizeof(bytes),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(bytes, sizeof(bytes));
  return std::string(out);
}

}  // namespace

SessionSecrets NewSessionSecrets() {
  SessionSecrets secrets;
  secrets.id = RandomToken();
  secrets.id_hash = HashSessionId(secrets.id);
  secrets.csrf_token = RandomToken();
  return secrets;
}

std::string HashSessionId(std::string_view id) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(id.data()), id.size());
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

}  // namespace stockwatch::core
