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
  std::string role;  // "admin", "manager" or "viewer" (core/model/account.h RoleName())
  // The stores this principal may see and manage: all stores for an admin or a viewer,
  // a manager's stores otherwise.
  ObjectScope scope;
  // The account acting: a token's owner or a session's user; 0 for a token without owner.
  int64_t user_id = 0;
  // For a session-authenticated request: the SHA-256 of its session id (32 bytes) and its
  // CSRF token; empty for a bearer token.
  std::string session_id_hash;
  std::string csrf_token;
};

struct TokenInfo {
  int64_t id = 0;
  std::string name;
  // The role given to AddToken(); empty for a user's token (AddUserToken()), whose role is
  // its owner's at each request.
  std::string role;
  TimePoint created_at;
  int64_t user_id = 0;  // the owner; 0: none
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
  // Stores `token` as a personal token of user `user_id`, named `name`. kAlreadyExists if
  // that user has a token of this name or the token is already stored; kInvalidArgument if
  // name or token is empty or user_id is not positive.
  virtual absl::StatusOr<TokenInfo> AddUserToken(int64_t user_id, std::string_view name,
                                                 std::string_view token, TimePoint at) = 0;
  // The principal owning `token` (token_id, name, role as stored, user_id); kUnauthenticated
  // if none does. Compares in constant time. The caller fills a user token's role and scope
  // from its owner.
  virtual absl::StatusOr<Principal> Authenticate(std::string_view token) = 0;
  // Every token, by id.
  virtual absl::StatusOr<std::vector<TokenInfo>> Tokens() = 0;
  // Deletes token `id`: it no longer authenticates. kNotFound if there is none.
  virtual absl::Status DeleteToken(int64_t id) = 0;
  // Gives every token without an owner to `user_id` (the first-start admin token to the
  // first admin), returning how many. kInvalidArgument if user_id is not positive.
  virtual absl::StatusOr<int64_t> AssignUnownedTokens(int64_t user_id) = 0;
};

}  // namespace stockwatch::core
