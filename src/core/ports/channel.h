#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/model/types.h"

namespace stockwatch::core {

// Outcome of sending one message to one subscription.
struct SendResult {
  enum class Kind {
    kDelivered,
    kRetryable,  // transient: timeout, connection error, 408, 429, 5xx, SMTP 4xx
    kPermanent,  // will not succeed if retried: other 4xx, SMTP 5xx, bad address
  };
  Kind kind = Kind::kDelivered;
  std::string error;  // what went wrong, no secrets; empty when delivered
  std::optional<std::chrono::seconds> retry_after;  // a server's Retry-After, if any
};

// Sends messages over one protocol (webhook, email, ...). Implementations bound every
// attempt by a timeout and are thread-safe.
class Channel {
 public:
  virtual ~Channel() = default;
  // Sends `delivery.message` to `delivery.subscription`; `delivery.id` is the idempotency
  // key receivers can use to drop duplicates.
  virtual SendResult Send(const Delivery& delivery) = 0;
};

}  // namespace stockwatch::core
