#include "aws/aws_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "aws/aws_error.h"
#include "aws/aws_text.h"
#include "nlohmann/json.hpp"
#include "pugixml.hpp"

namespace stockwatch::aws {
namespace {

using text::Cat;
using text::Lower;
using text::Upper;

void EnsureCurlGlobalInit() {
  // curl_global_init is not thread-safe in every libcurl build: run it once per process.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Error bodies are read whole; this bounds them (an HTML error page, a misrouted proxy).
constexpr size_t kMaxErrorBody = 1 << 20;

// What the libcurl callbacks of one attempt share.
struct Transfer {
  CURL* handle = nullptr;
  AwsHttpResponse* response = nullptr;
  const BodySink* sink = nullptr;
  bool delivered = false;  // a body byte reached the sink
  absl::Status sink_status;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a 100 Continue, say): forget the headers of the one before.
    transfer->response->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  transfer->response->headers.emplace_back(Lower(line.substr(0, colon)), std::string(value));
  return n;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->sink != nullptr && *transfer->sink && status >= 200 && status < 300) {
    transfer->delivered = true;
    absl::Status sunk = (*transfer->sink)(std::string_view(data, n));
    if (!sunk.ok()) {
      transfer->sink_status = std::move(sunk);
      return 0;  // CURLE_WRITE_ERROR
    }
    return n;
  }
  std::string& body = transfer->response->body;
  if (status >= 300 && body.size() + n > kMaxErrorBody) return n;  // keep the start only
  body.append(data, n);
  return n;
}

// host[:port] of an http(s) base URL.
std::string_view Authority(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end != std::string_view::npos) url.remove_prefix(scheme_end + 3);
  return url.substr(0, url.find('/'));
}

std::string_view Scheme(std::string_view url) { return url.substr(0, url.find("://")); }

pugi::xml_node FindDescendant(const pugi::xml_node& node, const char* name) {
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
    if (std::string_view(child.name()) == name) return child;
    if (pugi::xml_node found = FindDescendant(child, name)) return found;
  }
  return pugi::xml_node();
}

std::string HttpStatusCode(long http_status) {
  switch (http_status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 413:
      return "EntityTooLarge";
    case 429:
      return "TooManyRequestsException";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    default:
      return Cat("HttpError", http_status);
  }
}

}  // namespace

std::optional<std::string> AwsHttpResponse::Header(std::string_view name) const {
  for (const auto& header : headers) {
    if (EqualsIgnoreCase(header.first, name)) return header.second;
  }
  return std::nullopt;
}

std::string AwsHttpResponse::RequestId() const {
  for (std::string_view name : {"x-amzn-requestid", "x-amz-request-id"}) {
    if (std::optional<std::string> id = Header(name)) return *id;
  }
  return "";
}

bool IsThrottlingErrorCode(std::string_view aws_code) {
  static constexpr std::array<std::string_view, 12> kThrottling = {
      "ThrottlingException",
      "Throttling",
      "ThrottledException",
      "RequestThrottledException",
      "RequestThrottled",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "TransactionInProgressException",
      "RequestLimitExceeded",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "SlowDown",
  };
  return std::find(kThrottling.begin(), kThrottling.end(), aws_code) != kThrottling.end();
}

absl::StatusCode CanonicalCodeForAwsError(std::string_view code, long http_status) {
  using C = absl::StatusCode;
  if (IsThrottlingErrorCode(code)) return C::kUnavailable;
  if (code == "ResourceNotFoundException" || code == "NoSuchKey" || code == "NoSuchBucket" ||
      code == "NotFound" || code == "NotFoundException" || code == "NoSuchUpload" ||
      code == "TableNotFoundException") {
    return C::kNotFound;
  }
  if (code == "ConditionalCheckFailedException" || code == "PreconditionFailed" ||
      code == "TransactionCanceledException" || code == "InvalidObjectState") {
    return C::kFailedPrecondition;
  }
  if (code == "AccessDenied" || code == "AccessDeniedException" ||
      code == "SignatureDoesNotMatch" || code == "InvalidClientTokenId" ||
      code == "UnrecognizedClientException" || code == "InvalidAccessKeyId" ||
      code == "ExpiredToken" || code == "ExpiredTokenException" ||
      code == "MissingAuthenticationToken" || code == "AuthorizationError" ||
      code == "IncompleteSignature" || code == "RequestTimeTooSkewed" ||
      code == "AuthorizationHeaderMalformed" || code == "Forbidden" || code == "Unauthorized") {
    return C::kPermissionDenied;
  }
  if (code == "ResourceInUseException" || code == "TableAlreadyExistsException" ||
      code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists") {
    return C::kAlreadyExists;
  }
  if (code == "ExpiredIteratorException" || code == "TrimmedDataAccessException") {
    return C::kOutOfRange;
  }
  if (code == "ItemCollectionSizeLimitExceededException" || code == "EntityTooLarge" ||
      code == "RequestEntityTooLarge") {
    return C::kResourceExhausted;
  }
  if (code == "TransactionConflictException" || code == "OperationAborted" ||
      code == "ConcurrentAccessException") {
    return C::kAborted;
  }
  if (code == "ValidationException" || code == "SerializationException" ||
      code == "InvalidArgument" || code == "InvalidRequest" || code == "InvalidBucketName" ||
      code == "MalformedXML" || code == "MissingParameter" || code == "ValidationError" ||
      code.substr(0, 16) == "InvalidParameter") {
    return C::kInvalidArgument;
  }
  if (code == "InternalError" || code == "InternalFailure" || code == "InternalServerError" ||
      code == "ServiceUnavailable" || code == "ServiceUnavailableException") {
    return C::kUnavailable;
  }
  if (http_status >= 500) return C::kUnavailable;
  switch (http_status) {
    case 400:
      return C::kInvalidArgument;
    case 401:
    case 403:
      return C::kPermissionDenied;
    case 404:
      return C::kNotFound;
    case 409:
      return C::kAborted;
    case 412:
      return C::kFailedPrecondition;
    case 429:
      return C::kUnavailable;
    default:
      return C::kUnknown;
  }
}

absl::Status ParseAwsError(ErrorProtocol protocol, std::string_view service_name, long http_status,
                           std::string_view body, std::string_view request_id) {
  std::string code;
  std::string message;
  std::string body_request_id;
  if (protocol == ErrorProtocol::kJson) {
    const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) {
      if (const auto it = parsed.find("__type"); it != parsed.end() && it->is_string()) {
        code = it->get<std::string>();
        // "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
        if (const size_t hash = code.rfind('#'); hash != std::string::npos) code.erase(0, hash + 1);
        if (const size_t colon = code.find(':'); colon != std::string::npos) code.resize(colon);
      }
      for (const char* key : {"message", "Message"}) {
        if (const auto it = parsed.find(key); it != parsed.end() && it->is_string()) {
          message = it->get<std::string>();
          break;
        }
      }
    }
  } else if (!body.empty()) {
    pugi::xml_document doc;
    if (doc.load_buffer(body.data(), body.size())) {
      // <ErrorResponse><Error><Code> (query) or <Error><Code> (REST XML).
      pugi::xml_node error = FindDescendant(doc, "Error");
      if (!error && std::string_view(doc.document_element().name()) == "Error") {
        error = doc.document_element();
      }
      if (error) {
        code = error.child("Code").text().as_string();
        message = error.child("Message").text().as_string();
      }
      body_request_id = FindDescendant(doc, "RequestId").text().as_string();
    }
  }
  if (code.empty()) code = HttpStatusCode(http_status);
  std::string id(request_id);
  if (id.empty()) id = body_request_id;
  std::string text = Cat(service_name, ": ", code);
  if (!message.empty()) text += Cat(": ", message);
  text += Cat(" (HTTP ", http_status);
  if (!id.empty()) text += Cat(", request id ", id);
  text += Cat(")");
  absl::Status status(CanonicalCodeForAwsError(code, http_status), text);
  status = WithAwsErrorCode(std::move(status), code);
  if (!id.empty()) status = WithAwsRequestId(std::move(status), id);
  return status;
}

std::string QueryEncode(std::string_view text) { return UriEncode(text, /*encode_slash=*/true); }

// A small pool of libcurl easy handles. Each handle keeps its own connection cache, so a
// handle taken again reuses the keep-alive connection it left open.
struct AwsHttpClient::Impl {
  std::mutex mu;
  std::vector<CURL*> idle;

  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* handle) {
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(handle);
  }
  ~Impl() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }
};

AwsHttpClient::AwsHttpClient(AwsConfig config, AwsService service)
    : config_(std::move(config)), service_(service), impl_(std::make_unique<Impl>()) {
  EnsureCurlGlobalInit();
  endpoint_ = config_.EndpointFor(service_);
}

AwsHttpClient::~AwsHttpClient() = default;

std::chrono::milliseconds AwsHttpClient::BackoffDelay(int attempt) const {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int shift = std::clamp(attempt - 1, 0, 30);
  const int64_t base = config_.retry_base_delay.count();
  const int64_t cap = config_.retry_max_delay.count();
  const int64_t ceiling = std::min<int64_t>(cap, base << shift);
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  std::uniform_int_distribution<int64_t> pick(0, ceiling - 1);
  return std::chrono::milliseconds(pick(rng));
}

absl::StatusOr<AwsHttpResponse> AwsHttpClient::Send(const AwsHttpRequest& request,
                                                    const BodySink& sink) const {
  const std::string service_name(service_.key);
  const std::string base = request.host_override.empty()
                               ? endpoint_
                               : Cat(Scheme(endpoint_), "://", request.host_override);
  const std::string target =
      request.query.empty() ? request.path : Cat(request.path, "?", request.query);
  const std::string url = base + target;
  const bool s3 = service_.signing_name == "s3";
  const std::string payload_hash = Sha256Hex(request.body);
  const int max_attempts = std::max(1, config_.max_attempts);

  absl::Status last_error;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    Headers headers;
    headers.emplace_back("host", std::string(Authority(base)));
    for (const auto& header : request.headers) headers.push_back(header);
    SignOptions options;
    options.region = config_.region;
    options.service = std::string(service_.signing_name);
    options.now = std::chrono::system_clock::now();
    options.payload_hash = payload_hash;
    options.canonical.s3_path = s3;
    absl::Status signed_ok =
        SignRequest(request.method, target, headers, config_.credentials, options);
    if (!signed_ok.ok()) return signed_ok;

    Slist header_list;
    for (const auto& [name, value] : headers) {
      curl_slist* appended = curl_slist_append(
          header_list.get(), (value.empty() ? Cat(name, ";") : Cat(name, ": ", value)).c_str());
      if (appended == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
      header_list.release();
      header_list.reset(appended);
    }
    // libcurl's own additions: no "Expect: 100-continue" round trip, no Accept.
    for (const char* extra : {"Expect:", "Accept:"}) {
      curl_slist* appended = curl_slist_append(header_list.get(), extra);
      if (appended == nullptr) return absl::ResourceExhaustedError("curl_slist_append failed");
      header_list.release();
      header_list.reset(appended);
    }

    CURL* handle = impl_->Acquire();
    if (handle == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
    curl_easy_reset(handle);
    AwsHttpResponse response;
    Transfer transfer;
    transfer.handle = handle;
    transfer.response = &response;
    transfer.sink = &sink;
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(config_.connect_timeout.count()));
    if (sink) {
      // A streamed body may take long in total: fail only when it stalls.
      curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(
          handle, CURLOPT_LOW_SPEED_TIME,
          static_cast<long>(std::max<int64_t>(
              1,
              std::chrono::duration_cast<std::chrono::seconds>(config_.request_timeout).count())));
    } else {
      curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                       static_cast<long>(config_.request_timeout.count()));
    }
    if (request.method == "HEAD") {
      curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET" && request.body.empty()) {
      curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      if (request.method != "POST") {
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      }
    }
    const CURLcode result = curl_easy_perform(handle);
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
    impl_->Release(handle);
    response.attempts = attempt;

    if (!transfer.sink_status.ok()) return transfer.sink_status;
    bool retryable = false;
    if (result != CURLE_OK) {
      const bool timed_out = result == CURLE_OPERATION_TIMEDOUT;
      last_error = WithAwsErrorCode(
          absl::UnavailableError(Cat(service_name, ": ", url, ": ", curl_easy_strerror(result))),
          timed_out ? "RequestTimeout" : "NetworkingError");
      retryable = !transfer.delivered;
    } else if (response.status >= 200 && response.status < 300) {
      return response;
    } else {
      last_error = ParseAwsError(service_.error_protocol, service_name, response.status,
                                 response.body, response.RequestId());
      const std::optional<std::string> code = AwsErrorCode(last_error);
      retryable = !transfer.delivered && (response.status >= 500 || response.status == 429 ||
                                          (code.has_value() && IsThrottlingErrorCode(*code)));
    }
    if (!retryable || attempt == max_attempts) {
      if (attempt > 1) {
        absl::Status annotated(last_error.code(),
                               Cat(last_error.message(), " after ", attempt, " attempts"));
        last_error.ForEachPayload([&annotated](absl::string_view key, const absl::Cord& value) {
          annotated.SetPayload(key, value);
        });
        return annotated;
      }
      return last_error;
    }
    std::this_thread::sleep_for(BackoffDelay(attempt));
  }
  return last_error;
}

absl::StatusOr<nlohmann::json> CallJsonProtocol(const AwsHttpClient& http,
                                                std::string_view target_prefix,
                                                std::string_view operation,
                                                const nlohmann::json& request,
                                                std::string_view content_type) {
  AwsHttpRequest http_request;
  http_request.headers = {{"content-type", std::string(content_type)},
                          {"x-amz-target", Cat(target_prefix, ".", operation)}};
  http_request.body = request.dump();
  absl::StatusOr<AwsHttpResponse> response = http.Send(http_request);
  if (!response.ok()) return response.status();
  if (response->body.empty()) return nlohmann::json::object();
  nlohmann::json parsed =
      nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(Cat(http.service().key, ": ", operation,
                                   ": response is not JSON (request id ", response->RequestId(),
                                   ")"));
  }
  return parsed;
}

}  // namespace stockwatch::aws
