#include "core/delivery/subscriber_links.h"

namespace stockwatch::core {

std::string SubscriberLinks::Base() const {
  std::string base = base_url ? base_url() : std::string();
  while (base.ends_with('/')) base.pop_back();
  return base;
}

std::string SubscriberLinks::ConfirmUrl(std::string_view token) const {
  return Base() + "/confirm?token=" + std::string(token);
}

std::string SubscriberLinks::UnsubscribeUrl(int64_t subscription_id) const {
  if (!unsubscribe_token) return {};
  return Base() + "/unsubscribe?token=" + unsubscribe_token(subscription_id);
}

}  // namespace stockwatch::core
