// The two pipeline functions end to end against moto_server (python3-moto, preinstalled),
// with stockwatch's own clients on both sides of them: the six sample files are put into the
// bucket with our S3Client, load-inventory is given the S3 event for them, the table's stream
// is read with our DynamoDbStreamsClient and handed to check-stock as Lambda hands it, and
// moto says what was published. No real Lambda can run here: the handlers are made as the
// bootstrap makes them (MakeHandler, from the environment) and invoked in this process.
// tests/integration/test_lambda_moto.py runs the same path through the `stockwatch lambda`
// command.

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "aws/aws_config.h"
#include "aws/dynamodb_client.h"
#include "aws/dynamodb_streams_client.h"
#include "aws/moto_test_support.h"
#include "aws/s3_client.h"
#include "aws/sns_client.h"
#include "core/auth/oidc.h"
#include "core/csv/inventory_csv.h"
#include "lambda/check_stock.h"
#include "lambda/handlers.h"

namespace stockwatch::lambda {
namespace {

using aws::moto_test::MotoServer;
using aws::moto_test::PlainHttp;

constexpr char kBucket[] = "inventory-uploads";
constexpr char kRegion[] = "us-east-1";

using Table = std::map<std::pair<std::string, std::string>, int64_t>;

class Rows final : public core::RowSink {
 public:
  void OnRow(const core::InventoryRow& row) override {
    table[{std::string(row.store), std::string(row.item)}] = row.count;
  }
  Table table;
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// One record of an S3 event notification, as S3 sends it to Lambda (the key URL-encoded,
// a space as "+").
nlohmann::json S3Record(const std::string& key, size_t size, const std::string& etag,
                        const std::string& sequencer) {
  std::string encoded;
  for (char c : key)
    encoded += c == ' ' ? std::string("+") : core::PercentEncode(std::string(1, c));
  return {
      {"eventVersion", "2.1"},
      {"eventSource", "aws:s3"},
      {"awsRegion", kRegion},
      {"eventTime", "2026-11-27T04:00:00.000Z"},
      {"eventName", "ObjectCreated:Put"},
      {"userIdentity", {{"principalId", "AWS:AIDAEXAMPLE"}}},
      {"s3",
       {{"s3SchemaVersion", "1.0"},
        {"configurationId", "load-inventory"},
        {"bucket", {{"name", kBucket}, {"arn", std::string("arn:aws:s3:::") + kBucket}}},
        {"object", {{"key", encoded}, {"size", size}, {"eTag", etag}, {"sequencer", sequencer}}}}}};
}

// Whether a stream record is of an inventory item (not of the load state).
bool InventoryRecord(const nlohmann::json& record) {
  return !IsReservedStore(
      aws::GetDynamoS(record["dynamodb"]["Keys"], "Store").value_or("#stockwatch-"));
}

class LambdaMotoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { moto_ = aws::moto_test::StartSuiteMoto(); }
  static void TearDownTestSuite() { aws::moto_test::StopSuiteMoto(moto_); }
  void SetUp() override {
    ASSERT_NE(moto_, nullptr) << "moto_server did not start (is python3-moto installed?)";
    // The functions' environment, as the template sets it (the topic found by name). The
    // test binary runs alone and single-threaded, so setenv is safe.
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"AWS_ACCESS_KEY_ID", "testing"},
             {"AWS_SECRET_ACCESS_KEY", "testing"},
             {"AWS_REGION", kRegion},
             {"AWS_ENDPOINT_URL", moto_->endpoint()},
             {"AWS_CONFIG_FILE", "/nonexistent/config"},
             {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"},
             {"TABLE_NAME", "Inventory"}}) {
      setenv(name.c_str(), value.c_str(), 1);
    }
    unsetenv("STATE_TABLE");
    unsetenv("NO_STOCK_TOPIC_ARN");
  }

  static aws::AwsConfig Config() {
    aws::AwsConfig config;
    config.credentials = {"testing", "testing", ""};
    config.region = kRegion;
    config.endpoint_url = moto_->endpoint();
    return config;
  }

  static MotoServer* moto_;
};

MotoServer* LambdaMotoTest::moto_ = nullptr;

TEST_F(LambdaMotoTest, SamplesPutWithOurClientAreLoadedCheckedAndPublished) {
  aws::S3Client s3(Config());
  aws::DynamoDbClient dynamo(Config());
  aws::DynamoDbStreamsClient streams(Config());
  aws::SnsClient sns(Config());
  ASSERT_TRUE(s3.CreateBucket(kBucket).ok());
  ASSERT_TRUE(dynamo
                  .Call("CreateTable",
                        {{"TableName", "Inventory"},
                         {"BillingMode", "PAY_PER_REQUEST"},
                         {"AttributeDefinitions",
                          {{{"AttributeName", "Store"}, {"AttributeType", "S"}},
                           {{"AttributeName", "Item"}, {"AttributeType", "S"}}}},
                         {"KeySchema",
                          {{{"AttributeName", "Store"}, {"KeyType", "HASH"}},
                           {{"AttributeName", "Item"}, {"KeyType", "RANGE"}}}},
                         {"StreamSpecification",
                          {{"StreamEnabled", true}, {"StreamViewType", "NEW_AND_OLD_IMAGES"}}}})
                  .ok());
  ASSERT_TRUE(sns.CreateTopic("NoStock").ok());

  // The six samples, put with our S3 client; Berlin's under a key with a space.
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(STOCKWATCH_SAMPLES)) {
    if (entry.path().extension() == ".csv") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 6u);
  nlohmann::json records = nlohmann::json::array();
  Table expected;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string body = ReadFile(files[i]);
    std::string key = files[i].filename().string();
    if (key == "inventory-berlin.csv") key = "inventory berlin.csv";
    absl::StatusOr<std::string> etag = s3.PutObject(kBucket, key, body, "text/csv");
    ASSERT_TRUE(etag.ok()) << etag.status();
    records.push_back(S3Record(key, body.size(), *etag, "0055AED6DCD9028" + std::to_string(i)));
    core::InventoryCsvParser parser(key, core::BadRowPolicy::kSkip);
    Rows rows;
    ASSERT_TRUE(parser.Feed(body, rows).ok());
    ASSERT_TRUE(parser.Finish(rows).ok());
    expected.insert(rows.table.begin(), rows.table.end());
  }

  // load-inventory: one event with all six records.
  absl::StatusOr<std::unique_ptr<LambdaHandler>> load = MakeHandler("load-inventory");
  ASSERT_TRUE(load.ok()) << load.status();
  absl::StatusOr<nlohmann::json> loaded = (*load)->Invoke({{"Records", records}}, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ((*loaded)["records"].size(), 6u) << *loaded;
  for (const nlohmann::json& record : (*loaded)["records"]) {
    EXPECT_EQ(record["outcome"], "loaded") << record;
  }

  // The table holds the files' rows (and the load state, which is not inventory).
  aws::QueryRequest scan;
  scan.table = "Inventory";
  absl::StatusOr<std::vector<nlohmann::json>> items = dynamo.ScanAll(scan);
  ASSERT_TRUE(items.ok()) << items.status();
  Table table;
  for (const nlohmann::json& item : *items) {
    const std::string store = aws::GetDynamoS(item, "Store").value_or("");
    if (IsReservedStore(store)) continue;
    table[{store, aws::GetDynamoS(item, "Item").value_or("")}] =
        aws::GetDynamoN(item, "Count").value_or(-1);
  }
  EXPECT_EQ(table, expected);
  const int64_t zeros = std::count_if(expected.begin(), expected.end(),
                                      [](const auto& row) { return row.second == 0; });
  ASSERT_GT(zeros, 0);

  // The stream, read with our client, as Lambda hands it to check-stock.
  absl::StatusOr<nlohmann::json> described = dynamo.DescribeTable("Inventory");
  ASSERT_TRUE(described.ok()) << described.status();
  const std::string stream_arn = (*described)["LatestStreamArn"];
  absl::StatusOr<aws::StreamDescription> stream = streams.DescribeStream(stream_arn);
  ASSERT_TRUE(stream.ok()) << stream.status();
  nlohmann::json stream_records = nlohmann::json::array();
  for (const aws::StreamShard& shard : stream->shards) {
    absl::StatusOr<std::string> iterator =
        streams.GetShardIterator(stream_arn, shard.shard_id, aws::ShardIteratorType::kTrimHorizon);
    ASSERT_TRUE(iterator.ok()) << iterator.status();
    while (true) {
      absl::StatusOr<aws::GetRecordsResult> got = streams.GetRecords(*iterator);
      ASSERT_TRUE(got.ok()) << got.status();
      for (nlohmann::json& record : got->records) {
        stream_records.push_back(aws::LambdaStreamRecord(std::move(record), stream_arn, kRegion));
      }
      if (got->records.empty() || !got->next_shard_iterator) break;
      *iterator = *got->next_shard_iterator;
    }
  }
  ASSERT_GE(stream_records.size(), expected.size());

  absl::StatusOr<std::unique_ptr<LambdaHandler>> check = MakeHandler("check-stock");
  ASSERT_TRUE(check.ok()) << check.status();
  absl::StatusOr<nlohmann::json> checked = (*check)->Invoke({{"Records", stream_records}}, {});
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, nlohmann::json::parse(R"({"batchItemFailures":[]})"));

  // moto's record of what NoStock got: one message per item at 0, with its attributes.
  const nlohmann::json state =
      nlohmann::json::parse(PlainHttp("GET", moto_->endpoint() + "/moto-api/data.json"));
  nlohmann::json sent;
  for (const nlohmann::json& topic : state["sns"]["Topic"]) {
    if (topic["arn"].get<std::string>().ends_with(":NoStock")) sent = topic["sent_notifications"];
  }
  ASSERT_TRUE(sent.is_array()) << state["sns"];
  EXPECT_EQ(static_cast<int64_t>(sent.size()), zeros);
  // [message id, message, subject, attributes, group id]
  auto berlin = std::find_if(sent.begin(), sent.end(), [](const nlohmann::json& n) {
    return n[1] == "Berlin is out of stock of Echo Plus";
  });
  ASSERT_NE(berlin, sent.end()) << sent;
  EXPECT_EQ((*berlin)[2], "Inventory Alert!");
  EXPECT_EQ((*berlin)[3]["store"], nlohmann::json({{"Type", "String"}, {"Value", "Berlin"}}));
  EXPECT_EQ((*berlin)[3]["item"], nlohmann::json({{"Type", "String"}, {"Value", "Echo Plus"}}));
  EXPECT_EQ((*berlin)[3]["new_count"], nlohmann::json({{"Type", "Number"}, {"Value", "0"}}));

  // An identical re-upload (a new event, the same ETag) writes no inventory: no stream
  // record but the load state's (kept in this table, as no STATE_TABLE is set), so nothing
  // more to publish.
  const std::string berlin_body =
      ReadFile(std::filesystem::path(STOCKWATCH_SAMPLES) / "inventory-berlin.csv");
  absl::StatusOr<std::string> again_etag =
      s3.PutObject(kBucket, "inventory berlin.csv", berlin_body, "text/csv");
  ASSERT_TRUE(again_etag.ok()) << again_etag.status();
  absl::StatusOr<nlohmann::json> again = (*load)->Invoke(
      {{"Records",
        {S3Record("inventory berlin.csv", berlin_body.size(), *again_etag, "0055AED6DCD902900")}}},
      {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)["records"][0]["outcome"], "unchanged") << *again;
  int64_t after = 0;
  for (const aws::StreamShard& shard : stream->shards) {
    absl::StatusOr<std::string> iterator =
        streams.GetShardIterator(stream_arn, shard.shard_id, aws::ShardIteratorType::kTrimHorizon);
    ASSERT_TRUE(iterator.ok()) << iterator.status();
    absl::StatusOr<aws::GetRecordsResult> got = streams.GetRecords(*iterator);
    ASSERT_TRUE(got.ok()) << got.status();
    after += std::count_if(got->records.begin(), got->records.end(), InventoryRecord);
  }
  EXPECT_EQ(after, std::count_if(stream_records.begin(), stream_records.end(), InventoryRecord));
}

}  // namespace
}  // namespace stockwatch::lambda
