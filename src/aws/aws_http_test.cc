#include "aws/aws_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aws/aws_error.h"
#include "aws/dynamodb_client.h"

namespace stockwatch::aws {
namespace {

TEST(ParseAwsErrorTest, JsonProtocolKeepsCodeAndRequestId) {
  const absl::Status status =
      ParseAwsError(ErrorProtocol::kJson, "dynamodb", 400,
                    R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",)"
                    R"("message":"Requested resource not found"})",
                    "REQ123");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AwsErrorCode(status), "ResourceNotFoundException");
  EXPECT_EQ(AwsRequestId(status), "REQ123");
  EXPECT_EQ(status.message(),
            "dynamodb: ResourceNotFoundException: Requested resource not found (HTTP 400, "
            "request id REQ123)");
}

TEST(ParseAwsErrorTest, ConditionalCheckIsFailedPrecondition) {
  const absl::Status status = ParseAwsError(
      ErrorProtocol::kJson, "dynamodb", 400,
      R"({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",)"
      R"("Message":"The conditional request failed"})",
      "");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(AwsErrorCode(status), "ConditionalCheckFailedException");
  EXPECT_EQ(AwsRequestId(status), std::nullopt);
}

TEST(ParseAwsErrorTest, QueryProtocolXml) {
  const absl::Status status = ParseAwsError(ErrorProtocol::kQueryXml, "sns", 404,
                                            "<ErrorResponse><Error><Type>Sender</Type>"
                                            "<Code>NotFound</Code><Message>Topic does not exist"
                                            "</Message></Error><RequestId>abc-1</RequestId>"
                                            "</ErrorResponse>",
                                            "");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AwsErrorCode(status), "NotFound");
  EXPECT_EQ(AwsRequestId(status), "abc-1");  // from the body when no header had it
}

TEST(ParseAwsErrorTest, RestXmlAndStatusOnlyAnswers) {
  const absl::Status denied = ParseAwsError(
      ErrorProtocol::kRestXml, "s3", 403,
      "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message>"
      "<RequestId>R1</RequestId></Error>",
      "HDR");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AwsErrorCode(denied), "SignatureDoesNotMatch");
  EXPECT_EQ(AwsRequestId(denied), "HDR");  // the header wins

  const absl::Status head = ParseAwsError(ErrorProtocol::kRestXml, "s3", 404, "", "R2");
  EXPECT_EQ(head.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AwsErrorCode(head), "NotFound");

  const absl::Status gateway =
      ParseAwsError(ErrorProtocol::kJson, "dynamodb", 502, "<html>bad gateway</html>", "");
  EXPECT_EQ(gateway.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AwsErrorCode(gateway), "HttpError502");
}

TEST(ParseAwsErrorTest, ThrottlingCodes) {
  for (const char* code : {"ThrottlingException", "ProvisionedThroughputExceededException",
                           "RequestLimitExceeded", "SlowDown"}) {
    EXPECT_TRUE(IsThrottlingErrorCode(code)) << code;
    EXPECT_EQ(CanonicalCodeForAwsError(code, 400), absl::StatusCode::kUnavailable) << code;
  }
  EXPECT_FALSE(IsThrottlingErrorCode("ValidationException"));
}

// A tiny HTTP/1.1 server on 127.0.0.1:0 that answers requests from a script, in order
// (the last answer repeats), keeping connections alive. No real AWS endpoint throttles on
// demand, and moto never throttles, so this stands in for one that does.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> answers) : answers_(std::move(answers)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listener_, 8), 0);
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

  static std::string Answer(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: req-" +
           std::to_string(status) + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  }

 private:
  void Serve() {
    while (true) {
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      connections_.fetch_add(1);
      HandleConnection(connection);
      close(connection);
    }
  }
  void HandleConnection(int connection) {
    std::string buffer;
    char chunk[4096];
    while (true) {
      size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = recv(connection, chunk, sizeof(chunk), 0);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<size_t>(n));
      }
      size_t content_length = 0;
      const std::string head = buffer.substr(0, header_end);
      for (const char* name : {"Content-Length: ", "content-length: "}) {
        const size_t at = head.find(name);
        if (at != std::string::npos) content_length = std::stoul(head.substr(at + 16));
      }
      while (buffer.size() < header_end + 4 + content_length) {
        const ssize_t n = recv(connection, chunk, sizeof(chunk), 0);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back(buffer.substr(0, header_end + 4 + content_length));
      }
      buffer.erase(0, header_end + 4 + content_length);
      const int index = requests_.fetch_add(1);
      const std::string& answer =
          answers_[std::min<size_t>(static_cast<size_t>(index), answers_.size() - 1)];
      if (send(connection, answer.data(), answer.size(), MSG_NOSIGNAL) < 0) return;
    }
  }

  std::vector<std::string> answers_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::string> received_;
};

AwsConfig TestConfig(const std::string& endpoint) {
  AwsConfig config;
  config.credentials = {"AKIDTEST", "secret", ""};
  config.region = "us-east-1";
  config.endpoint_url = endpoint;
  config.max_attempts = 3;
  config.retry_base_delay = std::chrono::milliseconds(1);
  return config;
}

const std::string kThrottled = ScriptedServer::Answer(
    400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",)"
         R"("message":"Rate of requests exceeds the allowed throughput."})");

TEST(AwsHttpClientTest, RetriesThrottlingThenSucceeds) {
  ScriptedServer server(
      {kThrottled, kThrottled, ScriptedServer::Answer(200, R"({"TableNames":["Inventory"]})")});
  DynamoDbClient client(TestConfig(server.url()));
  absl::StatusOr<nlohmann::json> tables = client.Call("ListTables", nlohmann::json::object());
  ASSERT_TRUE(tables.ok()) << tables.status();
  EXPECT_EQ((*tables)["TableNames"][0], "Inventory");
  EXPECT_EQ(server.requests(), 3);
  // Every attempt is signed afresh, with our signer, for dynamodb.
  for (const std::string& request : server.received()) {
    EXPECT_NE(request.find("Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
              std::string::npos)
        << request;
    EXPECT_NE(request.find("/us-east-1/dynamodb/aws4_request"), std::string::npos);
    EXPECT_NE(request.find("x-amz-target: DynamoDB_20120810.ListTables"), std::string::npos);
  }
}

TEST(AwsHttpClientTest, SignsTheSessionTokenLambdaGives) {
  ScriptedServer server({ScriptedServer::Answer(200, "{}")});
  AwsConfig config = TestConfig(server.url());
  config.credentials.session_token = "FwoGZXIvYXdzEXAMPLE";
  DynamoDbClient client(config);
  ASSERT_TRUE(client.Call("ListTables", nlohmann::json::object()).ok());
  const std::vector<std::string> received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_NE(received[0].find("x-amz-security-token: FwoGZXIvYXdzEXAMPLE"), std::string::npos)
      << received[0];
  EXPECT_NE(received[0].find("x-amz-security-token;x-amz-target"), std::string::npos)
      << received[0];  // signed
}

TEST(AwsHttpClientTest, ReusesTheConnection) {
  ScriptedServer server({ScriptedServer::Answer(200, "{}")});
  DynamoDbClient client(TestConfig(server.url()));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.Call("ListTables", nlohmann::json::object()).ok());
  }
  EXPECT_EQ(server.requests(), 5);
  EXPECT_EQ(server.connections(), 1);
}

TEST(AwsHttpClientTest, GivesUpAfterMaxAttemptsKeepingTheAwsCode) {
  ScriptedServer server({kThrottled});
  DynamoDbClient client(TestConfig(server.url()));
  const absl::Status status = client.Call("ListTables", nlohmann::json::object()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AwsErrorCode(status), "ThrottlingException");
  EXPECT_EQ(AwsRequestId(status), "req-400");
  EXPECT_NE(status.message().find("after 3 attempts"), std::string::npos) << status;
  EXPECT_EQ(server.requests(), 3);
}

TEST(AwsHttpClientTest, DoesNotRetryClientErrors) {
  ScriptedServer server({ScriptedServer::Answer(
      400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"no"})")});
  DynamoDbClient client(TestConfig(server.url()));
  const absl::Status status = client.Call("ListTables", nlohmann::json::object()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AwsErrorCode(status), "ValidationException");
  EXPECT_EQ(server.requests(), 1);
}

TEST(AwsHttpClientTest, RetriesServerErrors) {
  ScriptedServer server({ScriptedServer::Answer(500, "{}"), ScriptedServer::Answer(200, "{}")});
  DynamoDbClient client(TestConfig(server.url()));
  EXPECT_TRUE(client.Call("ListTables", nlohmann::json::object()).ok());
  EXPECT_EQ(server.requests(), 2);
}

TEST(AwsHttpClientTest, ConnectionRefusedIsUnavailableNetworkingError) {
  int port = 0;
  {
    // A port that was free a moment ago and has no listener now.
    ScriptedServer server({ScriptedServer::Answer(200, "{}")});
    port = std::stoi(server.url().substr(server.url().rfind(':') + 1));
  }
  AwsConfig config = TestConfig("http://127.0.0.1:" + std::to_string(port));
  config.max_attempts = 2;
  DynamoDbClient client(config);
  const absl::Status status = client.Call("ListTables", nlohmann::json::object()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AwsErrorCode(status), "NetworkingError");
}

TEST(AwsHttpClientTest, BatchWriteRetriesUnprocessedItems) {
  // The first call leaves two items unprocessed (as DynamoDB does under load); they go out
  // again in the next call.
  const std::string unprocessed = ScriptedServer::Answer(
      200, R"({"UnprocessedItems":{"Inventory":[)"
           R"({"PutRequest":{"Item":{"Store":{"S":"A"},"Item":{"S":"x1"},"Count":{"N":"1"}}}},)"
           R"({"PutRequest":{"Item":{"Store":{"S":"A"},"Item":{"S":"x2"},"Count":{"N":"2"}}}}]}})");
  ScriptedServer server({unprocessed, ScriptedServer::Answer(200, R"({"UnprocessedItems":{}})")});
  DynamoDbClient client(TestConfig(server.url()));
  std::vector<DynamoWriteRequest> writes;
  for (int i = 0; i < 10; ++i) {
    writes.push_back(DynamoWriteRequest::Put({{"Store", DynamoS("A")},
                                              {"Item", DynamoS("x" + std::to_string(i))},
                                              {"Count", DynamoN(i)}}));
  }
  absl::StatusOr<BatchWriteResult> result = client.BatchWriteItem("Inventory", writes);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->calls, 2);
  EXPECT_EQ(result->written, 10);
  EXPECT_EQ(result->unprocessed_rounds, 1);
  const std::vector<std::string> received = server.received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_NE(received[1].find(R"("S":"x1")"), std::string::npos);
  EXPECT_EQ(received[1].find(R"("S":"x3")"), std::string::npos);
}

TEST(AwsHttpClientTest, BatchWriteGivesUpWhenItemsStayUnprocessed) {
  const std::string unprocessed = ScriptedServer::Answer(
      200, R"({"UnprocessedItems":{"Inventory":[{"PutRequest":{"Item":{"Store":{"S":"A"}}}}]}})");
  ScriptedServer server({unprocessed});
  DynamoDbClient client(TestConfig(server.url()));
  absl::StatusOr<BatchWriteResult> result =
      client.BatchWriteItem("Inventory", {DynamoWriteRequest::Put({{"Store", DynamoS("A")}})}, 2);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AwsErrorCode(result.status()), "ProvisionedThroughputExceededException");
  EXPECT_EQ(server.requests(), 3);
}

TEST(AwsHttpClientTest, BackoffIsBoundedFullJitter) {
  AwsConfig config = TestConfig("http://127.0.0.1:1");
  config.retry_base_delay = std::chrono::milliseconds(100);
  config.retry_max_delay = std::chrono::milliseconds(1000);
  AwsHttpClient client(config, kDynamoDbService);
  for (int i = 0; i < 200; ++i) {
    EXPECT_LT(client.BackoffDelay(1).count(), 100);
    EXPECT_LT(client.BackoffDelay(3).count(), 400);
    EXPECT_LT(client.BackoffDelay(30).count(), 1000);
    EXPECT_GE(client.BackoffDelay(30).count(), 0);
  }
}

TEST(DynamoAttributeTest, BuildsAndReadsSAndN) {
  const nlohmann::json item = {
      {"Store", DynamoS("Berlin")}, {"Count", DynamoN(-42)}, {"Bad", {{"N", "1.5"}}}};
  EXPECT_EQ(item["Store"], nlohmann::json({{"S", "Berlin"}}));
  EXPECT_EQ(item["Count"], nlohmann::json({{"N", "-42"}}));
  EXPECT_EQ(GetDynamoS(item, "Store"), "Berlin");
  EXPECT_EQ(GetDynamoN(item, "Count"), -42);
  EXPECT_EQ(GetDynamoN(item, "Bad"), std::nullopt);
  EXPECT_EQ(GetDynamoS(item, "Count"), std::nullopt);
  EXPECT_EQ(GetDynamoS(item, "Missing"), std::nullopt);
}

}  // namespace
}  // namespace stockwatch::aws
