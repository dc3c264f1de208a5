#include "server/s3_api/s3_request.h"

#include <chrono>
#include <ctime>

#include "aws/aws_error.h"
#include "aws/checksums.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/s3_api/s3_errors.h"
#include "server/url.h"

namespace stockwatch::server::s3_api {

absl::StatusOr<S3Query> S3Query::Parse(std::string_view raw) {
  S3Query query;
  while (!raw.empty()) {
    size_t amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    absl::StatusOr<std::string> name = PercentDecode(pair.substr(0, eq), PlusMode::kSpace);
    absl::StatusOr<std::string> value = eq == std::string_view::npos
                                            ? std::string()
                                            : PercentDecode(pair.substr(eq + 1), PlusMode::kSpace);
    if (!name.ok() || !value.ok()) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                     "bad percent-encoding in the query string");
    }
    query.params_.emplace_back(*std::move(name), *std::move(value));
  }
  return query;
}

bool S3Query::Has(std::string_view name) const {
  for (const auto& [n, v] : params_) {
    if (n == name) return true;
  }
  return false;
}

std::optional<std::string> S3Query::Get(std::string_view name) const {
  for (const auto& [n, v] : params_) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::string S3Query::GetOr(std::string_view name, std::string_view fallback) const {
  std::optional<std::string> value = Get(name);
  return value ? *value : std::string(fallback);
}

absl::StatusOr<int64_t> S3Query::GetInt(std::string_view name, int64_t fallback, int64_t min,
                                        int64_t max) const {
  std::optional<std::string> text = Get(name);
  if (!text) return fallback;
  absl::StatusOr<int64_t> parsed = ParseInteger(name, *text, min, max);
  if (!parsed.ok()) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                   fmt::format("{} must be an integer in {}..{}", name, min, max));
  }
  return parsed;
}

absl::StatusOr<S3Address> ParseAddress(std::string_view host, std::string_view path,
                                       std::string_view domain) {
  S3Address address;
  // Host without the port (an IPv6 literal keeps its brackets and has no dots to match).
  std::string_view name = host;
  if (!name.empty() && name.front() != '[') {
    if (size_t colon = name.rfind(':'); colon != std::string_view::npos) {
      name = name.substr(0, colon);
    }
  }
  const std::string lower = AsciiLower(name);
  const std::string suffix = "." + AsciiLower(domain);
  std::string_view rest = path;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  if (!domain.empty() && lower.size() > suffix.size() &&
      lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0) {
    address.virtual_hosted = true;
    address.bucket = std::string(name.substr(0, name.size() - suffix.size()));
  } else {
    size_t slash = rest.find('/');
    absl::StatusOr<std::string> bucket = PercentDecode(rest.substr(0, slash), PlusMode::kLiteral);
    if (!bucket.ok()) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidBucketName",
                     "bad percent-encoding in the bucket name");
    }
    address.bucket = *std::move(bucket);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  absl::StatusOr<std::string> key = PercentDecode(rest, PlusMode::kLiteral);
  if (!key.ok()) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                   "bad percent-encoding in the object key");
  }
  address.key = *std::move(key);
  return address;
}

absl::Status ValidateKey(std::string_view key) {
  if (key.size() > kMaxKeyBytes) {
    return S3Error(
        absl::StatusCode::kInvalidArgument, "KeyTooLongError",
        fmt::format("Your key is too long: {} bytes, at most {}.", key.size(), kMaxKeyBytes));
  }
  auto refuse = [](std::string_view why) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                   fmt::format("Object key is not allowed: {}", why));
  };
  for (char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return refuse("it holds a control character");
    if (c == '\\') return refuse("it holds a backslash");
  }
  if (key.empty()) return refuse("it is empty");
  if (key.front() == '/') return refuse("it starts with '/'");
  std::string_view rest = key;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == "..") return refuse("it has a '.' or '..' segment");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return absl::OkStatus();
}

std::string S3Router::Context::Resource() const {
  if (address.bucket.empty()) return "/";
  return "/" + address.bucket + (address.key.empty() ? "" : "/" + address.key);
}

absl::StatusOr<std::optional<std::string>> ContentMd5(const HttpRequest& request) {
  std::optional<std::string_view> header = request.Header("content-md5");
  if (!header) return std::optional<std::string>();
  absl::StatusOr<std::string> raw = aws::Base64Decode(TrimAsciiWhitespace(*header));
  if (!raw.ok() || raw->size() != 16) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidDigest",
                   "The Content-MD5 you specified was invalid.");
  }
  return std::optional<std::string>(aws::HexEncode(*raw));
}

absl::Status CheckDigests(const core::ContentDigests& digests, const aws::VerifiedRequest& auth,
                          const std::optional<std::string>& content_md5) {
  if (auth.payload_mode == aws::PayloadMode::kSignedHex &&
      digests.sha256_hex != auth.payload_sha256_hex) {
    return S3Error(absl::StatusCode::kInvalidArgument, "XAmzContentSHA256Mismatch",
                   "The provided 'x-amz-content-sha256' header does not match what was "
                   "computed.");
  }
  if (content_md5 && digests.md5_hex != *content_md5) {
    return S3Error(absl::StatusCode::kInvalidArgument, "BadDigest",
                   "The Content-MD5 you specified did not match what we received.");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> UserMetadata(
    const HttpRequest& request) {
  constexpr std::string_view kPrefix = "x-amz-meta-";
  constexpr size_t kMaxMetadataBytes = 2048;
  std::vector<std::pair<std::string, std::string>> metadata;
  size_t total = 0;
  for (const auto& [name, value] : request.headers) {
    if (name.size() <= kPrefix.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    metadata.emplace_back(name.substr(kPrefix.size()), std::string(TrimAsciiWhitespace(value)));
    total += metadata.back().first.size() + metadata.back().second.size();
  }
  if (total > kMaxMetadataBytes) {
    return S3Error(absl::StatusCode::kInvalidArgument, "MetadataTooLarge",
                   fmt::format("Your metadata headers exceed the maximum allowed metadata size "
                               "({} of {} bytes).",
                               total, kMaxMetadataBytes));
  }
  return metadata;
}

std::string QuotedEtag(std::string_view etag) { return fmt::format("\"{}\"", etag); }

std::string HttpDate(core::TimePoint time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buffer;
}

std::string IsoDate(core::TimePoint time) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buffer, millis % 1000);
}

HttpResponse XmlResponse(int status, std::string body, const HttpRequest& request) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/xml";
  response.body = std::move(body);
  response.headers.emplace_back("x-amz-request-id", request.request_id);
  return response;
}

HttpResponse EmptyResponse(int status, const HttpRequest& request) {
  HttpResponse response;
  response.status = status;
  response.content_type.clear();
  response.headers.emplace_back("x-amz-request-id", request.request_id);
  return response;
}

}  // namespace stockwatch::server::s3_api
