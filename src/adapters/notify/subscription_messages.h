// What a pending subscription's endpoint receives (core::MessageKind::kSubscriptionConfirmation),
// as Amazon SNS sends it: the webhook document and the email text. The message's `body` is
// the confirmation token; the links come from core::SubscriberLinks.
#pragma once

#include <string>

#include "core/delivery/subscriber_links.h"
#include "core/model/types.h"

namespace stockwatch::adapters {

// The header value that tells a confirmation request from a notification.
inline constexpr char kConfirmationMessageType[] = "SubscriptionConfirmation";
// The header value of a test message (core::MessageKind::kTest), sent as a notification.
inline constexpr char kTestMessageType[] = "TestMessage";

// The webhook body of a confirmation, shaped like SNS's:
//   {"Type": "SubscriptionConfirmation", "MessageId": "<message id>", "Token": "<token>",
//    "TopicArn": "arn:stockwatch:sns:local:0:NoStock",
//    "Message": "You have chosen to subscribe to the topic arn:stockwatch:sns:local:0:NoStock.
//                To confirm the subscription, visit the SubscribeURL included in this message.",
//    "SubscribeURL": "<base>/confirm?token=<token>", "Timestamp": "2024-05-01T12:34:56.789Z"}
// A receiver confirms by fetching SubscribeURL (GET, no credentials). The same delivery
// always gives the same bytes.
std::string SubscriptionConfirmationPayload(const core::Delivery& delivery,
                                            const core::SubscriberLinks& links);

// The text of a confirmation email (LF line ends): what was asked, the link, and that
// ignoring it is safe.
std::string SubscriptionConfirmationText(const core::Delivery& delivery,
                                         const core::SubscriberLinks& links);

}  // namespace stockwatch::adapters
