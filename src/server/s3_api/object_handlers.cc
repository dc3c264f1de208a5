// PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects and the two ListObjects.

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "aws/aws_error.h"
#include "aws/checksums.h"
#include "base/metrics.h"
#include "base/status.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/s3_api/ingest.h"
#include "server/s3_api/payload.h"
#include "server/s3_api/s3_errors.h"
#include "server/s3_api/s3_request.h"
#include "server/s3_api/s3_xml.h"
#include "server/url.h"
#include "spdlog/spdlog.h"

namespace stockwatch::server::s3_api {
namespace {

constexpr std::string_view kDefaultContentType = "binary/octet-stream";

absl::Status AccessDenied() {
  return S3Error(absl::StatusCode::kPermissionDenied, "AccessDenied", "Access Denied");
}

absl::Status NoSuchKey() {
  return S3Error(absl::StatusCode::kNotFound, "NoSuchKey", "The specified key does not exist.");
}

// A written object's answer: 200 with its ETag.
HttpResponse PutAnswer(const HttpRequest& request, const core::ObjectInfo& object,
                       const std::optional<std::pair<std::string, std::string>>& checksum) {
  HttpResponse response = EmptyResponse(200, request);
  response.headers.emplace_back("ETag", QuotedEtag(object.etag));
  if (checksum) response.headers.push_back(*checksum);
  return response;
}

// Parses "bytes=a-b", "bytes=a-" and "bytes=-n" against `size` into [offset, offset+length).
// nullopt for a header S3 would ignore (several ranges, another unit); InvalidRange when
// unsatisfiable.
absl::StatusOr<std::optional<std::pair<uint64_t, uint64_t>>> ParseRange(std::string_view header,
                                                                        uint64_t size) {
  using Range = std::optional<std::pair<uint64_t, uint64_t>>;
  header = TrimAsciiWhitespace(header);
  if (!StartsWithIgnoreCase(header, "bytes=")) return Range();
  std::string_view spec = TrimAsciiWhitespace(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return Range();
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return Range();
  std::string_view first = TrimAsciiWhitespace(spec.substr(0, dash));
  std::string_view last = TrimAsciiWhitespace(spec.substr(dash + 1));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  auto unsatisfiable = [&] {
    return S3Error(absl::StatusCode::kOutOfRange, "InvalidRange",
                   fmt::format("The requested range is not satisfiable (object size {}).", size));
  };
  if (first.empty()) {
    absl::StatusOr<int64_t> suffix = ParseInteger("range", last, 0, kMax);
    if (!suffix.ok()) return Range();
    if (*suffix == 0 || size == 0) return unsatisfiable();
    uint64_t length = std::min<uint64_t>(static_cast<uint64_t>(*suffix), size);
    return Range(std::make_pair(size - length, length));
  }
  absl::StatusOr<int64_t> start = ParseInteger("range", first, 0, kMax);
  if (!start.ok()) return Range();
  if (static_cast<uint64_t>(*start) >= size) return unsatisfiable();
  uint64_t end = size - 1;
  if (!last.empty()) {
    absl::StatusOr<int64_t> parsed = ParseInteger("range", last, 0, kMax);
    if (!parsed.ok() || *parsed < *start) return Range();
    end = std::min<uint64_t>(static_cast<uint64_t>(*parsed), size - 1);
  }
  return Range(std::make_pair(static_cast<uint64_t>(*start), end - *start + 1));
}

// The continuation token of ListObjectsV2: the listing position, base64 so that any key
// bytes travel safely in a query string.
std::string EncodeToken(std::string_view position) { return aws::Base64Encode(position); }
absl::StatusOr<std::string> DecodeToken(std::string_view token) {
  absl::StatusOr<std::string> position = aws::Base64Decode(token);
  if (!position.ok()) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                   "The continuation token provided is incorrect");
  }
  return position;
}

// The smallest position after every key that starts with `prefix`: keys are at most
// kMaxKeyBytes long, so `prefix` followed by that many 0xFF bytes sorts after all of them.
std::string PastPrefix(std::string_view prefix) {
  std::string position(prefix);
  position.append(kMaxKeyBytes, '\xff');
  return position;
}

}  // namespace

void S3Router::ObjectCommitted(const HttpRequest& request) {
  services_.loader_wakeup.Notify();
  base::Metrics& metrics = base::Metrics::Get();
  metrics.uploads_accepted.fetch_add(1, std::memory_order_relaxed);
  metrics.accept_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - request.received_at)
          .count());
  // Signatures remembered against replays are forgotten once they could no longer verify;
  // checked at most once a minute, by whichever upload comes along.
  const int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(services_.clock.Now().time_since_epoch())
          .count();
  int64_t due = next_replay_expiry_ns_.load(std::memory_order_relaxed);
  if (now >= due && next_replay_expiry_ns_.compare_exchange_strong(
                        due, now + std::chrono::nanoseconds(kReplayExpiryInterval).count())) {
    absl::StatusOr<int64_t> expired = services_.objects.ExpireReplays(services_.clock.Now());
    if (!expired.ok()) {
      spdlog::warn("s3: forgetting expired request signatures failed: {}",
                   expired.status().ToString());
    }
  }
}

absl::StatusOr<core::ObjectInfo> S3Router::VisibleObject(const Context& context) {
  absl::StatusOr<core::ObjectInfo> object =
      services_.objects.Head(context.address.bucket, context.address.key);
  if (!object.ok()) {
    if (object.status().code() == absl::StatusCode::kNotFound) return NoSuchKey();
    return object.status();
  }
  if (!context.access_key.scope.Covers(object->scope)) return AccessDenied();
  return object;
}

absl::StatusOr<HttpResponse> S3Router::PutObject(Context& context) {
  HttpRequest& request = context.request;
  const aws::VerifiedRequest& auth = context.auth;
  // A replayed signed request is answered like the original and stores nothing.
  if (absl::StatusOr<core::ObjectCreatedEvent> original =
          services_.objects.FindReplay(auth.signature);
      original.ok()) {
    if (original->object.bucket == context.address.bucket &&
        original->object.key == context.address.key) {
      HttpResponse response = PutAnswer(request, original->object, std::nullopt);
      response.close = true;  // the body is not read
      return response;
    }
  } else if (original.status().code() != absl::StatusCode::kNotFound) {
    return original.status();
  }

  SW_ASSIGN_OR_RETURN(std::optional<std::string> content_md5, ContentMd5(request));
  SW_ASSIGN_OR_RETURN(std::unique_ptr<PayloadStream> payload,
                      PayloadStream::Open(request, auth, options_.max_object_bytes));
  core::PutOptions put;
  put.scope = context.access_key.scope;
  put.content_type = std::string(request.Header("content-type").value_or(""));
  SW_ASSIGN_OR_RETURN(put.metadata, UserMetadata(request));
  put.replay_key = auth.signature;
  put.replay_until = auth.valid_until;
  SW_ASSIGN_OR_RETURN(std::unique_ptr<core::ObjectWriter> writer,
                      services_.objects.BeginPut(context.address.bucket, context.address.key,
                                                 context.access_key.id, put));
  Ingest ingest(context.address.key, options_.bad_row_policy, context.access_key.scope,
                context.access_key.id);
  absl::Status status = [&]() -> absl::Status {
    while (true) {
      SW_ASSIGN_OR_RETURN(std::string_view piece, payload->Next());
      if (piece.empty()) break;
      SW_RETURN_IF_ERROR(ingest.Feed(piece));
      SW_RETURN_IF_ERROR(writer->Write(piece));
    }
    SW_RETURN_IF_ERROR(payload->VerifyChecksum());
    SW_RETURN_IF_ERROR(ingest.Finish());
    SW_ASSIGN_OR_RETURN(core::ContentDigests digests, writer->Seal());
    return CheckDigests(digests, auth, content_md5);
  }();
  if (!status.ok()) {
    writer->Abort();
    return status;
  }
  absl::StatusOr<core::ObjectCreatedEvent> event = writer->Commit();
  if (!event.ok() && event.status().code() == absl::StatusCode::kAlreadyExists) {
    // The same signed request committed first on another connection.
    event = services_.objects.FindReplay(auth.signature);
  }
  if (!event.ok()) return event.status();
  base::Metrics::Get().s3_bytes_received.fetch_add(event->object.size, std::memory_order_relaxed);
  ObjectCommitted(request);
  return PutAnswer(request, event->object, payload->checksum_header());
}

absl::StatusOr<HttpResponse> S3Router::GetObject(Context& context, bool head) {
  SW_ASSIGN_OR_RETURN(core::ObjectInfo object, VisibleObject(context));
  HttpResponse response = EmptyResponse(200, context.request);
  response.content_type =
      object.content_type.empty() ? std::string(kDefaultContentType) : object.content_type;
  response.headers.emplace_back("ETag", QuotedEtag(object.etag));
  response.headers.emplace_back("Last-Modified", HttpDate(object.created_at));
  response.headers.emplace_back("Accept-Ranges", "bytes");
  for (const auto& [name, value] : object.metadata) {
    response.headers.emplace_back("x-amz-meta-" + name, value);
  }
  uint64_t offset = 0;
  uint64_t length = object.size;
  if (std::optional<std::string_view> range = context.request.Header("range")) {
    SW_ASSIGN_OR_RETURN(auto parsed, ParseRange(*range, object.size));
    if (parsed) {
      std::tie(offset, length) = *parsed;
      response.status = 206;
      response.headers.emplace_back(
          "Content-Range", fmt::format("bytes {}-{}/{}", offset, offset + length - 1, object.size));
    }
  }
  if (head) {
    response.head_content_length = length;
    return response;
  }
  SW_ASSIGN_OR_RETURN(response.stream, services_.objects.OpenRange(object.id, offset, length));
  response.stream_size = length;
  return response;
}

absl::StatusOr<HttpResponse> S3Router::DeleteObject(Context& context) {
  absl::StatusOr<core::ObjectInfo> object = VisibleObject(context);
  if (!object.ok() && S3ErrorCode(object.status()) != "NoSuchKey") return object.status();
  // Deleting an absent key succeeds, as in S3. The inventory is not touched: a delete
  // removes the file from the bucket, not the stock it reported.
  if (object.ok()) {
    SW_RETURN_IF_ERROR(
        services_.objects.Delete(context.address.bucket, context.address.key).status());
  }
  return EmptyResponse(204, context.request);
}

absl::StatusOr<HttpResponse> S3Router::DeleteObjects(Context& context) {
  SW_ASSIGN_OR_RETURN(std::string body, ReadXmlBody(context));
  SW_ASSIGN_OR_RETURN(DeleteRequest request, ParseDeleteObjects(body));
  XmlWriter xml;
  xml.Open("DeleteResult", kS3Namespace);
  for (const std::string& key : request.keys) {
    absl::Status status = ValidateKey(key);
    if (status.ok()) {
      absl::StatusOr<core::ObjectInfo> object = services_.objects.Head(context.address.bucket, key);
      if (object.ok()) {
        status = context.access_key.scope.Covers(object->scope)
                     ? services_.objects.Delete(context.address.bucket, key).status()
                     : AccessDenied();
      } else if (object.status().code() != absl::StatusCode::kNotFound) {
        status = object.status();
      }
    }
    if (status.ok()) {
      if (request.quiet) continue;
      xml.Open("Deleted");
      xml.Element("Key", key);
      xml.Close("Deleted");
    } else {
      xml.Open("Error");
      xml.Element("Key", key);
      xml.Element("Code", S3ErrorCode(status));
      xml.Element("Message", ToStd(status.message()));
      xml.Close("Error");
    }
  }
  xml.Close("DeleteResult");
  return XmlResponse(200, xml.Finish(), context.request);
}

absl::StatusOr<std::string> S3Router::ReadXmlBody(Context& context) {
  absl::StatusOr<std::string> body = ReadWholeBody(*context.request.body, options_.max_xml_bytes);
  if (!body.ok()) {
    if (body.status().code() == absl::StatusCode::kResourceExhausted) {
      return S3Error(absl::StatusCode::kInvalidArgument, "MaxMessageLengthExceeded",
                     "Your request was too big.");
    }
    return body.status();
  }
  SW_ASSIGN_OR_RETURN(std::optional<std::string> content_md5, ContentMd5(context.request));
  core::ContentDigests digests;
  digests.size = body->size();
  digests.sha256_hex = aws::Sha256Hex(*body);
  digests.md5_hex = aws::HexEncode(aws::Md5(*body));
  SW_RETURN_IF_ERROR(CheckDigests(digests, context.auth, content_md5));
  return body;
}

absl::StatusOr<HttpResponse> S3Router::ListObjects(Context& context, int version) {
  const S3Query& query = context.query;
  const std::string prefix = query.GetOr("prefix", "");
  const std::string delimiter = query.GetOr("delimiter", "");
  const bool url_encoding = query.GetOr("encoding-type", "") == "url";
  if (query.Has("encoding-type") && !url_encoding) {
    return S3Error(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                   "Invalid Encoding Method specified in Request");
  }
  SW_ASSIGN_OR_RETURN(int64_t max_keys_asked, query.GetInt("max-keys", kMaxListKeys));
  const size_t max_keys = std::min<size_t>(static_cast<size_t>(max_keys_asked), kMaxListKeys);
  // Where the listing starts: v2's continuation token or start-after, v1's marker.
  std::string position;
  if (version == 2) {
    if (std::optional<std::string> token = query.Get("continuation-token")) {
      SW_ASSIGN_OR_RETURN(position, DecodeToken(*token));
    } else {
      position = query.GetOr("start-after", "");
    }
  } else {
    position = query.GetOr("marker", "");
  }
  auto encode = [&](std::string_view key) {
    return url_encoding ? aws::UriEncode(key, /*encode_slash=*/false) : std::string(key);
  };

  struct Entry {
    bool is_prefix;
    std::string name;
    core::ObjectInfo object;
  };
  std::vector<Entry> entries;
  bool truncated = false;
  std::string resume;  // the position after the last entry returned
  core::ListQuery list;
  list.bucket = context.address.bucket;
  list.prefix = prefix;
  list.visible_to = context.access_key.scope;
  std::string cursor = position;
  while (!truncated) {
    list.start_after = cursor;
    list.limit = std::max<size_t>(max_keys - std::min(max_keys, entries.size()), 1) + 1;
    SW_ASSIGN_OR_RETURN(std::vector<core::ObjectInfo> page, services_.objects.List(list));
    if (page.empty()) break;
    bool skipped = false;
    for (core::ObjectInfo& object : page) {
      std::string_view rest = std::string_view(object.key).substr(prefix.size());
      size_t cut = delimiter.empty() ? std::string_view::npos : rest.find(delimiter);
      if (entries.size() == max_keys) {
        truncated = true;
        break;
      }
      if (cut != std::string_view::npos) {
        std::string common = object.key.substr(0, prefix.size() + cut + delimiter.size());
        cursor = PastPrefix(common);
        // A marker naming a common prefix (a previous page's NextMarker) continues after
        // that prefix rather than listing it again.
        if (common != position) {
          resume = common;
          entries.push_back({true, std::move(common), {}});
        }
        skipped = true;  // jump past every key under this common prefix
        break;
      }
      resume = object.key;
      cursor = object.key;
      entries.push_back({false, object.key, std::move(object)});
    }
    if (!skipped && !truncated && page.size() < list.limit) break;
  }
  if (max_keys == 0) truncated = false;

  XmlWriter xml;
  xml.Open("ListBucketResult", kS3Namespace);
  xml.Element("Name", context.address.bucket);
  xml.Element("Prefix", encode(prefix));
  if (version == 2) {
    if (std::optional<std::string> token = query.Get("continuation-token")) {
      xml.Element("ContinuationToken", *token);
    }
    if (std::optional<std::string> start_after = query.Get("start-after")) {
      xml.Element("StartAfter", encode(*start_after));
    }
    xml.Element("KeyCount", std::to_string(entries.size()));
  } else {
    xml.Element("Marker", encode(position));
  }
  xml.Element("MaxKeys", std::to_string(max_keys));
  if (!delimiter.empty()) xml.Element("Delimiter", encode(delimiter));
  if (url_encoding) xml.Element("EncodingType", "url");
  xml.Element("IsTruncated", truncated ? "true" : "false");
  if (truncated) {
    if (version == 2) {
      xml.Element("NextContinuationToken",
                  EncodeToken(entries.back().is_prefix ? PastPrefix(resume) : resume));
    } else {
      xml.Element("NextMarker", encode(resume));
    }
  }
  for (const Entry& entry : entries) {
    if (entry.is_prefix) continue;
    xml.Open("Contents");
    xml.Element("Key", encode(entry.name));
    xml.Element("LastModified", IsoDate(entry.object.created_at));
    xml.Element("ETag", QuotedEtag(entry.object.etag));
    xml.Element("Size", std::to_string(entry.object.size));
    xml.Element("StorageClass", "STANDARD");
    if (version == 1 || query.GetOr("fetch-owner", "") == "true") {
      xml.Open("Owner");
      xml.Element("ID", entry.object.uploader);
      xml.Element("DisplayName", entry.object.uploader);
      xml.Close("Owner");
    }
    xml.Close("Contents");
  }
  for (const Entry& entry : entries) {
    if (!entry.is_prefix) continue;
    xml.Open("CommonPrefixes");
    xml.Element("Prefix", encode(entry.name));
    xml.Close("CommonPrefixes");
  }
  xml.Close("ListBucketResult");
  return XmlResponse(200, xml.Finish(), context.request);
}

}  // namespace stockwatch::server::s3_api
