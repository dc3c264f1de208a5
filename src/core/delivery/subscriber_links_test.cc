#include "core/delivery/subscriber_links.h"

#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

TEST(SubscriberLinksTest, BuildsConfirmAndUnsubscribeUrlsUnderTheBase) {
  SubscriberLinks links;
  links.base_url = [] { return std::string("https://stock.example.com/"); };
  EXPECT_EQ(links.ConfirmUrl("ab12"), "https://stock.example.com/confirm?token=ab12");
  EXPECT_EQ(links.UnsubscribeUrl(7), "");  // no token maker: no unsubscribe link
  links.unsubscribe_token = [](int64_t id) { return std::to_string(id) + ".mac"; };
  EXPECT_EQ(links.UnsubscribeUrl(7), "https://stock.example.com/unsubscribe?token=7.mac");
  EXPECT_EQ(SubscriberLinks{}.ConfirmUrl("ab12"), "/confirm?token=ab12");
}

}  // namespace
}  // namespace stockwatch::core
