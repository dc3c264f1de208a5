// The links a message gives its subscriber: confirm a pending subscription, unsubscribe.
// Channels put them into what they send; the server answers them (docs/API.md, "Subscriber
// links"). Pure: building the unsubscribe token is handed in by whoever holds the key.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace stockwatch::core {

struct SubscriberLinks {
  // The public base URL of the server, e.g. "https://stock.example.com" (notify.public_url,
  // else the address the API listens on, known once it is bound). A trailing '/' is
  // ignored. Must be thread-safe. Default null: "" (links relative to nothing).
  std::function<std::string()> base_url;
  // The unsubscribe token of a subscription (server/subscriber_tokens.h); null: no
  // unsubscribe links. Must be thread-safe. Default null.
  std::function<std::string(int64_t subscription_id)> unsubscribe_token;

  // "<base>/confirm?token=<token>": fetching it confirms the subscription (SNS's
  // SubscribeURL). `token` is 64 hex digits, so it needs no escaping.
  std::string ConfirmUrl(std::string_view token) const;
  // "<base>/unsubscribe?token=<token>"; empty when there is no unsubscribe_token.
  std::string UnsubscribeUrl(int64_t subscription_id) const;
  // The base URL without a trailing '/'.
  std::string Base() const;
};

}  // namespace stockwatch::core
