// An AccessKeyStore in memory: for tests, and the reference semantics of the port.
#pragma once

#include <mutex>
#include <vector>

#include "core/ports/access_key_store.h"

namespace stockwatch::adapters {

// Same contract as SqliteAccessKeyStore, without encryption or durability: ids are "SW" and
// 18 characters of [A-Z0-9], secrets 40 characters of [A-Za-z0-9+/], both from OpenSSL's
// CSPRNG; Create() canonicalizes the scope (core::CanonicalScope); List() orders by
// created_at, then creation. Thread-safe.
class InMemoryAccessKeyStore final : public core::AccessKeyStore {
 public:
  absl::StatusOr<core::NewAccessKey> Create(const core::ObjectScope& scope,
                                            std::string_view description,
                                            core::TimePoint at) override;
  absl::StatusOr<core::AccessKeySecret> Lookup(std::string_view id) override;
  absl::StatusOr<std::vector<core::AccessKey>> List() override;
  absl::Status Revoke(std::string_view id, core::TimePoint at) override;

 private:
  std::mutex mu_;
  std::vector<core::AccessKeySecret> keys_;  // in creation order
};

}  // namespace stockwatch::adapters
