// Subscription filter policies: which messages a subscription receives, decided on the
// message's attributes with a documented subset of Amazon SNS's filter policy syntax
// (https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html, attribute
// scope). A subscription without a policy receives every message of its topic.
//
// A policy is a JSON object whose keys are attribute names and whose values are non-empty
// arrays of conditions:
//   {"store": ["Berlin", "Hamburg"], "new_count": [{"numeric": [">", 0, "<=", 5]}]}
// A message matches when every key matches (AND); a key matches when any condition of its
// array matches (OR). Attributes the policy does not name are ignored. Except for
// {"exists": false}, a condition only matches when the message has the attribute.
//
// Conditions (as in SNS; strings compare case-sensitively, byte for byte):
//   "text"                          a String attribute equal to "text"
//   5                               a Number attribute numerically equal to 5 (5 == 5.0)
//   {"prefix": "Ber"}               a String attribute starting with "Ber"
//   {"suffix": "lin"}               a String attribute ending with "lin"
//   {"equals-ignore-case": "berlin"} a String attribute equal ignoring ASCII case
//   {"anything-but": v | [v...]}    an attribute (String or Number) equal to none of the
//                                   values; the values are all strings or all numbers, and a
//                                   value of the other type is "anything but" them
//   {"anything-but": {"prefix": p}} an attribute that is not a String starting with p
//   {"numeric": ["=", 5]}           a Number attribute equal to 5
//   {"numeric": [">", 0, "<=", 5]}  a Number attribute in a range: one bound ("<", "<=", ">",
//                                   ">="), or a lower (">", ">=") then an upper ("<", "<=")
//                                   bound with lower < upper
//   {"exists": true}                the attribute is present
//   {"exists": false}               the attribute is absent (and the message has at least one
//                                   attribute: SNS never matches an empty attribute set)
// String conditions never match Number attributes and numeric ones never match String
// attributes: the policy value "5" does not match the Number 5, nor 5 the String "5".
//
// Numbers (policy values) lie in -1e9..1e9 and are compared with five digits after the
// decimal point, as SNS does: both sides are rounded to 1e-5 before comparing.
//
// Bounds, as SNS's: at most 5 keys; at most 150 value combinations (the product of the
// lengths of the keys' arrays); at most 256 KiB of JSON. Beyond SNS, JSON nesting deeper than
// a valid policy needs (4 levels) and duplicate object keys are refused.
//
// Not supported (refused by Parse, kInvalidArgument): nested policies (SNS refuses them for
// attribute filtering too), "$or", "cidr", "wildcard", anything-but with "suffix" or
// "equals-ignore-case", and true/false/null values (no stockwatch attribute is a boolean).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/types.h"

namespace stockwatch::core {

// A message attribute: a String or a Number (SNS's data types; String.Array and Binary are
// not used).
using AttributeValue = std::variant<std::string, double>;
// Message attributes by name.
using Attributes = std::map<std::string, AttributeValue, std::less<>>;

// The attributes a filter policy sees for `message`:
//   topic      String  the topic name
//   store      String
//   item       String
//   new_count  Number
//   old_count  Number  absent when the item was new
//   event      String  "out_of_stock" (NoStock), "low_stock" (LowStock), "back_in_stock"
//                      (BackInStock): of the message's rule (its topic when the rule is
//                      empty), so a copy routed to a user topic keeps it; absent otherwise
//   reminder   String  "true" on a reminder ("still out of stock since ...", Message::since
//                      set); absent on every other message. As in SNS, a condition other
//                      than {"exists": false} never matches an absent attribute, so
//                      {"reminder": [{"anything-but": "true"}]} matches no message at all:
//                      opt out of reminders with {"reminder": [{"exists": false}]}, take
//                      only reminders with {"reminder": ["true"]}
Attributes MessageAttributes(const Message& message);

// A parsed filter policy. Immutable and thread-compatible: concurrent Matches() calls are
// safe.
class FilterPolicy {
 public:
  // Largest policy, in bytes of JSON (SNS: 256 KB).
  static constexpr size_t kMaxBytes = 256 * 1024;
  // Most keys (attribute names) in a policy.
  static constexpr size_t kMaxKeys = 5;
  // Most value combinations: the product of the number of conditions of every key.
  static constexpr uint64_t kMaxCombinations = 150;
  // Deepest nesting of JSON arrays and objects a valid policy has.
  static constexpr int kMaxDepth = 4;

  // Parses a policy. kInvalidArgument for anything else, with a lower-case message that
  // names the key and the problem, e.g.
  //   filter policy key "new_count": condition 1: unknown operator "greater"
  static absl::StatusOr<FilterPolicy> Parse(std::string_view json);

  // Whether a message with `attributes` passes the policy.
  bool Matches(const Attributes& attributes) const;

  // The policy in canonical form, for storage and display: keys sorted, no whitespace, numbers
  // as integers when whole, a one-value anything-but as a scalar. Parse(ToJson()) == *this.
  std::string ToJson() const;

  bool operator==(const FilterPolicy&) const = default;

  // Policy numbers are kept in fixed point: value * kNumberScale, rounded.
  static constexpr int64_t kNumberScale = 100000;

  // One condition of a key's array. Public so tests and tools may inspect a policy; build
  // policies with Parse.
  struct Condition {
    enum class Kind {
      kString,             // strings[0]
      kNumber,             // numbers[0]
      kPrefix,             // strings[0]
      kSuffix,             // strings[0]
      kEqualsIgnoreCase,   // strings[0]
      kAnythingBut,        // strings (all of them) or numbers (all of them)
      kAnythingButPrefix,  // strings[0]
      kNumeric,            // lower and/or upper bound, or equal
      kExists,             // exists
    };
    enum class Op { kNone, kEqual, kLess, kLessEqual, kGreater, kGreaterEqual };
    Kind kind = Kind::kString;
    std::vector<std::string> strings;
    std::vector<int64_t> numbers;  // fixed point, see kNumberScale
    // kNumeric: either lower_op == kEqual (value in lower), or a lower bound
    // (kGreater/kGreaterEqual) and/or an upper bound (kLess/kLessEqual).
    Op lower_op = Op::kNone;
    int64_t lower = 0;
    Op upper_op = Op::kNone;
    int64_t upper = 0;
    bool exists = false;
    bool operator==(const Condition&) const = default;
  };

  // Keys in name order with their conditions in policy order.
  const std::vector<std::pair<std::string, std::vector<Condition>>>& keys() const { return keys_; }

 private:
  FilterPolicy() = default;
  std::vector<std::pair<std::string, std::vector<Condition>>> keys_;
};

// The canonical form of the policy `json` (FilterPolicy::ToJson) for storage; "" for "".
// kInvalidArgument as FilterPolicy::Parse.
absl::StatusOr<std::string> CanonicalFilterPolicy(std::string_view json);

// Whether `message` goes to a subscriber with the stored policy `canonical` ("" matches
// everything; a stored policy that no longer parses matches nothing).
bool PolicyAccepts(std::string_view canonical, const Attributes& attributes);

}  // namespace stockwatch::core
