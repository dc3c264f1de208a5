// The XML of the S3 API: a small writer for responses, and parsers (pugixml) for the two
// request bodies S3 takes as XML, CompleteMultipartUpload and DeleteObjects.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stockwatch::server::s3_api {

inline constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

// Writes an XML document element by element, escaping text. Not thread-safe.
class XmlWriter {
 public:
  XmlWriter();
  // <name> or <name xmlns="...">.
  void Open(std::string_view name, std::string_view xmlns = "");
  void Close(std::string_view name);
  // <name>escaped text</name>.
  void Element(std::string_view name, std::string_view text);
  // Escaped text inside the open element.
  void Text(std::string_view text) { Escape(text); }
  std::string Finish() { return std::move(out_); }

 private:
  void Escape(std::string_view text);
  std::string out_;
};

// One <Part> of CompleteMultipartUpload.
struct CompletedPart {
  int part_number = 0;
  std::string etag;  // without quotes
};
// kInvalidArgument with AWS code MalformedXML for a body that is not a
// CompleteMultipartUpload document, or has no parts, or a part without number or ETag.
absl::StatusOr<std::vector<CompletedPart>> ParseCompleteMultipartUpload(std::string_view xml);

struct DeleteRequest {
  std::vector<std::string> keys;  // at most 1000
  bool quiet = false;
};
// MalformedXML for a body that is not a Delete document or lists more than 1000 keys.
absl::StatusOr<DeleteRequest> ParseDeleteObjects(std::string_view xml);

}  // namespace stockwatch::server::s3_api
