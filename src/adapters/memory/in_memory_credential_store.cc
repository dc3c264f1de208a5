#include "adapters/memory/in_memory_credential_store.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace stockwatch::adapters {
namespace {

std::array<unsigned char, 32> HashToken(std::string_view token) {
  static_assert(SHA256_DIGEST_LENGTH == 32);
  std::array<unsigned char, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

}  // namespace

absl::StatusOr<core::TokenInfo> InMemoryCredentialStore::AddToken(std::string_view name,
                                                                  std::string_view role,
                                                                  std::string_view token,
                                                                  core::TimePoint at) {
  if (name.empty() || role.empty() || token.empty()) {
    return absl::InvalidArgumentError("credentials: name, role and token must not be empty");
  }
  const auto hash = HashToken(token);
  std::lock_guard lock(mu_);
  for (const Stored& stored : tokens_) {
    if (stored.info.name == name || stored.hash == hash) {
      return absl::AlreadyExistsError("credentials: token name \"" + std::string(name) +
                                      "\" is taken or the token is already registered");
    }
  }
  core::TokenInfo info{static_cast<int64_t>(tokens_.size()) + 1, std::string(name),
                       std::string(role), at};
  tokens_.push_back(Stored{info, hash});
  return info;
}

absl::StatusOr<core::Principal> InMemoryCredentialStore::Authenticate(std::string_view token) {
  const auto hash = HashToken(token);
  std::lock_guard lock(mu_);
  for (const Stored& stored : tokens_) {
    if (CRYPTO_memcmp(stored.hash.data(), hash.data(), hash.size()) == 0) {
      return core::Principal{stored.info.id, stored.info.name, stored.info.role};
    }
  }
  return absl::UnauthenticatedError("invalid token");
}

absl::StatusOr<std::vector<core::TokenInfo>> InMemoryCredentialStore::Tokens() {
  std::lock_guard lock(mu_);
  std::vector<core::TokenInfo> out;
  for (const Stored& stored : tokens_) out.push_back(stored.info);
  return out;
}

}  // namespace stockwatch::adapters
