// The real HttpServer on 127.0.0.1 port 0 over the in-memory adapters, driven by libcurl
// and, for what curl will not send, by a raw socket.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/memory/in_memory_access_key_store.h"
#include "adapters/memory/in_memory_credential_store.h"
#include "adapters/memory/in_memory_inventory_store.h"
#include "adapters/memory/in_memory_notifier.h"
#include "adapters/memory/in_memory_object_store.h"
#include "adapters/memory/in_memory_user_store.h"
#include "base/metrics.h"
#include "core/loader/loader.h"
#include "nlohmann/json.hpp"

namespace stockwatch::server {
namespace {

using nlohmann::json;

constexpr char kToken[] = "test-token-0123456789abcdef";
constexpr char kBerlin[] =
    "store,item,count\n"
    "Berlin,Echo Dot,12\n"
    "Berlin,Echo (2nd Gen),19\n"
    "Berlin,Echo Show,18\n"
    "Berlin,Echo Plus,0\n"
    "Berlin,Echo Look,3\n"
    "Berlin,Echo Spot,7\n";

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; the last value wins
  long new_connections = 0;
  std::string error;  // curl's error, empty on success

  json Json() const { return json::parse(body, nullptr, false); }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Request {
  Request(std::string method_in, std::string path_in)
      : method(std::move(method_in)), path(std::move(path_in)) {}
  Request& Body(std::string bytes) {
    body = std::move(bytes);
    return *this;
  }
  Request& Header(std::string line) {
    headers.push_back(std::move(line));
    return *this;
  }
  Request& Token(std::optional<std::string> value) {
    token = std::move(value);
    return *this;
  }
  // Sends the body with Transfer-Encoding: chunked, `bytes` per read callback.
  Request& Chunked(size_t bytes = 7) {
    chunked = true;
    chunk_bytes = bytes;
    return *this;
  }

  std::string method;
  std::string path;
  std::optional<std::string> body;
  std::vector<std::string> headers;
  std::optional<std::string> token = kToken;
  bool chunked = false;
  size_t chunk_bytes = 7;
};

// A libcurl easy handle; reused across requests so that connections are kept alive. With a
// `ca_file` it speaks HTTPS, trusting only that certificate.
class Client {
 public:
  explicit Client(uint16_t port, std::string ca_file = "")
      : port_(port), ca_file_(std::move(ca_file)), curl_(curl_easy_init()) {}
  ~Client() { curl_easy_cleanup(curl_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Reply Send(const Request& request) {
    curl_easy_reset(curl_);
    Reply reply;
    std::string url = std::string(ca_file_.empty() ? "http" : "https") +
                      "://127.0.0.1:" + std::to_string(port_) + request.path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    if (!ca_file_.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, ca_file_.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 70L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Client::OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Client::OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &reply);
    curl_slist* headers = nullptr;
    for (const std::string& header : request.headers) {
      headers = curl_slist_append(headers, header.c_str());
    }
    if (request.token) {
      headers = curl_slist_append(headers, ("Authorization: Bearer " + *request.token).c_str());
    }
    Upload upload{request.body.value_or(""), 0, request.chunk_bytes};
    if (request.body && request.chunked) {
      curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl_, CURLOPT_READFUNCTION, &Client::OnRead);
      curl_easy_setopt(curl_, CURLOPT_READDATA, &upload);
      headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    } else if (request.body) {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, request.body->data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body->size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    CURLcode code = curl_easy_perform(curl_);
    if (code != CURLE_OK) reply.error = curl_easy_strerror(code);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &reply.new_connections);
    curl_slist_free_all(headers);
    return reply;
  }

  Reply Get(const std::string& path) { return Send(Request("GET", path)); }

 private:
  struct Upload {
    std::string data;
    size_t offset;
    size_t chunk_bytes;
  };

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    static_cast<Reply*>(user)->body.append(data, size * count);
    return size * count;
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    std::string line(data, size * count);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      value.erase(value.find_last_not_of("\r\n ") + 1);
      static_cast<Reply*>(user)->headers[name] = value;
    }
    return size * count;
  }

  static size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
    auto* upload = static_cast<Upload*>(user);
    size_t n = std::min({size * count, upload->chunk_bytes, upload->data.size() - upload->offset});
    std::copy_n(upload->data.data() + upload->offset, n, buffer);
    upload->offset += n;
    return n;
  }

  uint16_t port_;
  std::string ca_file_;
  CURL* curl_;
};

// A plain TCP connection for requests curl would not send (malformed, interactive).
class RawConnection {
 public:
  explicit RawConnection(uint16_t port,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    SetTimeout(timeout);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  void SetTimeout(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Reads until `marker` has arrived (returning everything read so far), EOF or timeout.
  std::string ReadUntil(std::string_view marker) {
    while (pending_.find(marker) == std::string::npos) {
      if (!ReadMore()) break;
    }
    size_t end = pending_.find(marker);
    end = end == std::string::npos ? pending_.size() : end + marker.size();
    std::string out = pending_.substr(0, end);
    pending_.erase(0, end);
    return out;
  }

  // Everything until the server closes (or the timeout).
  std::string ReadAll() {
    while (ReadMore()) {
    }
    return std::exchange(pending_, "");
  }

  // Whether the server closed the connection (EOF) before the timeout.
  bool ClosedByPeer() {
    char byte;
    ssize_t n = ::recv(fd_, &byte, 1, 0);
    if (n > 0) pending_.push_back(byte);
    return n == 0;
  }

 private:
  bool ReadMore() {
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string pending_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }

  void SetUp() override {
    ASSERT_TRUE(credentials_.AddToken("admin", "admin", kToken, clock_.Now()).ok());
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  void StartServer(ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    server_ =
        std::make_unique<HttpServer>(Services{objects_, inventory_, inventory_, notifier_,
                                              credentials_, clock_, wakeup_, access_keys_, users_},
                                     options);
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    client_ = std::make_unique<Client>(server_->port());
  }

  Reply Upload(const std::string& name, const std::string& body, bool chunked = false) {
    Request request("PUT", "/api/v1/uploads/" + name);
    request.Body(body);
    if (chunked) request.Chunked();
    return client_->Send(request);
  }

  Reply PostJson(const std::string& path, const std::string& body) {
    return client_->Send(Request("POST", path).Body(body).Header("Content-Type: application/json"));
  }

  Reply PutJson(const std::string& path, const std::string& body) {
    return client_->Send(Request("PUT", path).Body(body).Header("Content-Type: application/json"));
  }

  void LoadPending() {
    core::Loader loader(objects_, inventory_, clock_, core::LoaderOptions{});
    absl::StatusOr<std::vector<core::LoadReport>> reports = loader.LoadPending();
    ASSERT_TRUE(reports.ok()) << reports.status();
  }

  size_t StoredEvents() {
    absl::StatusOr<std::vector<core::ObjectCreatedEvent>> events = objects_.EventsAfter(0, 100);
    return events.ok() ? events->size() : 0;
  }

  static void ExpectError(const Reply& reply, long status, const std::string& code) {
    EXPECT_EQ(reply.status, status) << reply.body;
    json body = reply.Json();
    ASSERT_TRUE(body.is_object()) << reply.body;
    EXPECT_EQ(body["error"]["code"], code) << reply.body;
    EXPECT_TRUE(body["error"]["message"].is_string()) << reply.body;
  }

  core::SystemClock clock_;
  adapters::InMemoryObjectStore objects_{clock_};
  adapters::InMemoryInventoryStore inventory_;
  adapters::InMemoryNotifier notifier_{clock_};
  adapters::InMemoryCredentialStore credentials_;
  adapters::InMemoryAccessKeyStore access_keys_;
  adapters::InMemoryUserStore users_;
  base::WorkSignal wakeup_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(HttpServerTest, HealthzNeedsNoToken) {
  StartServer();
  Reply reply = client_->Send(Request("GET", "/healthz").Token(std::nullopt));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Json(), json::parse(R"({"status":"ok"})"));
  EXPECT_EQ(reply.Header("content-type"), "application/json");
}

TEST_F(HttpServerTest, EverythingElseNeedsAValidBearerToken) {
  StartServer();
  for (std::string path : {"/api/v1/stores", "/api/v1/uploads", "/metrics", "/api/v1/nope"}) {
    Reply missing = client_->Send(Request("GET", path).Token(std::nullopt));
    ExpectError(missing, 401, "unauthenticated");
    EXPECT_EQ(missing.Header("www-authenticate"), "Bearer");
    Reply wrong = client_->Send(Request("GET", path).Token("wrong"));
    ExpectError(wrong, 401, "unauthenticated");
    EXPECT_EQ(wrong.Header("www-authenticate"), "Bearer");
    Reply basic =
        client_->Send(Request("GET", path).Header("Authorization: Basic YTpi").Token(std::nullopt));
    ExpectError(basic, 401, "unauthenticated");
  }
  EXPECT_EQ(client_->Get("/api/v1/stores").status, 200);
  Reply upload =
      client_->Send(Request("PUT", "/api/v1/uploads/x.csv").Body(kBerlin).Token(std::nullopt));
  ExpectError(upload, 401, "unauthenticated");
  EXPECT_EQ(StoredEvents(), 0u);
}

TEST_F(HttpServerTest, EveryResponseCarriesARequestId) {
  StartServer();
  Reply echoed = client_->Send(Request("GET", "/healthz").Header("X-Request-Id: abc-123.4"));
  EXPECT_EQ(echoed.Header("x-request-id"), "abc-123.4");
  Reply generated = client_->Get("/api/v1/nope");
  EXPECT_EQ(generated.status, 404);
  EXPECT_EQ(generated.Header("x-request-id").size(), 16u);
  Reply replaced = client_->Send(Request("GET", "/healthz").Header("X-Request-Id: no spaces!"));
  EXPECT_EQ(replaced.Header("x-request-id").size(), 16u);
  EXPECT_NE(generated.Header("x-request-id"), replaced.Header("x-request-id"));
  Reply unauthenticated = client_->Send(Request("GET", "/metrics").Token(std::nullopt));
  EXPECT_FALSE(unauthenticated.Header("x-request-id").empty());
}

TEST_F(HttpServerTest, ErrorsHaveTheDocumentedShape) {
  StartServer();
  Reply unknown = client_->Get("/api/v1/nope");
  ExpectError(unknown, 404, "not_found");
  EXPECT_EQ(unknown.Json()["error"]["message"], "no route for GET /api/v1/nope");
  EXPECT_FALSE(unknown.Json()["error"].contains("details"));

  Reply wrong_method = client_->Send(Request("POST", "/api/v1/stores").Body("{}"));
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.Header("allow"), "GET");

  Reply bad_query = client_->Get("/api/v1/inventory?limit=0");
  ExpectError(bad_query, 400, "invalid_argument");
  EXPECT_EQ(bad_query.Json()["error"]["message"], "limit 0 is out of range 1..10000");
  ExpectError(client_->Get("/api/v1/inventory?limit=ten"), 400, "invalid_argument");
  ExpectError(client_->Get("/api/v1/inventory?max_count=-1"), 400, "invalid_argument");
  ExpectError(client_->Get("/api/v1/changes?after=x"), 400, "invalid_argument");
  ExpectError(client_->Get("/api/v1/uploads?limit=1001"), 400, "invalid_argument");
  ExpectError(client_->Get("/api/v1/uploads/abc"), 400, "invalid_argument");
  ExpectError(client_->Get("/api/v1/uploads/99"), 404, "not_found");
  ExpectError(client_->Get("/api/v1/deliveries?state=lost"), 400, "invalid_argument");
  ExpectError(client_->Get("/api/v1/inventory?cursor=%zz"), 400, "invalid_argument");
}

TEST_F(HttpServerTest, UploadIsStoredAndAcknowledged) {
  StartServer();
  uint64_t accepted = base::Metrics::Get().uploads_accepted.load();
  Reply reply = Upload("inventory-berlin.csv", kBerlin);
  ASSERT_EQ(reply.status, 201) << reply.body;
  json upload = reply.Json();
  EXPECT_EQ(upload["id"], 1);
  EXPECT_EQ(upload["name"], "inventory-berlin.csv");
  EXPECT_EQ(upload["size"], std::string(kBerlin).size());
  EXPECT_EQ(upload["uploader"], "admin");
  EXPECT_EQ(upload["status"], "pending");
  EXPECT_EQ(upload["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(upload["etag"].get<std::string>().size(), 32u);
  EXPECT_TRUE(upload["created_at"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(reply.Header("location"), "/api/v1/uploads/1");
  EXPECT_EQ(base::Metrics::Get().uploads_accepted.load(), accepted + 1);

  Reply content = client_->Get("/api/v1/uploads/1/content");
  EXPECT_EQ(content.status, 200);
  EXPECT_EQ(content.body, kBerlin);
  EXPECT_EQ(content.Header("content-type"), "text/csv");

  Reply event = client_->Get("/api/v1/uploads/1/event");
  ASSERT_EQ(event.status, 200);
  json record = event.Json()["Records"][0];
  EXPECT_EQ(record["eventName"], "ObjectCreated:Put");
  EXPECT_EQ(record["awsRegion"], "us-east-1");
  EXPECT_EQ(record["s3"]["object"]["key"], "inventory-berlin.csv");

  Reply status = client_->Get("/api/v1/uploads/1");
  EXPECT_EQ(status.Json()["status"], "pending");
  EXPECT_FALSE(status.Json().contains("report"));
}

TEST_F(HttpServerTest, UploadNameIsOneUrlDecodedSegment) {
  StartServer();
  Reply reply = Upload("my%20file%2Fx+y.csv", kBerlin);
  ASSERT_EQ(reply.status, 201) << reply.body;
  EXPECT_EQ(reply.Json()["name"], "my file/x+y.csv");
  ExpectError(Upload("", kBerlin), 400, "invalid_argument");
  ExpectError(Upload("a%00b.csv", kBerlin), 400, "invalid_argument");
  ExpectError(Upload("bad%zz", kBerlin), 400, "invalid_argument");
  ExpectError(Upload(std::string(1025, 'n'), kBerlin), 400, "invalid_argument");
  EXPECT_EQ(Upload(std::string(1024, 'n'), kBerlin).status, 201);
  EXPECT_EQ(StoredEvents(), 2u);
}

TEST_F(HttpServerTest, FileWithBadHeaderIsRefusedAndNothingStored) {
  StartServer();
  uint64_t refused = base::Metrics::Get().uploads_refused.load();
  Reply reply = Upload("inventory-berlin.csv", "store,item,amount\nBerlin,Echo Dot,1\n");
  ExpectError(reply, 400, "invalid_argument");
  json error = reply.Json()["error"];
  EXPECT_EQ(error["message"], "inventory-berlin.csv:1:1: missing column \"count\"");
  ASSERT_TRUE(error["details"].is_array());
  EXPECT_EQ(error["details"][0], "inventory-berlin.csv:1:1: missing column \"count\"");
  EXPECT_EQ(StoredEvents(), 0u);
  EXPECT_EQ(base::Metrics::Get().uploads_refused.load(), refused + 1);
  ExpectError(Upload("empty.csv", "store,item,count\n"), 400, "invalid_argument");
  EXPECT_EQ(StoredEvents(), 0u);
  // The connection is usable after a refusal (kept alive, or closed and reopened by curl).
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

TEST_F(HttpServerTest, LargeRefusedUploadIsAnsweredBeforeItsEnd) {
  StartServer();
  std::string body = "store,item,amount\n";
  while (body.size() < 3'000'000) body += "Berlin,Echo Dot,1\n";
  for (bool chunked : {false, true}) {
    Reply reply = Upload("big.csv", body, chunked);
    ExpectError(reply, 400, "invalid_argument");
    EXPECT_EQ(reply.Json()["error"]["message"], "big.csv:1:1: missing column \"count\"");
  }
  EXPECT_EQ(StoredEvents(), 0u);
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

TEST_F(HttpServerTest, RejectPolicyRefusesAnyBadRowListingTenDetails) {
  ServerOptions options;
  options.bad_row_policy = core::BadRowPolicy::kReject;
  StartServer(options);
  std::string body = "store,item,count\n";
  for (int i = 0; i < 20; ++i) body += "Berlin,Item " + std::to_string(i) + ",x\n";
  Reply reply = Upload("bad.csv", body, /*chunked=*/true);
  ExpectError(reply, 400, "invalid_argument");
  json error = reply.Json()["error"];
  EXPECT_EQ(error["message"], "bad.csv:2:15: count \"x\" is not a whole number");
  ASSERT_TRUE(error["details"].is_array());
  EXPECT_GE(error["details"].size(), 1u);
  EXPECT_LE(error["details"].size(), 10u);
  EXPECT_EQ(StoredEvents(), 0u);
}

TEST_F(HttpServerTest, SkipPolicyAcceptsBadRows) {
  StartServer();
  Reply reply = Upload("some-bad.csv", "store,item,count\nBerlin,Echo Dot,1O\nBerlin,Echo,1\n");
  EXPECT_EQ(reply.status, 201) << reply.body;
}

TEST_F(HttpServerTest, ChunkedUploadIsStreamed) {
  StartServer();
  // About 2.6 MB in 1000-byte chunks: many reads, several 64 KiB buffers.
  std::string body = "store,item,count\n";
  for (int i = 0; i < 100000; ++i)
    body += "Store " + std::to_string(i % 7) + ",Item " + std::to_string(i) + "," +
            std::to_string(i % 50) + "\n";
  Reply reply = client_->Send(Request("PUT", "/api/v1/uploads/big.csv").Body(body).Chunked(1000));
  ASSERT_EQ(reply.status, 201) << reply.body << reply.error;
  EXPECT_EQ(reply.Json()["size"], body.size());
  Reply content = client_->Get("/api/v1/uploads/1/content");
  EXPECT_EQ(content.body.size(), body.size());
  EXPECT_TRUE(content.body == body);
}

TEST_F(HttpServerTest, BodiesOverTheLimitGet413) {
  ServerOptions options;
  options.max_upload_bytes = 1000;
  options.max_body_bytes = 100;
  StartServer(options);
  std::string body = kBerlin;
  while (body.size() <= 1000) body += "Berlin,Echo Dot,1\n";
  Reply declared = Upload("big.csv", body);
  ExpectError(declared, 413, "resource_exhausted");
  Reply chunked = Upload("big.csv", body, /*chunked=*/true);
  ExpectError(chunked, 413, "resource_exhausted");
  EXPECT_EQ(StoredEvents(), 0u);
  EXPECT_EQ(Upload("small.csv", kBerlin).status, 201);

  std::string subscription = R"({"topic":"NoStock","endpoint":"mailto:ops@example.com"})";
  ExpectError(PostJson("/api/v1/subscriptions", subscription + std::string(200, ' ')), 413,
              "resource_exhausted");
  EXPECT_EQ(PostJson("/api/v1/subscriptions", subscription).status, 201);
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  StartServer();
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  std::string body = kBerlin;
  raw.Send("PUT /api/v1/uploads/continue.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           std::string(kToken) + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(raw.ReadUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  raw.Send(body);
  std::string response = raw.ReadUntil("\r\n\r\n");
  EXPECT_TRUE(response.starts_with("HTTP/1.1 201 Created\r\n")) << response;
  EXPECT_EQ(StoredEvents(), 1u);
}

TEST_F(HttpServerTest, ExpectContinueWithOversizeBodyGets413Without100) {
  ServerOptions options;
  options.max_upload_bytes = 10;
  StartServer(options);
  RawConnection raw(server_->port());
  raw.Send("PUT /api/v1/uploads/x.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           std::string(kToken) + "\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
  std::string response = raw.ReadAll();
  EXPECT_TRUE(response.starts_with("HTTP/1.1 413 Payload Too Large\r\n")) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
}

TEST_F(HttpServerTest, MalformedRequestsGet400And431) {
  StartServer();
  {
    RawConnection raw(server_->port());
    raw.Send("NOT HTTP AT ALL\r\n\r\n");
    std::string response = raw.ReadAll();
    EXPECT_TRUE(response.starts_with("HTTP/1.1 400 Bad Request\r\n")) << response;
    EXPECT_NE(response.find("X-Request-Id: "), std::string::npos);
    EXPECT_NE(response.find("\"invalid_argument\""), std::string::npos);
  }
  {
    RawConnection raw(server_->port());
    raw.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    std::string response = raw.ReadAll();
    EXPECT_TRUE(response.starts_with("HTTP/1.1 431 ")) << response.substr(0, 100);
  }
  {
    // Bad chunked framing in an upload: refused, nothing stored.
    RawConnection raw(server_->port());
    raw.Send("PUT /api/v1/uploads/x.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
             std::string(kToken) + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n");
    std::string response = raw.ReadAll();
    EXPECT_TRUE(response.starts_with("HTTP/1.1 400 ")) << response;
    EXPECT_EQ(StoredEvents(), 0u);
  }
}

TEST_F(HttpServerTest, KeepsConnectionsAliveAndServesPipelinedRequests) {
  StartServer();
  EXPECT_EQ(client_->Get("/healthz").new_connections, 1);
  EXPECT_EQ(client_->Get("/api/v1/stores").new_connections, 0);
  EXPECT_EQ(Upload("a.csv", kBerlin).new_connections, 0);
  EXPECT_EQ(client_->Get("/api/v1/uploads/1").new_connections, 0);

  RawConnection raw(server_->port());
  raw.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(raw.ReadUntil("{\"status\":\"ok\"}").starts_with("HTTP/1.1 200 OK"));
  EXPECT_TRUE(raw.ReadUntil("{\"status\":\"ok\"}").starts_with("HTTP/1.1 200 OK"));
}

TEST_F(HttpServerTest, WaitReturnsOnceTheUploadIsLoaded) {
  StartServer();
  ASSERT_EQ(Upload("inventory-berlin.csv", kBerlin).status, 201);
  base::Metrics& metrics = base::Metrics::Get();
  uint64_t requests = metrics.http_requests.load();
  // Load once the waiting request has arrived, as the loader thread would.
  std::thread loader([&] {
    while (metrics.http_requests.load() == requests) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    LoadPending();
  });
  Reply reply = client_->Get("/api/v1/uploads/1?wait=30");
  loader.join();
  ASSERT_EQ(reply.status, 200) << reply.body;
  json upload = reply.Json();
  EXPECT_EQ(upload["status"], "loaded");
  EXPECT_EQ(upload["report"]["status"], "loaded");
  EXPECT_EQ(upload["report"]["rows_read"], 6);
  EXPECT_EQ(upload["report"]["rows_loaded"], 6);
  EXPECT_TRUE(upload["report"]["errors"].is_array());

  Reply list = client_->Get("/api/v1/uploads");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.Json()["uploads"].size(), 1u);
  EXPECT_EQ(list.Json()["uploads"][0]["status"], "loaded");
  EXPECT_TRUE(list.Json()["next_before"].is_null());
  ExpectError(client_->Get("/api/v1/uploads/1?wait=61"), 400, "invalid_argument");
}

TEST_F(HttpServerTest, WaitGivesUpAfterTheTimeoutAsPending) {
  StartServer();
  ASSERT_EQ(Upload("inventory-berlin.csv", kBerlin).status, 201);
  Reply reply = client_->Get("/api/v1/uploads/1?wait=1");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Json()["status"], "pending");
}

TEST_F(HttpServerTest, StopEndsALongPoll) {
  StartServer();
  ASSERT_EQ(Upload("inventory-berlin.csv", kBerlin).status, 201);
  base::Metrics& metrics = base::Metrics::Get();
  uint64_t requests = metrics.http_requests.load();
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    Client client(server_->port());
    client.Get("/api/v1/uploads/1?wait=60");
    done = true;
  });
  while (metrics.http_requests.load() == requests) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  waiter.join();
  EXPECT_TRUE(done);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(HttpServerTest, UploadListPagesNewestFirst) {
  StartServer();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(Upload("f" + std::to_string(i) + ".csv", kBerlin).status, 201);
  json first = client_->Get("/api/v1/uploads?limit=2").Json();
  ASSERT_EQ(first["uploads"].size(), 2u);
  EXPECT_EQ(first["uploads"][0]["id"], 3);
  EXPECT_EQ(first["uploads"][1]["id"], 2);
  EXPECT_EQ(first["uploads"][0]["status"], "pending");
  EXPECT_EQ(first["next_before"], 2);
  json second = client_->Get("/api/v1/uploads?limit=2&before=2").Json();
  ASSERT_EQ(second["uploads"].size(), 1u);
  EXPECT_EQ(second["uploads"][0]["id"], 1);
  EXPECT_TRUE(second["next_before"].is_null());
}

TEST_F(HttpServerTest, InventoryPagesAndItemHistory) {
  StartServer();
  ASSERT_EQ(Upload("inventory-berlin.csv", kBerlin).status, 201);
  LoadPending();
  std::vector<std::string> items;
  std::string cursor;
  int pages = 0;
  while (true) {
    std::string path = "/api/v1/inventory?store=Berlin&limit=4";
    if (!cursor.empty()) path += "&cursor=" + cursor;
    Reply reply = client_->Get(path);
    ASSERT_EQ(reply.status, 200) << reply.body;
    json page = reply.Json();
    ++pages;
    for (const json& item : page["items"]) {
      EXPECT_EQ(item["store"], "Berlin");
      EXPECT_TRUE(item["count"].is_number_integer());
      EXPECT_TRUE(item["updated_at"].is_string());
      items.push_back(item["item"]);
    }
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"];
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(items.size(), 6u);
  EXPECT_TRUE(std::is_sorted(items.begin(), items.end()));

  json out = client_->Get("/api/v1/inventory?max_count=0").Json();
  ASSERT_EQ(out["items"].size(), 1u);
  EXPECT_EQ(out["items"][0]["item"], "Echo Plus");
  EXPECT_EQ(client_->Get("/api/v1/inventory?item_prefix=Echo+S").Json()["items"].size(), 2u);

  Reply item = client_->Get("/api/v1/inventory/Berlin/Echo%20Dot");
  ASSERT_EQ(item.status, 200) << item.body;
  EXPECT_EQ(item.Json()["count"], 12);
  ASSERT_EQ(item.Json()["history"].size(), 1u);
  EXPECT_EQ(item.Json()["history"][0]["event_name"], "INSERT");
  EXPECT_TRUE(item.Json()["history"][0]["old_count"].is_null());
  ExpectError(client_->Get("/api/v1/inventory/Berlin/Nothing"), 404, "not_found");

  json stores = client_->Get("/api/v1/stores").Json();
  ASSERT_EQ(stores["stores"].size(), 1u);
  EXPECT_EQ(stores["stores"][0]["store"], "Berlin");
  EXPECT_EQ(stores["stores"][0]["items"], 6);
  EXPECT_EQ(stores["stores"][0]["out_of_stock"], 1);
  EXPECT_TRUE(stores["stores"][0]["last_updated"].is_string());

  json changes = client_->Get("/api/v1/changes?after=2&limit=3").Json();
  ASSERT_EQ(changes["changes"].size(), 3u);
  EXPECT_EQ(changes["changes"][0]["sequence"], 3);
  EXPECT_EQ(changes["changes"][0]["upload_id"], 1);
}

TEST_F(HttpServerTest, TopicsAlertsAndDeliveries) {
  StartServer();
  json topics = client_->Get("/api/v1/topics").Json();
  EXPECT_EQ(topics["topics"].size(), 3u);
  EXPECT_EQ(client_->Get("/api/v1/alerts?topic=NoStock&limit=5").Json(),
            json::parse(R"({"alerts":[]})"));
  EXPECT_EQ(client_->Get("/api/v1/deliveries?state=pending").Json(),
            json::parse(R"({"deliveries":[]})"));
}

TEST_F(HttpServerTest, SubscriptionsCanBeCreatedListedAndDeleted) {
  StartServer();
  Reply email = PostJson("/api/v1/subscriptions",
                         R"({"topic":"NoStock","endpoint":"mailto:ops@example.com"})");
  ASSERT_EQ(email.status, 201) << email.body;
  EXPECT_EQ(email.Json()["protocol"], "email");
  EXPECT_EQ(email.Json()["endpoint"], "ops@example.com");
  EXPECT_EQ(email.Json()["topic"], "NoStock");
  Reply hook = PostJson("/api/v1/subscriptions",
                        R"({"topic":"LowStock","endpoint":"https://hooks.example.com/a",
                            "protocol":"webhook"})");
  ASSERT_EQ(hook.status, 201) << hook.body;
  EXPECT_EQ(hook.Json()["protocol"], "webhook");

  json list = client_->Get("/api/v1/subscriptions").Json();
  ASSERT_EQ(list["subscriptions"].size(), 2u);
  for (const char* field : {"id", "topic", "protocol", "endpoint", "created_at"}) {
    EXPECT_TRUE(list["subscriptions"][0].contains(field)) << field;
  }

  std::string id = std::to_string(email.Json()["id"].get<int64_t>());
  Reply deleted = client_->Send(Request("DELETE", "/api/v1/subscriptions/" + id));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  ExpectError(client_->Send(Request("DELETE", "/api/v1/subscriptions/" + id)), 404, "not_found");
  ExpectError(client_->Send(Request("DELETE", "/api/v1/subscriptions/x")), 400, "invalid_argument");
}

TEST_F(HttpServerTest, SubscriptionBodiesAreValidated) {
  StartServer();
  auto post = [&](const std::string& body) { return PostJson("/api/v1/subscriptions", body); };
  ExpectError(post(R"({"topic":"Nope","endpoint":"ops@example.com"})"), 400, "invalid_argument");
  ExpectError(post(R"({"endpoint":"ops@example.com"})"), 400, "invalid_argument");
  ExpectError(post(R"({"topic":"NoStock"})"), 400, "invalid_argument");
  ExpectError(post(R"({"topic":"NoStock","endpoint":"ftp://example.com"})"), 400,
              "invalid_argument");
  ExpectError(post(R"({"topic":"NoStock","endpoint":"ops@example.com\r\nBcc: x@y.z"})"), 400,
              "invalid_argument");
  ExpectError(
      post(R"({"topic":"NoStock","endpoint":"https://x.example/)" + std::string(2048, 'a') + "\"}"),
      400, "invalid_argument");
  ExpectError(post(R"({"topic":"NoStock","endpoint":"ops@example.com","protocol":"webhook"})"), 400,
              "invalid_argument");
  ExpectError(post(R"({"topic":"NoStock","endpoint":"ops@example.com","protocol":"sms"})"), 400,
              "invalid_argument");
  ExpectError(post(R"({"topic":7,"endpoint":"ops@example.com"})"), 400, "invalid_argument");
  ExpectError(post("not json"), 400, "invalid_argument");
  ExpectError(post("[1,2]"), 400, "invalid_argument");
  EXPECT_EQ(client_->Get("/api/v1/subscriptions").Json()["subscriptions"].size(), 0u);
}

TEST_F(HttpServerTest, ThresholdsCanBeSetListedAndRemoved) {
  StartServer();
  Reply set = PutJson("/api/v1/thresholds", R"({"store":"Berlin","item":null,"value":5})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Json(), json::parse(R"({"store":"Berlin","item":null,"value":5})"));
  ASSERT_EQ(PutJson("/api/v1/thresholds", R"({"value":2})").status, 200);
  json list = client_->Get("/api/v1/thresholds").Json();
  EXPECT_EQ(list["thresholds"].size(), 2u);

  Reply removed = PutJson("/api/v1/thresholds", R"({"store":"Berlin","value":null})");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_TRUE(removed.Json()["value"].is_null());
  list = client_->Get("/api/v1/thresholds").Json();
  ASSERT_EQ(list["thresholds"].size(), 1u);
  EXPECT_TRUE(list["thresholds"][0]["store"].is_null());
  EXPECT_EQ(list["thresholds"][0]["value"], 2);

  for (std::string bad : {R"({"value":-1})", R"({"value":2147483648})", R"({"value":1.5})",
                          R"({"value":"5"})", R"({"store":"Berlin"})", R"({"store":"","value":1})",
                          R"({"store":" Berlin","value":1})", R"({"item":5,"value":1})"}) {
    ExpectError(PutJson("/api/v1/thresholds", bad), 400, "invalid_argument");
  }
  EXPECT_EQ(PutJson("/api/v1/thresholds", R"({"value":2147483647})").status, 200);
}

TEST_F(HttpServerTest, MetricsAreRenderedAsPrometheusText) {
  StartServer();
  ASSERT_EQ(Upload("a.csv", kBerlin).status, 201);
  Reply reply = client_->Get("/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-type"), "text/plain; version=0.0.4");
  EXPECT_NE(reply.body.find("# TYPE stockwatch_http_requests_total counter"), std::string::npos);
  EXPECT_NE(reply.body.find("stockwatch_uploads_accepted_total "), std::string::npos);
  EXPECT_NE(reply.body.find("stockwatch_stage_accept_seconds_count "), std::string::npos);
}

TEST_F(HttpServerTest, IdleConnectionsAreClosed) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  StartServer(options);
  RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  EXPECT_TRUE(raw.ClosedByPeer());
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitWaitForAFreeSlot) {
  ServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  auto occupant = std::make_unique<RawConnection>(server_->port());
  occupant->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(occupant->ReadUntil("{\"status\":\"ok\"}").starts_with("HTTP/1.1 200 OK"));
  RawConnection waiting(server_->port(), std::chrono::milliseconds(300));
  waiting.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(waiting.ReadUntil("\r\n\r\n"), "");  // not served while the slot is taken
  occupant.reset();
  waiting.SetTimeout(std::chrono::seconds(10));
  EXPECT_TRUE(waiting.ReadUntil("{\"status\":\"ok\"}").starts_with("HTTP/1.1 200 OK"));
}

TEST_F(HttpServerTest, StartFailsOnABadOrTakenAddress) {
  StartServer();
  ServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string(server_->port());
  HttpServer taken(Services{objects_, inventory_, inventory_, notifier_, credentials_, clock_,
                            wakeup_, access_keys_, users_},
                   options);
  EXPECT_EQ(taken.Start().code(), absl::StatusCode::kUnavailable);
  options.listen = "no-port";
  HttpServer bad(Services{objects_, inventory_, inventory_, notifier_, credentials_, clock_,
                          wakeup_, access_keys_, users_},
                 options);
  EXPECT_EQ(bad.Start().code(), absl::StatusCode::kInvalidArgument);
}

// Sends `pieces` pieces ("piece 0\n", ...) one per Next(), then ends; with pieces < 0 it
// never ends and sends nothing.
class CountingProducer final : public StreamProducer {
 public:
  explicit CountingProducer(int pieces) : pieces_(pieces) {}
  bool Next(std::string& out, std::chrono::milliseconds max_wait) override {
    if (pieces_ < 0) {
      std::this_thread::sleep_for(max_wait);
      return true;
    }
    if (sent_ < pieces_) out = "piece " + std::to_string(sent_++) + "\n";
    return sent_ < pieces_;
  }

 private:
  const int pieces_;
  int sent_ = 0;
};

// Answers /finite with a stream of three pieces, /endless with one that never ends and
// anything else with "plain".
class StreamingHandler final : public RequestHandler {
 public:
  HttpResponse Handle(HttpRequest& request) override {
    HttpResponse response;
    response.content_type = "text/plain";
    if (request.target == "/finite") {
      response.producer = std::make_unique<CountingProducer>(3);
    } else if (request.target == "/endless") {
      response.producer = std::make_unique<CountingProducer>(-1);
    } else {
      response.body = "plain";
    }
    return response;
  }
  HttpResponse ErrorFor(const absl::Status& status, const std::string&) override {
    HttpResponse response;
    response.status = status.code() == absl::StatusCode::kUnavailable ? 503 : 500;
    response.body = std::string(status.message());
    return response;
  }
};

class HttpStreamTest : public ::testing::Test {
 protected:
  void StartServer(size_t max_streams = 64) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.max_streams = max_streams;
    server_ = std::make_unique<HttpServer>(handler_, options);
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  StreamingHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpStreamTest, ProducedBodyIsSentChunkedAndKeepsTheConnection) {
  StartServer();
  RawConnection raw(server_->port());
  raw.Send("GET /finite HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string reply = raw.ReadUntil("\r\n0\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK")) << reply;
  EXPECT_NE(reply.find("Transfer-Encoding: chunked"), std::string::npos) << reply;
  EXPECT_NE(reply.find("8\r\npiece 0\n\r\n8\r\npiece 1\n\r\n8\r\npiece 2\n\r\n0\r\n\r\n"),
            std::string::npos)
      << reply;
  raw.Send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(raw.ReadUntil("plain").starts_with("HTTP/1.1 200 OK"));
}

TEST_F(HttpStreamTest, HttpOneZeroStreamEndsWithTheConnection) {
  StartServer();
  RawConnection raw(server_->port());
  raw.Send("GET /finite HTTP/1.0\r\n\r\n");
  std::string reply = raw.ReadAll();
  EXPECT_TRUE(reply.starts_with("HTTP/1.0 200 OK")) << reply;
  EXPECT_EQ(reply.find("chunked"), std::string::npos) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\npiece 0\npiece 1\npiece 2\n")) << reply;
}

TEST_F(HttpStreamTest, StreamsBeyondTheLimitAreRefusedUntilOneCloses) {
  StartServer(/*max_streams=*/1);
  auto first = std::make_unique<RawConnection>(server_->port());
  first->Send("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(first->ReadUntil("\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
  {
    RawConnection second(server_->port());
    second.Send("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string refused = second.ReadUntil("retry later");
    EXPECT_TRUE(refused.starts_with("HTTP/1.1 503")) << refused;
    EXPECT_NE(refused.find("Retry-After: 5"), std::string::npos) << refused;
    // Ordinary requests are still served.
    second.Send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(second.ReadUntil("plain").starts_with("HTTP/1.1 200 OK"));
  }
  // The client going away frees its slot: a later stream gets it.
  first.reset();
  // The listener notices the closed connection between two producer calls: retry until it
  // has (bounded, so a regression fails instead of hanging).
  bool served = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!served && std::chrono::steady_clock::now() < give_up) {
    RawConnection next(server_->port());
    next.Send("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
    served = next.ReadUntil("\r\n\r\n").starts_with("HTTP/1.1 200 OK");
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpStreamTest, StopEndsOpenStreams) {
  StartServer();
  RawConnection raw(server_->port(), std::chrono::seconds(30));
  raw.Send("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(raw.ReadUntil("\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
  server_->Stop();  // returns although the producer never ends
  EXPECT_TRUE(raw.ClosedByPeer());
}

// A self-signed certificate for 127.0.0.1 with its private key, as PEM files in a fresh
// temporary directory (removed by the destructor); the key file is private (0600).
class TestCertificate {
 public:
  TestCertificate() {
    char pattern[] = "/tmp/sw-tls-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    cert_file = dir_ + "/cert.pem";
    key_file = dir_ + "/key.pem";
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
      X509_add_ext(cert, extension, -1);
      X509_EXTENSION_free(extension);
    }
    X509_sign(cert, key, EVP_sha256());
    std::FILE* out = std::fopen(cert_file.c_str(), "w");
    PEM_write_X509(out, cert);
    std::fclose(out);
    out = std::fopen(key_file.c_str(), "w");
    PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(out);
    ::chmod(key_file.c_str(), 0600);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  ~TestCertificate() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

  // A file in the directory holding `content`.
  std::string Write(const std::string& file, const std::string& content) const {
    const std::string path = dir_ + "/" + file;
    std::FILE* out = std::fopen(path.c_str(), "w");
    std::fputs(content.c_str(), out);
    std::fclose(out);
    ::chmod(path.c_str(), 0600);
    return path;
  }

  std::string cert_file;
  std::string key_file;

 private:
  std::string dir_;
};

class HttpsServerTest : public HttpServerTest {
 protected:
  void StartTls(ServerOptions options = {}) {
    options.tls_cert_file = certificate_.cert_file;
    options.tls_key_file = certificate_.key_file;
    StartServer(options);
    client_ = std::make_unique<Client>(server_->port(), certificate_.cert_file);
  }

  absl::Status StartWith(const std::string& cert_file, const std::string& key_file) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls_cert_file = cert_file;
    options.tls_key_file = key_file;
    HttpServer server(Services{objects_, inventory_, inventory_, notifier_, credentials_, clock_,
                               wakeup_, access_keys_, users_},
                      options);
    return server.Start();
  }

  TestCertificate certificate_;
};

TEST_F(HttpsServerTest, ServesTheApiOverTlsWithHsts) {
  StartTls();
  Reply health = client_->Get("/healthz");
  ASSERT_EQ(health.error, "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.Header("strict-transport-security"), "max-age=31536000");
  // Bodies are read through TLS too (chunked, in small pieces), and the connection is kept.
  Reply upload = Upload("berlin.csv", kBerlin, /*chunked=*/true);
  EXPECT_EQ(upload.status, 201) << upload.error << upload.body;
  EXPECT_EQ(upload.new_connections, 0);
  EXPECT_EQ(StoredEvents(), 1u);
  Reply uploads = client_->Get("/api/v1/uploads");
  EXPECT_EQ(uploads.status, 200) << uploads.body;
  EXPECT_EQ(uploads.Json()["uploads"].size(), 1u) << uploads.body;
}

TEST_F(HttpsServerTest, PlainHttpToTheTlsPortGets400AndTheServerGoesOn) {
  StartTls();
  {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.connected());
    raw.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string reply = raw.ReadAll();
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply;
    EXPECT_NE(reply.find("https://"), std::string::npos) << reply;
    EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
  }
  {
    // Not TLS and not HTTP: the connection is closed.
    RawConnection raw(server_->port());
    raw.Send(std::string(64, '\x01'));
    EXPECT_EQ(raw.ReadAll(), "");
  }
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

TEST_F(HttpsServerTest, ClientThatNeverStartsTheHandshakeIsCutOffAfterTheIoTimeout) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(600);
  options.io_timeout = std::chrono::seconds(1);
  StartTls(options);
  RawConnection raw(server_->port(), std::chrono::seconds(30));
  ASSERT_TRUE(raw.connected());
  EXPECT_TRUE(raw.ClosedByPeer());
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

TEST_F(HttpsServerTest, StartRefusesUnusableCertificatesAndKeysNamingTheFile) {
  auto refused = [](const absl::Status& status, const std::string& file) {
    return status.code() == absl::StatusCode::kInvalidArgument &&
           status.message().find(file) != std::string_view::npos;
  };
  const std::string missing = certificate_.cert_file + ".missing";
  absl::Status status = StartWith(missing, certificate_.key_file);
  EXPECT_TRUE(refused(status, missing)) << status;
  status = StartWith(certificate_.cert_file, missing);
  EXPECT_TRUE(refused(status, missing)) << status;
  status = StartWith(certificate_.cert_file, "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(CheckTlsFiles("", certificate_.key_file).code(), absl::StatusCode::kInvalidArgument);
  const std::string garbage = certificate_.Write("garbage.pem", "not a certificate\n");
  status = StartWith(garbage, certificate_.key_file);
  EXPECT_TRUE(refused(status, garbage)) << status;
  status = StartWith(certificate_.cert_file, garbage);
  EXPECT_TRUE(refused(status, garbage)) << status;
  // Another certificate's key.
  TestCertificate other;
  status = StartWith(certificate_.cert_file, other.key_file);
  EXPECT_TRUE(refused(status, other.key_file)) << status;
  EXPECT_NE(status.message().find("does not match"), std::string_view::npos) << status;
  // A key every user may read.
  ::chmod(certificate_.key_file.c_str(), 0644);
  status = StartWith(certificate_.cert_file, certificate_.key_file);
  EXPECT_TRUE(refused(status, certificate_.key_file)) << status;
  EXPECT_NE(status.message().find("readable by every user"), std::string_view::npos) << status;
  ::chmod(certificate_.key_file.c_str(), 0640);  // group-readable (ssl-cert) is fine
  EXPECT_TRUE(CheckTlsFiles(certificate_.cert_file, certificate_.key_file).ok());
}

TEST_F(HttpServerTest, ForwardedHeadersCountOnlyWithTrustProxy) {
  StartServer();
  Reply ignored = client_->Send(Request("GET", "/healthz").Header("X-Forwarded-Proto: https"));
  EXPECT_EQ(ignored.status, 200);
  EXPECT_EQ(ignored.Header("strict-transport-security"), "");
  server_->Stop();
  ServerOptions options;
  options.trust_proxy = true;
  StartServer(options);
  Reply forwarded = client_->Send(Request("GET", "/healthz").Header("X-Forwarded-Proto: https"));
  EXPECT_EQ(forwarded.Header("strict-transport-security"), "max-age=31536000");
  Reply plain = client_->Send(Request("GET", "/healthz").Header("X-Forwarded-Proto: http"));
  EXPECT_EQ(plain.Header("strict-transport-security"), "");
}

// Answers every request with what the listener made of the client: its address and whether
// the request counts as HTTPS; /finite streams three pieces.
class ClientEchoHandler final : public RequestHandler {
 public:
  HttpResponse Handle(HttpRequest& request) override {
    HttpResponse response;
    response.content_type = "text/plain";
    if (request.target == "/finite") {
      response.producer = std::make_unique<CountingProducer>(3);
    } else {
      response.body = request.client_address + (request.secure ? " secure" : " plain");
    }
    return response;
  }
  HttpResponse ErrorFor(const absl::Status& status, const std::string&) override {
    HttpResponse response;
    response.status = 500;
    response.body = std::string(status.message());
    return response;
  }
};

class ClientEchoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  void Start(ServerOptions options) {
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<HttpServer>(handler_, options);
    absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  std::string Echo(Client& client, std::vector<std::string> headers) {
    Request request("GET", "/");
    request.Token(std::nullopt);
    for (std::string& header : headers) request.Header(std::move(header));
    Reply reply = client.Send(request);
    EXPECT_EQ(reply.error, "");
    return reply.body;
  }

  ClientEchoHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ClientEchoTest, TrustedProxyNamesTheClientAndTheScheme) {
  ServerOptions options;
  options.trust_proxy = true;
  Start(options);
  Client client(server_->port());
  EXPECT_EQ(Echo(client, {}), "127.0.0.1 plain");
  EXPECT_EQ(
      Echo(client, {"X-Forwarded-For: 203.0.113.9, 198.51.100.4", "X-Forwarded-Proto: https"}),
      "198.51.100.4 secure");
  // Repeated fields are one list: the last element counts.
  EXPECT_EQ(Echo(client, {"X-Forwarded-For: 203.0.113.9", "X-Forwarded-For: 2001:db8::7 ",
                          "X-Forwarded-Proto: HTTPS"}),
            "2001:db8::7 secure");
  // Not an address: the peer's address stays.
  EXPECT_EQ(Echo(client, {"X-Forwarded-For: 198.51.100.4, unknown"}), "127.0.0.1 plain");
  EXPECT_EQ(Echo(client, {"X-Forwarded-Proto: https, http"}), "127.0.0.1 plain");
}

TEST_F(ClientEchoTest, UntrustedForwardedHeadersAreIgnored) {
  Start(ServerOptions{});
  Client client(server_->port());
  EXPECT_EQ(Echo(client, {"X-Forwarded-For: 198.51.100.4", "X-Forwarded-Proto: https"}),
            "127.0.0.1 plain");
}

TEST_F(ClientEchoTest, TlsRequestsAreSecureAndStreamsWork) {
  TestCertificate certificate;
  ServerOptions options;
  options.tls_cert_file = certificate.cert_file;
  options.tls_key_file = certificate.key_file;
  Start(options);
  Client client(server_->port(), certificate.cert_file);
  EXPECT_EQ(Echo(client, {"X-Forwarded-Proto: http"}), "127.0.0.1 secure");
  Reply streamed = client.Get("/finite");
  EXPECT_EQ(streamed.error, "");
  EXPECT_EQ(streamed.body, "piece 0\npiece 1\npiece 2\n");
  EXPECT_EQ(streamed.Header("transfer-encoding"), "chunked");
  // An untrusting client fails the handshake; the server goes on.
  Client untrusting(server_->port(), "/dev/null");
  EXPECT_NE(untrusting.Get("/").error, "");
  EXPECT_EQ(Echo(client, {}), "127.0.0.1 secure");
}

}  // namespace
}  // namespace stockwatch::server
