// The dashboard's files (web/), compiled into the binary. web/build.mjs generates the
// definition of WebAssets() (web_assets.cc in the build tree) at build time.
#pragma once

#include <span>
#include <string_view>

namespace stockwatch::server {

// One file of the dashboard. Every view points into static storage.
struct WebAsset {
  std::string_view path;          // request path: "/" (index.html) or "/assets/app-<hash>.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // strong validator, quoted: "\"<32 hex of sha-256>\""
  std::string_view body;          // the file
  std::string_view gzip;          // the file gzipped; empty when gzip would not make it smaller
  bool immutable = false;         // the name holds a hash of the content: cache it for a year
};

// Every file of the dashboard, index.html ("/") first. Thread-safe (constant data).
std::span<const WebAsset> WebAssets();

}  // namespace stockwatch::server
