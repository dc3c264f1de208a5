#include "adapters/notify/sms_channel.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "adapters/notify/curl_support.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using notify_internal::CurlHandlePool;
using notify_internal::HasLineBreak;
using notify_internal::HttpPost;
using notify_internal::HttpPostResult;
using notify_internal::ParsedUrl;
using notify_internal::Permanent;

// application/x-www-form-urlencoded: everything but unreserved characters percent-encoded.
std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string ApiUrl(const SmsChannelOptions& options) {
  std::string_view base = options.base_url;
  while (base.ends_with('/')) base.remove_suffix(1);
  return std::string(base) + "/2010-04-01/Accounts/" + options.account_sid + "/Messages.json";
}

// "twilio error 21610: Attempt to send to unsubscribed recipient" from Twilio's error document
// ({"code": 21610, "message": "...", "more_info": "...", "status": 400}), or the start of the
// body when it is not one. Sets `*code` when the document has a numeric code.
std::string DescribeErrorBody(std::string_view body, std::optional<int>* code) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("code") && doc["code"].is_number_integer()) {
    *code = doc["code"].get<int>();
    std::string text = "twilio error " + std::to_string(**code);
    if (doc.contains("message") && doc["message"].is_string()) {
      text += ": " + notify_internal::ResponseSnippet(doc["message"].get<std::string>());
    }
    return text;
  }
  return notify_internal::ResponseSnippet(body);
}

SendResult DoSend(const core::Delivery& delivery, const SmsChannelOptions& options,
                  const absl::Status& options_status, CurlHandlePool& pool) {
  if (!options_status.ok()) {
    return Permanent("sms channel not configured: " + std::string(options_status.message()));
  }
  const std::string& to = delivery.subscription.endpoint;
  if (!IsE164(to)) {
    return Permanent(
        "sms: endpoint is not an E.164 phone number ('+' then 8 to 15 digits, no spaces)");
  }
  HttpPost post;
  post.url = ApiUrl(options);
  absl::StatusOr<ParsedUrl> url = notify_internal::ParseUrl(post.url, {"http", "https"});
  if (!url.ok()) return Permanent("sms: base_url " + std::string(url.status().message()));
  post.parsed = *std::move(url);
  post.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
                  "X-Stockwatch-Delivery: " + std::to_string(delivery.id)};
  post.body = "To=" + FormEncode(to) + "&From=" + FormEncode(options.from_number) +
              "&Body=" + FormEncode(SmsBody(delivery.message));
  post.username = options.account_sid;
  post.password = options.auth_token;
  post.timeout = options.timeout;
  post.connect_timeout = options.connect_timeout;
  post.max_response_bytes = 4096;
  post.allow_private_targets = options.allow_private_targets;

  HttpPostResult result = notify_internal::PerformHttpPost(pool, post);
  if (result.failure) {
    result.failure->error.insert(0, "sms: ");
    return *result.failure;
  }
  if (result.status >= 200 && result.status < 300) return SendResult{};

  std::optional<int> code;
  std::string error =
      "sms: http " + std::to_string(result.status) + " from " + post.parsed.redacted;
  if (std::string detail = DescribeErrorBody(result.body, &code); !detail.empty()) {
    error += ": " + detail;
  }
  // The API might quote what it was sent; the token must not reach logs through it.
  ParsedUrl scrub = post.parsed;
  scrub.secrets.push_back(options.auth_token);
  error = notify_internal::ScrubSecrets(std::move(error), scrub);
  // An unsubscribed recipient stays unsubscribed until they text START: never retry.
  if (code == kTwilioUnsubscribedRecipient) return Permanent(std::move(error));
  return notify_internal::ClassifyHttpStatus(result.status, std::move(error), result.retry_after);
}

std::string Base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(written));
  return out;
}

std::string TwilioSignature(std::string_view auth_token, std::string_view url,
                            const std::vector<std::pair<std::string, std::string>>& sorted) {
  std::string data(url);
  for (const auto& [name, value] : sorted) {
    data += name;
    data += value;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
           &mac_size) == nullptr) {
    return "";
  }
  return Base64(mac.data(), mac_size);
}

// `url` with its port removed if it names one, or else with the scheme's default port added
// (":443" for https, ":80" for http); nullopt when `url` has no "scheme://".
std::optional<std::string> WithPortToggled(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const size_t host_start = scheme_end + 3;
  size_t authority_end = url.find_first_of("/?#", host_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  const std::string_view authority = url.substr(host_start, authority_end - host_start);
  const size_t at = authority.rfind('@');
  const size_t host_offset = at == std::string_view::npos ? 0 : at + 1;
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  std::string result(url);
  if (colon != std::string_view::npos && colon >= host_offset &&
      (bracket == std::string_view::npos || colon > bracket)) {
    result.erase(host_start + colon, authority.size() - colon);
    return result;
  }
  std::string scheme(url.substr(0, scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  result.insert(authority_end, scheme == "https" ? ":443" : ":80");
  return result;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length of a base64 SHA-1 MAC is public; only the content must not leak.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

absl::Status ValidateSmsChannelOptions(const SmsChannelOptions& options) {
  absl::StatusOr<ParsedUrl> url = notify_internal::ParseUrl(options.base_url, {"http", "https"});
  if (!url.ok())
    return absl::InvalidArgumentError("sms base_url: " + std::string(url.status().message()));
  if (options.account_sid.empty() ||
      !std::all_of(options.account_sid.begin(), options.account_sid.end(),
                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; })) {
    return absl::InvalidArgumentError("sms account_sid must be non-empty letters and digits");
  }
  if (options.auth_token.empty() || HasLineBreak(options.auth_token)) {
    return absl::InvalidArgumentError("sms auth_token must be set, without line breaks");
  }
  if (options.from_number.empty() || HasLineBreak(options.from_number)) {
    return absl::InvalidArgumentError("sms from_number must be set, without line breaks");
  }
  return absl::OkStatus();
}

bool IsE164(std::string_view number) {
  if (number.size() < 1 + 8 || number.size() > 1 + 15 || number[0] != '+' || number[1] == '0') {
    return false;
  }
  return std::all_of(number.begin() + 1, number.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string SmsBody(const core::Message& message) {
  return notify_internal::TruncateUtf8(message.subject + "\n" + message.body, kMaxSmsCodePoints);
}

std::optional<bool> ParseStopKeyword(std::string_view body) {
  body = notify_internal::Trim(body);
  if (body.size() > 16) return std::nullopt;
  std::string word(body);
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (std::string_view stop :
       {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}) {
    if (word == stop) return true;
  }
  for (std::string_view start : {"START", "UNSTOP", "YES"}) {
    if (word == start) return false;
  }
  return std::nullopt;
}

bool VerifyTwilioSignature(std::string_view auth_token, std::string_view full_url,
                           const std::vector<std::pair<std::string, std::string>>& form_params,
                           std::string_view signature_header) {
  const std::string_view signature = notify_internal::Trim(signature_header);
  if (auth_token.empty() || signature.empty()) return false;
  std::vector<std::pair<std::string, std::string>> sorted = form_params;
  std::sort(sorted.begin(), sorted.end());
  // Both candidates are always computed and compared, so the time taken does not tell which
  // form of the URL matched.
  bool valid = ConstantTimeEquals(TwilioSignature(auth_token, full_url, sorted), signature);
  if (const std::optional<std::string> other = WithPortToggled(full_url)) {
    valid = ConstantTimeEquals(TwilioSignature(auth_token, *other, sorted), signature) || valid;
  }
  return valid;
}

SmsChannel::SmsChannel(SmsChannelOptions options)
    : options_(std::move(options)),
      options_status_(ValidateSmsChannelOptions(options_)),
      pool_(std::make_unique<CurlHandlePool>(options_.max_idle_handles)) {}

SmsChannel::~SmsChannel() = default;

SendResult SmsChannel::Send(const core::Delivery& delivery) {
  return notify_internal::SendCatchingExceptions(
      "sms", [&] { return DoSend(delivery, options_, options_status_, *pool_); });
}

}  // namespace stockwatch::adapters
