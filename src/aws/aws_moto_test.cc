// The AWS clients against moto_server (python3-moto, preinstalled), started on a loopback
// port once per suite. moto stands in for AWS: no AWS account is reachable from CI, and
// moto speaks the same wire protocols (DynamoDB and DynamoDB Streams JSON, S3 REST XML,
// SNS and IAM query) and checks SigV4 signatures when asked to (MotoAuthTest), so these
// tests drive every client call over real HTTP with our own signer. What moto cannot do
// (throttle on demand, leave UnprocessedItems) is covered by aws_http_test.cc against a
// scripted local server.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "aws/aws_error.h"
#include "aws/aws_http.h"
#include "aws/dynamodb_client.h"
#include "aws/dynamodb_streams_client.h"
#include "aws/moto_test_support.h"
#include "aws/s3_client.h"
#include "aws/secrets_manager.h"
#include "aws/sigv4.h"
#include "aws/sns_client.h"

namespace stockwatch::aws {
namespace {

using moto_test::MotoServer;
using moto_test::PlainHttp;

AwsConfig ConfigFor(const std::string& endpoint, const std::string& key = "testing",
                    const std::string& secret = "testing") {
  AwsConfig config;
  config.credentials = {key, secret, ""};
  config.region = "us-east-1";
  config.endpoint_url = endpoint;
  config.retry_base_delay = std::chrono::milliseconds(5);
  return config;
}

class MotoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { moto_ = aws::moto_test::StartSuiteMoto(); }
  static void TearDownTestSuite() { aws::moto_test::StopSuiteMoto(moto_); }
  void SetUp() override {
    ASSERT_NE(moto_, nullptr) << "moto_server did not start (is python3-moto installed?)";
  }

  AwsConfig Config() const { return ConfigFor(moto_->endpoint()); }

  // Creates an Inventory-shaped table (Store hash, Item range) with a stream.
  void CreateTable(const std::string& name) {
    DynamoDbClient dynamo(Config());
    const nlohmann::json request = {
        {"TableName", name},
        {"BillingMode", "PAY_PER_REQUEST"},
        {"AttributeDefinitions",
         {{{"AttributeName", "Store"}, {"AttributeType", "S"}},
          {{"AttributeName", "Item"}, {"AttributeType", "S"}}}},
        {"KeySchema",
         {{{"AttributeName", "Store"}, {"KeyType", "HASH"}},
          {{"AttributeName", "Item"}, {"KeyType", "RANGE"}}}},
        {"StreamSpecification",
         {{"StreamEnabled", true}, {"StreamViewType", "NEW_AND_OLD_IMAGES"}}},
    };
    absl::StatusOr<nlohmann::json> created = dynamo.Call("CreateTable", request);
    ASSERT_TRUE(created.ok()) << created.status();
  }

  static nlohmann::json Row(const std::string& store, const std::string& item, int64_t count) {
    return {{"Store", DynamoS(store)}, {"Item", DynamoS(item)}, {"Count", DynamoN(count)}};
  }

  static MotoServer* moto_;
};

MotoServer* MotoTest::moto_ = nullptr;

TEST_F(MotoTest, CreatesAndDescribesATable) {
  CreateTable("Described");
  DynamoDbClient dynamo(Config());
  absl::StatusOr<nlohmann::json> table = dynamo.DescribeTable("Described");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)["TableName"], "Described");
  EXPECT_EQ((*table)["KeySchema"][0]["AttributeName"], "Store");
  EXPECT_EQ((*table)["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
  EXPECT_TRUE((*table)["LatestStreamArn"].is_string());
}

TEST_F(MotoTest, ReadsASecretStringFromSecretsManager) {
  AwsHttpClient secrets(Config(), kSecretsManagerService);
  ASSERT_TRUE(CallJsonProtocol(secrets, "secretsmanager", "CreateSecret",
                               {{"Name", "sw-session"}, {"SecretString", "s3cr3t-value"}},
                               "application/x-amz-json-1.1")
                  .ok());
  absl::StatusOr<std::string> value = GetSecretString(secrets, "sw-session");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "s3cr3t-value");
  const absl::Status missing = GetSecretString(secrets, "no-such-secret").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_EQ(AwsErrorCode(missing), "ResourceNotFoundException") << missing;
}

TEST_F(MotoTest, MissingTableIsNotFoundWithAwsCodeAndRequestId) {
  DynamoDbClient dynamo(Config());
  const absl::Status status = dynamo.DescribeTable("NoSuchTable").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(AwsErrorCode(status), "ResourceNotFoundException");
  ASSERT_TRUE(AwsRequestId(status).has_value());
  EXPECT_FALSE(AwsRequestId(status)->empty());
  EXPECT_NE(status.message().find(*AwsRequestId(status)), std::string::npos);
}

TEST_F(MotoTest, BatchWritesAThousandItemsInFortyCallsAndPagesThemBack) {
  CreateTable("Thousand");
  DynamoDbClient dynamo(Config());
  std::vector<DynamoWriteRequest> writes;
  for (int i = 0; i < 1000; ++i) {
    writes.push_back(DynamoWriteRequest::Put(
        Row("Store" + std::to_string(i % 4), "Item" + std::to_string(i), i)));
  }
  absl::StatusOr<BatchWriteResult> result = dynamo.BatchWriteItem("Thousand", writes);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->calls, 40);
  EXPECT_EQ(result->written, 1000);
  EXPECT_EQ(result->unprocessed_rounds, 0);

  // Scan with Limit 100: more than one page, every item exactly once.
  QueryRequest scan;
  scan.table = "Thousand";
  scan.limit = 100;
  std::set<std::string> seen;
  int pages_with_key = 0;
  absl::StatusOr<PagingResult> scanned = dynamo.Scan(scan, [&](const nlohmann::json& page) {
    for (const nlohmann::json& item : page["Items"]) seen.insert(*GetDynamoS(item, "Item"));
    if (page.contains("LastEvaluatedKey")) ++pages_with_key;
    return absl::OkStatus();
  });
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  EXPECT_GE(scanned->pages, 10);
  EXPECT_GT(pages_with_key, 1);
  EXPECT_EQ(scanned->items, 1000);
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_TRUE(scanned->last_evaluated_key.is_null());

  // Query one store with Limit 60 and a name placeholder: 250 items over 5 pages.
  QueryRequest query;
  query.table = "Thousand";
  query.key_condition_expression = "#s = :s";
  query.expression_attribute_names = {{"#s", "Store"}};
  query.expression_attribute_values = {{":s", DynamoS("Store1")}};
  query.limit = 60;
  absl::StatusOr<std::vector<nlohmann::json>> store1 = dynamo.QueryAll(query);
  ASSERT_TRUE(store1.ok()) << store1.status();
  EXPECT_EQ(store1->size(), 250u);
  for (const nlohmann::json& item : *store1) EXPECT_EQ(GetDynamoS(item, "Store"), "Store1");

  // A callback that stops early gets the key to resume from.
  int pages = 0;
  absl::StatusOr<PagingResult> stopped = dynamo.Query(query, [&pages](const nlohmann::json&) {
    return ++pages == 2 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->pages, 2);
  EXPECT_TRUE(stopped->last_evaluated_key.is_object());
  query.exclusive_start_key = stopped->last_evaluated_key;
  absl::StatusOr<std::vector<nlohmann::json>> rest = dynamo.QueryAll(query);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->size(), 250u - 120u);
}

TEST_F(MotoTest, OneClientServesManyThreads) {
  CreateTable("Threads");
  const DynamoDbClient dynamo(Config());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&dynamo, &failures, t] {
      for (int i = 0; i < 25; ++i) {
        if (!dynamo.PutItem("Threads", Row("T" + std::to_string(t), std::to_string(i), i)).ok()) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  QueryRequest scan;
  scan.table = "Threads";
  absl::StatusOr<std::vector<nlohmann::json>> items = dynamo.ScanAll(scan);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ(items->size(), 100u);
}

TEST_F(MotoTest, UpdateItemWithConditions) {
  CreateTable("Conditional");
  DynamoDbClient dynamo(Config());
  ASSERT_TRUE(dynamo.PutItem("Conditional", Row("Berlin", "Echo Plus", 3)).ok());

  UpdateItemRequest update;
  update.table = "Conditional";
  update.key = {{"Store", DynamoS("Berlin")}, {"Item", DynamoS("Echo Plus")}};
  update.update_expression = "SET #c = :new";
  update.condition_expression = "#c = :expected";
  update.expression_attribute_names = {{"#c", "Count"}};
  update.expression_attribute_values = {{":new", DynamoN(0)}, {":expected", DynamoN(5)}};
  const absl::Status failed = dynamo.UpdateItem(update).status();
  EXPECT_EQ(failed.code(), absl::StatusCode::kFailedPrecondition) << failed;
  EXPECT_EQ(AwsErrorCode(failed), "ConditionalCheckFailedException");
  EXPECT_TRUE(AwsRequestId(failed).has_value());

  update.expression_attribute_values[":expected"] = DynamoN(3);
  update.return_values = "ALL_OLD";
  absl::StatusOr<nlohmann::json> old = dynamo.UpdateItem(update);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(GetDynamoN(*old, "Count"), 3);

  absl::StatusOr<std::optional<nlohmann::json>> now =
      dynamo.GetItem("Conditional", update.key, /*consistent_read=*/true);
  ASSERT_TRUE(now.ok()) << now.status();
  ASSERT_TRUE(now->has_value());
  EXPECT_EQ(GetDynamoN(**now, "Count"), 0);

  absl::StatusOr<std::optional<nlohmann::json>> missing =
      dynamo.GetItem("Conditional", {{"Store", DynamoS("Paris")}, {"Item", DynamoS("Echo Plus")}});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
}

TEST_F(MotoTest, StreamRecordsAfterWrites) {
  CreateTable("Streamed");
  DynamoDbClient dynamo(Config());
  DynamoDbStreamsClient streams(Config());
  ASSERT_TRUE(dynamo.PutItem("Streamed", Row("Berlin", "Echo Plus", 3)).ok());
  UpdateItemRequest update;
  update.table = "Streamed";
  update.key = {{"Store", DynamoS("Berlin")}, {"Item", DynamoS("Echo Plus")}};
  update.update_expression = "SET #c = :c";
  update.expression_attribute_names = {{"#c", "Count"}};
  update.expression_attribute_values = {{":c", DynamoN(0)}};
  ASSERT_TRUE(dynamo.UpdateItem(update).ok());

  absl::StatusOr<nlohmann::json> table = dynamo.DescribeTable("Streamed");
  ASSERT_TRUE(table.ok()) << table.status();
  const std::string stream_arn = (*table)["LatestStreamArn"];
  absl::StatusOr<StreamDescription> stream = streams.DescribeStream(stream_arn);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ(stream->stream_arn, stream_arn);
  EXPECT_EQ(stream->table_name, "Streamed");
  EXPECT_EQ(stream->stream_view_type, "NEW_AND_OLD_IMAGES");
  ASSERT_FALSE(stream->shards.empty());
  EXPECT_FALSE(stream->shards[0].shard_id.empty());

  absl::StatusOr<std::string> iterator = streams.GetShardIterator(
      stream_arn, stream->shards[0].shard_id, ShardIteratorType::kTrimHorizon);
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  absl::StatusOr<GetRecordsResult> records = streams.GetRecords(*iterator);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->records.size(), 2u);
  EXPECT_TRUE(records->next_shard_iterator.has_value());

  const nlohmann::json& insert = records->records[0];
  EXPECT_EQ(insert["eventName"], "INSERT");
  EXPECT_EQ(insert["eventSource"], "aws:dynamodb");
  EXPECT_EQ(insert["dynamodb"]["Keys"]["Store"], DynamoS("Berlin"));
  EXPECT_EQ(GetDynamoN(insert["dynamodb"]["NewImage"], "Count"), 3);
  EXPECT_FALSE(insert["dynamodb"].contains("OldImage"));

  const nlohmann::json& modify = records->records[1];
  EXPECT_EQ(modify["eventName"], "MODIFY");
  EXPECT_EQ(GetDynamoN(modify["dynamodb"]["OldImage"], "Count"), 3);
  EXPECT_EQ(GetDynamoN(modify["dynamodb"]["NewImage"], "Count"), 0);
  EXPECT_EQ(modify["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");

  const nlohmann::json lambda = LambdaStreamRecord(modify, stream_arn, "us-east-1");
  EXPECT_EQ(lambda["eventSourceARN"], stream_arn);
  EXPECT_EQ(lambda["awsRegion"], "us-east-1");
  EXPECT_EQ(lambda["eventName"], "MODIFY");
  EXPECT_TRUE(lambda["eventVersion"].is_string());

  // AFTER_SEQUENCE_NUMBER of the INSERT starts at the MODIFY.
  const std::string insert_sequence = insert["dynamodb"]["SequenceNumber"];
  absl::StatusOr<std::string> after =
      streams.GetShardIterator(stream_arn, stream->shards[0].shard_id,
                               ShardIteratorType::kAfterSequenceNumber, insert_sequence);
  ASSERT_TRUE(after.ok()) << after.status();
  absl::StatusOr<GetRecordsResult> later = streams.GetRecords(*after);
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_EQ(later->records.size(), 1u);
  EXPECT_EQ(later->records[0]["eventName"], "MODIFY");

  EXPECT_EQ(streams
                .GetShardIterator(stream_arn, stream->shards[0].shard_id,
                                  ShardIteratorType::kAtSequenceNumber)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MotoTest, S3PutHeadAndStreamedGet) {
  S3Client s3(Config());
  ASSERT_TRUE(s3.CreateBucket("inventory-uploads").ok());
  const absl::Status again = s3.CreateBucket("inventory-uploads");
  // us-east-1 answers 200 again for a bucket one owns (as AWS does); other regions
  // BucketAlreadyOwnedByYou.
  if (!again.ok()) {
    EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  }

  // 6 MiB of varied bytes.
  std::string body;
  body.reserve(6 << 20);
  std::mt19937 rng(42);
  while (body.size() < (6u << 20)) body.push_back(static_cast<char>(rng() & 0xff));
  const std::string key = "uploads/Berlin store+1 ü.csv";
  absl::StatusOr<std::string> etag = s3.PutObject("inventory-uploads", key, body, "text/csv");
  ASSERT_TRUE(etag.ok()) << etag.status();
  EXPECT_FALSE(etag->empty());

  absl::StatusOr<S3ObjectInfo> head = s3.HeadObject("inventory-uploads", key);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, body.size());
  EXPECT_EQ(head->etag, *etag);
  EXPECT_EQ(head->content_type, "text/csv");
  EXPECT_FALSE(head->last_modified.empty());

  size_t chunks = 0;
  size_t largest = 0;
  size_t received = 0;
  bool same = true;
  absl::StatusOr<S3ObjectInfo> got =
      s3.GetObject("inventory-uploads", key, [&](std::string_view chunk) {
        same = same && body.compare(received, chunk.size(), chunk) == 0;
        received += chunk.size();
        largest = std::max(largest, chunk.size());
        ++chunks;
        return absl::OkStatus();
      });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size, body.size());
  EXPECT_EQ(got->etag, *etag);
  EXPECT_EQ(received, body.size());
  EXPECT_TRUE(same);
  EXPECT_GT(chunks, 1u);
  EXPECT_LT(largest, body.size() / 4);  // streamed, never held whole

  // The sink can stop the download; its status comes back as is.
  const absl::Status aborted = s3.GetObject("inventory-uploads", key, [](std::string_view) {
                                   return absl::ResourceExhaustedError("too big");
                                 }).status();
  EXPECT_EQ(aborted.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(aborted.message(), "too big");

  const absl::Status missing_head = s3.HeadObject("inventory-uploads", "nope.csv").status();
  EXPECT_EQ(missing_head.code(), absl::StatusCode::kNotFound) << missing_head;
  const absl::Status missing_get =
      s3.GetObject("inventory-uploads", "nope.csv", [](std::string_view) {
          return absl::OkStatus();
        }).status();
  EXPECT_EQ(missing_get.code(), absl::StatusCode::kNotFound) << missing_get;
  EXPECT_EQ(AwsErrorCode(missing_get), "NoSuchKey");
  EXPECT_TRUE(AwsRequestId(missing_get).has_value());
}

TEST_F(MotoTest, SnsCreateSubscribePublishWithAttributes) {
  SnsClient sns(Config());
  absl::StatusOr<std::string> arn = sns.CreateTopic("NoStock");
  ASSERT_TRUE(arn.ok()) << arn.status();
  EXPECT_EQ(arn->substr(arn->rfind(':') + 1), "NoStock");
  absl::StatusOr<std::string> same = sns.CreateTopic("NoStock");
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, *arn);

  absl::StatusOr<std::string> subscription = sns.Subscribe(*arn, "email", "ops@example.com");
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  EXPECT_FALSE(subscription->empty());

  SnsPublishRequest publish;
  publish.topic_arn = *arn;
  publish.subject = "Inventory Alert!";
  publish.message = "Berlin is out of stock of Echo Plus & more <ü>";
  publish.attributes = {{"store", SnsMessageAttribute::String("Berlin")},
                        {"item", SnsMessageAttribute::String("Echo Plus")},
                        {"new_count", SnsMessageAttribute::Number(0)}};
  absl::StatusOr<std::string> message_id = sns.Publish(publish);
  ASSERT_TRUE(message_id.ok()) << message_id.status();

  const nlohmann::json data = nlohmann::json::parse(
      PlainHttp("GET", moto_->endpoint() + "/moto-api/data.json"), nullptr, false);
  ASSERT_TRUE(data.is_object());
  bool found = false;
  for (const nlohmann::json& topic : data["sns"]["Topic"]) {
    if (topic["arn"] != *arn) continue;
    for (const nlohmann::json& sent : topic["sent_notifications"]) {
      // [message id, message, subject, attributes, group id]
      if (sent[0] != *message_id) continue;
      found = true;
      EXPECT_EQ(sent[1], publish.message);
      EXPECT_EQ(sent[2], "Inventory Alert!");
      EXPECT_EQ(sent[3]["store"]["Type"], "String");
      EXPECT_EQ(sent[3]["store"]["Value"], "Berlin");
      EXPECT_EQ(sent[3]["item"]["Value"], "Echo Plus");
      EXPECT_EQ(sent[3]["new_count"]["Type"], "Number");
      EXPECT_EQ(sent[3]["new_count"]["Value"], "0");
    }
  }
  EXPECT_TRUE(found) << data["sns"].dump();

  publish.topic_arn = arn->substr(0, arn->rfind(':') + 1) + "Missing";
  const absl::Status missing = sns.Publish(publish).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_EQ(AwsErrorCode(missing), "NotFound");
}

TEST_F(MotoTest, SnsSubscriptionsAreListedWithTheirFilterPolicyAndRemoved) {
  SnsClient sns(Config());
  absl::StatusOr<std::string> topic = sns.CreateTopic("SubsListed");
  ASSERT_TRUE(topic.ok()) << topic.status();
  absl::StatusOr<std::string> sms =
      sns.Subscribe(*topic, "sms", "+15555550100", {{"FilterPolicy", R"({"store":["Berlin"]})"}});
  ASSERT_TRUE(sms.ok()) << sms.status();
  absl::StatusOr<std::string> email = sns.Subscribe(*topic, "email", "ops@example.com");
  ASSERT_TRUE(email.ok()) << email.status();

  absl::StatusOr<std::vector<SnsSubscription>> listed = sns.ListSubscriptionsByTopic(*topic);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  std::map<std::string, SnsSubscription> by_protocol;
  for (const SnsSubscription& sub : *listed) by_protocol[sub.protocol] = sub;
  EXPECT_EQ(by_protocol["sms"].endpoint, "+15555550100");
  EXPECT_EQ(by_protocol["sms"].arn, *sms);
  EXPECT_EQ(by_protocol["email"].endpoint, "ops@example.com");

  absl::StatusOr<std::map<std::string, std::string>> attributes =
      sns.GetSubscriptionAttributes(*sms);
  ASSERT_TRUE(attributes.ok()) << attributes.status();
  EXPECT_EQ(nlohmann::json::parse((*attributes)["FilterPolicy"]),
            nlohmann::json::parse(R"({"store":["Berlin"]})"));
  EXPECT_EQ((*attributes)["TopicArn"], *topic);

  ASSERT_TRUE(sns.Unsubscribe(*sms).ok());
  listed = sns.ListSubscriptionsByTopic(*topic);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].protocol, "email");
}

TEST_F(MotoTest, ListTopicsReadsEveryPageAndFindsByNameIgnoringCase) {
  SnsClient sns(Config());
  // moto pages ListTopics at 100 topics.
  for (int i = 0; i < 130; ++i) {
    ASSERT_TRUE(sns.CreateTopic("Paged-" + std::to_string(i)).ok());
  }
  absl::StatusOr<std::vector<std::string>> topics = sns.ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status();
  int paged = 0;
  for (const std::string& arn : *topics) {
    if (arn.find(":Paged-") != std::string::npos) ++paged;
  }
  EXPECT_EQ(paged, 130);
  EXPECT_GT(topics->size(), 100u);

  ASSERT_TRUE(sns.CreateTopic("LowStock").ok());
  absl::StatusOr<std::string> low = sns.FindTopicArn("lowstock");
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_EQ(low->substr(low->rfind(':') + 1), "LowStock");
  absl::StatusOr<std::string> last = sns.FindTopicArn("PAGED-129");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->substr(last->rfind(':') + 1), "Paged-129");
  EXPECT_EQ(sns.FindTopicArn("NoSuchTopic").status().code(), absl::StatusCode::kNotFound);
}

// moto with signature checking on (RECIPES.md): its IAM user and key are made while
// checking is still off, then /moto-api/reset-auth turns it on.
class MotoAuthTest : public MotoTest {};

// IAM speaks the query protocol; an AwsHttpClient for it needs nothing but its service.
constexpr AwsService kIamService{"iam", "iam", "iam", ErrorProtocol::kQueryXml};

std::string IamCall(const AwsConfig& config, const std::string& params) {
  AwsHttpClient iam(config, kIamService);
  AwsHttpRequest request;
  request.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  request.body = params + "&Version=2010-05-08";
  absl::StatusOr<AwsHttpResponse> response = iam.Send(request);
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? response->body : "";
}

std::string XmlField(const std::string& xml, const std::string& name) {
  const size_t start = xml.find("<" + name + ">");
  const size_t end = xml.find("</" + name + ">");
  if (start == std::string::npos || end == std::string::npos) return "";
  return xml.substr(start + name.size() + 2, end - start - name.size() - 2);
}

TEST_F(MotoAuthTest, WrongSecretIsRefusedRightOneAccepted) {
  const AwsConfig open = Config();
  IamCall(open, "Action=CreateUser&UserName=stockwatch");
  IamCall(open, "Action=PutUserPolicy&UserName=stockwatch&PolicyName=all&PolicyDocument=" +
                    QueryEncode(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                                R"("Action":"*","Resource":"*"}]})"));
  const std::string key_xml = IamCall(open, "Action=CreateAccessKey&UserName=stockwatch");
  const std::string key_id = XmlField(key_xml, "AccessKeyId");
  const std::string secret = XmlField(key_xml, "SecretAccessKey");
  ASSERT_FALSE(key_id.empty()) << key_xml;
  ASSERT_FALSE(secret.empty()) << key_xml;

  long status = 0;
  PlainHttp("POST", moto_->endpoint() + "/moto-api/reset-auth", "0", &status);
  ASSERT_EQ(status, 200);

  // The right key and secret: accepted by SNS (query), DynamoDB (JSON) and S3 (REST).
  const AwsConfig right = ConfigFor(moto_->endpoint(), key_id, secret);
  EXPECT_TRUE(SnsClient(right).CreateTopic("Authed").ok());
  DynamoDbClient right_dynamo(right);
  const absl::Status describe = right_dynamo.DescribeTable("NoTable").status();
  EXPECT_EQ(AwsErrorCode(describe), "ResourceNotFoundException") << describe;
  S3Client right_s3(right);
  EXPECT_TRUE(right_s3.CreateBucket("authed-bucket").ok());
  EXPECT_TRUE(right_s3.PutObject("authed-bucket", "a b.csv", "store,item,count\n").ok());

  // A wrong secret: refused, with the AWS code kept.
  const AwsConfig wrong = ConfigFor(moto_->endpoint(), key_id, secret + "x");
  const absl::Status sns_refused = SnsClient(wrong).CreateTopic("Refused").status();
  EXPECT_EQ(sns_refused.code(), absl::StatusCode::kPermissionDenied) << sns_refused;
  EXPECT_EQ(AwsErrorCode(sns_refused), "SignatureDoesNotMatch") << sns_refused;
  const absl::Status s3_refused = S3Client(wrong).PutObject("authed-bucket", "b.csv", "x").status();
  EXPECT_EQ(s3_refused.code(), absl::StatusCode::kPermissionDenied) << s3_refused;
  EXPECT_EQ(AwsErrorCode(s3_refused), "SignatureDoesNotMatch") << s3_refused;
  const absl::Status ddb_refused = DynamoDbClient(wrong).DescribeTable("NoTable").status();
  EXPECT_EQ(ddb_refused.code(), absl::StatusCode::kPermissionDenied) << ddb_refused;

  // An unknown key id.
  const absl::Status unknown =
      SnsClient(ConfigFor(moto_->endpoint(), "AKIAUNKNOWN000000000", secret))
          .CreateTopic("Refused")
          .status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kPermissionDenied) << unknown;
  EXPECT_EQ(AwsErrorCode(unknown), "InvalidClientTokenId") << unknown;
}

}  // namespace
}  // namespace stockwatch::aws
