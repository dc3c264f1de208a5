#include "server/subscriber_tokens.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace stockwatch::server {
namespace {

const std::string kKey(32, 'k');

TEST(SubscriberTokensTest, TokenRoundTripsToItsSubscription) {
  const std::string token = UnsubscribeToken(kKey, 17);
  EXPECT_TRUE(token.starts_with("17."));
  EXPECT_EQ(token.size(), 3u + 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef", 3), std::string::npos);
  EXPECT_EQ(VerifyUnsubscribeToken(kKey, token), 17);
  EXPECT_EQ(UnsubscribeToken(kKey, 17), token);  // derived, so the same every time
  EXPECT_NE(UnsubscribeToken(kKey, 18).substr(3), token.substr(3));
}

TEST(SubscriberTokensTest, RefusesTokensNotMadeWithTheKey) {
  const std::string token = UnsubscribeToken(kKey, 17);
  EXPECT_EQ(VerifyUnsubscribeToken(std::string(32, 'x'), token), std::nullopt);
  // Another subscription's id with this MAC, a changed MAC, or a non-canonical id.
  EXPECT_EQ(VerifyUnsubscribeToken(kKey, "18" + token.substr(2)), std::nullopt);
  std::string changed = token;
  changed.back() = changed.back() == '0' ? '1' : '0';
  EXPECT_EQ(VerifyUnsubscribeToken(kKey, changed), std::nullopt);
  EXPECT_EQ(VerifyUnsubscribeToken(kKey, "0" + token), std::nullopt);
  EXPECT_EQ(VerifyUnsubscribeToken(kKey, "+" + token), std::nullopt);
  for (const std::string& bad :
       {std::string(), std::string("17"), std::string("17."), std::string(".abc"),
        std::string("-17." + token.substr(3)), token + "0", token.substr(0, token.size() - 1),
        token + std::string(200, '0')}) {
    EXPECT_EQ(VerifyUnsubscribeToken(kKey, bad), std::nullopt) << bad;
  }
}

TEST(SubscriberTokensTest, LinkKeyIsMadeOnceAndKeptPrivate) {
  char pattern[] = "/tmp/sw_link_key_XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  auto first = LoadOrCreateLinkKey(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/link.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadOrCreateLinkKey(dir);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  { std::ofstream(dir + "/link.key", std::ios::trunc) << "short"; }
  EXPECT_TRUE(absl::IsDataLoss(LoadOrCreateLinkKey(dir).status()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stockwatch::server
