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

}  // namespace

absl::StatusOr<SubscriptionEndpoint> ParseSubscriptionEndpoint(std::string_view endpoint) {
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
      return SubscriptionEndpoint{core::Protocol::kWebhook, std::string(endpoint)};
    }
  }
  std::string_view address = endpoint;
  constexpr std::string_view kMailto = "mailto:";
  if (StartsWithIgnoreCase(endpoint, kMailto)) {
    address.remove_prefix(kMailto.size());
  } else if (endpoint.find(':') != std::string_view::npos ||
             endpoint.find('@') == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "endpoint must be an http:// or https:// URL, a mailto: URL or an email address");
  }
  if (absl::Status valid = CheckAddress(address); !valid.ok()) return valid;
  return SubscriptionEndpoint{core::Protocol::kEmail, std::string(address)};
}

}  // namespace stockwatch::server
