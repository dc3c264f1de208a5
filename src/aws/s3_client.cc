#include "aws/s3_client.h"

#include <charconv>
#include <utility>

#include "aws/aws_text.h"

namespace stockwatch::aws {
namespace {

using text::Cat;

// A bucket name usable as a DNS label of a virtual-hosted URL under TLS: lower-case
// letters, digits and '-', 3 to 63 characters, not starting or ending with '-'. Names with
// dots would break the *.s3 certificate, so they go path style.
bool IsVirtualHostable(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  if (bucket.front() == '-' || bucket.back() == '-') return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string_view Authority(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end != std::string_view::npos) url.remove_prefix(scheme_end + 3);
  return url.substr(0, url.find('/'));
}

S3ObjectInfo InfoFrom(const AwsHttpResponse& response) {
  S3ObjectInfo info;
  info.etag = response.Header("etag").value_or("");
  info.content_type = response.Header("content-type").value_or("");
  info.last_modified = response.Header("last-modified").value_or("");
  const std::string length = response.Header("content-length").value_or("0");
  uint64_t size = 0;
  std::from_chars(length.data(), length.data() + length.size(), size);
  info.size = size;
  return info;
}

}  // namespace

S3Client::S3Client(AwsConfig config) : http_(std::move(config), kS3Service) {}

AwsHttpRequest S3Client::ObjectRequest(std::string_view method, std::string_view bucket,
                                       std::string_view key) const {
  const AwsConfig& config = http_.config();
  bool virtual_host = false;
  switch (config.s3_addressing) {
    case S3AddressingStyle::kPath:
      break;
    case S3AddressingStyle::kVirtual:
      virtual_host = true;
      break;
    case S3AddressingStyle::kAuto:
      virtual_host = !config.HasEndpointOverride(kS3Service) && IsVirtualHostable(bucket);
      break;
  }
  AwsHttpRequest request;
  request.method = std::string(method);
  const std::string encoded_key = UriEncode(key, /*encode_slash=*/false);
  if (virtual_host) {
    request.host_override = Cat(bucket, ".", Authority(http_.endpoint()));
    request.path = Cat("/", encoded_key);
  } else {
    request.path = Cat("/", UriEncode(bucket, /*encode_slash=*/true), "/", encoded_key);
    if (key.empty()) request.path.pop_back();
  }
  return request;
}

absl::StatusOr<S3ObjectInfo> S3Client::GetObject(std::string_view bucket, std::string_view key,
                                                 const S3ChunkSink& sink) const {
  const AwsHttpRequest request = ObjectRequest("GET", bucket, key);
  const BodySink body_sink = [&sink](std::string_view chunk) { return sink(chunk); };
  absl::StatusOr<AwsHttpResponse> response = http_.Send(request, body_sink);
  if (!response.ok()) return response.status();
  return InfoFrom(*response);
}

absl::StatusOr<std::string> S3Client::PutObject(std::string_view bucket, std::string_view key,
                                                std::string_view body,
                                                std::string_view content_type) const {
  AwsHttpRequest request = ObjectRequest("PUT", bucket, key);
  request.headers.emplace_back("content-type", std::string(content_type));
  request.body = std::string(body);
  absl::StatusOr<AwsHttpResponse> response = http_.Send(request);
  if (!response.ok()) return response.status();
  return response->Header("etag").value_or("");
}

absl::StatusOr<S3ObjectInfo> S3Client::HeadObject(std::string_view bucket,
                                                  std::string_view key) const {
  absl::StatusOr<AwsHttpResponse> response = http_.Send(ObjectRequest("HEAD", bucket, key));
  if (!response.ok()) return response.status();
  return InfoFrom(*response);
}

absl::Status S3Client::CreateBucket(std::string_view bucket) const {
  AwsHttpRequest request = ObjectRequest("PUT", bucket, "");
  const std::string& region = http_.config().region;
  if (region != "us-east-1") {
    request.headers.emplace_back("content-type", "application/xml");
    request.body =
        Cat("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>",
            region, "</LocationConstraint></CreateBucketConfiguration>");
  }
  return http_.Send(request).status();
}

}  // namespace stockwatch::aws
