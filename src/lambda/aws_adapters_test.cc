// The pure parts of the AWS adapters; their AWS calls are tested against moto_server
// (tests/integration/test_lambda_api.py, test_lambda_dashboard.py).

#include "lambda/aws_adapters.h"

#include <string>
#include <vector>

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

}  // namespace
}  // namespace stockwatch::lambda
