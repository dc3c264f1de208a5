#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Who made a request.
struct Principal {
  int64_t token_id = 0;
  std::string name;  // e.g. "admin"
  std::string role;  // "admin" for now; roles grow with the dashboard issue
};

struct TokenInfo {
  int64_t id = 0;
  std::string name;
  std::string role;
  TimePoint created_at;
};

// API bearer tokens. Only a hash of each token is stored, never the token. Thread-safe.
class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  // Stores `token` (caller-generated, high entropy) under `name`. kAlreadyExists if the
  // name is taken or the token is already stored; kInvalidArgument if name, role or token
  // is empty.
  virtual absl::StatusOr<TokenInfo> AddToken(std::string_view name, std::string_view role,
                                             std::string_view token, TimePoint at) = 0;
  // The principal owning `token`; kUnauthenticated if none does. Compares in constant time.
  virtual absl::StatusOr<Principal> Authenticate(std::string_view token) = 0;
  virtual absl::StatusOr<std::vector<TokenInfo>> Tokens() = 0;
};

}  // namespace stockwatch::core
