#include "cli/api_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "s3cret-token";

// A socket bound to a free loopback port (port 0), listening or not.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listen_on_it) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    if (listen_on_it) {
      EXPECT_EQ(listen(fd_, 8), 0);
    }
  }
  ~LoopbackSocket() { close(fd_); }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  int Fd() const { return fd_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct RecordedRequest {
  std::string head;  // request line and headers
  std::string body;
};

// Serves one request on one connection with a canned answer, on its own thread, and keeps
// what it received. Gives up after 10 s without a connection, so a broken client cannot hang
// the test.
class OneShotServer {
 public:
  OneShotServer(int status, std::string body) : socket_(true) {
    thread_ = std::thread([this, status, body = std::move(body)] { Serve(status, body); });
  }
  ~OneShotServer() {
    if (thread_.joinable()) thread_.join();
  }

  std::string Url() const { return socket_.Url(); }
  // Waits for the exchange to finish and returns what the client sent.
  const RecordedRequest& Request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void Serve(int status, const std::string& body) {
    pollfd ready{socket_.Fd(), POLLIN, 0};
    if (poll(&ready, 1, 10000) != 1) return;
    const int conn = accept(socket_.Fd(), nullptr, nullptr);
    if (conn < 0) return;
    std::string data;
    char buffer[65536];
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    while (true) {
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          request_.head = data.substr(0, header_end);
          const size_t at = request_.head.find("Content-Length: ");
          if (at != std::string::npos) content_length = std::stoul(request_.head.substr(at + 16));
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) {
        break;
      }
      const ssize_t n = read(conn, buffer, sizeof(buffer));
      if (n <= 0) break;
      data.append(buffer, static_cast<size_t>(n));
    }
    if (header_end != std::string::npos) request_.body = data.substr(header_end + 4);
    const std::string answer = "HTTP/1.1 " + std::to_string(status) +
                               " Whatever\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < answer.size()) {
      const ssize_t n = write(conn, answer.data() + sent, answer.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(conn);
  }

  LoopbackSocket socket_;
  RecordedRequest request_;
  std::thread thread_;
};

ApiClient MakeClient(const std::string& url) {
  ApiClientOptions options;
  options.server = url + "/";  // a trailing slash is dropped
  options.token = kToken;
  return ApiClient(options);
}

TEST(ApiClientTest, GetSendsTheBearerTokenAndReturnsTheBody) {
  OneShotServer server(200, R"({"stores":[]})");
  ApiClient client = MakeClient(server.Url());
  auto response = client.Get("/api/v1/stores?x=1");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"stores":[]})");
  const RecordedRequest& got = server.Request();
  EXPECT_THAT(got.head, HasSubstr("GET /api/v1/stores?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(got.head, HasSubstr("Authorization: Bearer s3cret-token\r\n"));
}

TEST(ApiClientTest, ErrorStatusIsAValueWithItsErrorDocument) {
  OneShotServer server(404, R"({"error":{"code":"not_found","message":"no upload 9"}})");
  ApiClient client = MakeClient(server.Url());
  auto response = client.Get("/api/v1/uploads/9");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
  const ApiError error = ParseApiError(*response);
  EXPECT_EQ(error.status, 404);
  EXPECT_EQ(error.code, "not_found");
  EXPECT_EQ(error.message, "no upload 9");
  EXPECT_TRUE(error.details.empty());
}

TEST(ApiClientTest, PostSendsJson) {
  OneShotServer server(201, R"({"id":3})");
  ApiClient client = MakeClient(server.Url());
  auto response = client.Post("/api/v1/subscriptions", {{"topic", "NoStock"}});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 201);
  const RecordedRequest& got = server.Request();
  EXPECT_THAT(got.head, HasSubstr("POST /api/v1/subscriptions HTTP/1.1\r\n"));
  EXPECT_THAT(got.head, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_EQ(got.body, R"({"topic":"NoStock"})");
}

TEST(ApiClientTest, PatchSendsJsonWithItsMethod) {
  OneShotServer server(200, R"({"id":4})");
  ApiClient client = MakeClient(server.Url());
  auto response = client.Patch("/api/v1/subscriptions/4", {{"quiet_hours", nullptr}});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  const RecordedRequest& got = server.Request();
  EXPECT_THAT(got.head, HasSubstr("PATCH /api/v1/subscriptions/4 HTTP/1.1\r\n"));
  EXPECT_THAT(got.head, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_EQ(got.body, R"({"quiet_hours":null})");
}

TEST(ApiClientTest, PutAndDeleteUseTheirMethods) {
  {
    OneShotServer server(200, "{}");
    ApiClient client = MakeClient(server.Url());
    ASSERT_TRUE(client.Put("/api/v1/thresholds", {{"value", nullptr}}).ok());
    EXPECT_THAT(server.Request().head, HasSubstr("PUT /api/v1/thresholds HTTP/1.1\r\n"));
    EXPECT_EQ(server.Request().body, R"({"value":null})");
  }
  {
    OneShotServer server(204, "");
    ApiClient client = MakeClient(server.Url());
    auto response = client.Delete("/api/v1/subscriptions/4");
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 204);
    EXPECT_THAT(server.Request().head, HasSubstr("DELETE /api/v1/subscriptions/4 HTTP/1.1\r\n"));
  }
}

TEST(ApiClientTest, PutFileStreamsTheWholeFileWithItsLength) {
  const std::filesystem::path path =
      std::filesystem::path(testing::TempDir()) / "api_client_test_upload.csv";
  std::string content = "store,item,count\n";
  while (content.size() < (3u << 20))
    content += "Berlin,Item " + std::to_string(content.size()) + ",7\n";
  {
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  OneShotServer server(201, R"({"id":1,"status":"pending"})");
  ApiClient client = MakeClient(server.Url());
  uint64_t last_sent = 0;
  uint64_t last_total = 0;
  auto response = client.PutFile("/api/v1/uploads/a%20b.csv", path.string(),
                                 [&](uint64_t sent, uint64_t total) {
                                   EXPECT_GE(sent, last_sent);
                                   last_sent = sent;
                                   last_total = total;
                                 });
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 201);
  const RecordedRequest& got = server.Request();
  EXPECT_THAT(got.head, HasSubstr("PUT /api/v1/uploads/a%20b.csv HTTP/1.1\r\n"));
  EXPECT_THAT(got.head + "\r\n",
              HasSubstr("Content-Length: " + std::to_string(content.size()) + "\r\n"));
  EXPECT_THAT(got.head + "\r\n", HasSubstr("Content-Type: text/csv\r\n"));
  EXPECT_THAT(got.head, Not(HasSubstr("Expect:")));
  EXPECT_TRUE(got.body == content) << "body of " << got.body.size() << " bytes differs";
  EXPECT_EQ(last_total, content.size());
  EXPECT_EQ(last_sent, content.size());
  std::filesystem::remove(path);
}

TEST(ApiClientTest, PutFileOfAMissingFileIsNotFound) {
  ApiClient client = MakeClient("http://127.0.0.1:9");
  auto response = client.PutFile("/api/v1/uploads/x.csv", "/nonexistent/dir/x.csv", nullptr);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(response.status().message()),
              HasSubstr("cannot open /nonexistent/dir/x.csv"));
}

TEST(ApiClientTest, RefusedConnectionIsUnavailableAndNamesTheServerNotTheToken) {
  // Bound but not listening: the kernel refuses connections to it.
  LoopbackSocket closed(false);
  ApiClientOptions options;
  options.server = "http://user:pw@" + closed.Url().substr(7);
  options.token = kToken;
  ApiClient client(options);
  auto response = client.Get("/api/v1/stores");
  ASSERT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  const std::string message(response.status().message());
  EXPECT_THAT(message, HasSubstr("cannot reach " + closed.Url() + ": "));
  EXPECT_THAT(message, Not(HasSubstr(kToken)));
  EXPECT_THAT(message, Not(HasSubstr("pw")));
}

TEST(ApiClientTest, ResponseAboveTheLimitIsResourceExhausted) {
  OneShotServer server(200, std::string(5000, 'x'));
  ApiClientOptions options;
  options.server = server.Url();
  options.token = kToken;
  options.max_response_bytes = 1000;
  ApiClient client(options);
  auto response = client.Get("/api/v1/inventory");
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ApiClientTest, MovedClientStillWorks) {
  OneShotServer server(200, "{}");
  ApiClient first = MakeClient(server.Url());
  ApiClient second = std::move(first);
  auto response = second.Get("/healthz");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
}

TEST(ParseApiErrorTest, KeepsMessageAndDetails) {
  HttpResponse response{400, R"({"error":{"code":"invalid_argument",
      "message":"a.csv:3:7: count \"x\" is not a whole number",
      "details":["a.csv:3:7: count \"x\" is not a whole number","a.csv:4:1: store is empty"]}})"};
  const ApiError error = ParseApiError(response);
  EXPECT_EQ(error.code, "invalid_argument");
  EXPECT_EQ(error.message, "a.csv:3:7: count \"x\" is not a whole number");
  EXPECT_EQ(error.details, (std::vector<std::string>{"a.csv:3:7: count \"x\" is not a whole number",
                                                     "a.csv:4:1: store is empty"}));
}

TEST(ParseApiErrorTest, FallsBackToTheFirstLineOfAnyOtherBody) {
  EXPECT_EQ(ParseApiError({502, "Bad Gateway\r\nmore"}).message, "Bad Gateway");
  EXPECT_EQ(ParseApiError({500, ""}).message, "the server gave no reason");
  EXPECT_EQ(ParseApiError({500, R"({"error":"flat"})"}).message, R"({"error":"flat"})");
}

TEST(UrlEncodeTest, KeepsUnreservedCharactersOnly) {
  EXPECT_EQ(UrlEncode("inventory-berlin_2.csv~"), "inventory-berlin_2.csv~");
  EXPECT_EQ(UrlEncode("my inventory.csv"), "my%20inventory.csv");
  EXPECT_EQ(UrlEncode("a/b\\c"), "a%2Fb%5Cc");
  EXPECT_EQ(UrlEncode("../etc/passwd"), "..%2Fetc%2Fpasswd");
  EXPECT_EQ(UrlEncode("Lager Düsseldorf.csv"), "Lager%20D%C3%BCsseldorf.csv");
  EXPECT_EQ(UrlEncode("東京.csv"), "%E6%9D%B1%E4%BA%AC.csv");
  EXPECT_EQ(UrlEncode("a+b&c=d?e#f%"), "a%2Bb%26c%3Dd%3Fe%23f%25");
  EXPECT_EQ(UrlEncode(std::string("\0\n", 2)), "%00%0A");
}

TEST(WithQueryTest, SkipsEmptyValuesAndEncodes) {
  EXPECT_EQ(WithQuery("/api/v1/inventory", {}), "/api/v1/inventory");
  EXPECT_EQ(WithQuery("/api/v1/inventory", {{"store", ""}, {"limit", "5"}}),
            "/api/v1/inventory?limit=5");
  EXPECT_EQ(WithQuery("/x", {{"store", "San José"}, {"cursor", "a&b=c"}}),
            "/x?store=San%20Jos%C3%A9&cursor=a%26b%3Dc");
}

TEST(RedactUrlTest, DropsUserInfoOnly) {
  EXPECT_EQ(RedactUrl("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(RedactUrl("https://u:p@host:1/base?q=1"), "https://host:1/base?q=1");
  EXPECT_EQ(RedactUrl("http://host/a@b"), "http://host/a@b");
}

TEST(IsHttpUrlTest, AcceptsHttpAndHttpsWithAHost) {
  EXPECT_TRUE(IsHttpUrl("http://127.0.0.1:8080"));
  EXPECT_TRUE(IsHttpUrl("HTTPS://example.com/stockwatch/"));
  EXPECT_FALSE(IsHttpUrl("ftp://example.com"));
  EXPECT_FALSE(IsHttpUrl("127.0.0.1:8080"));
  EXPECT_FALSE(IsHttpUrl("http://"));
  EXPECT_FALSE(IsHttpUrl("file:///etc/passwd"));
}

}  // namespace
}  // namespace stockwatch::cli
