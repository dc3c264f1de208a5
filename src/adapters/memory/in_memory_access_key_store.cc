#include "adapters/memory/in_memory_access_key_store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <string>

#include "base/status.h"
#include "core/model/object_scope.h"

namespace stockwatch::adapters {
namespace {

constexpr std::string_view kIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr std::string_view kSecretAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// `n` characters drawn uniformly from `alphabet`. Bytes at or above the largest multiple
// of the alphabet size are rejected, so no character is more likely than another.
absl::StatusOr<std::string> RandomText(std::string_view alphabet, size_t n) {
  const size_t accept_below = 256 - 256 % alphabet.size();
  std::string out;
  unsigned char random[64];
  while (out.size() < n) {
    if (RAND_bytes(random, sizeof(random)) != 1) {
      return absl::UnavailableError("access keys: no randomness");
    }
    for (const unsigned char byte : random) {
      if (byte < accept_below && out.size() < n) out.push_back(alphabet[byte % alphabet.size()]);
    }
  }
  OPENSSL_cleanse(random, sizeof(random));
  return out;
}

absl::Status UnknownKey() { return absl::NotFoundError("access keys: no such key"); }

}  // namespace

absl::StatusOr<core::NewAccessKey> InMemoryAccessKeyStore::Create(const core::ObjectScope& scope,
                                                                  std::string_view description,
                                                                  core::TimePoint at) {
  core::NewAccessKey created;
  SW_ASSIGN_OR_RETURN(created.key.scope, core::CanonicalScope(scope));
  SW_ASSIGN_OR_RETURN(std::string id, RandomText(kIdAlphabet, 18));
  created.key.id = "SW" + id;
  SW_ASSIGN_OR_RETURN(created.secret, RandomText(kSecretAlphabet, 40));
  created.key.description = std::string(description);
  created.key.created_at = at;
  std::lock_guard lock(mu_);
  for (const core::AccessKeySecret& stored : keys_) {
    if (stored.key.id == created.key.id) {
      return absl::AlreadyExistsError("access keys: key id collision");
    }
  }
  keys_.push_back(core::AccessKeySecret{created.key, created.secret});
  return created;
}

absl::StatusOr<core::AccessKeySecret> InMemoryAccessKeyStore::Lookup(std::string_view id) {
  std::lock_guard lock(mu_);
  for (const core::AccessKeySecret& stored : keys_) {
    if (stored.key.id == id) return stored;
  }
  return UnknownKey();
}

absl::StatusOr<std::vector<core::AccessKey>> InMemoryAccessKeyStore::List() {
  std::vector<core::AccessKey> out;
  {
    std::lock_guard lock(mu_);
    for (const core::AccessKeySecret& stored : keys_) out.push_back(stored.key);
  }
  std::stable_sort(out.begin(), out.end(), [](const core::AccessKey& a, const core::AccessKey& b) {
    return a.created_at < b.created_at;
  });
  return out;
}

absl::Status InMemoryAccessKeyStore::Revoke(std::string_view id, core::TimePoint at) {
  std::lock_guard lock(mu_);
  for (core::AccessKeySecret& stored : keys_) {
    if (stored.key.id != id) continue;
    if (!stored.key.revoked_at) stored.key.revoked_at = at;
    return absl::OkStatus();
  }
  return UnknownKey();
}

}  // namespace stockwatch::adapters
