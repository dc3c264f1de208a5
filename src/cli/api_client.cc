#include "cli/api_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "absl/status/status.h"

namespace stockwatch::cli {
namespace {

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    const char c = text[i];
    const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != prefix[i]) return false;
  }
  return true;
}

void EnsureCurlGlobalInit() {
  // curl_global_init must run once before any other libcurl call and is not thread-safe in
  // every build, so it is done here once per process and never undone.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

// Collects the response body, refusing more than `max` bytes.
struct Sink {
  std::string* body;
  size_t max;
  bool too_large = false;
};

size_t WriteToSink(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->body->size() + n > sink->max) {
    sink->too_large = true;
    return 0;  // makes libcurl fail with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

// Errors that mean no conversation with the server took place.
bool IsConnectError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    default:
      return false;
  }
}

}  // namespace

// What a request sends: nothing, a JSON text, or a file streamed from disk.
struct ApiClient::Body {
  enum class Kind { kNone, kText, kFile };
  Kind kind = Kind::kNone;
  std::string text;  // kText
  // kFile: the open file, its size when opened, and what has been read of it so far.
  std::FILE* file = nullptr;
  std::string path;
  uint64_t size = 0;
  uint64_t read = 0;
  std::string read_error;  // set when reading failed; the transfer is aborted
  const UploadProgress* progress = nullptr;

  static size_t ReadFile(char* buffer, size_t size, size_t count, void* user) {
    auto* body = static_cast<Body*>(user);
    // Never send more than the Content-Length announced, even if the file grew.
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(size * count, body->size - body->read));
    if (want == 0) return 0;
    const size_t got = std::fread(buffer, 1, want, body->file);
    if (got == 0) {
      body->read_error = std::ferror(body->file) != 0
                             ? std::strerror(errno)
                             : "the file became shorter while it was being sent";
      return CURL_READFUNC_ABORT;
    }
    body->read += got;
    return got;
  }

  static int OnProgress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/,
                        curl_off_t /*ultotal*/, curl_off_t ulnow) {
    const auto* body = static_cast<const Body*>(user);
    if (body->progress != nullptr && *body->progress) {
      (*body->progress)(static_cast<uint64_t>(std::max<curl_off_t>(ulnow, 0)), body->size);
    }
    return 0;
  }
};

ApiError ParseApiError(const HttpResponse& response) {
  ApiError error;
  error.status = response.status;
  const nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const nlohmann::json& e = doc["error"];
    if (e.contains("code") && e["code"].is_string()) error.code = e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) {
      error.message = e["message"].get<std::string>();
    }
    if (e.contains("details") && e["details"].is_array()) {
      for (const nlohmann::json& d : e["details"]) {
        error.details.push_back(
            d.is_string() ? d.get<std::string>()
                          : d.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
    }
  }
  if (error.message.empty()) {
    // Not our error document (a proxy, or a server of another kind): show its first line.
    std::string_view text = response.body;
    text = text.substr(0, std::min(text.find_first_of("\r\n"), size_t{200}));
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    error.message = text.empty() ? "the server gave no reason" : std::string(text);
  }
  return error;
}

ApiClient::ApiClient(ApiClientOptions options) : options_(std::move(options)) {
  EnsureCurlGlobalInit();
  base_ = options_.server;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  display_server_ = RedactUrl(base_);
  curl_ = curl_easy_init();
}

ApiClient::~ApiClient() {
  if (curl_ != nullptr) curl_easy_cleanup(curl_);
}

ApiClient::ApiClient(ApiClient&& other) noexcept
    : options_(std::move(other.options_)),
      base_(std::move(other.base_)),
      display_server_(std::move(other.display_server_)),
      curl_(std::exchange(other.curl_, nullptr)) {}

ApiClient& ApiClient::operator=(ApiClient&& other) noexcept {
  if (this != &other) {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
    options_ = std::move(other.options_);
    base_ = std::move(other.base_);
    display_server_ = std::move(other.display_server_);
    curl_ = std::exchange(other.curl_, nullptr);
  }
  return *this;
}

absl::StatusOr<HttpResponse> ApiClient::Get(std::string_view target) {
  return Get(target, options_.request_timeout);
}

absl::StatusOr<HttpResponse> ApiClient::Get(std::string_view target, std::chrono::seconds timeout) {
  Body body;
  return Perform("GET", target, body, timeout);
}

absl::StatusOr<HttpResponse> ApiClient::Post(std::string_view target, const nlohmann::json& json) {
  Body body;
  body.kind = Body::Kind::kText;
  body.text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return Perform("POST", target, body, options_.request_timeout);
}

absl::StatusOr<HttpResponse> ApiClient::Put(std::string_view target, const nlohmann::json& json) {
  Body body;
  body.kind = Body::Kind::kText;
  body.text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return Perform("PUT", target, body, options_.request_timeout);
}

absl::StatusOr<HttpResponse> ApiClient::Patch(std::string_view target, const nlohmann::json& json) {
  Body body;
  body.kind = Body::Kind::kText;
  body.text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return Perform("PATCH", target, body, options_.request_timeout);
}

absl::StatusOr<HttpResponse> ApiClient::Delete(std::string_view target) {
  Body body;
  return Perform("DELETE", target, body, options_.request_timeout);
}

absl::StatusOr<HttpResponse> ApiClient::PutFile(std::string_view target, const std::string& path,
                                                const UploadProgress& progress) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const int err = errno;
    const std::string message = "cannot open " + path + ": " + std::strerror(err);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  // The size of the open file, so a rename or replace of `path` meanwhile cannot mismatch.
  if (std::fseek(file.get(), 0, SEEK_END) != 0) {
    return absl::DataLossError("cannot read " + path + ": " + std::strerror(errno));
  }
  const long end = std::ftell(file.get());
  if (end < 0 || std::fseek(file.get(), 0, SEEK_SET) != 0) {
    return absl::DataLossError("cannot read " + path + ": " + std::strerror(errno));
  }
  Body body;
  body.kind = Body::Kind::kFile;
  body.file = file.get();
  body.path = path;
  body.size = static_cast<uint64_t>(end);
  body.progress = &progress;
  return Perform("PUT", target, body, std::chrono::seconds(0));
}

absl::StatusOr<HttpResponse> ApiClient::Perform(std::string_view method, std::string_view target,
                                                Body& body, std::chrono::seconds timeout) {
  if (curl_ == nullptr) return absl::InternalError("cannot create a libcurl handle");
  CURL* curl = curl_;
  // Reset clears the options of the last request but keeps its connection for reuse.
  curl_easy_reset(curl);

  const std::string url = base_ + std::string(target);
  char error_buffer[CURL_ERROR_SIZE] = {};
  HttpResponse response;
  Sink sink{&response.body, options_.max_response_bytes};

  Slist headers;
  const auto add_header = [&headers](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  add_header("Authorization: Bearer " + options_.token);
  add_header("Accept: application/json");
  // No "Expect: 100-continue": a server that does not answer it would stall each upload
  // for a second. An early error answer still stops the upload.
  add_header("Expect:");

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count() * 1000));
  if (timeout.count() > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count() * 1000));
  }
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteToSink);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);

  switch (body.kind) {
    case Body::Kind::kNone:
      if (method == "GET") {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
      } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());
      }
      break;
    case Body::Kind::kText:
      add_header("Content-Type: application/json");
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(body.text.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.text.c_str());
      if (method != "POST") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());
      }
      break;
    case Body::Kind::kFile:
      add_header("Content-Type: text/csv");
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);  // PUT
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, &Body::ReadFile);
      curl_easy_setopt(curl, CURLOPT_READDATA, &body);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size));
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Body::OnProgress);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &body);
      break;
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode rc = curl_easy_perform(curl);
  // The handle keeps pointers to the header list and the error buffer, which die with this
  // frame; drop them so nothing dangles until the next reset.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

  if (!body.read_error.empty()) {
    return absl::DataLossError("cannot read " + body.path + ": " + body.read_error);
  }
  if (sink.too_large) {
    return absl::ResourceExhaustedError("the response from " + display_server_ +
                                        " is larger than " +
                                        std::to_string(options_.max_response_bytes) + " bytes");
  }
  if (rc != CURLE_OK) {
    const std::string reason = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    if (IsConnectError(rc)) {
      return absl::UnavailableError("cannot reach " + display_server_ + ": " + reason);
    }
    return absl::UnavailableError("request to " + display_server_ + " failed: " + reason);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

bool IsHttpUrl(std::string_view url) {
  std::string_view rest;
  if (StartsWithIgnoreCase(url, "http://")) {
    rest = url.substr(7);
  } else if (StartsWithIgnoreCase(url, "https://")) {
    rest = url.substr(8);
  } else {
    return false;
  }
  return !rest.empty() && rest.front() != '/' && rest.front() != '?' && rest.front() != '#';
}

std::string RedactUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const size_t host_start = scheme_end + 3;
  const size_t authority_end = std::min(url.find_first_of("/?#", host_start), url.size());
  const std::string_view authority = url.substr(host_start, authority_end - host_start);
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, host_start)) + std::string(authority.substr(at + 1)) +
         std::string(url.substr(authority_end));
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                            byte == '_' || byte == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
    }
  }
  return out;
}

std::string WithQuery(std::string_view path,
                      const std::vector<std::pair<std::string_view, std::string>>& params) {
  std::string out(path);
  char separator = '?';
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    out += separator;
    out += key;
    out += '=';
    out += UrlEncode(value);
    separator = '&';
  }
  return out;
}

}  // namespace stockwatch::cli
