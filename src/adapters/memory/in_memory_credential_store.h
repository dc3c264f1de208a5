// A CredentialStore in memory: for tests, and the reference semantics of the port.
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <vector>

#include "core/ports/credential_store.h"

namespace stockwatch::adapters {

// Same contract as SqliteCredentialStore: keeps SHA-256 hashes only, compares in constant
// time, kInvalidArgument for an empty name, role or token, kAlreadyExists for a taken name
// (per owner) or a token added twice. Thread-safe.
class InMemoryCredentialStore final : public core::CredentialStore {
 public:
  absl::StatusOr<core::TokenInfo> AddToken(std::string_view name, std::string_view role,
                                           std::string_view token, core::TimePoint at) override;
  absl::StatusOr<core::TokenInfo> AddUserToken(int64_t user_id, std::string_view name,
                                               std::string_view token, core::TimePoint at) override;
  absl::StatusOr<core::Principal> Authenticate(std::string_view token) override;
  absl::StatusOr<std::vector<core::TokenInfo>> Tokens() override;
  absl::Status DeleteToken(int64_t id) override;
  absl::StatusOr<int64_t> AssignUnownedTokens(int64_t user_id) override;

 private:
  struct Stored {
    core::TokenInfo info;
    std::array<unsigned char, 32> hash;
  };
  std::mutex mu_;
  std::vector<Stored> tokens_;  // by id; guarded by mu_
  int64_t next_id_ = 1;         // guarded by mu_
};

}  // namespace stockwatch::adapters
