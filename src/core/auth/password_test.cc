#include "core/auth/password.h"

#include <string>

#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

PasswordHasher TestHasher(PasswordHashParams params = PasswordHashParams::ForTestsOnly()) {
  auto hasher = PasswordHasher::Create(params);
  EXPECT_TRUE(hasher.ok()) << hasher.status();
  return *std::move(hasher);
}

TEST(PasswordHasherTest, DefaultsMeetOwaspMinimum) {
  const PasswordHashParams defaults;
  EXPECT_GE(defaults.mem_limit, size_t{19} << 20);
  EXPECT_GE(defaults.ops_limit, 2u);
}

TEST(PasswordHasherTest, HashIsArgon2idAndVerifies) {
  const PasswordHasher hasher = TestHasher();
  auto hash = hasher.Hash("correct horse battery staple");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(hasher.Verify("correct horse battery staple", *hash));
  EXPECT_FALSE(hasher.Verify("correct horse battery stapl", *hash));
  EXPECT_FALSE(hasher.Verify("Correct horse battery staple", *hash));
  EXPECT_FALSE(hasher.Verify("", *hash));
}

TEST(PasswordHasherTest, SaltsEachHash) {
  const PasswordHasher hasher = TestHasher();
  EXPECT_NE(*hasher.Hash("same password here"), *hasher.Hash("same password here"));
}

TEST(PasswordHasherTest, MalformedHashNeverVerifies) {
  const PasswordHasher hasher = TestHasher();
  EXPECT_FALSE(hasher.Verify("anything at all", ""));
  EXPECT_FALSE(hasher.Verify("anything at all", "$argon2id$v=19$garbage"));
  EXPECT_FALSE(hasher.Verify("anything at all", std::string("$argon2id\0$", 11)));
  EXPECT_TRUE(hasher.NeedsRehash(""));
  EXPECT_TRUE(hasher.NeedsRehash("$argon2id$v=19$garbage"));
}

TEST(PasswordHasherTest, NeedsRehashWhenParametersRise) {
  const PasswordHashParams cheap = PasswordHashParams::ForTestsOnly();
  const PasswordHasher old_hasher = TestHasher(cheap);
  auto hash = old_hasher.Hash("a password of some length");
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(old_hasher.NeedsRehash(*hash));

  PasswordHashParams more_passes = cheap;
  more_passes.ops_limit += 1;
  const PasswordHasher slower = TestHasher(more_passes);
  EXPECT_TRUE(slower.NeedsRehash(*hash));
  PasswordHashParams more_memory = cheap;
  more_memory.mem_limit *= 2;
  EXPECT_TRUE(TestHasher(more_memory).NeedsRehash(*hash));
  // The old hash still verifies under the new parameters, so a login can rehash it.
  EXPECT_TRUE(slower.Verify("a password of some length", *hash));
  auto rehashed = slower.Hash("a password of some length");
  ASSERT_TRUE(rehashed.ok());
  EXPECT_FALSE(slower.NeedsRehash(*rehashed));
}

TEST(PasswordHasherTest, DummyVerifyUsesCurrentParametersAndFails) {
  const PasswordHasher hasher = TestHasher();
  EXPECT_EQ(hasher.dummy_hash().rfind("$argon2id$", 0), 0u);
  EXPECT_FALSE(hasher.NeedsRehash(hasher.dummy_hash()));
  EXPECT_FALSE(hasher.DummyVerify("any password at all"));
  EXPECT_FALSE(hasher.DummyVerify(""));
}

TEST(PasswordHasherTest, RejectsParametersOutsideLibsodiumLimits) {
  PasswordHashParams params = PasswordHashParams::ForTestsOnly();
  params.mem_limit = 1024;
  EXPECT_TRUE(absl::IsInvalidArgument(PasswordHasher::Create(params).status()));
  params = PasswordHashParams::ForTestsOnly();
  params.ops_limit = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(PasswordHasher::Create(params).status()));
}

TEST(PasswordRulesTest, AcceptsLongEnoughPasswords) {
  EXPECT_TRUE(CheckPasswordRules("twelve chars").ok());
  EXPECT_TRUE(CheckPasswordRules("  spaces are fine inside  ").ok());
  EXPECT_TRUE(CheckPasswordRules(std::string(kMaxPasswordBytes, 'x')).ok());
  // Twelve code points of a multi-byte script.
  EXPECT_TRUE(CheckPasswordRules("\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f\xe2\x82\xac\xe2\x82\xac"
                                 "\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f")
                  .ok());
}

TEST(PasswordRulesTest, CountsCharactersNotBytes) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules("eleven char")));
  // Six code points, eighteen bytes.
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(
      "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac")));
}

TEST(PasswordRulesTest, RejectsTooLong) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(std::string(kMaxPasswordBytes + 1, 'x'))));
}

TEST(PasswordRulesTest, RejectsBadUtf8) {
  const std::string good = "a good password ";
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(good + "\xff")));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(good + "\xc3")));              // truncated
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(good + "\xc0\xaf")));          // overlong
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(good + "\xed\xa0\x80")));      // surrogate
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(good + "\xf4\x90\x80\x80")));  // >10FFFF
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(good + "\x80")));  // lone continuation
  const absl::Status status = CheckPasswordRules(good + "\xff");
  EXPECT_NE(status.message().find("UTF-8"), absl::string_view::npos) << status;
}

TEST(PasswordRulesTest, RejectsNulAndOnlyWhitespace) {
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(std::string("password\0password", 17))));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules(std::string(20, ' '))));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckPasswordRules("\t\n \xc2\xa0\xe3\x80\x80      \r\n")));
}

}  // namespace
}  // namespace stockwatch::core
