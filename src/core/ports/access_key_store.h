#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// An S3 access key: what `stockwatch keys list` shows. The secret is not part of it.
struct AccessKey {
  std::string id;     // 20 characters, "SW" + upper-case letters and digits
  ObjectScope scope;  // the stores its uploads may write (and whose objects it sees)
  std::string description;
  TimePoint created_at;
  std::optional<TimePoint> revoked_at;
};

// A newly created key with its secret, shown to the user once.
struct NewAccessKey {
  AccessKey key;
  std::string secret;  // 40 characters of [A-Za-z0-9+/], like an AWS secret access key
};

// A key with its secret, for verifying signatures.
struct AccessKeySecret {
  AccessKey key;
  std::string secret;
};

// S3 access keys. SigV4 needs the secret itself to verify a signature, so it cannot be
// hashed: implementations keep it encrypted at rest. Thread-safe.
class AccessKeyStore {
 public:
  virtual ~AccessKeyStore() = default;
  // Generates a new key id and secret with `scope`. kInvalidArgument for a scoped key
  // without stores or with an invalid store name (empty, > kMaxNameBytes).
  virtual absl::StatusOr<NewAccessKey> Create(const ObjectScope& scope,
                                              std::string_view description, TimePoint at) = 0;
  // The key and secret; kNotFound if unknown. A revoked key is returned with revoked_at.
  virtual absl::StatusOr<AccessKeySecret> Lookup(std::string_view id) = 0;
  // Every key, revoked ones included, oldest first.
  virtual absl::StatusOr<std::vector<AccessKey>> List() = 0;
  // Marks the key revoked; kNotFound if unknown; revoking twice is OK.
  virtual absl::Status Revoke(std::string_view id, TimePoint at) = 0;
};

}  // namespace stockwatch::core
