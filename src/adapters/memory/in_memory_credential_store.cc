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
    if ((stored.info.user_id == 0 && stored.info.name == name) || stored.hash == hash) {
      return absl::AlreadyExistsError("credentials: token name \"" + std::string(name) +
                                      "\" is taken or the token is already registered");
    }
  }
  core::TokenInfo info{next_id_++, std::string(name), std::string(role), at};
  tokens_.push_back(Stored{info, hash});
  return info;
}

absl::StatusOr<core::TokenInfo> InMemoryCredentialStore::AddUserToken(int64_t user_id,
                                                                      std::string_view name,
                                                                      std::string_view token,
                                                                      core::TimePoint at) {
  if (user_id <= 0 || name.empty() || token.empty()) {
    return absl::InvalidArgumentError(
        "credentials: a user token needs an owner, a name and a token");
  }
  const auto hash = HashToken(token);
  std::lock_guard lock(mu_);
  for (const Stored& stored : tokens_) {
    if ((stored.info.user_id == user_id && stored.info.name == name) || stored.hash == hash) {
      return absl::AlreadyExistsError("credentials: token name \"" + std::string(name) +
                                      "\" is taken or the token is already registered");
    }
  }
  core::TokenInfo info{next_id_++, std::string(name), std::string(), at, user_id};
  tokens_.push_back(Stored{info, hash});
  return info;
}

absl::Status InMemoryCredentialStore::DeleteToken(int64_t id) {
  std::lock_guard lock(mu_);
  for (auto it = tokens_.begin(); it != tokens_.end(); ++it) {
    if (it->info.id == id) {
      tokens_.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError("credentials: no token " + std::to_string(id));
}

absl::StatusOr<int64_t> InMemoryCredentialStore::AssignUnownedTokens(int64_t user_id) {
  if (user_id <= 0) return absl::InvalidArgumentError("credentials: user id must be positive");
  std::lock_guard lock(mu_);
  int64_t assigned = 0;
  for (Stored& stored : tokens_) {
    if (stored.info.user_id != 0) continue;
    stored.info.user_id = user_id;
    ++assigned;
  }
  return assigned;
}

absl::StatusOr<core::Principal> InMemoryCredentialStore::Authenticate(std::string_view token) {
  const auto hash = HashToken(token);
  std::lock_guard lock(mu_);
  for (const Stored& stored : tokens_) {
    if (CRYPTO_memcmp(stored.hash.data(), hash.data(), hash.size()) == 0) {
      core::Principal principal;
      principal.token_id = stored.info.id;
      principal.name = stored.info.name;
      principal.role = stored.info.role;
      principal.user_id = stored.info.user_id;
      return principal;
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
