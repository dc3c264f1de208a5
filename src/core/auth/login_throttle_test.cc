#include "core/auth/login_throttle.h"

#include <string>

#include "gtest/gtest.h"

namespace stockwatch::core {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

class FakeClock final : public Clock {
 public:
  TimePoint Now() override { return TimePoint(now_.time_since_epoch()); }
  std::chrono::steady_clock::time_point Monotonic() override { return now_; }
  void Advance(std::chrono::steady_clock::duration by) { now_ += by; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

class LoginThrottleTest : public ::testing::Test {
 protected:
  void FailTimes(LoginThrottle& throttle, int n, std::string_view account,
                 std::string_view address) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(throttle.Check(account, address).allowed) << "attempt " << i;
      throttle.RecordFailure(account, address);
    }
  }
  FakeClock clock_;
};

TEST_F(LoginThrottleTest, LocksAnAccountAfterFiveFailures) {
  LoginThrottle throttle(clock_);
  FailTimes(throttle, 4, "alice", "10.0.0.1");
  EXPECT_TRUE(throttle.Check("alice", "10.0.0.1").allowed);
  throttle.RecordFailure("alice", "10.0.0.1");
  // Locked from any address, for the base backoff.
  const auto decision = throttle.Check("alice", "192.0.2.7");
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.retry_after, seconds(60));
  EXPECT_TRUE(throttle.Check("bob", "10.0.0.1").allowed);
  clock_.Advance(seconds(59));
  EXPECT_FALSE(throttle.Check("alice", "10.0.0.1").allowed);
  EXPECT_EQ(throttle.Check("alice", "10.0.0.1").retry_after, seconds(1));
  clock_.Advance(seconds(1));
  EXPECT_TRUE(throttle.Check("alice", "10.0.0.1").allowed);
}

TEST_F(LoginThrottleTest, BackoffDoublesUpToTheCap) {
  LoginThrottle throttle(clock_);
  FailTimes(throttle, 5, "alice", "10.0.0.1");
  const seconds expected[] = {seconds(120), seconds(240), seconds(480), seconds(900), seconds(900)};
  for (const seconds want : expected) {
    clock_.Advance(throttle.Check("alice", "10.0.0.1").retry_after);
    ASSERT_TRUE(throttle.Check("alice", "10.0.0.1").allowed);
    throttle.RecordFailure("alice", "10.0.0.1");
    EXPECT_EQ(throttle.Check("alice", "10.0.0.1").retry_after, want);
  }
}

TEST_F(LoginThrottleTest, FailuresOutsideTheWindowAreForgotten) {
  LoginThrottle throttle(clock_);
  FailTimes(throttle, 4, "alice", "10.0.0.1");
  clock_.Advance(minutes(15));
  FailTimes(throttle, 4, "alice", "10.0.0.1");
  EXPECT_TRUE(throttle.Check("alice", "10.0.0.1").allowed);
  throttle.RecordFailure("alice", "10.0.0.1");
  EXPECT_FALSE(throttle.Check("alice", "10.0.0.1").allowed);
}

TEST_F(LoginThrottleTest, SuccessResetsTheAccountButNotTheAddress) {
  LoginThrottleOptions options;
  options.address.max_failures = 6;
  LoginThrottle throttle(clock_, options);
  FailTimes(throttle, 4, "alice", "10.0.0.1");
  throttle.RecordSuccess("alice");
  FailTimes(throttle, 1, "alice", "10.0.0.1");
  EXPECT_TRUE(throttle.Check("alice", "10.0.0.2").allowed);
  // The address has six failures now, so it is locked for every account.
  throttle.RecordFailure("alice", "10.0.0.1");
  EXPECT_FALSE(throttle.Check("carol", "10.0.0.1").allowed);
  EXPECT_TRUE(throttle.Check("alice", "10.0.0.2").allowed);
}

TEST_F(LoginThrottleTest, LocksAnAddressSprayingManyAccounts) {
  LoginThrottle throttle(clock_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(throttle.Check("user" + std::to_string(i), "203.0.113.9").allowed);
    throttle.RecordFailure("user" + std::to_string(i), "203.0.113.9");
  }
  EXPECT_FALSE(throttle.Check("someone-else", "203.0.113.9").allowed);
  EXPECT_TRUE(throttle.Check("someone-else", "203.0.113.10").allowed);
}

TEST_F(LoginThrottleTest, UnknownAccountsAreThrottledLikeKnownOnes) {
  // The throttle never learns which names exist, so its answers cannot reveal it.
  LoginThrottle throttle(clock_);
  FailTimes(throttle, 5, "no-such-user", "10.0.0.1");
  EXPECT_FALSE(throttle.Check("no-such-user", "10.0.0.2").allowed);
}

TEST_F(LoginThrottleTest, MemoryIsBoundedByEvictingTheOldest) {
  LoginThrottleOptions options;
  options.max_entries = 3;
  LoginThrottle throttle(clock_, options);
  FailTimes(throttle, 5, "victim", "10.0.0.1");
  EXPECT_FALSE(throttle.Check("victim", "10.0.0.9").allowed);
  throttle.RecordFailure("a", "10.0.0.2");
  throttle.RecordFailure("b", "10.0.0.3");
  EXPECT_EQ(throttle.account_entries(), 3u);
  EXPECT_EQ(throttle.address_entries(), 3u);
  throttle.RecordFailure("c", "10.0.0.4");
  EXPECT_EQ(throttle.account_entries(), 3u);
  EXPECT_EQ(throttle.address_entries(), 3u);
  // "victim" failed least recently, so it went first.
  EXPECT_TRUE(throttle.Check("victim", "10.0.0.9").allowed);
}

}  // namespace
}  // namespace stockwatch::core
