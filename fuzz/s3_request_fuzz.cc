// Fuzz target for the request decoding of the S3 API (server/s3_api/s3_request.h and
// s3_xml.h). The first input byte picks a mode; besides "no crash, no sanitizer report":
// - writer: text written by XmlWriter (Element, Text, and the S3 error document) and read
//   back by pugixml is the text, with each control byte other than \t \n \r replaced by
//   U+FFFD;
// - complete: a CompleteMultipartUpload document built with XmlWriter from fuzz-chosen
//   (part number, ETag) pairs, in the shapes clients send (quoted or bare ETags, padding,
//   namespaces, extra elements), parses back to the same pairs (no pairs: MalformedXML);
// - delete: a Delete document built from fuzz keys (valid UTF-8 without control characters
//   other than \t \n \r) parses back to the same keys and Quiet flag;
// - xml: arbitrary bytes through both XML parsers either fail with MalformedXML or give a
//   result within the limits that, written again, parses to itself;
// - query: S3Query::Parse fails exactly when a '%' lacks two hex digits, and a query built
//   from fuzz-chosen parameters, percent-encoded, gives back the first value of each name;
// - address: ParseAddress of a path-style target built from a fuzz bucket and key
//   (aws::UriEncode) or of a virtual-hosted Host gives back bucket and key; arbitrary
//   host, path and domain fail (InvalidBucketName or InvalidArgument) exactly when the path
//   has a bad escape, and what they give is addressed the same again path-style;
// - key: ValidateKey accepts exactly the keys of at most 1024 bytes without a control
//   character (NUL included), a backslash, a leading '/' or a "." or ".." segment (the
//   empty key, which the router never validates, may go either way); a refusal says
//   KeyTooLongError exactly when the key is too long.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aws/aws_error.h"
#include "aws/sigv4.h"
#include "server/s3_api/s3_errors.h"
#include "server/s3_api/s3_request.h"
#include "server/s3_api/s3_xml.h"

namespace {

namespace s3 = stockwatch::server::s3_api;

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// Takes the input apart. Strings are views into the input (so a read past a string's end
// is a read past the input, which ASan sees), ending at a 0xff byte or the input's end.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data)), size_(size) {}
  uint8_t Byte() { return pos_ < size_ ? static_cast<uint8_t>(data_[pos_++]) : 0; }
  uint32_t Word() {
    uint32_t out = 0;
    for (int i = 0; i < 4; ++i) out = out << 8 | Byte();
    return out;
  }
  std::string_view String() {
    const size_t start = pos_;
    while (pos_ < size_ && static_cast<uint8_t>(data_[pos_]) != 0xff) ++pos_;
    const std::string_view out(data_ + start, pos_ - start);
    if (pos_ < size_) ++pos_;
    return out;
  }
  std::string_view Rest() {
    const std::string_view out(data_ + pos_, size_ - pos_);
    pos_ = size_;
    return out;
  }
  bool empty() const { return pos_ >= size_; }

 private:
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool IsXmlControl(unsigned char c) { return c < 0x20 && c != '\t' && c != '\n' && c != '\r'; }

// What XmlWriter promises to carry: `text` with each control byte XML cannot hold replaced
// by U+FFFD.
std::string WriterImage(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (IsXmlControl(static_cast<unsigned char>(c))) {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

bool HasXmlControl(std::string_view text) {
  for (char c : text) {
    if (IsXmlControl(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

// The valid UTF-8 sequences of `raw`, without control characters other than \t \n \r
// (bytes that start no valid sequence are dropped).
std::string Utf8Text(std::string_view raw) {
  std::string out;
  size_t i = 0;
  while (i < raw.size()) {
    const auto lead = static_cast<unsigned char>(raw[i]);
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;  // no surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    }
    bool valid = length > 0 && i + length <= raw.size();
    for (size_t k = 1; valid && k < length; ++k) {
      const auto c = static_cast<unsigned char>(raw[i + k]);
      valid = c >= (k == 1 ? low : 0x80) && c <= (k == 1 ? high : 0xbf);
    }
    if (!valid) {
      ++i;
      continue;
    }
    if (!(length == 1 && (IsXmlControl(lead) || lead == 0x7f))) {
      out.append(raw.substr(i, length));
    }
    i += length;
  }
  return out;
}

void CheckAwsCode(const absl::Status& status, absl::StatusCode canonical, std::string_view code) {
  FUZZ_CHECK(!status.ok());
  FUZZ_CHECK(status.code() == canonical);
  const std::optional<std::string> aws_code = stockwatch::aws::AwsErrorCode(status);
  FUZZ_CHECK(aws_code.has_value() && *aws_code == code);
}

void CheckMalformed(const absl::Status& status) {
  CheckAwsCode(status, absl::StatusCode::kInvalidArgument, "MalformedXML");
}

// Reads a document the writer wrote, keeping text that is only whitespace.
pugi::xml_node LoadWritten(pugi::xml_document& doc, const std::string& xml) {
  const pugi::xml_parse_result result =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_ws_pcdata_single,
                      pugi::encoding_utf8);
  if (!result) std::fprintf(stderr, "%s: %s\n", xml.c_str(), result.description());
  FUZZ_CHECK(result);
  return doc.document_element();
}

// --- writer ---------------------------------------------------------------------------

void WriterMode(Reader& in) {
  const uint8_t shape = in.Byte();
  const std::string_view text = in.Rest();
  const std::string image = WriterImage(text);
  {
    s3::XmlWriter writer;
    writer.Open("Root", shape & 1 ? s3::kS3Namespace : "");
    writer.Element("Element", text);
    writer.Open("Text");
    writer.Text(text);
    writer.Text(text);
    writer.Close("Text");
    writer.Close("Root");
    const std::string xml = writer.Finish();
    pugi::xml_document doc;
    const pugi::xml_node root = LoadWritten(doc, xml);
    FUZZ_CHECK(std::string_view(root.name()) == "Root");
    FUZZ_CHECK(root.child("Element").child_value() == image);
    FUZZ_CHECK(root.child("Text").child_value() == image + image);
  }

  // The S3 error document, from the pieces of the same text.
  Reader pieces(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  static constexpr std::string_view kCodes[] = {"InvalidArgument", "NoSuchKey", "MalformedXML",
                                                "InternalError", "SlowDown"};
  const std::string_view code = kCodes[(shape >> 1) % std::size(kCodes)];
  const std::string_view message = pieces.String();
  const std::string_view resource = pieces.String();
  const std::string_view request_id = pieces.String();
  const absl::Status status = s3::S3Error(absl::StatusCode::kInvalidArgument, code, message);
  const bool head = (shape & 0x40) != 0;
  const stockwatch::server::HttpResponse response =
      s3::S3ErrorResponse(status, resource, request_id, head);
  FUZZ_CHECK(response.status == s3::S3HttpStatus(code));
  if (head) {
    FUZZ_CHECK(response.body.empty());
    return;
  }
  pugi::xml_document doc;
  const pugi::xml_node root = LoadWritten(doc, response.body);
  FUZZ_CHECK(std::string_view(root.name()) == "Error");
  FUZZ_CHECK(root.child("Code").child_value() == code);
  if (code != "InternalError")
    FUZZ_CHECK(root.child("Message").child_value() == WriterImage(message));
  FUZZ_CHECK(static_cast<bool>(root.child("Resource")) == !resource.empty());
  if (!resource.empty()) FUZZ_CHECK(root.child("Resource").child_value() == WriterImage(resource));
  FUZZ_CHECK(root.child("RequestId").child_value() == WriterImage(request_id));
}

// --- CompleteMultipartUpload ------------------------------------------------------------

// The root element as clients write it: bare, in S3's namespace, or with a prefix.
void OpenRoot(s3::XmlWriter& writer, std::string_view name, uint8_t shape) {
  switch (shape % 3) {
    case 0:
      writer.Open(name);
      break;
    case 1:
      writer.Open(name, s3::kS3Namespace);
      break;
    default:
      writer.Open("s3:" + std::string(name));
  }
}

std::string RootName(std::string_view name, uint8_t shape) {
  return shape % 3 == 2 ? "s3:" + std::string(name) : std::string(name);
}

// Whitespace between elements, as pretty-printing clients send it.
void Pad(s3::XmlWriter& writer, uint8_t shape) {
  if (shape & 1) writer.Text(" ");
  if (shape & 2) writer.Text("  ");
}

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `part_shapes[i]` shapes part i (0 past its end).
std::string WriteCompleteMultipartUpload(const std::vector<s3::CompletedPart>& parts, uint8_t shape,
                                         const std::vector<uint8_t>& part_shapes) {
  s3::XmlWriter writer;
  OpenRoot(writer, "CompleteMultipartUpload", shape);
  for (size_t i = 0; i < parts.size(); ++i) {
    const s3::CompletedPart& part = parts[i];
    const uint8_t part_shape = i < part_shapes.size() ? part_shapes[i] : 0;
    Pad(writer, part_shape);
    writer.Open("Part");
    std::string number = std::to_string(part.part_number);
    if ((part_shape & 8) && part.part_number >= 0) number = "00" + number;
    if (part_shape & 4) number = " \n" + number + "\t ";
    // A bare ETag is read back whole unless it has surrounding whitespace or quotes.
    const bool bare =
        (part_shape & 16) && !part.etag.empty() && !IsXmlSpace(part.etag.front()) &&
        !IsXmlSpace(part.etag.back()) &&
        !(part.etag.size() >= 2 && part.etag.front() == '"' && part.etag.back() == '"');
    const std::string etag = bare ? part.etag : "\"" + part.etag + "\"";
    if (part_shape & 32) {
      writer.Element("ETag", etag);
      Pad(writer, part_shape);
      writer.Element("PartNumber", number);
    } else {
      writer.Element("PartNumber", number);
      Pad(writer, part_shape);
      writer.Element("ETag", etag);
    }
    if (part_shape & 64) writer.Element("ChecksumCRC32", "AAAAAA==");
    writer.Close("Part");
  }
  if (shape & 4) writer.Element("Unknown", "x");
  writer.Close(RootName("CompleteMultipartUpload", shape));
  return writer.Finish();
}

void CheckSameParts(const absl::StatusOr<std::vector<s3::CompletedPart>>& parsed,
                    const std::vector<s3::CompletedPart>& parts) {
  if (parts.empty()) {
    CheckMalformed(parsed.status());
    return;
  }
  if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
  FUZZ_CHECK(parsed.ok());
  FUZZ_CHECK(parsed->size() == parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    FUZZ_CHECK((*parsed)[i].part_number == parts[i].part_number);
    FUZZ_CHECK((*parsed)[i].etag == parts[i].etag);
  }
}

void CompleteMode(Reader& in) {
  const uint8_t shape = in.Byte();
  std::vector<s3::CompletedPart> parts;
  std::vector<uint8_t> part_shapes;
  while (!in.empty() && parts.size() < 200) {
    part_shapes.push_back(in.Byte());
    s3::CompletedPart part;
    part.part_number = static_cast<int32_t>(in.Word());
    part.etag = WriterImage(in.String());
    parts.push_back(std::move(part));
  }
  const std::string xml = WriteCompleteMultipartUpload(parts, shape, part_shapes);
  CheckSameParts(s3::ParseCompleteMultipartUpload(xml), parts);
}

// --- DeleteObjects --------------------------------------------------------------------

// `object_shapes[i]` shapes object i (0 past its end).
std::string WriteDelete(const std::vector<std::string>& keys, std::optional<bool> quiet,
                        uint8_t shape, const std::vector<uint8_t>& object_shapes) {
  s3::XmlWriter writer;
  OpenRoot(writer, "Delete", shape);
  const auto write_quiet = [&] {
    if (!quiet) return;
    Pad(writer, shape >> 3);
    writer.Element("Quiet", *quiet ? (shape & 0x20 ? " true\n" : "true") : "false");
  };
  if (shape & 0x40) write_quiet();
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint8_t object_shape = i < object_shapes.size() ? object_shapes[i] : 0;
    Pad(writer, object_shape);
    writer.Open("Object");
    if (object_shape & 4) writer.Element("VersionId", "null");
    writer.Element("Key", keys[i]);
    if (object_shape & 8) writer.Element("ETag", "\"abc\"");
    writer.Close("Object");
  }
  if (!(shape & 0x40)) write_quiet();
  writer.Close(RootName("Delete", shape));
  return writer.Finish();
}

void CheckSameDelete(const absl::StatusOr<s3::DeleteRequest>& parsed,
                     const std::vector<std::string>& keys, bool quiet) {
  if (keys.empty()) {
    CheckMalformed(parsed.status());
    return;
  }
  if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
  FUZZ_CHECK(parsed.ok());
  FUZZ_CHECK(parsed->quiet == quiet);
  FUZZ_CHECK(parsed->keys.size() == keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (parsed->keys[i] != keys[i]) {
      std::fprintf(stderr, "key %zu: wrote \"%s\", read \"%s\"\n", i, keys[i].c_str(),
                   parsed->keys[i].c_str());
    }
    FUZZ_CHECK(parsed->keys[i] == keys[i]);
  }
}

void DeleteMode(Reader& in) {
  const uint8_t shape = in.Byte();
  std::optional<bool> quiet;
  if (shape & 0x80) quiet = (shape & 4) != 0;
  std::vector<std::string> keys;
  std::vector<uint8_t> object_shapes;
  while (!in.empty() && keys.size() < 1000) {
    object_shapes.push_back(in.Byte());
    keys.push_back(Utf8Text(in.String()));
  }
  const std::string xml = WriteDelete(keys, quiet, shape, object_shapes);
  CheckSameDelete(s3::ParseDeleteObjects(xml), keys, quiet.value_or(false));
}

// --- arbitrary XML ----------------------------------------------------------------------

void XmlMode(Reader& in) {
  const std::string_view xml = in.Rest();

  const absl::StatusOr<std::vector<s3::CompletedPart>> parts =
      s3::ParseCompleteMultipartUpload(xml);
  if (parts.ok()) {
    FUZZ_CHECK(!parts->empty() && parts->size() <= 10000);
    bool writable = true;
    for (const s3::CompletedPart& part : *parts) writable = writable && !HasXmlControl(part.etag);
    // Written again (quoted ETags carry any text), the parts read back the same.
    if (writable) {
      CheckSameParts(s3::ParseCompleteMultipartUpload(WriteCompleteMultipartUpload(*parts, 1, {})),
                     *parts);
    }
  } else {
    CheckMalformed(parts.status());
  }

  const absl::StatusOr<s3::DeleteRequest> request = s3::ParseDeleteObjects(xml);
  if (request.ok()) {
    FUZZ_CHECK(!request->keys.empty() && request->keys.size() <= 1000);
    bool writable = true;
    for (const std::string& key : request->keys) writable = writable && !HasXmlControl(key);
    if (writable) {
      CheckSameDelete(s3::ParseDeleteObjects(WriteDelete(request->keys, request->quiet, 0x80, {})),
                      request->keys, request->quiet);
    }
  } else {
    CheckMalformed(request.status());
  }
}

// --- query ----------------------------------------------------------------------------

bool HasBadEscape(std::string_view text) {
  const auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size()) return true;
    if (!hex(text[i + 1]) || !hex(text[i + 2])) return true;
    i += 2;
  }
  return false;
}

// Escapes only what would change the meaning of a query: % & = + and '#'.
std::string MinimalEncode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '%' || ch == '&' || ch == '=' || ch == '+' || ch == '#') {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

void QueryMode(Reader& in) {
  if (in.Byte() & 1) {
    const std::string_view raw = in.Rest();
    const absl::StatusOr<s3::S3Query> query = s3::S3Query::Parse(raw);
    FUZZ_CHECK(query.ok() == !HasBadEscape(raw));
    if (!query.ok()) {
      CheckAwsCode(query.status(), absl::StatusCode::kInvalidArgument, "InvalidArgument");
    }
    return;
  }
  struct Param {
    std::string name;
    std::string value;
  };
  std::vector<Param> params;  // as recorded: a bare empty name is no parameter
  std::string raw;
  while (!in.empty()) {
    const uint8_t shape = in.Byte();
    Param param{std::string(in.String()), std::string(in.String())};
    const bool bare = (shape & 1) && param.value.empty();
    const auto encode = [&](std::string_view text) {
      return shape & 2 ? MinimalEncode(text) : stockwatch::aws::UriEncode(text, true);
    };
    std::string pair = encode(param.name);
    if (!bare) pair += "=" + encode(param.value);
    if (shape & 4) raw += '&';  // empty pairs are skipped
    if (!raw.empty()) raw += '&';
    raw += pair;
    if (!pair.empty()) params.push_back(std::move(param));
  }
  const absl::StatusOr<s3::S3Query> query = s3::S3Query::Parse(raw);
  FUZZ_CHECK(query.ok());
  for (const Param& param : params) {
    const Param* first = &param;
    for (const Param& other : params) {
      if (other.name == param.name) {
        first = &other;
        break;
      }
    }
    FUZZ_CHECK(query->Has(param.name));
    FUZZ_CHECK(query->Get(param.name) == first->value);
    FUZZ_CHECK(query->GetOr(param.name, "\xff") == first->value);
  }
  // Names from the input never hold 0xff.
  FUZZ_CHECK(!query->Has("\xff"));
  FUZZ_CHECK(!query->Get("\xff").has_value());
  FUZZ_CHECK(query->GetOr("\xff", "fallback") == "fallback");
}

// --- address --------------------------------------------------------------------------

// Letters of a host name label, lower case.
std::string HostChars(std::string_view raw) {
  static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz0123456789.-";
  std::string out;
  for (char c : raw) out += kChars[static_cast<unsigned char>(c) % kChars.size()];
  return out;
}

void CheckAddress(std::string_view host, const std::string& path, std::string_view domain,
                  std::string_view bucket, std::string_view key, bool virtual_hosted) {
  const absl::StatusOr<s3::S3Address> address = s3::ParseAddress(host, path, domain);
  if (!address.ok() || address->bucket != bucket || address->key != key ||
      address->virtual_hosted != virtual_hosted) {
    std::fprintf(stderr, "host \"%.*s\" path \"%s\" domain \"%.*s\": %s\n",
                 static_cast<int>(host.size()), host.data(), path.c_str(),
                 static_cast<int>(domain.size()), domain.data(),
                 address.ok() ? "wrong address" : address.status().ToString().c_str());
  }
  FUZZ_CHECK(address.ok());
  FUZZ_CHECK(address->bucket == bucket);
  FUZZ_CHECK(address->key == key);
  FUZZ_CHECK(address->virtual_hosted == virtual_hosted);
}

// A path-style target for `bucket` and `key`, the key's slashes kept or encoded.
std::string PathStyle(std::string_view bucket, std::string_view key, uint8_t shape) {
  std::string path = "/" + stockwatch::aws::UriEncode(bucket, true);
  if (!key.empty() || (shape & 1)) path += "/";
  path += stockwatch::aws::UriEncode(key, (shape & 2) != 0);
  return path;
}

void AddressMode(Reader& in) {
  const uint8_t shape = in.Byte();
  static constexpr std::string_view kHosts[] = {"",           "localhost",    "127.0.0.1:9000",
                                                "[::1]:9000", "LOCALHOST:80", "s3.example.com"};
  constexpr std::string_view kDomain = "localhost";
  switch (shape % 3) {
    case 0: {
      // Path-style: any bucket and key.
      const std::string_view bucket = in.String();
      const std::string_view key = in.Rest();
      const std::string_view host = kHosts[(shape >> 2) % std::size(kHosts)];
      CheckAddress(host, PathStyle(bucket, key, shape >> 5), kDomain, bucket, key, false);
      break;
    }
    case 1: {
      // Virtual-hosted: "<bucket>.<domain>[:port]" in any case, key in the path.
      std::string bucket = HostChars(in.String());
      if (bucket.empty()) bucket = "b";
      std::string domain = HostChars(in.String());
      if (domain.empty()) domain = std::string(kDomain);
      const std::string_view key = in.Rest();
      std::string host = bucket + "." + domain;
      for (size_t i = 0; i < host.size(); ++i) {
        if ((shape >> (2 + i % 5)) & 1 && host[i] >= 'a' && host[i] <= 'z') host[i] -= 32;
      }
      const std::string expected_bucket = host.substr(0, bucket.size());
      if (shape & 0x80) host += ":9000";
      const std::string path = "/" + stockwatch::aws::UriEncode(key, false);
      CheckAddress(host, path, domain, expected_bucket, key, true);
      break;
    }
    default: {
      // Anything: refusals carry an S3 code, and what is accepted is addressed again the
      // same way path-style.
      const std::string_view host = in.String();
      const std::string_view path = in.String();
      const std::string_view domain = in.Rest();
      const absl::StatusOr<s3::S3Address> address = s3::ParseAddress(host, path, domain);
      if (!address.ok()) {
        FUZZ_CHECK(address.status().code() == absl::StatusCode::kInvalidArgument);
        const std::optional<std::string> code = stockwatch::aws::AwsErrorCode(address.status());
        FUZZ_CHECK(code == "InvalidBucketName" || code == "InvalidArgument");
      }
      FUZZ_CHECK(address.ok() == !HasBadEscape(path));
      if (!address.ok()) return;
      if (address->virtual_hosted) FUZZ_CHECK(!domain.empty() && !address->bucket.empty());
      CheckAddress("", PathStyle(address->bucket, address->key, shape >> 5), kDomain,
                   address->bucket, address->key, false);
    }
  }
}

// --- keys -----------------------------------------------------------------------------

// Why ValidateKey must refuse `key`, or nullopt when it must accept it.
std::optional<std::string_view> Forbidden(std::string_view key) {
  if (key.size() > s3::kMaxKeyBytes) return "KeyTooLongError";
  for (char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return "InvalidArgument";  // NUL included
    if (c == '\\') return "InvalidArgument";
  }
  if (!key.empty() && key.front() == '/') return "InvalidArgument";
  size_t start = 0;
  while (true) {
    const size_t slash = key.find('/', start);
    const std::string_view segment = key.substr(start, slash - start);
    if (segment == "." || segment == "..") return "InvalidArgument";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::nullopt;
}

void CheckKey(std::string_view key) {
  const absl::Status status = s3::ValidateKey(key);
  const std::optional<std::string_view> forbidden = Forbidden(key);
  if (status.ok()) {
    FUZZ_CHECK(!forbidden.has_value());
    FUZZ_CHECK(key.size() <= 1024);
    FUZZ_CHECK(key.find('\0') == std::string_view::npos);
    FUZZ_CHECK(key.find('\\') == std::string_view::npos);
  } else {
    FUZZ_CHECK(forbidden.has_value() || key.empty());
    CheckAwsCode(status, absl::StatusCode::kInvalidArgument,
                 key.size() > s3::kMaxKeyBytes ? "KeyTooLongError" : "InvalidArgument");
  }
}

void KeyMode(Reader& in) {
  const uint8_t shape = in.Byte();
  const std::string_view key = in.Rest();
  CheckKey(key);
  // Around the length limit, and as one segment of a longer key.
  CheckKey(std::string(1000 + shape % 40, 'k') + std::string(key));
  CheckKey("prefix/" + std::string(key) + (shape & 1 ? "/suffix" : ""));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  switch (in.Byte() % 7) {
    case 0:
      WriterMode(in);
      break;
    case 1:
      CompleteMode(in);
      break;
    case 2:
      DeleteMode(in);
      break;
    case 3:
      XmlMode(in);
      break;
    case 4:
      QueryMode(in);
      break;
    case 5:
      AddressMode(in);
      break;
    default:
      KeyMode(in);
  }
  return 0;
}
