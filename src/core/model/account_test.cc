#include "core/model/account.h"

#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

ObjectScope Stores(std::vector<std::string> stores) {
  ObjectScope scope;
  scope.all_stores = false;
  scope.stores = std::move(stores);
  return scope;
}

TEST(AccountTest, RoleNamesRoundTrip) {
  for (const Role role : {Role::kAdmin, Role::kManager, Role::kViewer}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(RoleName(Role::kManager), "manager");
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

TEST(AccountTest, ChecksUserNames) {
  EXPECT_TRUE(CheckUserName("alice").ok());
  EXPECT_TRUE(CheckUserName("ops.berlin_2@example-shop.com").ok());
  EXPECT_TRUE(CheckUserName(std::string(kMaxUserNameBytes, 'a')).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckUserName("")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckUserName(std::string(kMaxUserNameBytes + 1, 'a'))));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckUserName("al ice")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckUserName("al/ice")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckUserName("\xc3\xa4lice")));
}

TEST(AccountTest, ScopeFitsRole) {
  EXPECT_EQ(*CanonicalScopeForRole(Role::kAdmin, ObjectScope{}), ObjectScope{});
  EXPECT_EQ(*CanonicalScopeForRole(Role::kViewer, ObjectScope{}), ObjectScope{});
  EXPECT_TRUE(
      absl::IsInvalidArgument(CanonicalScopeForRole(Role::kAdmin, Stores({"Berlin"})).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(CanonicalScopeForRole(Role::kViewer, Stores({"Berlin"})).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(CanonicalScopeForRole(Role::kManager, ObjectScope{}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalScopeForRole(Role::kManager, Stores({})).status()));
  EXPECT_EQ(*CanonicalScopeForRole(Role::kManager, Stores({"Paris", "Berlin", "Paris"})),
            Stores({"Berlin", "Paris"}));
}

}  // namespace
}  // namespace stockwatch::core
