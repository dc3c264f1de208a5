#include "adapters/s3/s3_upload_copier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "adapters/memory/in_memory_object_store.h"
#include "core/ports/clock.h"

namespace stockwatch::adapters {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class S3UploadCopierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sw-s3-copy-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    options_.checkpoint_path = (dir_ / "s3-copy.checkpoint").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Upload(const std::string& key, const std::string& body) {
    auto writer = objects_.BeginPut("inventory", key, "tester");
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Write(body).ok());
    ASSERT_TRUE((*writer)->Seal().ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }

  S3UploadCopier MakeCopier() {
    return S3UploadCopier(
        objects_,
        [this](const core::ObjectInfo& object, std::string_view body) {
          attempts_.push_back(object.key);
          if (!fail_.ok()) return fail_;
          bucket_[object.key] = std::string(body);
          return absl::OkStatus();
        },
        options_);
  }

  std::filesystem::path dir_;
  S3UploadCopierOptions options_;
  core::SystemClock clock_;
  InMemoryObjectStore objects_{clock_};
  std::map<std::string, std::string> bucket_;  // what "S3" holds
  std::vector<std::string> attempts_;
  absl::Status fail_;
};

TEST_F(S3UploadCopierTest, CopiesEveryUploadInOrderAndResumesFromTheCheckpoint) {
  Upload("berlin.csv", "store,item,count\nBerlin,Echo Plus,0\n");
  Upload("paris.csv", "store,item,count\nParis,Kindle,3\n");
  {
    S3UploadCopier copier = MakeCopier();
    ASSERT_TRUE(copier.Start().ok());
    EXPECT_EQ(copier.checkpoint(), 0);
    EXPECT_EQ(copier.CopyPending().value(), 2);
    EXPECT_EQ(copier.checkpoint(), 2);
  }
  EXPECT_THAT(attempts_, ElementsAre("berlin.csv", "paris.csv"));
  EXPECT_EQ(bucket_["berlin.csv"], "store,item,count\nBerlin,Echo Plus,0\n");

  // A restart copies only what came after the checkpoint.
  Upload("berlin.csv", "store,item,count\nBerlin,Echo Plus,5\n");
  S3UploadCopier again = MakeCopier();
  ASSERT_TRUE(again.Start().ok());
  EXPECT_EQ(again.checkpoint(), 2);
  EXPECT_EQ(again.CopyPending().value(), 1);
  EXPECT_THAT(attempts_, ElementsAre("berlin.csv", "paris.csv", "berlin.csv"));
  EXPECT_EQ(bucket_["berlin.csv"], "store,item,count\nBerlin,Echo Plus,5\n");
  EXPECT_EQ(again.CopyPending().value(), 0);
}

TEST_F(S3UploadCopierTest, AFailedCopyIsRetriedAndNothingAfterItIsSkipped) {
  Upload("a.csv", "store,item,count\nA,x,1\n");
  Upload("b.csv", "store,item,count\nB,x,1\n");
  S3UploadCopier copier = MakeCopier();
  ASSERT_TRUE(copier.Start().ok());
  fail_ = absl::UnavailableError("s3: SlowDown");
  absl::StatusOr<int64_t> failed = copier.CopyPending();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("upload 1 (a.csv)"));
  EXPECT_EQ(copier.checkpoint(), 0);
  EXPECT_TRUE(bucket_.empty());

  fail_ = absl::OkStatus();
  EXPECT_EQ(copier.CopyPending().value(), 2);
  EXPECT_THAT(attempts_, ElementsAre("a.csv", "a.csv", "b.csv"));
  EXPECT_EQ(bucket_.size(), 2u);
}

TEST_F(S3UploadCopierTest, ABadCheckpointIsRefusedWithTheFix) {
  std::ofstream(options_.checkpoint_path) << "seven";
  S3UploadCopier copier = MakeCopier();
  absl::Status status = copier.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("remove it"));
}

TEST_F(S3UploadCopierTest, RunCopiesUntilStopped) {
  options_.poll_interval = std::chrono::milliseconds(5);
  S3UploadCopier copier = MakeCopier();
  ASSERT_TRUE(copier.Start().ok());
  base::WorkSignal signal;
  std::thread runner([&] { copier.Run(signal); });
  Upload("late.csv", "store,item,count\nL,x,1\n");
  for (int i = 0; i < 400 && copier.checkpoint() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  signal.Stop();
  runner.join();
  EXPECT_EQ(bucket_.count("late.csv"), 1u);
}

}  // namespace
}  // namespace stockwatch::adapters
