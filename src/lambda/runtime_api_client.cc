#include "lambda/runtime_api_client.h"

#include <curl/curl.h>

#include <cctype>
#include <charconv>
#include <string>

#include "nlohmann/json.hpp"

namespace stockwatch::lambda {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Collects the response headers the runtime needs, names compared case-insensitively.
struct ResponseHeaders {
  std::string request_id;
  std::string deadline_ms;
  std::string trace_id;
  std::string function_arn;
};

bool HeaderIs(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) !=
        std::tolower(static_cast<unsigned char>(name[i]))) {
      return false;
    }
  }
  return true;
}

std::string HeaderValue(std::string_view line, size_t name_size) {
  std::string_view v = line.substr(name_size + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  return std::string(v);
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<ResponseHeaders*>(user);
  const std::string_view line(data, size * count);
  struct Field {
    std::string_view name;
    std::string ResponseHeaders::*member;
  };
  static constexpr Field kFields[] = {
      {"Lambda-Runtime-Aws-Request-Id", &ResponseHeaders::request_id},
      {"Lambda-Runtime-Deadline-Ms", &ResponseHeaders::deadline_ms},
      {"Lambda-Runtime-Trace-Id", &ResponseHeaders::trace_id},
      {"Lambda-Runtime-Invoked-Function-Arn", &ResponseHeaders::function_arn},
  };
  for (const Field& field : kFields) {
    if (HeaderIs(line, field.name)) headers->*field.member = HeaderValue(line, field.name.size());
  }
  return size * count;
}

}  // namespace

struct RuntimeApiClient::Curl {
  CURL* handle = nullptr;
  ~Curl() {
    if (handle != nullptr) curl_easy_cleanup(handle);
  }
};

std::string ErrorBody(std::string_view error_type, std::string_view message) {
  return nlohmann::json{{"errorMessage", message}, {"errorType", error_type}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

RuntimeApiClient::RuntimeApiClient(std::string api)
    : base_("http://" + std::move(api) + "/2018-06-01"), curl_(std::make_unique<Curl>()) {}

RuntimeApiClient::~RuntimeApiClient() = default;

absl::StatusOr<Invocation> RuntimeApiClient::Next() {
  if (curl_->handle == nullptr) curl_->handle = curl_easy_init();
  CURL* h = curl_->handle;
  if (h == nullptr) return absl::InternalError("curl_easy_init failed");
  curl_easy_reset(h);  // keeps the connection
  std::string body;
  ResponseHeaders headers;
  const std::string url = base_ + "/runtime/invocation/next";
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 0L);  // waits for the next event as long as it takes
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(std::string("runtime api next: ") + curl_easy_strerror(rc));
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) {
    return absl::UnavailableError("runtime api next: http " + std::to_string(code) + ": " +
                                  body.substr(0, 200));
  }
  if (headers.request_id.empty()) {
    return absl::InvalidArgumentError("runtime api next: no Lambda-Runtime-Aws-Request-Id");
  }
  Invocation out;
  out.context.request_id = std::move(headers.request_id);
  out.context.trace_id = std::move(headers.trace_id);
  out.context.invoked_function_arn = std::move(headers.function_arn);
  const std::string& deadline = headers.deadline_ms;
  int64_t ms = 0;
  const auto parsed = std::from_chars(deadline.data(), deadline.data() + deadline.size(), ms);
  if (parsed.ec == std::errc()) out.context.deadline_ms = ms;
  out.event = std::move(body);
  return out;
}

absl::Status RuntimeApiClient::Post(const std::string& path, std::string_view body,
                                    std::string_view error_type) {
  if (curl_->handle == nullptr) curl_->handle = curl_easy_init();
  CURL* h = curl_->handle;
  if (h == nullptr) return absl::InternalError("curl_easy_init failed");
  curl_easy_reset(h);
  std::string answer;
  const std::string url = base_ + path;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  if (!error_type.empty()) {
    headers = curl_slist_append(
        headers, ("Lambda-Runtime-Function-Error-Type: " + std::string(error_type)).c_str());
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return absl::UnavailableError("runtime api " + path + ": " + curl_easy_strerror(rc));
  }
  // 202 Accepted is the documented answer; 413 means the response was too large.
  if (code < 200 || code > 299) {
    return absl::UnavailableError("runtime api " + path + ": http " + std::to_string(code) + ": " +
                                  answer.substr(0, 200));
  }
  return absl::OkStatus();
}

absl::Status RuntimeApiClient::PostResponse(std::string_view request_id, std::string_view body) {
  return Post("/runtime/invocation/" + std::string(request_id) + "/response", body, "");
}

absl::Status RuntimeApiClient::PostError(std::string_view request_id, std::string_view error_type,
                                         std::string_view message) {
  return Post("/runtime/invocation/" + std::string(request_id) + "/error",
              ErrorBody(error_type, message), error_type);
}

absl::Status RuntimeApiClient::PostInitError(std::string_view error_type,
                                             std::string_view message) {
  return Post("/runtime/init/error", ErrorBody(error_type, message), error_type);
}

}  // namespace stockwatch::lambda
