#include "core/model/types.h"

#include <algorithm>
#include <string>

namespace stockwatch::core {

std::string RowIssue::Format(std::string_view file_name) const {
  std::string out(file_name);
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
    if (column > 0) {
      out += ':';
      out += std::to_string(column);
    }
  }
  out += ": ";
  out += reason;
  return out;
}

std::string_view LoadStatusName(LoadStatus status) {
  switch (status) {
    case LoadStatus::kPending:
      return "pending";
    case LoadStatus::kLoaded:
      return "loaded";
    case LoadStatus::kRejected:
      return "rejected";
  }
  return "unknown";
}

std::string_view ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kWebhook:
      return "webhook";
    case Protocol::kEmail:
      return "email";
    case Protocol::kSms:
      return "sms";
    case Protocol::kSlack:
      return "slack";
    case Protocol::kTeams:
      return "teams";
    case Protocol::kSns:
      return "sns";
  }
  return "unknown";
}

std::optional<Protocol> ParseProtocol(std::string_view name) {
  for (Protocol p : {Protocol::kWebhook, Protocol::kEmail, Protocol::kSms, Protocol::kSlack,
                     Protocol::kTeams, Protocol::kSns}) {
    if (ProtocolName(p) == name) return p;
  }
  return std::nullopt;
}

std::string TestMessageBody(int64_t subscription_id, std::string_view topic) {
  return "This is a stockwatch test message for subscription " + std::to_string(subscription_id) +
         " to the topic " + std::string(topic) +
         ". It was sent from the dashboard or the API to check this endpoint; no stock changed.";
}

std::string_view SubscriptionStatusName(SubscriptionStatus status) {
  switch (status) {
    case SubscriptionStatus::kPendingConfirmation:
      return "pending_confirmation";
    case SubscriptionStatus::kConfirmed:
      return "confirmed";
  }
  return "unknown";
}

bool ProtocolNeedsConfirmation(Protocol protocol) {
  return protocol == Protocol::kEmail || protocol == Protocol::kWebhook;
}

std::string_view DeliveryStateName(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace stockwatch::core

namespace stockwatch::core {

bool ObjectScope::Covers(const ObjectScope& object) const {
  if (all_stores) return true;
  if (object.all_stores) return false;
  return std::includes(stores.begin(), stores.end(), object.stores.begin(), object.stores.end());
}

}  // namespace stockwatch::core
