#include "core/auth/session_secrets.h"

#include <sodium.h>

#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

TEST(SessionSecretsTest, AreFreshAndHashed) {
  ASSERT_GE(sodium_init(), 0);
  const SessionSecrets a = NewSessionSecrets();
  const SessionSecrets b = NewSessionSecrets();
  EXPECT_EQ(a.id.size(), 43u);
  EXPECT_EQ(a.csrf_token.size(), 43u);
  EXPECT_EQ(a.id_hash.size(), 32u);
  EXPECT_EQ(
      a.id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.csrf_token, b.csrf_token);
  EXPECT_NE(a.id, a.csrf_token);
  EXPECT_EQ(a.id_hash, HashSessionId(a.id));
  EXPECT_NE(a.id_hash, b.id_hash);
}

TEST(SessionSecretsTest, HashIsSha256) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  const std::string digest = HashSessionId("abc");
  ASSERT_EQ(digest.size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(digest[0]), 0xbau);
  EXPECT_EQ(static_cast<unsigned char>(digest[31]), 0xadu);
}

}  // namespace
}  // namespace stockwatch::core
