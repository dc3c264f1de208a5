#include "core/delivery/filter_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace stockwatch::core {
namespace {

using ::testing::HasSubstr;

Message Make(std::string_view topic, std::string_view store, std::string_view item,
             std::optional<int64_t> old_count, int64_t new_count) {
  Message m;
  m.id = "1-" + std::string(topic);
  m.topic = std::string(topic);
  m.store = std::string(store);
  m.item = std::string(item);
  m.old_count = old_count;
  m.new_count = new_count;
  return m;
}

const Message kBerlinOut = Make("NoStock", "Berlin", "Echo Plus", 5, 0);
const Message kHamburgOut = Make("NoStock", "Hamburg", "Echo Dot", 3, 0);
const Message kBerlinLow = Make("LowStock", "Berlin", "Echo Dot", 10, 4);
const Message kBerlinNewAtZero = Make("NoStock", "Berlin", "Kindle", std::nullopt, 0);
const Message kMunichBack = Make("BackInStock", "Munich", "Echo Plus", 0, 12);
const Message kCustomTopic = Make("PriceChange", "Berlin", "Echo Plus", 1, 2);

bool Matches(std::string_view policy, const Message& message) {
  absl::StatusOr<FilterPolicy> parsed = FilterPolicy::Parse(policy);
  EXPECT_TRUE(parsed.ok()) << policy << ": " << parsed.status();
  return parsed.ok() && parsed->Matches(MessageAttributes(message));
}

TEST(FilterPolicyTest, MessageAttributes) {
  Attributes a = MessageAttributes(kBerlinLow);
  EXPECT_EQ(a.at("topic"), AttributeValue(std::string("LowStock")));
  EXPECT_EQ(a.at("store"), AttributeValue(std::string("Berlin")));
  EXPECT_EQ(a.at("item"), AttributeValue(std::string("Echo Dot")));
  EXPECT_EQ(a.at("new_count"), AttributeValue(4.0));
  EXPECT_EQ(a.at("old_count"), AttributeValue(10.0));
  EXPECT_EQ(a.at("event"), AttributeValue(std::string("low_stock")));
  EXPECT_EQ(std::get<std::string>(MessageAttributes(kBerlinOut).at("event")), "out_of_stock");
  EXPECT_EQ(std::get<std::string>(MessageAttributes(kMunichBack).at("event")), "back_in_stock");
  EXPECT_FALSE(MessageAttributes(kBerlinNewAtZero).contains("old_count"));
  EXPECT_FALSE(MessageAttributes(kCustomTopic).contains("event"));
}

TEST(FilterPolicyTest, EventComesFromTheRuleOfACopyOnAUserTopic) {
  Message copy = kBerlinLow;
  copy.topic = "BerlinOutages";
  copy.rule = "LowStock";
  Attributes a = MessageAttributes(copy);
  EXPECT_EQ(a.at("topic"), AttributeValue(std::string("BerlinOutages")));
  EXPECT_EQ(a.at("event"), AttributeValue(std::string("low_stock")));
  EXPECT_TRUE(Matches(R"({"event": ["low_stock"]})", copy));
  // A rule wins over the topic; without one the topic is the rule.
  Message ruled = kBerlinOut;
  ruled.rule = "BackInStock";
  EXPECT_EQ(std::get<std::string>(MessageAttributes(ruled).at("event")), "back_in_stock");
}

struct MatchCase {
  std::string policy;
  const Message* message;
  bool expected;
};

TEST(FilterPolicyTest, MatchTable) {
  const std::vector<MatchCase> cases = {
      // Exact strings, OR within a key.
      {R"({"store": ["Berlin"]})", &kBerlinOut, true},
      {R"({"store": ["Berlin"]})", &kHamburgOut, false},
      {R"({"store": ["berlin"]})", &kBerlinOut, false},  // case-sensitive
      {R"({"store": ["Berlin", "Hamburg"]})", &kHamburgOut, true},
      {R"({"event": ["out_of_stock", "low_stock"]})", &kBerlinLow, true},
      {R"({"event": ["out_of_stock", "low_stock"]})", &kMunichBack, false},
      // AND across keys.
      {R"({"store": ["Berlin"], "event": ["low_stock"]})", &kBerlinLow, true},
      {R"({"store": ["Berlin"], "event": ["low_stock"]})", &kBerlinOut, false},
      {R"({"topic": ["NoStock"], "item": ["Echo Plus"]})", &kBerlinOut, true},
      // Prefix, suffix, equals-ignore-case.
      {R"({"store": [{"prefix": "Ber"}]})", &kBerlinOut, true},
      {R"({"store": [{"prefix": "Ber"}]})", &kHamburgOut, false},
      {R"({"item": [{"prefix": "Echo "}]})", &kBerlinNewAtZero, false},
      {R"({"store": [{"suffix": "burg"}]})", &kHamburgOut, true},
      {R"({"store": [{"suffix": "burg"}]})", &kBerlinOut, false},
      {R"({"store": [{"equals-ignore-case": "BERLIN"}]})", &kBerlinOut, true},
      {R"({"store": [{"equals-ignore-case": "BERLI"}]})", &kBerlinOut, false},
      // Anything-but: a scalar, a list, a prefix.
      {R"({"store": [{"anything-but": "Berlin"}]})", &kHamburgOut, true},
      {R"({"store": [{"anything-but": "Berlin"}]})", &kBerlinOut, false},
      {R"({"store": [{"anything-but": ["Berlin", "Hamburg"]}]})", &kMunichBack, true},
      {R"({"store": [{"anything-but": ["Berlin", "Hamburg"]}]})", &kBerlinOut, false},
      {R"({"store": [{"anything-but": ["Berlin", "Hamburg"]}]})", &kHamburgOut, false},
      {R"({"store": [{"anything-but": {"prefix": "Ham"}}]})", &kHamburgOut, false},
      {R"({"store": [{"anything-but": {"prefix": "Ham"}}]})", &kBerlinOut, true},
      {R"({"new_count": [{"anything-but": [0]}]})", &kBerlinOut, false},
      {R"({"new_count": [{"anything-but": [0, 12]}]})", &kBerlinLow, true},
      // An absent attribute matches nothing but exists:false, not even anything-but.
      {R"({"old_count": [{"anything-but": [1]}]})", &kBerlinNewAtZero, false},
      {R"({"colour": [{"anything-but": "red"}]})", &kBerlinOut, false},
      // Numbers compare numerically.
      {R"({"new_count": [0]})", &kBerlinOut, true},
      {R"({"new_count": [4.0]})", &kBerlinLow, true},
      {R"({"new_count": [4e0]})", &kBerlinLow, true},
      {R"({"new_count": [4.5]})", &kBerlinLow, false},
      {R"({"new_count": [{"numeric": ["=", 0]}]})", &kBerlinOut, true},
      {R"({"new_count": [{"numeric": ["=", 0]}]})", &kBerlinLow, false},
      {R"({"new_count": [{"numeric": [">", 0, "<=", 5]}]})", &kBerlinLow, true},
      {R"({"new_count": [{"numeric": [">", 0, "<=", 5]}]})", &kBerlinOut, false},
      {R"({"new_count": [{"numeric": [">", 0, "<=", 5]}]})", &kMunichBack, false},
      {R"({"new_count": [{"numeric": [">", 0, "<", 4]}]})", &kBerlinLow, false},
      {R"({"new_count": [{"numeric": [">=", 4, "<", 5]}]})", &kBerlinLow, true},
      {R"({"new_count": [{"numeric": ["<", 1]}]})", &kBerlinOut, true},
      {R"({"new_count": [{"numeric": [">=", 12]}]})", &kMunichBack, true},
      {R"({"old_count": [{"numeric": ["<=", 0]}]})", &kMunichBack, true},
      {R"({"old_count": [{"numeric": [">", 0]}]})", &kBerlinNewAtZero, false},
      // Five digits after the decimal point, as SNS: 4.000001 is 4.
      {R"({"new_count": [4.000001]})", &kBerlinLow, true},
      {R"({"new_count": [4.00001]})", &kBerlinLow, false},
      // Strings never match numbers: the String "4" is not the Number 4 (SNS compares
      // quoted policy values to String attributes and unquoted ones to Number attributes).
      {R"({"new_count": ["4"]})", &kBerlinLow, false},
      {R"({"new_count": [{"prefix": "4"}]})", &kBerlinLow, false},
      {R"({"store": [{"numeric": [">", 0]}]})", &kBerlinLow, false},
      // ... so "anything but the string 4" holds for the Number 4.
      {R"({"new_count": [{"anything-but": ["4"]}]})", &kBerlinLow, true},
      // exists.
      {R"({"old_count": [{"exists": false}]})", &kBerlinNewAtZero, true},
      {R"({"old_count": [{"exists": false}]})", &kBerlinOut, false},
      {R"({"old_count": [{"exists": true}]})", &kBerlinNewAtZero, false},
      {R"({"old_count": [{"exists": true}]})", &kBerlinOut, true},
      {R"({"event": [{"exists": false}]})", &kCustomTopic, true},
      {R"({"event": ["out_of_stock"]})", &kCustomTopic, false},
      // "New item out of stock, or any BackInStock" in one key.
      {R"({"old_count": [{"exists": false}, {"numeric": ["=", 0]}]})", &kMunichBack, true},
      // The empty policy matches everything.
      {R"({})", &kCustomTopic, true},
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(Matches(c.policy, *c.message), c.expected)
        << c.policy << " on " << c.message->topic << " " << c.message->store << "/"
        << c.message->item;
  }
}

TEST(FilterPolicyTest, BerlinManagerGetsOnlyBerlinAlerts) {
  absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(R"({"store": ["Berlin"]})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  std::vector<std::string> delivered;
  for (const Message* m :
       {&kBerlinOut, &kHamburgOut, &kBerlinLow, &kBerlinNewAtZero, &kMunichBack}) {
    if (policy->Matches(MessageAttributes(*m))) delivered.push_back(m->store + "/" + m->item);
  }
  EXPECT_EQ(delivered,
            (std::vector<std::string>{"Berlin/Echo Plus", "Berlin/Echo Dot", "Berlin/Kindle"}));
}

TEST(FilterPolicyTest, StringAttributeDoesNotMatchNumber) {
  Attributes attributes = {{"code", std::string("5")}};
  EXPECT_FALSE(FilterPolicy::Parse(R"({"code": [5]})")->Matches(attributes));
  EXPECT_FALSE(FilterPolicy::Parse(R"({"code": [{"numeric": ["=", 5]}]})")->Matches(attributes));
  EXPECT_TRUE(FilterPolicy::Parse(R"({"code": ["5"]})")->Matches(attributes));
}

// SNS: exists:false matches only when at least one attribute is present.
TEST(FilterPolicyTest, ExistsFalseNeedsSomeAttribute) {
  absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(R"({"store": [{"exists": false}]})");
  ASSERT_TRUE(policy.ok());
  EXPECT_FALSE(policy->Matches(Attributes{}));
  EXPECT_TRUE(policy->Matches(Attributes{{"item", std::string("x")}}));
}

TEST(FilterPolicyTest, HugeAndOddAttributeNumbers) {
  auto policy = FilterPolicy::Parse(R"({"n": [{"numeric": [">", 999999999]}]})");
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->Matches({{"n", 2147483647.0}}));
  EXPECT_TRUE(policy->Matches({{"n", 1e300}}));
  EXPECT_FALSE(policy->Matches({{"n", -1e300}}));
  EXPECT_FALSE(policy->Matches({{"n", std::nan("")}}));
  EXPECT_FALSE(FilterPolicy::Parse(R"({"n": [1000000000]})")->Matches({{"n", 1e300}}));
}

struct ErrorCase {
  std::string policy;
  std::string message;  // a substring of the error
};

TEST(FilterPolicyTest, ParseErrors) {
  const std::vector<ErrorCase> cases = {
      {R"(not json)", "is not valid json"},
      {R"({"store": ["Berlin"])", "is not valid json"},
      {R"({"n": [4E444]})", "is not valid json: number overflow parsing '4E444'"},
      {R"(["Berlin"])", "must be a json object"},
      {R"("Berlin")", "must be a json object"},
      {R"({"store": []})", "key \"store\": has an empty array"},
      {R"({"store": "Berlin"})", "key \"store\": must be an array of conditions"},
      {R"({"store": {"name": ["Berlin"]}})", "key \"store\": nested policies are not supported"},
      {R"({"store": ["Berlin", {"regex": "B.*"}]})",
       "key \"store\": condition 2: unknown operator \"regex\""},
      {R"({"ip": [{"cidr": "10.0.0.0/8"}]})", "operator \"cidr\" is not supported"},
      {R"({"store": [{"prefix": "B", "suffix": "n"}]})", "exactly one operator, got 2"},
      {R"({"store": [{"prefix": 5}]})", "prefix value 5 is not a string"},
      {R"({"store": [["Berlin"]]})", "a condition cannot be an array"},
      {R"({"flag": [true]})", "key \"flag\": condition 1: true is not supported"},
      {R"({"flag": [null]})", "null is not supported"},
      {R"({"n": [{"numeric": ["~", 1]}]})",
       "key \"n\": condition 1: numeric: unknown operator \"~\""},
      {R"({"n": [{"numeric": [">", "1"]}]})", "numeric: \"1\" after \">\" is not a number"},
      {R"({"n": [{"numeric": [">"]}]})", "numeric takes"},
      {R"({"n": [{"numeric": 5}]})", "numeric takes"},
      {R"({"n": [{"numeric": ["=", 1, "<", 2]}]})", "a range is a lower bound"},
      {R"({"n": [{"numeric": ["<", 5, ">", 1]}]})", "a range is a lower bound"},
      {R"({"n": [{"numeric": [">", 5, "<", 1]}]})", "lower bound 5 is not below upper bound 1"},
      {R"({"n": [{"numeric": [">", 5, "<", 5]}]})", "is not below"},
      {R"({"n": [1e10]})", "number 10000000000.0 is outside -1e9..1e9"},
      {R"({"n": [{"numeric": ["<", -2e9]}]})", "is outside -1e9..1e9"},
      {R"({"n": [{"exists": "yes"}]})", "exists takes true or false"},
      {R"({"n": [{"anything-but": []}]})", "anything-but has an empty list"},
      {R"({"n": [{"anything-but": ["a", 1]}]})", "mixes strings and numbers"},
      {R"({"n": [{"anything-but": [true]}]})", "is not a string or a number"},
      {R"({"n": [{"anything-but": {"suffix": "x"}}]})", "supports only \"prefix\""},
      {R"({"$or": [{"a": ["x"]}, {"b": ["y"]}]})", "\"$or\" is not supported"},
      {R"({"a": ["x"], "a": ["y"]})", "repeats the key \"a\""},
      {R"({"a": [1], "b": [1], "c": [1], "d": [1], "e": [1], "f": [1]})", "has 6 keys; at most 5"},
      // Too deep: a list inside an anything-but list.
      {R"({"n": [{"anything-but": [["x"]]}]})", "deeper than 4 levels (at byte 26)"},
      {std::string(100000, '[') + std::string(100000, ']'), "deeper than 4 levels (at byte 5)"},
      {"{\"a\": [\"" + std::string(FilterPolicy::kMaxBytes, 'x') + "\"]}", "at most 262144"},
  };
  for (const ErrorCase& c : cases) {
    absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(c.policy);
    ASSERT_FALSE(policy.ok()) << c.policy.substr(0, 80);
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(policy.status().message()), HasSubstr(c.message))
        << c.policy.substr(0, 80);
    EXPECT_THAT(std::string(policy.status().message()), testing::StartsWith("filter policy "));
  }
}

TEST(FilterPolicyTest, BoundsOnCombinations) {
  auto values = [](int n) {
    std::string out = "[";
    for (int i = 0; i < n; ++i) out += (i ? "," : "") + std::to_string(i);
    return out + "]";
  };
  // 10 x 15 = 150 is allowed; 10 x 15 x 2 = 300 is not.
  EXPECT_TRUE(FilterPolicy::Parse("{\"a\":" + values(10) + ",\"b\":" + values(15) + "}").ok());
  absl::StatusOr<FilterPolicy> too_many = FilterPolicy::Parse(
      "{\"a\":" + values(10) + ",\"b\":" + values(15) + ",\"c\":" + values(2) + "}");
  ASSERT_FALSE(too_many.ok());
  EXPECT_THAT(too_many.status().message(), HasSubstr("has 300 value combinations"));
  EXPECT_FALSE(FilterPolicy::Parse("{\"a\":" + values(151) + "}").ok());
  // Five keys is the limit, not an error.
  EXPECT_TRUE(FilterPolicy::Parse(R"({"a": [1], "b": [1], "c": [1], "d": [1], "e": [1]})").ok());
}

TEST(FilterPolicyTest, CanonicalJson) {
  absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(R"({
      "store": ["Berlin", {"prefix": "Ham"}],
      "new_count": [5.0, {"numeric": [">", 0.5, "<=", 1e2]}, {"anything-but": [3]}],
      "old_count": [{"exists": false}]
  })");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->ToJson(),
            R"({"new_count":[5,{"numeric":[">",0.5,"<=",100]},{"anything-but":3}],)"
            R"("old_count":[{"exists":false}],"store":["Berlin",{"prefix":"Ham"}]})");
}

TEST(FilterPolicyTest, RoundTrip) {
  const std::vector<std::string> policies = {
      R"({})",
      R"({"store": ["Berlin"]})",
      R"({"store": ["Ber\"lin\\", "Zürich", "\u00e9"], "item": [{"suffix": ""}]})",
      R"({"store": [{"anything-but": ["Berlin", "Hamburg"]}], "event": ["low_stock"]})",
      R"({"store": [{"anything-but": {"prefix": "Ham"}}]})",
      R"({"new_count": [{"anything-but": [0, 1.5, -3]}, {"anything-but": 7}]})",
      R"({"new_count": [{"numeric": ["=", 0]}, {"numeric": [">=", -1e9, "<", 1e9]}]})",
      R"({"new_count": [{"numeric": ["<", 0.00001]}, 123.45678, -0.5]})",
      R"({"old_count": [{"exists": true}], "topic": [{"equals-ignore-case": "nostock"}]})",
  };
  for (const std::string& text : policies) {
    absl::StatusOr<FilterPolicy> first = FilterPolicy::Parse(text);
    ASSERT_TRUE(first.ok()) << text << ": " << first.status();
    const std::string canonical = first->ToJson();
    absl::StatusOr<FilterPolicy> second = FilterPolicy::Parse(canonical);
    ASSERT_TRUE(second.ok()) << canonical << ": " << second.status();
    EXPECT_EQ(*first, *second) << text << " -> " << canonical;
    EXPECT_EQ(second->ToJson(), canonical);
  }
}

// A reminder carries reminder=true; other messages lack the attribute, and as in SNS only
// {"exists": false} matches an absent attribute: that is how a subscriber opts out.
TEST(FilterPolicyTest, RemindersCarryTheReminderAttribute) {
  Message reminder = kBerlinOut;
  reminder.since = TimePoint(std::chrono::seconds(1700000000));
  EXPECT_EQ(MessageAttributes(reminder).at("reminder"), AttributeValue(std::string("true")));
  EXPECT_FALSE(MessageAttributes(kBerlinOut).contains("reminder"));
  EXPECT_TRUE(Matches(R"({"reminder": ["true"]})", reminder));
  EXPECT_FALSE(Matches(R"({"reminder": ["true"]})", kBerlinOut));
  EXPECT_FALSE(Matches(R"({"reminder": [{"exists": false}]})", reminder));
  EXPECT_TRUE(Matches(R"({"reminder": [{"exists": false}]})", kBerlinOut));
  // anything-but needs the attribute: it drops reminders and every other alert alike.
  EXPECT_FALSE(Matches(R"({"reminder": [{"anything-but": "true"}]})", reminder));
  EXPECT_FALSE(Matches(R"({"reminder": [{"anything-but": "true"}]})", kBerlinOut));
}

}  // namespace
}  // namespace stockwatch::core
