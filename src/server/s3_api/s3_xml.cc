#include "server/s3_api/s3_xml.h"

#include <charconv>
#include <pugixml.hpp>

#include "aws/aws_error.h"

namespace stockwatch::server::s3_api {
namespace {

absl::Status Malformed(std::string_view why) {
  return aws::AwsError(absl::StatusCode::kInvalidArgument, "MalformedXML",
                       std::string("The XML you provided was not well-formed or did not "
                                   "validate against our published schema: ") +
                           std::string(why));
}

// Parses `xml` into `doc` without any entity or DOCTYPE processing beyond XML's own five
// entities (pugixml never fetches external entities). Text that is only whitespace is kept
// when it is an element's only content, so that <Key> </Key> names the key " ", not "".
absl::Status Load(std::string_view xml, pugi::xml_document& doc) {
  // XML cannot carry U+0000, but pugixml decodes "&#0;" into a NUL that ends its C strings:
  // refuse such references instead of reading a shortened text.
  for (size_t at = xml.find("&#"); at != std::string_view::npos; at = xml.find("&#", at + 2)) {
    size_t i = at + 2;
    const bool hex = i < xml.size() && (xml[i] == 'x' || xml[i] == 'X');
    if (hex) ++i;
    bool nonzero = false;
    while (i < xml.size() && xml[i] != ';') {
      if (xml[i] != '0') nonzero = true;
      ++i;
    }
    if (!nonzero) return Malformed("a character reference to U+0000");
  }
  pugi::xml_parse_result result =
      doc.load_buffer(xml.data(), xml.size(),
                      (pugi::parse_default | pugi::parse_ws_pcdata_single) & ~pugi::parse_doctype,
                      pugi::encoding_utf8);
  if (!result) return Malformed(result.description());
  return absl::OkStatus();
}

// The local name of an element, without a namespace prefix.
std::string_view LocalName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  if (size_t colon = name.find(':'); colon != std::string_view::npos) {
    name.remove_prefix(colon + 1);
  }
  return name;
}

pugi::xml_node Child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_element && LocalName(child) == name) return child;
  }
  return {};
}

std::string_view Trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' ||
                           text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

XmlWriter::XmlWriter() { out_ = R"(<?xml version="1.0" encoding="UTF-8"?>)"; }

void XmlWriter::Open(std::string_view name, std::string_view xmlns) {
  out_ += '<';
  out_ += name;
  if (!xmlns.empty()) {
    out_ += " xmlns=\"";
    out_ += xmlns;
    out_ += '"';
  }
  out_ += '>';
}

void XmlWriter::Close(std::string_view name) {
  out_ += "</";
  out_ += name;
  out_ += '>';
}

void XmlWriter::Element(std::string_view name, std::string_view text) {
  Open(name);
  Escape(text);
  Close(name);
}

void XmlWriter::Escape(std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out_ += "&amp;";
        break;
      case '<':
        out_ += "&lt;";
        break;
      case '>':
        out_ += "&gt;";
        break;
      case '"':
        out_ += "&quot;";
        break;
      case '\'':
        out_ += "&apos;";
        break;
      case '\r':
        out_ += "&#13;";
        break;
      case '\n':
        out_ += "&#10;";
        break;
      case '\t':
        out_ += "&#9;";
        break;
      default:
        // Other control characters cannot appear in XML 1.0 at all; keys holding them are
        // refused at upload, and other text is ours.
        if (static_cast<unsigned char>(c) < 0x20) {
          out_ += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out_ += c;
        }
    }
  }
}

absl::StatusOr<std::vector<CompletedPart>> ParseCompleteMultipartUpload(std::string_view xml) {
  pugi::xml_document doc;
  if (absl::Status loaded = Load(xml, doc); !loaded.ok()) return loaded;
  pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != "CompleteMultipartUpload") {
    return Malformed("expected CompleteMultipartUpload");
  }
  std::vector<CompletedPart> parts;
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element || LocalName(node) != "Part") continue;
    if (parts.size() == 10000) return Malformed("more than 10000 parts");
    pugi::xml_node number = Child(node, "PartNumber");
    pugi::xml_node etag = Child(node, "ETag");
    if (!number || !etag) return Malformed("a Part needs PartNumber and ETag");
    std::string_view number_text = Trimmed(number.child_value());
    CompletedPart part;
    auto [ptr, ec] = std::from_chars(number_text.data(), number_text.data() + number_text.size(),
                                     part.part_number);
    if (ec != std::errc() || ptr != number_text.data() + number_text.size()) {
      return Malformed("PartNumber is not a number");
    }
    std::string_view tag = Trimmed(etag.child_value());
    if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') {
      tag = tag.substr(1, tag.size() - 2);
    }
    part.etag = std::string(tag);
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return Malformed("no parts");
  return parts;
}

absl::StatusOr<DeleteRequest> ParseDeleteObjects(std::string_view xml) {
  pugi::xml_document doc;
  if (absl::Status loaded = Load(xml, doc); !loaded.ok()) return loaded;
  pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != "Delete") return Malformed("expected Delete");
  DeleteRequest request;
  if (pugi::xml_node quiet = Child(root, "Quiet")) {
    request.quiet = Trimmed(quiet.child_value()) == "true";
  }
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element || LocalName(node) != "Object") continue;
    if (request.keys.size() == 1000) return Malformed("more than 1000 objects");
    pugi::xml_node key = Child(node, "Key");
    if (!key) return Malformed("an Object needs a Key");
    // One text piece only: a comment or a character reference pugixml cannot hold (&#0;)
    // would otherwise cut the key short, and the wrong object would be deleted.
    size_t pieces = 0;
    for (pugi::xml_node child : key.children()) {
      if (child.type() != pugi::node_pcdata && child.type() != pugi::node_cdata) {
        return Malformed("a Key holds text only");
      }
      ++pieces;
    }
    if (pieces > 1) return Malformed("a Key holds one piece of text");
    request.keys.emplace_back(key.child_value());
  }
  if (request.keys.empty()) return Malformed("no objects");
  return request;
}

}  // namespace stockwatch::server::s3_api
