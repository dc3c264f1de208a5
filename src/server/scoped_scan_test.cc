#include "server/scoped_scan.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace stockwatch::server {
namespace {

// A source of the numbers 1..n, read in ascending order after a cursor.
struct Ascending {
  int64_t n;
  int reads = 0;
  absl::StatusOr<std::vector<int64_t>> operator()(int64_t after, size_t batch) {
    ++reads;
    std::vector<int64_t> out;
    for (int64_t v = after + 1; v <= n && out.size() < batch; ++v) out.push_back(v);
    return out;
  }
};

TEST(ScanInScopeTest, FillsAPageAcrossBatches) {
  Ascending source{100};
  auto scan = ScanInScope<int64_t>(
      int64_t{0}, size_t{5}, [&](int64_t after, size_t batch) { return source(after, batch); },
      [](int64_t v) { return v; }, [](int64_t v) { return v % 10 == 0; });
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->kept, (std::vector<int64_t>{10, 20, 30, 40, 50}));
  EXPECT_EQ(scan->cursor, 50);  // stopped at the last kept entry: resuming reads on from 51
  EXPECT_FALSE(scan->exhausted);
  EXPECT_GT(source.reads, 1);
}

TEST(ScanInScopeTest, SaysWhenTheSourceIsExhausted) {
  Ascending source{23};
  auto scan = ScanInScope<int64_t>(
      int64_t{0}, size_t{5}, [&](int64_t after, size_t batch) { return source(after, batch); },
      [](int64_t v) { return v; }, [](int64_t v) { return v % 10 == 0; });
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->kept, (std::vector<int64_t>{10, 20}));
  EXPECT_TRUE(scan->exhausted);
  EXPECT_EQ(scan->cursor, 23);
}

TEST(ScanInScopeTest, StopsAfterTheScanBoundWithACursorThatLeadsOn) {
  Ascending source{static_cast<int64_t>(kMaxScopedScan) * 2};
  auto scan = ScanInScope<int64_t>(
      int64_t{0}, size_t{100}, [&](int64_t after, size_t batch) { return source(after, batch); },
      [](int64_t v) { return v; }, [](int64_t) { return false; });
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_TRUE(scan->kept.empty());
  EXPECT_FALSE(scan->exhausted);
  EXPECT_EQ(scan->cursor, static_cast<int64_t>(kMaxScopedScan));
}

TEST(ScanInScopeTest, PassesOnAReadError) {
  auto scan = ScanInScope<int64_t>(
      int64_t{0}, size_t{5},
      [](int64_t, size_t) -> absl::StatusOr<std::vector<int64_t>> {
        return absl::UnavailableError("disk gone");
      },
      [](int64_t v) { return v; }, [](int64_t) { return true; });
  EXPECT_EQ(scan.status().code(), absl::StatusCode::kUnavailable);
}

TEST(NewestInScopeTest, WidensTheWindowUntilThePageIsFull) {
  std::vector<size_t> windows;
  auto kept = NewestInScope<int64_t>(
      3,
      [&](size_t window) -> absl::StatusOr<std::vector<int64_t>> {
        windows.push_back(window);
        std::vector<int64_t> newest;  // 1000, 999, ...
        for (size_t i = 0; i < window && i < 1000; ++i) newest.push_back(1000 - int64_t(i));
        return newest;
      },
      [](int64_t v) { return v % 7 == 0; });
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(*kept, (std::vector<int64_t>{994, 987, 980}));
  EXPECT_EQ(windows, (std::vector<size_t>{3, 12, 48}));
}

}  // namespace
}  // namespace stockwatch::server
