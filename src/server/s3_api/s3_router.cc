#include "server/s3_api/s3_router.h"

#include <algorithm>
#include <utility>

#include "aws/aws_error.h"
#include "base/metrics.h"
#include "base/status.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/s3_api/s3_errors.h"
#include "server/s3_api/s3_request.h"
#include "server/s3_api/s3_xml.h"
#include "server/url.h"
#include "spdlog/spdlog.h"

namespace stockwatch::server::s3_api {
namespace {

absl::Status NotImplemented(std::string_view what) {
  return S3Error(absl::StatusCode::kUnimplemented, "NotImplemented",
                 fmt::format("{} is not implemented by stockwatch", what));
}

absl::Status MethodNotAllowed() {
  return S3Error(absl::StatusCode::kInvalidArgument, "MethodNotAllowed",
                 "The specified method is not allowed against this resource.");
}

// Subresources we do not serve; answering NotImplemented beats treating `?acl` as a GET.
constexpr std::string_view kUnsupportedSubresources[] = {"acl",
                                                         "policy",
                                                         "cors",
                                                         "lifecycle",
                                                         "tagging",
                                                         "website",
                                                         "logging",
                                                         "replication",
                                                         "encryption",
                                                         "object-lock",
                                                         "retention",
                                                         "legal-hold",
                                                         "torrent",
                                                         "notification",
                                                         "analytics",
                                                         "inventory",
                                                         "metrics",
                                                         "accelerate",
                                                         "requestPayment",
                                                         "select",
                                                         "restore",
                                                         "attributes",
                                                         "ownershipControls",
                                                         "publicAccessBlock",
                                                         "intelligent-tiering",
                                                         "versions"};

}  // namespace

S3Router::S3Router(S3Services services, S3Options options)
    : services_(services), options_(std::move(options)) {}

HttpResponse S3Router::ErrorFor(const absl::Status& status, const std::string& request_id) {
  return S3ErrorResponse(status, "", request_id);
}

HttpResponse S3Router::Handle(HttpRequest& request) {
  base::Metrics::Get().s3_requests.fetch_add(1, std::memory_order_relaxed);
  const TargetParts target = SplitTarget(request.target);
  const bool head = request.method == "HEAD";
  absl::StatusOr<S3Address> address =
      ParseAddress(request.Header("host").value_or(""), target.path, options_.domain);
  if (!address.ok()) return S3ErrorResponse(address.status(), "", request.request_id, head);
  absl::StatusOr<S3Query> query = S3Query::Parse(target.query);
  if (!query.ok()) return S3ErrorResponse(query.status(), "", request.request_id, head);
  Context context{request, *std::move(address), *std::move(query), {}, {}};

  absl::StatusOr<HttpResponse> response = [&]() -> absl::StatusOr<HttpResponse> {
    SW_RETURN_IF_ERROR(Authenticate(context));
    return Route(context);
  }();
  if (response.ok()) return *std::move(response);
  const absl::Status& status = response.status();
  const std::string code = S3ErrorCode(status);
  if (code == "InternalError") {
    spdlog::error("s3 {} {} (request {}): {}", request.method, context.Resource(),
                  request.request_id, status.ToString());
  } else {
    spdlog::debug("s3 {} {} -> {} (request {}): {}", request.method, context.Resource(), code,
                  request.request_id, ToStd(status.message()));
  }
  base::Metrics::Get().s3_errors.fetch_add(1, std::memory_order_relaxed);
  return S3ErrorResponse(status, context.Resource(), request.request_id, head);
}

absl::Status S3Router::Authenticate(Context& context) {
  // Signature Version 2 (still the default of awscli v1's `s3 presign` and of boto3's
  // presigned URLs without signature_version="s3v4"): say what to change, as S3 does.
  std::optional<std::string_view> authorization = context.request.Header("authorization");
  if ((authorization && authorization->substr(0, 4) == "AWS ") ||
      (context.query.Has("AWSAccessKeyId") && context.query.Has("Signature"))) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidRequest",
                   "The authorization mechanism you have provided is not supported. Please use "
                   "AWS4-HMAC-SHA256 (Signature Version 4; for awscli: aws configure set "
                   "default.s3.signature_version s3v4).");
  }
  std::optional<core::AccessKey> key;
  aws::SecretLookup lookup = [&](std::string_view id) -> absl::StatusOr<std::string> {
    absl::StatusOr<core::AccessKeySecret> found = services_.keys.Lookup(id);
    if (!found.ok()) return found.status();
    // A revoked key is as good as unknown.
    if (found->key.revoked_at) return absl::NotFoundError("access key revoked");
    key = found->key;
    return found->secret;
  };
  aws::RequestView view;
  view.method = context.request.method;
  view.target = context.request.target;
  view.headers = &context.request.headers;
  SW_ASSIGN_OR_RETURN(context.auth,
                      aws::VerifyRequest(view, lookup, services_.clock.Now(), options_.verify));
  if (!key) return absl::InternalError("verified request without its key");
  context.access_key = *std::move(key);
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> S3Router::Route(Context& context) {
  const std::string& method = context.request.method;
  const S3Query& query = context.query;
  if (context.address.bucket.empty()) {
    if (method == "GET") return ListBuckets(context);
    return MethodNotAllowed();
  }
  for (std::string_view name : kUnsupportedSubresources) {
    if (query.Has(name)) return NotImplemented(fmt::format("the {} subresource", name));
  }
  if (std::find(options_.buckets.begin(), options_.buckets.end(), context.address.bucket) ==
      options_.buckets.end()) {
    if (method == "PUT" && context.address.key.empty()) {
      return S3Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                     "buckets are configured with the s3.buckets setting, not created");
    }
    return S3Error(absl::StatusCode::kNotFound, "NoSuchBucket",
                   "The specified bucket does not exist");
  }
  if (context.address.key.empty()) return BucketRequest(context);

  SW_RETURN_IF_ERROR(ValidateKey(context.address.key));
  if (method == "PUT") {
    if (context.request.Header("x-amz-copy-source")) return NotImplemented("CopyObject");
    if (query.Has("uploadId") || query.Has("partNumber")) return UploadPart(context);
    return PutObject(context);
  }
  if (method == "GET") {
    if (query.Has("uploadId")) return ListParts(context);
    return GetObject(context, /*head=*/false);
  }
  if (method == "HEAD") return GetObject(context, /*head=*/true);
  if (method == "POST") {
    if (query.Has("uploads")) return CreateMultipartUpload(context);
    if (query.Has("uploadId")) return CompleteMultipartUpload(context);
    return MethodNotAllowed();
  }
  if (method == "DELETE") {
    if (query.Has("uploadId")) return AbortMultipartUpload(context);
    return DeleteObject(context);
  }
  return MethodNotAllowed();
}

absl::StatusOr<HttpResponse> S3Router::ListBuckets(Context& context) {
  XmlWriter xml;
  xml.Open("ListAllMyBucketsResult", kS3Namespace);
  xml.Open("Owner");
  xml.Element("ID", context.access_key.id);
  xml.Element("DisplayName", context.access_key.id);
  xml.Close("Owner");
  xml.Open("Buckets");
  // Buckets exist from the start (configuration); the epoch is as good a date as any and
  // stays the same across restarts.
  for (const std::string& bucket : options_.buckets) {
    xml.Open("Bucket");
    xml.Element("Name", bucket);
    xml.Element("CreationDate", IsoDate(core::TimePoint()));
    xml.Close("Bucket");
  }
  xml.Close("Buckets");
  xml.Close("ListAllMyBucketsResult");
  return XmlResponse(200, xml.Finish(), context.request);
}

absl::StatusOr<HttpResponse> S3Router::BucketRequest(Context& context) {
  const std::string& method = context.request.method;
  const S3Query& query = context.query;
  if (method == "HEAD") {
    HttpResponse response = EmptyResponse(200, context.request);
    response.headers.emplace_back("x-amz-bucket-region", options_.region);
    return response;
  }
  if (method == "GET") {
    if (query.Has("location")) {
      // us-east-1 answers an empty constraint, as S3 does.
      XmlWriter xml;
      xml.Open("LocationConstraint", kS3Namespace);
      xml.Text(options_.region == "us-east-1" ? "" : options_.region);
      xml.Close("LocationConstraint");
      return XmlResponse(200, xml.Finish(), context.request);
    }
    if (query.Has("versioning")) {
      XmlWriter xml;
      xml.Open("VersioningConfiguration", kS3Namespace);
      xml.Close("VersioningConfiguration");
      return XmlResponse(200, xml.Finish(), context.request);
    }
    if (query.Has("uploads")) return ListMultipartUploads(context);
    if (query.GetOr("list-type", "1") == "2") return ListObjects(context, 2);
    return ListObjects(context, 1);
  }
  if (method == "PUT") {
    // CreateBucket on a configured bucket: S3 in us-east-1 answers 200 to its owner.
    HttpResponse response = EmptyResponse(200, context.request);
    response.headers.emplace_back("Location", "/" + context.address.bucket);
    return response;
  }
  if (method == "POST" && query.Has("delete")) return DeleteObjects(context);
  if (method == "DELETE") {
    return S3Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                   "buckets are configured with the s3.buckets setting, not deleted");
  }
  return MethodNotAllowed();
}

}  // namespace stockwatch::server::s3_api
