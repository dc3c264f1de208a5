// Validation of subscription endpoints given to `POST /api/v1/subscriptions`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::server {

// Longest subscription endpoint, in bytes.
inline constexpr size_t kMaxEndpointBytes = 2048;

struct SubscriptionEndpoint {
  core::Protocol protocol = core::Protocol::kWebhook;
  std::string endpoint;  // the URL for a webhook, the bare address for email
};

// Classifies and checks an endpoint:
//   `http://host...` or `https://host...` (scheme in any case) -> webhook, kept as given;
//     with `protocol` "slack" or "teams", that protocol (their incoming-webhook URLs);
//   `mailto:local@domain` or a bare `local@domain` -> email, the address without `mailto:`;
//   `+4930123456` or `sms:+4930123456` (E.164) -> sms, the number;
//   `arn:aws:sns:...` -> sns.
// `protocol`, when given, must name the inferred protocol (or slack/teams for a URL).
// kInvalidArgument for anything else, for more than 2048 bytes, for control characters
// (CR and LF in particular: endpoints end up in mail and HTTP headers) and for spaces.
absl::StatusOr<SubscriptionEndpoint> ParseSubscriptionEndpoint(
    std::string_view endpoint, std::optional<std::string_view> protocol = std::nullopt);

}  // namespace stockwatch::server
