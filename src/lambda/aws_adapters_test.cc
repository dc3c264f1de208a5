// The pure parts of the AWS adapters; their AWS calls are tested against moto_server
// (tests/integration/test_lambda_api.py, test_lambda_dashboard.py).

#include "lambda/aws_adapters.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::lambda {
namespace {

AlertSubscription Read(const std::string& policy, const std::string& scope = "") {
  AlertSubscription subscription;
  ReadFilterPolicy(policy, scope, subscription);
  return subscription;
}

TEST(ReadFilterPolicy, NoPolicyIsEveryStore) {
  const AlertSubscription all = Read("");
  EXPECT_TRUE(all.stores.empty());
  EXPECT_TRUE(all.other_filter.empty());
}

TEST(ReadFilterPolicy, TheDashboardsStoreListIsReadAsStores) {
  EXPECT_EQ(Read(R"({"store":["Berlin","Paris"]})").stores,
            (std::vector<std::string>{"Berlin", "Paris"}));
  const AlertSubscription scoped = Read(R"({"store": ["Berlin"]})", "MessageAttributes");
  EXPECT_EQ(scoped.stores, std::vector<std::string>{"Berlin"});
  EXPECT_TRUE(scoped.other_filter.empty());
}

TEST(ReadFilterPolicy, AnyOtherPolicyIsKeptAsItIs) {
  for (const std::string policy : {
           R"({"store":[{"prefix":"Ber"}]})",                // an operator, not a name
           R"({"store":["Berlin", {"anything-but":"x"}]})",  // a name and an operator
           R"({"store":["Berlin"],"item":["Echo"]})",        // another attribute too
           R"({"store":[]})",                                // matches nothing
           R"({"Store":["Berlin"]})",                        // another attribute
           R"(["Berlin"])",                                  // not an object
           "not json",
       }) {
    const AlertSubscription read = Read(policy);
    EXPECT_TRUE(read.stores.empty()) << policy;
    EXPECT_EQ(read.other_filter, policy);
    EXPECT_TRUE(read.other_filter_scope.empty());
  }
  // The dashboard's shape, but matched against the message body.
  const AlertSubscription body = Read(R"({"store":["Berlin"]})", "MessageBody");
  EXPECT_TRUE(body.stores.empty());
  EXPECT_EQ(body.other_filter, R"({"store":["Berlin"]})");
  EXPECT_EQ(body.other_filter_scope, "MessageBody");
}

TEST(ThresholdItems, EveryScopeHasItsOwnKey) {
  using core::Threshold;
  const std::vector<Threshold> scopes = {
      {std::nullopt, std::nullopt, 0},          {std::string("Berlin"), std::nullopt, 0},
      {std::nullopt, std::string("Berlin"), 0}, {std::string("Berlin"), std::string("Dot"), 0},
      {std::string("null"), std::nullopt, 0},   {std::string("Ber\",\"lin"), std::nullopt, 0}};
  std::vector<std::string> keys;
  for (const Threshold& scope : scopes) keys.push_back(ThresholdItemKey(scope));
  EXPECT_EQ(keys[0], "[null,null]");
  EXPECT_EQ(keys[3], R"(["Berlin","Dot"])");
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::unique(keys.begin(), keys.end()), keys.end()) << "two scopes share a key";
}

TEST(ThresholdItems, DecodeReadsTheScopeAndRefusesOtherItems) {
  const nlohmann::json item = {{"Store", {{"S", "#stockwatch-thresholds"}}},
                               {"Item", {{"S", R"(["Berlin",null])"}}},
                               {"ForStore", {{"S", "Berlin"}}},
                               {"Low", {{"N", "7"}}}};
  absl::StatusOr<core::Threshold> read = DecodeThresholdItem(item);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, (core::Threshold{std::string("Berlin"), std::nullopt, 7}));
  for (const auto& [name, value] : {std::pair<std::string, nlohmann::json>{"Low", {{"N", "-1"}}},
                                    {"Low", {{"S", "7"}}},
                                    {"ForStore", {{"N", "1"}}},
                                    {"ForItem", {{"S", ""}}}}) {
    nlohmann::json bad = item;
    bad[name] = value;
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeThresholdItem(bad).status())) << bad;
  }
  nlohmann::json no_low = item;
  no_low.erase("Low");
  EXPECT_FALSE(DecodeThresholdItem(no_low).ok());
}

TEST(ThresholdItems, AScopeTooLongForTheSortKeyIsRefusedBeforeAnyRequest) {
  aws::AwsConfig config;
  config.region = "eu-west-1";
  config.endpoint_url = "http://127.0.0.1:9";  // nothing listens: a request would fail
  config.max_attempts = 1;
  aws::DynamoDbClient db(config);
  DynamoDbThresholds thresholds(db, "Inventory");
  // Two names of 256 bytes, each quote escaped: over 1024 bytes as JSON.
  const std::string quotes(256, '"');
  absl::Status set = thresholds.Set({quotes, quotes, 0}, 5);
  EXPECT_TRUE(absl::IsInvalidArgument(set)) << set;
  EXPECT_THAT(std::string(set.message()), ::testing::HasSubstr("too long"));
}

class FakeThresholdStore final : public ThresholdStore {
 public:
  absl::StatusOr<std::vector<core::Threshold>> List() override {
    ++reads;
    if (!status.ok()) return status;
    return thresholds;
  }
  absl::Status Set(const core::Threshold&, std::optional<int64_t>) override {
    return absl::UnimplementedError("not here");
  }
  std::vector<core::Threshold> thresholds = {{std::string("Berlin"), std::nullopt, 4}};
  absl::Status status;
  int reads = 0;
};

TEST(ThresholdCacheTest, ReadsAtMostOncePerMaxAge) {
  FakeThresholdStore store;
  ThresholdCache cache(store, std::chrono::seconds(60));
  const std::chrono::steady_clock::time_point t0{std::chrono::hours(5)};
  absl::Status error;
  EXPECT_EQ(cache.Get(t0, error).size(), 1u);
  store.thresholds.clear();
  EXPECT_EQ(cache.Get(t0 + std::chrono::seconds(59), error).size(), 1u);
  EXPECT_EQ(store.reads, 1);
  EXPECT_TRUE(cache.Get(t0 + std::chrono::seconds(60), error).empty());
  EXPECT_EQ(store.reads, 2);
  EXPECT_TRUE(error.ok());
}

TEST(ThresholdCacheTest, AFailedReadKeepsTheLastOnesAndIsTriedAgain) {
  FakeThresholdStore store;
  ThresholdCache cache(store, std::chrono::seconds(60));
  const std::chrono::steady_clock::time_point t0{std::chrono::hours(5)};
  absl::Status error;
  // Before any read succeeded: none, the error, and the next call reads again.
  store.status = absl::UnavailableError("throttled");
  EXPECT_TRUE(cache.Get(t0, error).empty());
  EXPECT_TRUE(absl::IsUnavailable(error));
  store.status = absl::OkStatus();
  EXPECT_EQ(cache.Get(t0 + std::chrono::seconds(1), error).size(), 1u);
  EXPECT_TRUE(error.ok());
  EXPECT_EQ(store.reads, 2);
  // After one: the last ones read stay in force.
  store.status = absl::PermissionDeniedError("AccessDeniedException");
  const std::vector<core::Threshold>& kept = cache.Get(t0 + std::chrono::minutes(5), error);
  EXPECT_TRUE(absl::IsPermissionDenied(error));
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].value, 4);
}

}  // namespace
}  // namespace stockwatch::lambda
