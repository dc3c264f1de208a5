// The Notifier contract for message templates (SetTemplate, DeleteTemplate, Templates,
// TemplatesGeneration), run against InMemoryNotifier and SqliteNotifier.
#include <optional>
#include <string>
#include <vector>

#include "adapters/memory/in_memory_notifier.h"
#include "adapters/sqlite/sqlite_notifier.h"
#include "contract_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notifier_envs.h"

namespace stockwatch::contract {
namespace {

using core::Protocol;
using core::TemplateRecord;
using ::testing::HasSubstr;
using ::testing::StartsWith;

template <typename Env>
class NotifierTemplatesContractTest : public ::testing::Test {
 protected:
  core::Notifier& notifier() { return env_.notifier(); }
  std::vector<TemplateRecord> MustList() {
    auto listed = notifier().Templates();
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? *std::move(listed) : std::vector<TemplateRecord>();
  }
  Env env_;
};

using Envs = ::testing::Types<MemoryNotifierEnv, SqliteNotifierEnv>;
TYPED_TEST_SUITE(NotifierTemplatesContractTest, Envs);

TYPED_TEST(NotifierTemplatesContractTest, NoneAtFirst) {
  EXPECT_TRUE(this->MustList().empty());
  EXPECT_GE(this->notifier().TemplatesGeneration(), 1u);
}

TYPED_TEST(NotifierTemplatesContractTest, SetKeepsTemplatesPerTopicAndProtocolDurably) {
  auto& n = this->notifier();
  ASSERT_TRUE(n.SetTemplate("NoStock", std::nullopt, "Out: {store}", "{store}/{item}").ok());
  ASSERT_TRUE(
      n.SetTemplate("NoStock", Protocol::kEmail, "Mail {item}", "{old_count}->{new_count}").ok());
  ASSERT_TRUE(n.SetTemplate("LowStock", Protocol::kSms, "Low", "{threshold}").ok());
  const std::vector<TemplateRecord> want = {
      {"LowStock", Protocol::kSms, "Low", "{threshold}"},
      {"NoStock", std::nullopt, "Out: {store}", "{store}/{item}"},
      {"NoStock", Protocol::kEmail, "Mail {item}", "{old_count}->{new_count}"},
  };
  EXPECT_EQ(this->MustList(), want);
  this->env_.Reopen();
  if (TypeParam::kDurable) {
    EXPECT_EQ(this->MustList(), want);
  }
}

TYPED_TEST(NotifierTemplatesContractTest, DeletingAUserTopicDeletesItsTemplates) {
  auto& n = this->notifier();
  ASSERT_TRUE(n.CreateTopic("BerlinOutages", {"NoStock"}, "", T0()).ok());
  ASSERT_TRUE(n.SetTemplate("BerlinOutages", std::nullopt, "B {item}", "{store}").ok());
  ASSERT_TRUE(n.SetTemplate("NoStock", std::nullopt, "N {item}", "{store}").ok());
  const uint64_t before = n.TemplatesGeneration();
  ASSERT_TRUE(n.DeleteTopic("BerlinOutages").ok());
  EXPECT_GT(n.TemplatesGeneration(), before);
  const std::vector<TemplateRecord> left = {{"NoStock", std::nullopt, "N {item}", "{store}"}};
  EXPECT_EQ(this->MustList(), left);
  // Created again, the topic starts with the default wording.
  ASSERT_TRUE(n.CreateTopic("BerlinOutages", {"NoStock"}, "", T0()).ok());
  EXPECT_EQ(this->MustList(), left);
}

TYPED_TEST(NotifierTemplatesContractTest, SetReplacesTheSamePair) {
  auto& n = this->notifier();
  ASSERT_TRUE(n.SetTemplate("NoStock", Protocol::kWebhook, "a", "b").ok());
  ASSERT_TRUE(n.SetTemplate("NoStock", Protocol::kWebhook, "c {topic}", "d {{literal}}").ok());
  const std::vector<TemplateRecord> want = {
      {"NoStock", Protocol::kWebhook, "c {topic}", "d {{literal}}"}};
  EXPECT_EQ(this->MustList(), want);
}

TYPED_TEST(NotifierTemplatesContractTest, RefusesABadTemplateNamingPartLineAndColumn) {
  auto& n = this->notifier();
  const absl::Status bad_body = n.SetTemplate("NoStock", std::nullopt, "ok", "line one\n {stor}");
  EXPECT_EQ(bad_body.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_body.message()), StartsWith("body: line 2, column 2: "));
  EXPECT_THAT(std::string(bad_body.message()), HasSubstr("{stor}"));
  const absl::Status bad_subject = n.SetTemplate("NoStock", std::nullopt, "{store", "ok");
  EXPECT_EQ(bad_subject.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_subject.message()), StartsWith("subject: line 1, column 1: "));
  EXPECT_TRUE(this->MustList().empty());
}

TYPED_TEST(NotifierTemplatesContractTest, RefusesAnUnknownTopic) {
  const uint64_t before = this->notifier().TemplatesGeneration();
  EXPECT_EQ(this->notifier().SetTemplate("NoSuchTopic", std::nullopt, "a", "b").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(this->notifier().DeleteTemplate("NoSuchTopic", std::nullopt).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(this->MustList().empty());
  EXPECT_EQ(this->notifier().TemplatesGeneration(), before);
}

TYPED_TEST(NotifierTemplatesContractTest, DeleteRemovesOnlyThatPairAndIsIdempotent) {
  auto& n = this->notifier();
  ASSERT_TRUE(n.SetTemplate("NoStock", std::nullopt, "any", "any").ok());
  ASSERT_TRUE(n.SetTemplate("NoStock", Protocol::kEmail, "email", "email").ok());
  ASSERT_TRUE(n.DeleteTemplate("NoStock", Protocol::kEmail).ok());
  const std::vector<TemplateRecord> want = {{"NoStock", std::nullopt, "any", "any"}};
  EXPECT_EQ(this->MustList(), want);
  EXPECT_TRUE(n.DeleteTemplate("NoStock", Protocol::kEmail).ok());
  EXPECT_TRUE(n.DeleteTemplate("LowStock", std::nullopt).ok());
  ASSERT_TRUE(n.DeleteTemplate("NoStock", std::nullopt).ok());
  EXPECT_TRUE(this->MustList().empty());
  this->env_.Reopen();
  EXPECT_TRUE(this->MustList().empty());
}

TYPED_TEST(NotifierTemplatesContractTest, GenerationMovesOnEveryChangeOnly) {
  auto& n = this->notifier();
  const uint64_t g0 = n.TemplatesGeneration();
  ASSERT_TRUE(n.SetTemplate("BackInStock", std::nullopt, "a", "b").ok());
  const uint64_t g1 = n.TemplatesGeneration();
  EXPECT_NE(g1, g0);
  ASSERT_TRUE(n.Templates().ok());
  EXPECT_EQ(n.TemplatesGeneration(), g1);  // reading is not a change
  ASSERT_TRUE(n.SetTemplate("BackInStock", std::nullopt, "a", "c").ok());
  const uint64_t g2 = n.TemplatesGeneration();
  EXPECT_NE(g2, g1);
  EXPECT_NE(n.SetTemplate("BackInStock", std::nullopt, "{x}", "c").code(), absl::StatusCode::kOk);
  EXPECT_EQ(n.TemplatesGeneration(), g2);  // refused: nothing changed
  ASSERT_TRUE(n.DeleteTemplate("BackInStock", std::nullopt).ok());
  const uint64_t g3 = n.TemplatesGeneration();
  EXPECT_NE(g3, g2);
  EXPECT_NE(g3, g0);
}

}  // namespace
}  // namespace stockwatch::contract
