// The checks an inventory file passes on its way into the bucket, shared by PutObject and
// CompleteMultipartUpload: the CSV validator (the loader's own reader, so a file refused
// here would be refused there) and the access key's store scope.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/csv/inventory_csv.h"
#include "core/model/types.h"

namespace stockwatch::server::s3_api {

// Most validator errors quoted in a refusal.
inline constexpr size_t kMaxRefusalErrors = 10;

// Not thread-safe; one per object.
class Ingest {
 public:
  // `file_name` prefixes the validator's messages (the object key).
  Ingest(std::string file_name, core::BadRowPolicy policy, core::ObjectScope scope,
         std::string access_key_id);

  // Validates the next bytes. Errors: InvalidArgument (kInvalidArgument) naming the first
  // errors "file:line:column: reason" when the file is refused as a whole; AccessDenied
  // (kPermissionDenied) naming the first row of a store outside the scope.
  absl::Status Feed(std::string_view bytes);
  // At the end of the object; same errors.
  absl::Status Finish();

 private:
  class ScopeSink;
  absl::Status Refused(const absl::Status& status) const;
  absl::Status CheckScope() const;

  core::InventoryCsvParser parser_;
  core::ObjectScope scope_;
  std::string access_key_id_;
  // The first row outside the scope: line and store.
  std::optional<std::pair<int64_t, std::string>> violation_;
  std::unique_ptr<core::RowSink> sink_;
};

}  // namespace stockwatch::server::s3_api
