// The S3-compatible API of `stockwatch serve`, on its own listener (--s3-listen): stores
// upload inventory files with the S3 clients they already use. Every request is signed
// with AWS Signature V4 by an access key scoped to stores; every object created becomes an
// ObjectCreated event in the same commit, exactly as an API upload does, and wakes the
// loader. See docs/S3.md for the operations, addressing and errors.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "aws/sigv4.h"
#include "base/work_signal.h"
#include "core/csv/inventory_csv.h"
#include "core/ports/access_key_store.h"
#include "core/ports/clock.h"
#include "core/ports/object_store.h"
#include "server/http_message.h"
#include "server/request_handler.h"

namespace stockwatch::server::s3_api {

struct S3Options {
  // Buckets served; each accepts inventory files. Default {"inventory"}.
  std::vector<std::string> buckets = {"inventory"};
  // Region in credential scopes and GetBucketLocation. Default "us-east-1".
  std::string region = "us-east-1";
  // Virtual-hosted style: a Host of "<bucket>.<domain>[:port]" addresses <bucket>.
  // Default "localhost" (so inventory.localhost:9000 works).
  std::string domain = "localhost";
  // Largest object (PutObject body, or the sum of a multipart upload's parts). 1 GiB.
  uint64_t max_object_bytes = uint64_t{1} << 30;
  // Largest XML request body (CompleteMultipartUpload, DeleteObjects). Default 1 MiB.
  uint64_t max_xml_bytes = uint64_t{1} << 20;
  // Bad-row policy of the validator (the loader applies the same). Default kSkip.
  core::BadRowPolicy bad_row_policy = core::BadRowPolicy::kSkip;
  // SigV4 limits: clock skew 15 min, presigned URLs up to 7 days.
  aws::VerifyOptions verify;
};

struct S3Services {
  core::ObjectStore& objects;
  core::AccessKeyStore& keys;
  core::Clock& clock;
  base::WorkSignal& loader_wakeup;  // notified after each object is committed
};

// Thread-safe; one call per request.
class S3Router final : public RequestHandler {
 public:
  // `services` must outlive the router.
  S3Router(S3Services services, S3Options options);

  HttpResponse Handle(HttpRequest& request) override;
  HttpResponse ErrorFor(const absl::Status& status, const std::string& request_id) override;

 private:
  struct Context;
  absl::StatusOr<HttpResponse> Route(Context& context);
  absl::Status Authenticate(Context& context);

  // Buckets (s3_router.cc).
  absl::StatusOr<HttpResponse> ListBuckets(Context& context);
  absl::StatusOr<HttpResponse> BucketRequest(Context& context);

  // Objects (object_handlers.cc).
  absl::StatusOr<HttpResponse> PutObject(Context& context);
  absl::StatusOr<HttpResponse> GetObject(Context& context, bool head);
  absl::StatusOr<HttpResponse> DeleteObject(Context& context);
  absl::StatusOr<HttpResponse> DeleteObjects(Context& context);
  absl::StatusOr<HttpResponse> ListObjects(Context& context, int version);

  // Multipart uploads (multipart_handlers.cc).
  absl::StatusOr<HttpResponse> CreateMultipartUpload(Context& context);
  absl::StatusOr<HttpResponse> UploadPart(Context& context);
  absl::StatusOr<HttpResponse> CompleteMultipartUpload(Context& context);
  absl::StatusOr<HttpResponse> AbortMultipartUpload(Context& context);
  absl::StatusOr<HttpResponse> ListParts(Context& context);
  absl::StatusOr<HttpResponse> ListMultipartUploads(Context& context);

  // The object or upload under (bucket, key), if the caller's scope covers it.
  absl::StatusOr<core::ObjectInfo> VisibleObject(const Context& context);
  absl::StatusOr<core::MultipartUpload> VisibleUpload(const Context& context,
                                                      std::string_view upload_id);
  // Reads a small XML body (up to max_xml_bytes), checking x-amz-content-sha256 and
  // Content-MD5 when given.
  absl::StatusOr<std::string> ReadXmlBody(Context& context);

  // After an object and its event are committed: wakes the loader, counts it, and now and
  // then forgets expired replay signatures.
  void ObjectCommitted(const HttpRequest& request);

  S3Services services_;
  const S3Options options_;
  // When ObjectCommitted() next expires replay signatures (ns since the epoch).
  std::atomic<int64_t> next_replay_expiry_ns_{0};
};

// How often remembered request signatures are pruned.
inline constexpr std::chrono::seconds kReplayExpiryInterval{60};

}  // namespace stockwatch::server::s3_api
