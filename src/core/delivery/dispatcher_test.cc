#include "core/delivery/dispatcher.h"

#include <gtest/gtest.h>

namespace stockwatch::core {
namespace {

TEST(BackoffTest, FullJitterStaysWithinDoublingCap) {
  RetryPolicy policy;
  policy.initial_backoff = std::chrono::milliseconds(100);
  policy.max_backoff = std::chrono::milliseconds(1000);
  std::mt19937_64 rng(7);
  for (int attempts = 1; attempts <= 8; ++attempts) {
    const int64_t cap = std::min<int64_t>(1000, int64_t{100} << (attempts - 1));
    int64_t largest = 0;
    for (int i = 0; i < 2000; ++i) {
      const auto d = Backoff(policy, attempts, std::nullopt, rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap);
      largest = std::max(largest, d);
    }
    // Jitter spreads over the whole range, not just near zero.
    EXPECT_GT(largest, cap * 9 / 10) << "attempt " << attempts;
  }
}

TEST(BackoffTest, HonoursRetryAfter) {
  RetryPolicy policy;
  policy.initial_backoff = std::chrono::milliseconds(10);
  std::mt19937_64 rng(1);
  EXPECT_GE(Backoff(policy, 1, std::chrono::seconds(30), rng), std::chrono::seconds(30));
}

}  // namespace
}  // namespace stockwatch::core
