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
// or a token added twice. Thread-safe.
class InMemoryCredentialStore final : public core::CredentialStore {
 public:
  absl::StatusOr<core::TokenInfo> AddToken(std::string_view name, std::string_view role,
                                           std::string_view token, core::TimePoint at) override;
  absl::StatusOr<core::Principal> Authenticate(std::string_view token) override;
  absl::StatusOr<std::vector<core::TokenInfo>> Tokens() override;

 private:
  struct Stored {
    core::TokenInfo info;
    std::array<unsigned char, 32> hash;
  };
  std::mutex mu_;
  std::vector<Stored> tokens_;  // id = index + 1
};

}  // namespace stockwatch::adapters
