#include "core/checker/topic_routes.h"

#include <algorithm>
#include <set>
#include <utility>

#include "fmt/format.h"

namespace stockwatch::core {
namespace {

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

char FoldCase(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The id of the copy of `message` for `topic` (TopicRouter::Route).
std::string CopyId(const Message& message, std::string_view topic) {
  const std::string checker_id = fmt::format("{}-{}", message.change_sequence, message.topic);
  if (message.id == checker_id) return fmt::format("{}-{}", message.change_sequence, topic);
  return fmt::format("{}-{}", message.id, topic);
}

}  // namespace

absl::Status ValidateTopicName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("topic name is empty");
  if (name.size() > kMaxTopicNameBytes) {
    return absl::InvalidArgumentError(
        fmt::format("topic name is {} characters; at most {}", name.size(), kMaxTopicNameBytes));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i])) {
      return absl::InvalidArgumentError(fmt::format(
          "topic name \"{}\" has a character other than A-Z, a-z, 0-9, _ and - at position {}",
          name.substr(0, 64), i + 1));
    }
  }
  return absl::OkStatus();
}

bool IsBuiltinTopic(std::string_view name) {
  return name == kTopicNoStock || name == kTopicLowStock || name == kTopicBackInStock;
}

bool SameTopicName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return FoldCase(x) == FoldCase(y);
         });
}

absl::StatusOr<std::vector<std::string>> CanonicalTopicRules(
    const std::vector<std::string>& rules) {
  if (rules.empty()) {
    return absl::InvalidArgumentError(
        "rules is empty: name at least one of NoStock, LowStock, BackInStock");
  }
  std::set<std::string> out;
  for (const std::string& rule : rules) {
    if (!IsBuiltinTopic(rule)) {
      return absl::InvalidArgumentError(
          fmt::format("rule \"{}\" is not one of NoStock, LowStock, BackInStock",
                      std::string_view(rule).substr(0, 64)));
    }
    out.insert(rule);
  }
  return std::vector<std::string>(out.begin(), out.end());
}

TopicRouter::TopicRouter(const std::vector<TopicInfo>& topics) {
  for (const TopicInfo& topic : topics) {
    if (topic.builtin || topic.rules.empty()) continue;
    UserRoute route;
    route.topic = topic.name;
    route.rules = topic.rules;
    if (!topic.filter_policy.empty()) {
      absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(topic.filter_policy);
      // Stored policies were validated at CreateTopic; one that no longer parses routes
      // nothing rather than everything.
      if (policy.ok()) {
        route.policy = *std::move(policy);
      } else {
        route.valid = false;
      }
    }
    routes_.push_back(std::move(route));
  }
}

std::vector<Message> TopicRouter::Route(const Message& message) const {
  std::vector<Message> out;
  if (routes_.empty() || message.kind != MessageKind::kAlert) return out;
  const std::string& rule = message.rule.empty() ? message.topic : message.rule;
  std::optional<Attributes> attributes;
  for (const UserRoute& route : routes_) {
    if (!route.valid) continue;
    if (std::find(route.rules.begin(), route.rules.end(), rule) == route.rules.end()) continue;
    if (route.policy) {
      if (!attributes) attributes = MessageAttributes(message);
      if (!route.policy->Matches(*attributes)) continue;
    }
    Message copy = message;
    copy.id = CopyId(message, route.topic);
    copy.topic = route.topic;
    copy.rule = rule;
    out.push_back(std::move(copy));
  }
  return out;
}

std::vector<Message> TopicRouter::RouteAll(const std::vector<Message>& messages) const {
  std::vector<Message> out;
  if (routes_.empty()) return out;
  std::set<std::string> ids;
  for (const Message& message : messages) {
    for (Message& copy : Route(message)) {
      if (!ids.insert(copy.id).second) {
        copy.id += "-" + copy.rule;
        ids.insert(copy.id);
      }
      out.push_back(std::move(copy));
    }
  }
  return out;
}

std::vector<Message> RouteToUserTopics(const Message& message,
                                       const std::vector<TopicInfo>& topics) {
  return TopicRouter(topics).Route(message);
}

}  // namespace stockwatch::core
