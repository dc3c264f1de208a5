// Multipart uploads: parts are stored as they come; CompleteMultipartUpload streams them,
// in order, through the same checks as PutObject into one object and its one
// ObjectCreated event.

#include <algorithm>
#include <chrono>
#include <utility>

#include "aws/aws_error.h"
#include "aws/checksums.h"
#include "base/metrics.h"
#include "base/status.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/s3_api/ingest.h"
#include "server/s3_api/payload.h"
#include "server/s3_api/s3_errors.h"
#include "server/s3_api/s3_request.h"
#include "server/s3_api/s3_xml.h"
#include "server/url.h"

namespace stockwatch::server::s3_api {
namespace {

// S3's limits: parts 1..10000, each but the last at least 5 MiB, at most 5 GiB.
constexpr int kMaxPartNumber = 10000;
constexpr uint64_t kMinPartBytes = uint64_t{5} << 20;
constexpr uint64_t kMaxPartBytes = uint64_t{5} << 30;
// Bytes per read when streaming parts into the object.
constexpr size_t kCopyBytes = 256 * 1024;

absl::Status NoSuchUpload() {
  return S3Error(absl::StatusCode::kNotFound, "NoSuchUpload",
                 "The specified multipart upload does not exist. The upload ID might be "
                 "invalid, or the multipart upload might have been aborted or completed.");
}

absl::StatusOr<int> PartNumber(const S3Query& query) {
  absl::StatusOr<int64_t> number =
      ParseInteger("partNumber", query.GetOr("partNumber", ""), 1, kMaxPartNumber);
  if (!number.ok()) {
    return S3Error(
        absl::StatusCode::kInvalidArgument, "InvalidArgument",
        fmt::format("Part number must be an integer between 1 and {}, inclusive", kMaxPartNumber));
  }
  return static_cast<int>(*number);
}

// "<hex MD5 of the concatenated binary part MD5s>-<count>", as S3 computes it.
absl::StatusOr<std::string> MultipartEtag(const std::vector<core::PartInfo>& parts) {
  std::string md5s;
  md5s.reserve(parts.size() * 16);
  for (const core::PartInfo& part : parts) {
    SW_ASSIGN_OR_RETURN(std::string raw, aws::HexDecode(part.etag));
    md5s += raw;
  }
  return fmt::format("{}-{}", aws::HexEncode(aws::Md5(md5s)), parts.size());
}

}  // namespace

absl::StatusOr<core::MultipartUpload> S3Router::VisibleUpload(const Context& context,
                                                              std::string_view upload_id) {
  absl::StatusOr<core::MultipartUpload> upload = services_.objects.GetMultipartUpload(upload_id);
  if (!upload.ok()) {
    if (upload.status().code() == absl::StatusCode::kNotFound ||
        upload.status().code() == absl::StatusCode::kInvalidArgument) {
      return NoSuchUpload();
    }
    return upload.status();
  }
  if (upload->bucket != context.address.bucket || upload->key != context.address.key ||
      !context.access_key.scope.Covers(upload->options.scope)) {
    return NoSuchUpload();
  }
  return upload;
}

absl::StatusOr<HttpResponse> S3Router::CreateMultipartUpload(Context& context) {
  core::PutOptions options;
  options.scope = context.access_key.scope;
  options.content_type = std::string(context.request.Header("content-type").value_or(""));
  options.event_name = "ObjectCreated:CompleteMultipartUpload";
  SW_ASSIGN_OR_RETURN(options.metadata, UserMetadata(context.request));
  SW_ASSIGN_OR_RETURN(core::MultipartUpload upload, services_.objects.CreateMultipartUpload(
                                                        context.address.bucket, context.address.key,
                                                        context.access_key.id, options));
  XmlWriter xml;
  xml.Open("InitiateMultipartUploadResult", kS3Namespace);
  xml.Element("Bucket", upload.bucket);
  xml.Element("Key", upload.key);
  xml.Element("UploadId", upload.upload_id);
  xml.Close("InitiateMultipartUploadResult");
  HttpResponse response = XmlResponse(200, xml.Finish(), context.request);
  if (std::optional<std::string_view> algorithm =
          context.request.Header("x-amz-checksum-algorithm")) {
    response.headers.emplace_back("x-amz-checksum-algorithm", std::string(*algorithm));
  }
  return response;
}

absl::StatusOr<HttpResponse> S3Router::UploadPart(Context& context) {
  SW_ASSIGN_OR_RETURN(int part_number, PartNumber(context.query));
  const std::string upload_id = context.query.GetOr("uploadId", "");
  SW_RETURN_IF_ERROR(VisibleUpload(context, upload_id).status());
  SW_ASSIGN_OR_RETURN(std::optional<std::string> content_md5, ContentMd5(context.request));
  SW_ASSIGN_OR_RETURN(std::unique_ptr<PayloadStream> payload,
                      PayloadStream::Open(context.request, context.auth,
                                          std::min(kMaxPartBytes, options_.max_object_bytes)));
  absl::StatusOr<std::unique_ptr<core::PartWriter>> writer =
      services_.objects.BeginPart(upload_id, part_number);
  if (!writer.ok()) {
    if (writer.status().code() == absl::StatusCode::kNotFound) return NoSuchUpload();
    return writer.status();
  }
  absl::Status status = [&]() -> absl::Status {
    while (true) {
      SW_ASSIGN_OR_RETURN(std::string_view piece, payload->Next());
      if (piece.empty()) break;
      SW_RETURN_IF_ERROR((*writer)->Write(piece));
    }
    SW_RETURN_IF_ERROR(payload->VerifyChecksum());
    SW_ASSIGN_OR_RETURN(core::ContentDigests digests, (*writer)->Seal());
    return CheckDigests(digests, context.auth, content_md5);
  }();
  if (!status.ok()) {
    (*writer)->Abort();
    return status;
  }
  absl::StatusOr<core::PartInfo> part = (*writer)->Commit();
  if (!part.ok()) {
    if (part.status().code() == absl::StatusCode::kNotFound) return NoSuchUpload();
    return part.status();
  }
  base::Metrics::Get().s3_bytes_received.fetch_add(part->size, std::memory_order_relaxed);
  HttpResponse response = EmptyResponse(200, context.request);
  response.headers.emplace_back("ETag", QuotedEtag(part->etag));
  if (auto checksum = payload->checksum_header()) response.headers.push_back(*checksum);
  return response;
}

absl::StatusOr<HttpResponse> S3Router::CompleteMultipartUpload(Context& context) {
  HttpRequest& request = context.request;
  const std::string upload_id = context.query.GetOr("uploadId", "");
  auto answer = [&](const core::ObjectInfo& object) {
    XmlWriter xml;
    xml.Open("CompleteMultipartUploadResult", kS3Namespace);
    xml.Element("Location", "/" + object.bucket + "/" + aws::UriEncode(object.key, false));
    xml.Element("Bucket", object.bucket);
    xml.Element("Key", object.key);
    xml.Element("ETag", QuotedEtag(object.etag));
    xml.Close("CompleteMultipartUploadResult");
    return XmlResponse(200, xml.Finish(), request);
  };
  // A retried Complete whose first attempt succeeded finds the upload gone: answer it
  // like the original.
  if (absl::StatusOr<core::ObjectCreatedEvent> original =
          services_.objects.FindReplay(context.auth.signature);
      original.ok()) {
    HttpResponse response = answer(original->object);
    response.close = true;
    return response;
  }

  SW_ASSIGN_OR_RETURN(core::MultipartUpload upload, VisibleUpload(context, upload_id));
  SW_ASSIGN_OR_RETURN(std::string body, ReadXmlBody(context));
  SW_ASSIGN_OR_RETURN(std::vector<CompletedPart> requested, ParseCompleteMultipartUpload(body));
  for (size_t i = 1; i < requested.size(); ++i) {
    if (requested[i].part_number <= requested[i - 1].part_number) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidPartOrder",
                     "The list of parts was not in ascending order. Parts must be ordered by "
                     "part number.");
    }
  }
  SW_ASSIGN_OR_RETURN(std::vector<core::PartInfo> stored, services_.objects.ListParts(upload_id));
  std::vector<core::PartInfo> parts;
  uint64_t total = 0;
  for (const CompletedPart& want : requested) {
    auto found = std::find_if(stored.begin(), stored.end(), [&](const core::PartInfo& part) {
      return part.part_number == want.part_number;
    });
    if (found == stored.end() || AsciiLower(want.etag) != found->etag) {
      return S3Error(absl::StatusCode::kInvalidArgument, "InvalidPart",
                     fmt::format("One or more of the specified parts could not be found. The "
                                 "part may not have been uploaded, or the specified entity tag "
                                 "may not match the part's entity tag (part {}).",
                                 want.part_number));
    }
    parts.push_back(*found);
    total += found->size;
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].size < kMinPartBytes) {
      return S3Error(absl::StatusCode::kInvalidArgument, "EntityTooSmall",
                     fmt::format("Your proposed upload is smaller than the minimum allowed "
                                 "size: part {} has {} bytes, parts but the last need at least "
                                 "{}.",
                                 parts[i].part_number, parts[i].size, kMinPartBytes));
    }
  }
  if (total > options_.max_object_bytes) {
    return S3Error(absl::StatusCode::kInvalidArgument, "EntityTooLarge",
                   fmt::format("Your proposed upload exceeds the maximum allowed object size "
                               "of {} bytes.",
                               options_.max_object_bytes));
  }

  core::PutOptions put = upload.options;
  put.event_name = "ObjectCreated:CompleteMultipartUpload";
  SW_ASSIGN_OR_RETURN(put.etag, MultipartEtag(parts));
  put.replay_key = context.auth.signature;
  put.replay_until = context.auth.valid_until;
  put.completes_upload_id = upload_id;
  SW_ASSIGN_OR_RETURN(std::unique_ptr<core::ObjectWriter> writer,
                      services_.objects.BeginPut(upload.bucket, upload.key, upload.uploader, put));
  Ingest ingest(upload.key, options_.bad_row_policy, upload.options.scope, upload.uploader);
  absl::Status status = [&]() -> absl::Status {
    auto buffer = std::make_unique<char[]>(kCopyBytes);
    for (const core::PartInfo& part : parts) {
      SW_ASSIGN_OR_RETURN(std::unique_ptr<core::ObjectReader> reader,
                          services_.objects.OpenPart(upload_id, part.part_number));
      while (true) {
        SW_ASSIGN_OR_RETURN(size_t n, reader->Read(std::span<char>(buffer.get(), kCopyBytes)));
        if (n == 0) break;
        std::string_view piece(buffer.get(), n);
        SW_RETURN_IF_ERROR(ingest.Feed(piece));
        SW_RETURN_IF_ERROR(writer->Write(piece));
      }
    }
    return ingest.Finish();
  }();
  if (!status.ok()) {
    writer->Abort();
    // A file refused by the validator or the scope can never complete: drop its parts so
    // that nothing of it stays stored.
    if (S3ErrorCode(status) == "InvalidArgument" || S3ErrorCode(status) == "AccessDenied") {
      services_.objects.AbortMultipartUpload(upload_id).IgnoreError();
    }
    return status;
  }
  absl::StatusOr<core::ObjectCreatedEvent> event = writer->Commit();
  if (!event.ok()) {
    if (event.status().code() == absl::StatusCode::kAlreadyExists) {
      event = services_.objects.FindReplay(context.auth.signature);
    } else if (event.status().code() == absl::StatusCode::kNotFound) {
      return NoSuchUpload();
    }
  }
  if (!event.ok()) return event.status();
  ObjectCommitted(request);
  return answer(event->object);
}

absl::StatusOr<HttpResponse> S3Router::AbortMultipartUpload(Context& context) {
  const std::string upload_id = context.query.GetOr("uploadId", "");
  SW_RETURN_IF_ERROR(VisibleUpload(context, upload_id).status());
  absl::Status aborted = services_.objects.AbortMultipartUpload(upload_id);
  if (!aborted.ok() && aborted.code() == absl::StatusCode::kNotFound) return NoSuchUpload();
  SW_RETURN_IF_ERROR(aborted);
  return EmptyResponse(204, context.request);
}

absl::StatusOr<HttpResponse> S3Router::ListParts(Context& context) {
  const std::string upload_id = context.query.GetOr("uploadId", "");
  SW_ASSIGN_OR_RETURN(core::MultipartUpload upload, VisibleUpload(context, upload_id));
  SW_ASSIGN_OR_RETURN(std::vector<core::PartInfo> parts, services_.objects.ListParts(upload_id));
  SW_ASSIGN_OR_RETURN(int64_t marker,
                      context.query.GetInt("part-number-marker", 0, 0, kMaxPartNumber));
  SW_ASSIGN_OR_RETURN(int64_t max_parts, context.query.GetInt("max-parts", 1000));
  max_parts = std::min<int64_t>(max_parts, 1000);
  XmlWriter xml;
  xml.Open("ListPartsResult", kS3Namespace);
  xml.Element("Bucket", upload.bucket);
  xml.Element("Key", upload.key);
  xml.Element("UploadId", upload.upload_id);
  xml.Element("PartNumberMarker", std::to_string(marker));
  int64_t listed = 0;
  int64_t last = marker;
  bool truncated = false;
  for (const core::PartInfo& part : parts) {
    if (part.part_number <= marker) continue;
    if (listed == max_parts) {
      truncated = true;
      break;
    }
    ++listed;
    last = part.part_number;
  }
  xml.Element("NextPartNumberMarker", std::to_string(last));
  xml.Element("MaxParts", std::to_string(max_parts));
  xml.Element("IsTruncated", truncated ? "true" : "false");
  xml.Open("Initiator");
  xml.Element("ID", upload.uploader);
  xml.Element("DisplayName", upload.uploader);
  xml.Close("Initiator");
  xml.Open("Owner");
  xml.Element("ID", upload.uploader);
  xml.Element("DisplayName", upload.uploader);
  xml.Close("Owner");
  xml.Element("StorageClass", "STANDARD");
  for (const core::PartInfo& part : parts) {
    if (part.part_number <= marker || part.part_number > last) continue;
    xml.Open("Part");
    xml.Element("PartNumber", std::to_string(part.part_number));
    xml.Element("LastModified", IsoDate(part.uploaded_at));
    xml.Element("ETag", QuotedEtag(part.etag));
    xml.Element("Size", std::to_string(part.size));
    xml.Close("Part");
  }
  xml.Close("ListPartsResult");
  return XmlResponse(200, xml.Finish(), context.request);
}

absl::StatusOr<HttpResponse> S3Router::ListMultipartUploads(Context& context) {
  const std::string prefix = context.query.GetOr("prefix", "");
  const std::string key_marker = context.query.GetOr("key-marker", "");
  const std::string upload_id_marker = context.query.GetOr("upload-id-marker", "");
  SW_ASSIGN_OR_RETURN(int64_t max_uploads, context.query.GetInt("max-uploads", 1000));
  max_uploads = std::min<int64_t>(max_uploads, 1000);
  // In-progress uploads are few (they end in a Complete or an Abort), so one bounded read
  // filtered here is enough.
  SW_ASSIGN_OR_RETURN(
      std::vector<core::MultipartUpload> uploads,
      services_.objects.ListMultipartUploads(context.address.bucket, prefix, 10000));
  XmlWriter xml;
  xml.Open("ListMultipartUploadsResult", kS3Namespace);
  xml.Element("Bucket", context.address.bucket);
  xml.Element("KeyMarker", key_marker);
  xml.Element("UploadIdMarker", upload_id_marker);
  std::vector<const core::MultipartUpload*> listed;
  bool truncated = false;
  for (const core::MultipartUpload& upload : uploads) {
    if (!context.access_key.scope.Covers(upload.options.scope)) continue;
    if (!key_marker.empty() &&
        (upload.key < key_marker ||
         (upload.key == key_marker &&
          (upload_id_marker.empty() || upload.upload_id <= upload_id_marker)))) {
      continue;
    }
    if (static_cast<int64_t>(listed.size()) == max_uploads) {
      truncated = true;
      break;
    }
    listed.push_back(&upload);
  }
  if (truncated && !listed.empty()) {
    xml.Element("NextKeyMarker", listed.back()->key);
    xml.Element("NextUploadIdMarker", listed.back()->upload_id);
  }
  xml.Element("MaxUploads", std::to_string(max_uploads));
  xml.Element("IsTruncated", truncated ? "true" : "false");
  if (!prefix.empty()) xml.Element("Prefix", prefix);
  for (const core::MultipartUpload* upload : listed) {
    xml.Open("Upload");
    xml.Element("Key", upload->key);
    xml.Element("UploadId", upload->upload_id);
    xml.Open("Initiator");
    xml.Element("ID", upload->uploader);
    xml.Element("DisplayName", upload->uploader);
    xml.Close("Initiator");
    xml.Open("Owner");
    xml.Element("ID", upload->uploader);
    xml.Element("DisplayName", upload->uploader);
    xml.Close("Owner");
    xml.Element("StorageClass", "STANDARD");
    xml.Element("Initiated", IsoDate(upload->initiated_at));
    xml.Close("Upload");
  }
  xml.Close("ListMultipartUploadsResult");
  return XmlResponse(200, xml.Finish(), context.request);
}

}  // namespace stockwatch::server::s3_api
