// User topics: their names and rules, and routing the stock rules' messages to them.
//
// A user topic (Notifier::CreateTopic) names the built-in rules that publish to it and an
// optional filter policy. Every message a rule publishes to its built-in topic is also
// published, as a copy, to each user topic whose rules include the message's rule and whose
// policy accepts the message: same subject, body, store, item, counts, upload, rule and
// threshold; `topic` is the user topic.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/delivery/filter_policy.h"
#include "core/model/types.h"

namespace stockwatch::core {

// Longest topic name (SNS: 256 characters).
inline constexpr size_t kMaxTopicNameBytes = 256;

// OK for a topic name as SNS allows it: 1..256 characters of A-Z, a-z, 0-9, '_' and '-'.
// kInvalidArgument otherwise, saying why.
absl::Status ValidateTopicName(std::string_view name);

// Whether `name` is a built-in topic (NoStock, LowStock, BackInStock), spelt exactly.
bool IsBuiltinTopic(std::string_view name);

// Whether two topic names are equal ignoring ASCII case (names are ASCII).
bool SameTopicName(std::string_view a, std::string_view b);

// The rules of a user topic in canonical form: sorted, each once. kInvalidArgument if
// `rules` is empty or names anything but NoStock, LowStock and BackInStock (spelt exactly).
absl::StatusOr<std::vector<std::string>> CanonicalTopicRules(const std::vector<std::string>& rules);

// Routes messages to the user topics of `topics` (built-in topics in it are ignored). Parses
// each topic's policy once: build one per batch of messages. Immutable once built.
class TopicRouter {
 public:
  explicit TopicRouter(const std::vector<TopicInfo>& topics);

  // Whether no user topic may get anything.
  bool empty() const { return routes_.empty(); }

  // The copies of `message` for the user topics, in the order of `topics`. The rule is
  // `message.rule` (its topic when empty); confirmations are never routed. The filter policy
  // sees the attributes of `message` itself (MessageAttributes: `topic` is the rule's
  // topic, `event` its event). A copy's id is "<change sequence>-<user topic>" when
  // `message.id` is "<change sequence>-<message.topic>" (the stock checker's ids), else
  // "<message.id>-<user topic>", so a re-run routes to the same ids.
  std::vector<Message> Route(const Message& message) const;

  // Route() for every message one change record produced (EvaluateChange), in order. Should
  // two of them go to the same user topic (today's rules never fire twice on one change), the
  // later copy's id gets "-<rule>" appended, so neither is lost as a duplicate.
  std::vector<Message> RouteAll(const std::vector<Message>& messages) const;

 private:
  struct UserRoute {
    std::string topic;
    std::vector<std::string> rules;
    std::optional<FilterPolicy> policy;  // empty: accepts everything
    bool valid = true;                   // false: a stored policy that no longer parses
  };
  std::vector<UserRoute> routes_;
};

// The copies of `message` for the user topics of `topics` (TopicRouter::Route). For callers
// routing one message; the checker builds a TopicRouter once per batch.
std::vector<Message> RouteToUserTopics(const Message& message,
                                       const std::vector<TopicInfo>& topics);

}  // namespace stockwatch::core
