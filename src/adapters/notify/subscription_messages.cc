#include "adapters/notify/subscription_messages.h"

#include <nlohmann/json.hpp>

#include "adapters/notify/webhook_channel.h"
#include "core/model/json.h"

namespace stockwatch::adapters {

std::string SubscriptionConfirmationPayload(const core::Delivery& delivery,
                                            const core::SubscriberLinks& links) {
  const core::Message& message = delivery.message;
  const std::string arn = WebhookTopicArn(message.topic);
  nlohmann::ordered_json doc;
  doc["Type"] = kConfirmationMessageType;
  doc["MessageId"] = message.id;
  doc["Token"] = message.body;
  doc["TopicArn"] = arn;
  doc["Message"] = "You have chosen to subscribe to the topic " + arn +
                   ".\nTo confirm the subscription, visit the SubscribeURL included in this "
                   "message.";
  doc["SubscribeURL"] = links.ConfirmUrl(message.body);
  doc["Timestamp"] = core::FormatTime(message.at);
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string SubscriptionConfirmationText(const core::Delivery& delivery,
                                         const core::SubscriberLinks& links) {
  const core::Message& message = delivery.message;
  return "You have chosen to subscribe to the stockwatch topic " + message.topic +
         " (inventory alerts).\n"
         "To confirm the subscription, visit this link:\n\n" +
         links.ConfirmUrl(message.body) +
         "\n\n"
         "The link works for a limited time (48 hours by default). If you did not ask for "
         "this, ignore this email: you will get no alerts unless the subscription is "
         "confirmed.\n";
}

}  // namespace stockwatch::adapters
