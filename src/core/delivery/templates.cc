#include "core/delivery/templates.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "absl/status/status.h"
#include "base/status.h"
#include "core/model/json.h"
#include "fmt/format.h"

namespace stockwatch::core {
namespace {

constexpr std::array<std::pair<std::string_view, Placeholder>, 9> kPlaceholders = {{
    {"store", Placeholder::kStore},
    {"item", Placeholder::kItem},
    {"old_count", Placeholder::kOldCount},
    {"new_count", Placeholder::kNewCount},
    {"threshold", Placeholder::kThreshold},
    {"topic", Placeholder::kTopic},
    {"time", Placeholder::kTime},
    {"since", Placeholder::kSince},
    {"count", Placeholder::kCount},
}};

std::string OptionalCount(const std::optional<int64_t>& n) {
  return n ? std::to_string(*n) : std::string();
}

// Parses a template whose correctness is a build-time fact.
Template MustParse(std::string_view text) {
  absl::StatusOr<Template> parsed = Template::Parse(text);
  SW_CHECK(parsed.ok());
  return *std::move(parsed);
}

MessageTemplates MustParse(std::string_view subject, std::string_view body) {
  return MessageTemplates{MustParse(subject), MustParse(body)};
}

}  // namespace

std::string_view PlaceholderName(Placeholder placeholder) {
  for (const auto& [name, p] : kPlaceholders) {
    if (p == placeholder) return name;
  }
  return "";
}

TemplateValues ValuesFor(const Message& message) {
  TemplateValues v;
  v.store = message.store;
  v.item = message.item;
  v.topic = message.topic;
  v.old_count = message.old_count;
  v.new_count = message.new_count;
  v.threshold = message.threshold;
  v.time = message.at;
  v.since = message.since;
  return v;
}

absl::StatusOr<MessageTemplates> ParseTemplates(std::string_view subject, std::string_view body) {
  // A line break would end an email's Subject header (the SMTP channel refuses it): a
  // subject is one line.
  if (const size_t br = subject.find_first_of("\r\n"); br != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("subject: line 1, column {}: a subject is one line (no line break)", br + 1));
  }
  MessageTemplates out;
  for (auto [part, text, target] :
       {std::tuple{"subject", subject, &out.subject}, std::tuple{"body", body, &out.body}}) {
    absl::StatusOr<Template> parsed = Template::Parse(text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", part, std::string(parsed.status().message())));
    }
    *target = *std::move(parsed);
  }
  return out;
}

absl::StatusOr<Template> Template::Parse(std::string_view text) {
  Template t;
  t.source_ = std::string(text);
  std::string literal;
  size_t line = 1;
  size_t line_start = 0;
  auto where = [&](size_t pos) {
    return fmt::format("line {}, column {}", line, pos - line_start + 1);
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      literal.push_back(c);
      ++line;
      line_start = i + 1;
      continue;
    }
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal.push_back('}');
        ++i;
        continue;
      }
      return absl::InvalidArgumentError(
          fmt::format("{}: unbalanced \"}}\" (write \"}}}}\" for a literal brace)", where(i)));
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal.push_back('{');
      ++i;
      continue;
    }
    // A placeholder: a name up to the next "}" on the same line, without another "{".
    const size_t end = text.find_first_of("{}\n", i + 1);
    if (end == std::string_view::npos || text[end] != '}') {
      return absl::InvalidArgumentError(
          fmt::format("{}: unbalanced \"{{\" (write \"{{{{\" for a literal brace)", where(i)));
    }
    const std::string_view name = text.substr(i + 1, end - i - 1);
    const auto known = std::find_if(kPlaceholders.begin(), kPlaceholders.end(),
                                    [&](const auto& entry) { return entry.first == name; });
    if (known == kPlaceholders.end()) {
      std::string names;
      for (const auto& entry : kPlaceholders) {
        if (!names.empty()) names += ", ";
        names += "{" + std::string(entry.first) + "}";
      }
      return absl::InvalidArgumentError(
          fmt::format("{}: unknown placeholder \"{{{}}}\" (known: {})", where(i), name, names));
    }
    if (!literal.empty()) t.segments_.emplace_back(std::move(literal));
    literal.clear();
    t.segments_.emplace_back(known->second);
    i = end;
  }
  if (!literal.empty()) t.segments_.emplace_back(std::move(literal));
  return t;
}

std::string Template::Render(const TemplateValues& values) const {
  std::string out;
  for (const Segment& segment : segments_) {
    if (const std::string* text = std::get_if<std::string>(&segment)) {
      out += *text;
      continue;
    }
    switch (std::get<Placeholder>(segment)) {
      case Placeholder::kStore:
        out += values.store;
        break;
      case Placeholder::kItem:
        out += values.item;
        break;
      case Placeholder::kOldCount:
        out += OptionalCount(values.old_count);
        break;
      case Placeholder::kNewCount:
        out += std::to_string(values.new_count);
        break;
      case Placeholder::kThreshold:
        out += OptionalCount(values.threshold);
        break;
      case Placeholder::kTopic:
        out += values.topic;
        break;
      case Placeholder::kTime:
        out += FormatTime(values.time);
        break;
      case Placeholder::kSince:
        if (values.since) out += FormatTime(*values.since);
        break;
      case Placeholder::kCount:
        out += OptionalCount(values.count);
        break;
    }
  }
  return out;
}

bool Template::Uses(Placeholder placeholder) const {
  return std::any_of(segments_.begin(), segments_.end(), [&](const Segment& s) {
    const Placeholder* p = std::get_if<Placeholder>(&s);
    return p != nullptr && *p == placeholder;
  });
}

void TemplateSet::Set(std::string_view topic, std::optional<Protocol> protocol,
                      MessageTemplates templates) {
  by_topic_[{std::string(topic), protocol}] = std::move(templates);
}

const MessageTemplates& TemplateSet::Find(std::string_view topic, Protocol protocol) const {
  const MessageTemplates* found = FindSet(topic, protocol);
  return found != nullptr ? *found : global_;
}

const MessageTemplates* TemplateSet::FindSet(std::string_view topic, Protocol protocol) const {
  // Keys are few (topics x protocols): building the key string is cheaper than a
  // heterogeneous comparator would be worth.
  const std::string name(topic);
  if (auto it = by_topic_.find({name, protocol}); it != by_topic_.end()) return &it->second;
  if (auto it = by_topic_.find({name, std::nullopt}); it != by_topic_.end()) return &it->second;
  return nullptr;
}

RenderedMessage TemplateSet::Render(const TemplateValues& values, Protocol protocol) const {
  const MessageTemplates& t = Find(values.topic, protocol);
  return RenderedMessage{t.subject.Render(values), t.body.Render(values)};
}

const TemplateSet& DefaultTemplates() {
  static const TemplateSet* const kDefaults = [] {
    auto* set =
        new TemplateSet(MustParse("Stock Alert: {topic}", "{store}: {item} count is {new_count}"));
    // The wording of the system stockwatch replaces (see EvaluateChange): subscribers may
    // match on it, so it must not drift.
    set->Set(kTopicNoStock, std::nullopt,
             MustParse("Inventory Alert!", "{store} is out of stock of {item}"));
    set->Set(kTopicLowStock, std::nullopt,
             MustParse("Low Stock Alert",
                       "{store} is low on stock of {item}: {new_count} left (threshold "
                       "{threshold})"));
    set->Set(
        kTopicBackInStock, std::nullopt,
        MustParse("Back In Stock", "{store} is back in stock of {item}: {new_count} available"));
    return set;
  }();
  return *kDefaults;
}

}  // namespace stockwatch::core
