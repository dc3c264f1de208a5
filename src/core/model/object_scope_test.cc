#include "core/model/object_scope.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

ObjectScope Stores(std::vector<std::string> stores) {
  ObjectScope scope;
  scope.all_stores = false;
  scope.stores = std::move(stores);
  return scope;
}

TEST(ObjectScopeTest, AllStoresCoversEverything) {
  const ObjectScope all;
  EXPECT_TRUE(all.Covers(ObjectScope{}));
  EXPECT_TRUE(all.Covers(Stores({"Berlin"})));
}

TEST(ObjectScopeTest, ScopedCoversOnlySubsets) {
  const ObjectScope key = Stores({"Berlin", "Hamburg"});
  EXPECT_FALSE(key.Covers(ObjectScope{}));
  EXPECT_TRUE(key.Covers(Stores({"Berlin"})));
  EXPECT_TRUE(key.Covers(Stores({"Berlin", "Hamburg"})));
  EXPECT_FALSE(key.Covers(Stores({"Berlin", "Munich"})));
  EXPECT_FALSE(key.Covers(Stores({"Munich"})));
}

TEST(ObjectScopeTest, CanonicalScopeSortsAndDeduplicates) {
  auto scope = CanonicalScope(Stores({"b", "a", "b", "\xc3\xa4\n"}));
  ASSERT_TRUE(scope.ok()) << scope.status();
  EXPECT_EQ(*scope, Stores({"a", "b", "\xc3\xa4\n"}));
}

TEST(ObjectScopeTest, CanonicalScopeDropsStoresOfAllStores) {
  ObjectScope scope;
  scope.stores = {"x"};
  EXPECT_EQ(*CanonicalScope(scope), ObjectScope{});
}

TEST(ObjectScopeTest, CanonicalScopeRejectsBadStores) {
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalScope(Stores({})).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalScope(Stores({""})).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalScope(Stores({std::string("a\0b", 3)})).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      CanonicalScope(Stores({std::string(kMaxNameBytes + 1, 'x')})).status()));
  EXPECT_TRUE(CanonicalScope(Stores({std::string(kMaxNameBytes, 'x')})).ok());
}

}  // namespace
}  // namespace stockwatch::core
