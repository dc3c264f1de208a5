#include "server/subscription_endpoint.h"

#include "absl/status/status.h"
#include "fmt/format.h"
#include "server/ascii.h"

namespace stockwatch::server {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// A deliberately plain check of `local@domain`: one '@', both sides non-empty, no
// characters that would need quoting in a mail header, a domain of letters, digits, '-',
// '.' (or UTF-8 bytes of an internationalized name).
absl::Status CheckAddress(std::string_view address) {
  size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("email endpoint must look like name@example.com");
  }
  for (unsigned char c : address.substr(0, at)) {
    if (std::string_view("()<>[]\\,;:\"").find(static_cast<char>(c)) != std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("email endpoint must not contain '{}' before the '@'", static_cast<char>(c)));
    }
  }
  std::string_view domain = address.substr(at + 1);
  for (unsigned char c : domain) {
    if (!(IsAsciiAlnum(c) || c == '-' || c == '.' || c >= 0x80)) {
      return absl::InvalidArgumentError("email endpoint has an invalid domain");
    }
  }
  if (domain.front() == '.' || domain.back() == '.') {
    return absl::InvalidArgumentError("email endpoint has an invalid domain");
  }
  return absl::OkStatus();
}

// E.164: '+', then 8 to 15 digits, the first not 0.
bool IsE164Number(std::string_view number) {
  if (number.size() < 9 || number.size() > 16 || number[0] != '+' || number[1] == '0') {
    return false;
  }
  for (char c : number.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Resolves the endpoint's protocol against the one the caller named (if any).
absl::StatusOr<SubscriptionEndpoint> Named(SubscriptionEndpoint inferred,
                                           std::optional<std::string_view> protocol) {
  if (!protocol || *protocol == core::ProtocolName(inferred.protocol)) return inferred;
  std::optional<core::Protocol> named = core::ParseProtocol(*protocol);
  if (!named) {
    return absl::InvalidArgumentError("protocol must be webhook, email, sms, slack, teams or sns");
  }
  // Slack and Teams incoming webhooks are URLs like any webhook.
  if (inferred.protocol == core::Protocol::kWebhook &&
      (*named == core::Protocol::kSlack || *named == core::Protocol::kTeams)) {
    inferred.protocol = *named;
    return inferred;
  }
  return absl::InvalidArgumentError(
      fmt::format("protocol {} does not match the endpoint, which is {}", *protocol,
                  core::ProtocolName(inferred.protocol)));
}

}  // namespace

absl::StatusOr<SubscriptionEndpoint> ParseSubscriptionEndpoint(
    std::string_view endpoint, std::optional<std::string_view> protocol) {
  if (endpoint.empty()) return absl::InvalidArgumentError("endpoint is empty");
  if (endpoint.size() > kMaxEndpointBytes) {
    return absl::InvalidArgumentError(
        fmt::format("endpoint is longer than {} bytes", kMaxEndpointBytes));
  }
  for (unsigned char c : endpoint) {
    if (IsControl(c)) {
      return absl::InvalidArgumentError(
          "endpoint must not contain control characters such as CR or LF");
    }
    if (c == ' ') return absl::InvalidArgumentError("endpoint must not contain spaces");
  }

  for (std::string_view scheme : {"http://", "https://"}) {
    if (StartsWithIgnoreCase(endpoint, scheme)) {
      std::string_view rest = endpoint.substr(scheme.size());
      std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
      if (authority.empty() || authority.front() == ':' || authority.front() == '@') {
        return absl::InvalidArgumentError("webhook endpoint has no host");
      }
      return Named(SubscriptionEndpoint{core::Protocol::kWebhook, std::string(endpoint)}, protocol);
    }
  }
  constexpr std::string_view kSms = "sms:";
  if (StartsWithIgnoreCase(endpoint, kSms) || endpoint.front() == '+') {
    std::string_view number = endpoint;
    if (StartsWithIgnoreCase(number, kSms)) number.remove_prefix(kSms.size());
    if (!IsE164Number(number)) {
      return absl::InvalidArgumentError(
          "sms endpoint must be an E.164 number: '+', country code and number, 8 to 15 digits "
          "(+4930123456)");
    }
    return Named(SubscriptionEndpoint{core::Protocol::kSms, std::string(number)}, protocol);
  }
  constexpr std::string_view kSnsArn = "arn:aws:sns:";
  if (endpoint.starts_with(kSnsArn)) {
    return Named(SubscriptionEndpoint{core::Protocol::kSns, std::string(endpoint)}, protocol);
  }
  std::string_view address = endpoint;
  constexpr std::string_view kMailto = "mailto:";
  if (StartsWithIgnoreCase(endpoint, kMailto)) {
    address.remove_prefix(kMailto.size());
  } else if (endpoint.find(':') != std::string_view::npos ||
             endpoint.find('@') == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "endpoint must be an http:// or https:// URL (webhook, slack, teams), a mailto: URL or "
        "an email address, an E.164 phone number (sms) or an SNS topic ARN");
  }
  if (absl::Status valid = CheckAddress(address); !valid.ok()) return valid;
  return Named(SubscriptionEndpoint{core::Protocol::kEmail, std::string(address)}, protocol);
}

}  // namespace stockwatch::server
