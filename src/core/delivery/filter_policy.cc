#include "core/delivery/filter_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "base/status.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace stockwatch::core {
namespace {

using json = nlohmann::json;
using Condition = FilterPolicy::Condition;
using Kind = Condition::Kind;
using Op = Condition::Op;

// SNS's numeric range for policy values.
constexpr double kMaxPolicyNumber = 1e9;
// Attribute values beyond this many units are saturated: they compare correctly against any
// policy value (all within +-1e9 units) and equal none of them.
constexpr double kSaturateUnits = 9e12;

absl::Status Invalid(std::string message) {
  return absl::InvalidArgumentError("filter policy " + message);
}

// A JSON value, shortened for error messages.
std::string Show(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// The attribute value in fixed point (see FilterPolicy::kNumberScale); nullopt for NaN.
std::optional<int64_t> AttributeFixed(double value) {
  if (std::isnan(value)) return std::nullopt;
  const double units = std::clamp(value, -kSaturateUnits, kSaturateUnits);
  return std::llround(units * static_cast<double>(FilterPolicy::kNumberScale));
}

// A policy number in fixed point, or why it is not one.
absl::StatusOr<int64_t> PolicyFixed(const json& value) {
  const double number = value.get<double>();
  if (!std::isfinite(number) || number < -kMaxPolicyNumber || number > kMaxPolicyNumber) {
    return absl::InvalidArgumentError(fmt::format("number {} is outside -1e9..1e9", Show(value)));
  }
  return std::llround(number * static_cast<double>(FilterPolicy::kNumberScale));
}

json FixedJson(int64_t fixed) {
  if (fixed % FilterPolicy::kNumberScale == 0) return fixed / FilterPolicy::kNumberScale;
  return static_cast<double>(fixed) / static_cast<double>(FilterPolicy::kNumberScale);
}

// The deepest nesting of arrays and objects in `text` and where it first goes beyond
// `limit` (byte offset), without parsing it (so that a hostile policy costs no recursion).
std::optional<size_t> FirstTooDeep(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

std::optional<Op> ParseOp(const json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string& op = value.get_ref<const std::string&>();
  if (op == "=") return Op::kEqual;
  if (op == "<") return Op::kLess;
  if (op == "<=") return Op::kLessEqual;
  if (op == ">") return Op::kGreater;
  if (op == ">=") return Op::kGreaterEqual;
  return std::nullopt;
}

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kEqual:
      return "=";
    case Op::kLess:
      return "<";
    case Op::kLessEqual:
      return "<=";
    case Op::kGreater:
      return ">";
    case Op::kGreaterEqual:
      return ">=";
    case Op::kNone:
      break;
  }
  return "";
}

bool IsLower(Op op) { return op == Op::kGreater || op == Op::kGreaterEqual; }
bool IsUpper(Op op) { return op == Op::kLess || op == Op::kLessEqual; }

absl::StatusOr<Condition> ParseNumeric(const json& value) {
  constexpr std::string_view kShape =
      "numeric takes [\"=\", n], [op, n] or [\">\"|\">=\", low, \"<\"|\"<=\", high]";
  if (!value.is_array() || (value.size() != 2 && value.size() != 4)) {
    return absl::InvalidArgumentError(fmt::format("{}, got {}", kShape, Show(value)));
  }
  Condition c;
  c.kind = Kind::kNumeric;
  std::vector<std::pair<Op, int64_t>> bounds;
  for (size_t i = 0; i < value.size(); i += 2) {
    const std::optional<Op> op = ParseOp(value[i]);
    if (!op) {
      return absl::InvalidArgumentError(
          fmt::format("numeric: unknown operator {} (use =, <, <=, >, >=)", Show(value[i])));
    }
    if (!value[i + 1].is_number()) {
      return absl::InvalidArgumentError(
          fmt::format("numeric: {} after \"{}\" is not a number", Show(value[i + 1]), OpName(*op)));
    }
    SW_ASSIGN_OR_RETURN(const int64_t number, PolicyFixed(value[i + 1]));
    bounds.emplace_back(*op, number);
  }
  if (bounds.size() == 1) {
    const auto [op, number] = bounds[0];
    if (IsUpper(op)) {
      c.upper_op = op;
      c.upper = number;
    } else {
      c.lower_op = op;
      c.lower = number;
    }
    return c;
  }
  const auto [low_op, low] = bounds[0];
  const auto [high_op, high] = bounds[1];
  if (!IsLower(low_op) || !IsUpper(high_op)) {
    return absl::InvalidArgumentError(
        fmt::format("numeric: a range is a lower bound (> or >=) then an upper bound (< or "
                    "<=), got \"{}\" then \"{}\"",
                    OpName(low_op), OpName(high_op)));
  }
  if (low >= high) {
    return absl::InvalidArgumentError(fmt::format(
        "numeric: lower bound {} is not below upper bound {}", Show(value[1]), Show(value[3])));
  }
  c.lower_op = low_op;
  c.lower = low;
  c.upper_op = high_op;
  c.upper = high;
  return c;
}

absl::StatusOr<Condition> ParseAnythingBut(const json& value) {
  Condition c;
  c.kind = Kind::kAnythingBut;
  if (value.is_object()) {
    if (value.size() != 1) {
      return absl::InvalidArgumentError(
          "anything-but takes one operator object: {\"prefix\": ...}");
    }
    const std::string& op = value.begin().key();
    const json& operand = value.begin().value();
    if (op != "prefix") {
      return absl::InvalidArgumentError(
          fmt::format("anything-but supports only \"prefix\", got \"{}\"", op));
    }
    if (!operand.is_string()) {
      return absl::InvalidArgumentError(
          fmt::format("anything-but prefix {} is not a string", Show(operand)));
    }
    c.kind = Kind::kAnythingButPrefix;
    c.strings.push_back(operand.get<std::string>());
    return c;
  }
  const json values = value.is_array() ? value : json::array({value});
  if (values.empty()) return absl::InvalidArgumentError("anything-but has an empty list");
  const bool strings = values[0].is_string();
  for (const json& v : values) {
    if (!v.is_string() && !v.is_number()) {
      return absl::InvalidArgumentError(
          fmt::format("anything-but value {} is not a string or a number", Show(v)));
    }
    if (v.is_string() != strings) {
      return absl::InvalidArgumentError("anything-but list mixes strings and numbers");
    }
    if (strings) {
      c.strings.push_back(v.get<std::string>());
    } else {
      SW_ASSIGN_OR_RETURN(const int64_t number, PolicyFixed(v));
      c.numbers.push_back(number);
    }
  }
  return c;
}

absl::StatusOr<Condition> ParseCondition(const json& value) {
  Condition c;
  if (value.is_string()) {
    c.kind = Kind::kString;
    c.strings.push_back(value.get<std::string>());
    return c;
  }
  if (value.is_number()) {
    c.kind = Kind::kNumber;
    SW_ASSIGN_OR_RETURN(const int64_t number, PolicyFixed(value));
    c.numbers.push_back(number);
    return c;
  }
  if (value.is_boolean() || value.is_null()) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not supported: attributes are strings and numbers", Show(value)));
  }
  if (value.is_array()) {
    return absl::InvalidArgumentError("a condition cannot be an array");
  }
  // An object holding one operator.
  if (value.size() != 1) {
    return absl::InvalidArgumentError(
        fmt::format("a condition object holds exactly one operator, got {}", value.size()));
  }
  const std::string& op = value.begin().key();
  const json& operand = value.begin().value();
  if (op == "prefix" || op == "suffix" || op == "equals-ignore-case") {
    if (!operand.is_string()) {
      return absl::InvalidArgumentError(
          fmt::format("{} value {} is not a string", op, Show(operand)));
    }
    c.kind = op == "prefix"   ? Kind::kPrefix
             : op == "suffix" ? Kind::kSuffix
                              : Kind::kEqualsIgnoreCase;
    c.strings.push_back(operand.get<std::string>());
    return c;
  }
  if (op == "anything-but") return ParseAnythingBut(operand);
  if (op == "numeric") return ParseNumeric(operand);
  if (op == "exists") {
    if (!operand.is_boolean()) {
      return absl::InvalidArgumentError(
          fmt::format("exists takes true or false, got {}", Show(operand)));
    }
    c.kind = Kind::kExists;
    c.exists = operand.get<bool>();
    return c;
  }
  if (op == "cidr" || op == "wildcard") {
    return absl::InvalidArgumentError(fmt::format("operator \"{}\" is not supported", op));
  }
  return absl::InvalidArgumentError(fmt::format("unknown operator \"{}\"", op));
}

json ConditionJson(const Condition& c) {
  switch (c.kind) {
    case Kind::kString:
      return c.strings[0];
    case Kind::kNumber:
      return FixedJson(c.numbers[0]);
    case Kind::kPrefix:
      return {{"prefix", c.strings[0]}};
    case Kind::kSuffix:
      return {{"suffix", c.strings[0]}};
    case Kind::kEqualsIgnoreCase:
      return {{"equals-ignore-case", c.strings[0]}};
    case Kind::kAnythingBut: {
      json values = json::array();
      for (const std::string& s : c.strings) values.push_back(s);
      for (int64_t n : c.numbers) values.push_back(FixedJson(n));
      return {{"anything-but", values.size() == 1 ? values[0] : values}};
    }
    case Kind::kAnythingButPrefix:
      return {{"anything-but", {{"prefix", c.strings[0]}}}};
    case Kind::kNumeric: {
      json range = json::array();
      if (c.lower_op != Op::kNone) {
        range.push_back(OpName(c.lower_op));
        range.push_back(FixedJson(c.lower));
      }
      if (c.upper_op != Op::kNone) {
        range.push_back(OpName(c.upper_op));
        range.push_back(FixedJson(c.upper));
      }
      return {{"numeric", range}};
    }
    case Kind::kExists:
      return {{"exists", c.exists}};
  }
  return nullptr;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool InRange(const Condition& c, int64_t v) {
  switch (c.lower_op) {
    case Op::kEqual:
      return v == c.lower;
    case Op::kGreater:
      if (!(v > c.lower)) return false;
      break;
    case Op::kGreaterEqual:
      if (!(v >= c.lower)) return false;
      break;
    default:
      break;
  }
  switch (c.upper_op) {
    case Op::kLess:
      return v < c.upper;
    case Op::kLessEqual:
      return v <= c.upper;
    default:
      return true;
  }
}

// Whether `c` matches the attribute `value` (nullptr when the message lacks it).
bool ConditionMatches(const Condition& c, const AttributeValue* value, bool any_attribute) {
  if (c.kind == Kind::kExists)
    return c.exists ? value != nullptr : value == nullptr && any_attribute;
  if (value == nullptr) return false;
  const std::string* text = std::get_if<std::string>(value);
  std::optional<int64_t> number;
  if (const double* d = std::get_if<double>(value)) number = AttributeFixed(*d);
  switch (c.kind) {
    case Kind::kString:
      return text != nullptr && *text == c.strings[0];
    case Kind::kNumber:
      return number && *number == c.numbers[0];
    case Kind::kPrefix:
      return text != nullptr && text->starts_with(c.strings[0]);
    case Kind::kSuffix:
      return text != nullptr && text->ends_with(c.strings[0]);
    case Kind::kEqualsIgnoreCase:
      return text != nullptr && EqualsIgnoreAsciiCase(*text, c.strings[0]);
    case Kind::kAnythingBut:
      // Type-aware inequality: a value of the other type equals none of the listed values.
      if (text != nullptr) {
        return std::find(c.strings.begin(), c.strings.end(), *text) == c.strings.end();
      }
      return !number || std::find(c.numbers.begin(), c.numbers.end(), *number) == c.numbers.end();
    case Kind::kAnythingButPrefix:
      return text == nullptr || !text->starts_with(c.strings[0]);
    case Kind::kNumeric:
      return number && InRange(c, *number);
    case Kind::kExists:
      break;
  }
  return false;
}

}  // namespace

Attributes MessageAttributes(const Message& message) {
  Attributes out;
  out.emplace("topic", message.topic);
  out.emplace("store", message.store);
  out.emplace("item", message.item);
  out.emplace("new_count", static_cast<double>(message.new_count));
  if (message.old_count) out.emplace("old_count", static_cast<double>(*message.old_count));
  // The rule that published it: a copy routed to a user topic keeps its event.
  const std::string_view rule = message.rule.empty() ? message.topic : message.rule;
  if (rule == kTopicNoStock) {
    out.emplace("event", std::string("out_of_stock"));
  } else if (rule == kTopicLowStock) {
    out.emplace("event", std::string("low_stock"));
  } else if (rule == kTopicBackInStock) {
    out.emplace("event", std::string("back_in_stock"));
  }
  if (message.since) out.emplace("reminder", std::string("true"));
  return out;
}

absl::StatusOr<FilterPolicy> FilterPolicy::Parse(std::string_view text) {
  if (text.size() > kMaxBytes) {
    return Invalid(fmt::format("is {} bytes; at most {}", text.size(), kMaxBytes));
  }
  if (std::optional<size_t> at = FirstTooDeep(text, kMaxDepth)) {
    return Invalid(fmt::format("nests arrays and objects deeper than {} levels (at byte {})",
                               kMaxDepth, *at + 1));
  }
  // Duplicate keys: nlohmann keeps the last one silently, which would drop a condition.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty() && duplicate.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number beyond double ("1e999").
    std::string what = e.what();
    if (size_t end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);
    return Invalid("is not valid json: " + what);
  }
  if (!duplicate.empty()) return Invalid(fmt::format("repeats the key \"{}\"", duplicate));
  if (!root.is_object()) return Invalid("must be a json object of attribute names to arrays");
  if (root.size() > kMaxKeys) {
    return Invalid(fmt::format("has {} keys; at most {}", root.size(), kMaxKeys));
  }

  FilterPolicy policy;
  uint64_t combinations = 1;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& key = it.key();
    const json& conditions = it.value();
    auto bad = [&key](std::string_view problem) {
      return Invalid(fmt::format("key \"{}\": {}", key, problem));
    };
    if (key == "$or") return bad("\"$or\" is not supported");
    if (conditions.is_object()) {
      return bad("nested policies are not supported for message attributes");
    }
    if (!conditions.is_array()) {
      return bad(fmt::format("must be an array of conditions, got {}", Show(conditions)));
    }
    if (conditions.empty()) return bad("has an empty array");
    combinations = std::min<uint64_t>(combinations * conditions.size(), uint64_t{1} << 40);
    std::vector<Condition> parsed;
    for (size_t i = 0; i < conditions.size(); ++i) {
      absl::StatusOr<Condition> condition = ParseCondition(conditions[i]);
      if (!condition.ok()) {
        return bad(
            fmt::format("condition {}: {}", i + 1, std::string(condition.status().message())));
      }
      parsed.push_back(*std::move(condition));
    }
    policy.keys_.emplace_back(key, std::move(parsed));
  }
  if (combinations > kMaxCombinations) {
    return Invalid(fmt::format(
        "has {} value combinations (the product of the keys' array lengths); at most {}",
        combinations, kMaxCombinations));
  }
  return policy;
}

bool FilterPolicy::Matches(const Attributes& attributes) const {
  for (const auto& [key, conditions] : keys_) {
    const auto found = attributes.find(key);
    const AttributeValue* value = found == attributes.end() ? nullptr : &found->second;
    const bool any = std::any_of(conditions.begin(), conditions.end(), [&](const Condition& c) {
      return ConditionMatches(c, value, !attributes.empty());
    });
    if (!any) return false;
  }
  return true;
}

std::string FilterPolicy::ToJson() const {
  json root = json::object();
  for (const auto& [key, conditions] : keys_) {
    json array = json::array();
    for (const Condition& c : conditions) array.push_back(ConditionJson(c));
    root[key] = std::move(array);
  }
  return root.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<std::string> CanonicalFilterPolicy(std::string_view json) {
  if (json.empty()) return std::string();
  absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(json);
  if (!policy.ok()) return policy.status();
  return policy->ToJson();
}

bool PolicyAccepts(std::string_view canonical, const Attributes& attributes) {
  if (canonical.empty()) return true;
  absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(canonical);
  return policy.ok() && policy->Matches(attributes);
}

}  // namespace stockwatch::core
