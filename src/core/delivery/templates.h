// Message templates: the subject and body a delivery carries, per topic and protocol, with
// named placeholders filled from the message.
//
// Syntax: literal text with placeholders in braces; "{{" and "}}" stand for "{" and "}".
//   {store}      the store                    {item}       the item
//   {old_count}  the count before the change; empty when the item was new
//   {new_count}  the count after the change   {threshold}  the LowStock threshold; empty
//                                                          when none was given
//   {topic}      the topic name
//   {time}       when the change happened, RFC 3339 UTC with milliseconds
//                ("2026-11-25T15:21:50.123Z", as FormatTime in core/model/json.h)
//   {since}      for reminders: since when the condition holds, RFC 3339 UTC; empty if unset
//   {count}      for digests: how many items the digest holds; empty if unset
// Placeholder names are exact (no spaces, lower case).
//
// Templates produce plain text. Escaping for the channel (HTML in an email body, JSON in a
// webhook or Slack payload, header folding of an email subject) is the channel's job, never
// the template's: a store named "<b>" renders as "<b>".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// What a template may show. Unset optionals render as "".
struct TemplateValues {
  std::string store;
  std::string item;
  std::string topic;
  std::optional<int64_t> old_count;
  int64_t new_count = 0;
  std::optional<int64_t> threshold;
  TimePoint time;
  std::optional<TimePoint> since;
  std::optional<int64_t> count;
};

// The values of `message`: store, item, topic, counts, threshold (LowStock), time =
// message.at and since (reminders). `count` is left unset.
TemplateValues ValuesFor(const Message& message);

enum class Placeholder {
  kStore,
  kItem,
  kOldCount,
  kNewCount,
  kThreshold,
  kTopic,
  kTime,
  kSince,
  kCount,
};

// "store", "item", "old_count", ...
std::string_view PlaceholderName(Placeholder placeholder);

// A parsed template. Immutable value type; Render is thread-safe.
class Template {
 public:
  // The empty template (renders "").
  Template() = default;

  // Parses `text`. kInvalidArgument, naming the 1-based line and byte column, for an unknown
  // placeholder (`line 1, column 5: unknown placeholder "{stor}"`), a "{" without its "}" and
  // a "}" that is neither "}}" nor closes a placeholder.
  static absl::StatusOr<Template> Parse(std::string_view text);

  std::string Render(const TemplateValues& values) const;

  // The text it was parsed from (for storage: Parse(source()) == *this).
  const std::string& source() const { return source_; }
  // Whether it shows `placeholder` anywhere.
  bool Uses(Placeholder placeholder) const;

  bool operator==(const Template& other) const { return source_ == other.source_; }

 private:
  using Segment = std::variant<std::string, Placeholder>;
  std::string source_;
  std::vector<Segment> segments_;
};

// The subject and body of one (topic, protocol).
struct MessageTemplates {
  Template subject;
  Template body;
  bool operator==(const MessageTemplates&) const = default;
};

struct RenderedMessage {
  std::string subject;
  std::string body;
  bool operator==(const RenderedMessage&) const = default;
};

// Templates by topic and protocol. Find falls back from (topic, protocol) to (topic, any
// protocol) to the global default. Thread-compatible: concurrent const calls are safe.
class TemplateSet {
 public:
  explicit TemplateSet(MessageTemplates global) : global_(std::move(global)) {}

  // Sets the templates of `topic` for `protocol`, or for every protocol without its own
  // when `protocol` is nullopt. Replaces what was set for the same pair.
  void Set(std::string_view topic, std::optional<Protocol> protocol, MessageTemplates templates);
  void SetGlobal(MessageTemplates templates) { global_ = std::move(templates); }

  const MessageTemplates& Find(std::string_view topic, Protocol protocol) const;
  // Find without the global fallback: nullptr when neither (topic, protocol) nor (topic, any
  // protocol) is set.
  const MessageTemplates* FindSet(std::string_view topic, Protocol protocol) const;
  bool empty() const { return by_topic_.empty(); }
  const MessageTemplates& global() const { return global_; }

  // Renders Find(values.topic, protocol).
  RenderedMessage Render(const TemplateValues& values, Protocol protocol) const;

 private:
  MessageTemplates global_;
  std::map<std::pair<std::string, std::optional<Protocol>>, MessageTemplates> by_topic_;
};

// Parses a subject and body pair. kInvalidArgument as Template::Parse, its message
// prefixed with the part it is about: `body: line 1, column 5: unknown placeholder ...`;
// also kInvalidArgument for a subject with a line break (CR or LF).
absl::StatusOr<MessageTemplates> ParseTemplates(std::string_view subject, std::string_view body);

// The built-in templates, worded exactly as the stock checker words its messages
// (EvaluateChange in core/checker/stock_rules.h), for every protocol:
//   NoStock      "Inventory Alert!"  / "{store} is out of stock of {item}"
//   LowStock     "Low Stock Alert"   / "{store} is low on stock of {item}: {new_count} left
//                                       (threshold {threshold})"
//   BackInStock  "Back In Stock"     / "{store} is back in stock of {item}: {new_count}
//                                       available"
//   any other    "Stock Alert: {topic}" / "{store}: {item} count is {new_count}"
const TemplateSet& DefaultTemplates();

}  // namespace stockwatch::core
