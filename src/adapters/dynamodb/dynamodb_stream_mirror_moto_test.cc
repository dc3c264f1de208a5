// The stream mirror against moto_server (python3-moto, preinstalled), started on a loopback
// port once for the suite, as src/aws/aws_moto_test.cc does: moto serves DynamoDB and
// DynamoDB Streams over real HTTP (INSERT/MODIFY/REMOVE records with both images), so the
// mirror runs exactly as against AWS. moto never trims a stream or expires an iterator:
// StreamsFaultProxy, between the mirror's Streams client and moto, answers chosen GetRecords
// calls with those errors itself, for the expired-iterator and trimmed-shard paths.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "adapters/dynamodb/dynamodb_stream_mirror.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "aws/moto_test_support.h"

namespace stockwatch::adapters {
namespace {

using aws::DynamoN;
using aws::DynamoS;
using nlohmann::json;

using aws::moto_test::MotoServer;

// A clock the test sets; Monotonic() is real so DescribeStream intervals behave.
class TestClock final : public core::Clock {
 public:
  core::TimePoint Now() override { return now; }
  std::chrono::steady_clock::time_point Monotonic() override {
    return std::chrono::steady_clock::now();
  }
  core::TimePoint now{std::chrono::seconds(1'000'000)};
};

// An HTTP front for moto's DynamoDB Streams API: forwards each request as it came (one per
// connection), except the next GetRecords calls FailGetRecords() names, which it answers
// itself with that AWS error (HTTP 400 and the JSON body AWS sends). Test code only.
class StreamsFaultProxy {
 public:
  explicit StreamsFaultProxy(std::string upstream) : upstream_(std::move(upstream)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listen_fd_, 16);
    socklen_t length = sizeof(address);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~StreamsFaultProxy() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void FailGetRecords(std::string aws_code, int times) {
    std::lock_guard<std::mutex> lock(mu_);
    aws_code_ = std::move(aws_code);
    failures_left_ = times;
  }
  int injected() const { return injected_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd ready{listen_fd_, POLLIN, 0};
      if (poll(&ready, 1, 50) <= 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      Handle(fd);
      close(fd);
    }
  }

  // The value of header `name` (lower case) in `head`, or "".
  static std::string Header(const std::string& head, const std::string& name) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("\r\n" + name + ":");
    if (at == std::string::npos) return "";
    size_t start = at + 3 + name.size();
    while (start < head.size() && head[start] == ' ') ++start;
    return head.substr(start, head.find("\r\n", start) - start);
  }

  void Handle(int fd) {
    std::string data;
    char buffer[8192];
    size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      data.append(buffer, static_cast<size_t>(n));
    }
    const std::string head = data.substr(0, head_end);
    std::string body = data.substr(head_end + 4);
    const size_t length = std::stoul("0" + Header(head, "content-length"));
    if (body.size() < length && !Header(head, "expect").empty()) {
      const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      send(fd, go_on.data(), go_on.size(), MSG_NOSIGNAL);
    }
    while (body.size() < length) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      body.append(buffer, static_cast<size_t>(n));
    }
    const std::string target = Header(head, "x-amz-target");
    long status = 0;
    std::string answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (target.ends_with(".GetRecords") && failures_left_ > 0) {
        --failures_left_;
        ++injected_;
        status = 400;
        answer = json{{"__type", "com.amazonaws.dynamodb.v20120810#" + aws_code_},
                      {"message", "made by the test's proxy"}}
                     .dump();
      }
    }
    if (status == 0) {
      CURL* curl = curl_easy_init();
      curl_slist* headers = nullptr;
      for (const char* name : {"x-amz-target", "content-type", "authorization", "x-amz-date"}) {
        const std::string value = Header(head, name);
        if (!value.empty())
          headers = curl_slist_append(headers, (std::string(name) + ": " + value).c_str());
      }
      headers = curl_slist_append(headers, "Expect:");
      curl_easy_setopt(curl, CURLOPT_URL, (upstream_ + "/").c_str());
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, aws::moto_test::AppendBody);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
      if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      } else {
        status = 502;
      }
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
    }
    const std::string reply = "HTTP/1.1 " + std::to_string(status) +
                              " X\r\nContent-Type: application/x-amz-json-1.0\r\n"
                              "Content-Length: " +
                              std::to_string(answer.size()) + "\r\nConnection: close\r\n\r\n" +
                              answer;
    send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  }

  std::string upstream_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string aws_code_;
  int failures_left_ = 0;
  std::atomic<int> injected_{0};
};

class DynamoDbStreamMirrorMotoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { moto_ = aws::moto_test::StartSuiteMoto(); }
  static void TearDownTestSuite() { aws::moto_test::StopSuiteMoto(moto_); }

  void SetUp() override {
    ASSERT_NE(moto_, nullptr) << "moto_server did not start (is python3-moto installed?)";
    aws::AwsConfig config;
    config.credentials = {"testing", "testing", ""};
    config.region = "us-east-1";
    config.endpoint_url = moto_->endpoint();
    config.retry_base_delay = std::chrono::milliseconds(5);
    dynamo_ = std::make_unique<aws::DynamoDbClient>(config);
    streams_ = std::make_unique<aws::DynamoDbStreamsClient>(config);
    // A table per test: the suite shares one moto.
    table_ =
        "Inventory" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/sw_mirror_moto_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    OpenStore();
  }

  void TearDown() override {
    mirror_.reset();
    store_.reset();
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void OpenStore() {
    mirror_.reset();
    store_.reset();
    db_.reset();
    auto db = SqliteDatabase::Open(dir_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
    auto store = SqliteInventoryStore::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::unique_ptr<DynamoDbStreamMirror> NewMirror(aws::DynamoDbStreamsClient* streams = nullptr) {
    DynamoDbStreamMirrorOptions options;
    options.table = table_;
    options.poll_interval = std::chrono::milliseconds(20);
    options.min_backoff = std::chrono::milliseconds(20);
    return std::make_unique<DynamoDbStreamMirror>(
        *dynamo_, streams != nullptr ? *streams : *streams_, db_, *store_, clock_, options);
  }

  // A Streams client that goes through `proxy` (the DynamoDB client still goes to moto).
  std::unique_ptr<aws::DynamoDbStreamsClient> StreamsThrough(const StreamsFaultProxy& proxy) {
    aws::AwsConfig config;
    config.credentials = {"testing", "testing", ""};
    config.region = "us-east-1";
    config.endpoint_url = moto_->endpoint();
    config.service_endpoints["dynamodb_streams"] = proxy.url();
    config.retry_base_delay = std::chrono::milliseconds(5);
    return std::make_unique<aws::DynamoDbStreamsClient>(config);
  }

  // A mirror of a new table holding Berlin's Echo at 5 that reads the stream through
  // `proxy` (which must outlive the test's polls), started and one pass done.
  void StartThrough(const StreamsFaultProxy& proxy) {
    CreateTable();
    PutItem("Berlin", "Echo", 5);
    proxied_streams_ = StreamsThrough(proxy);
    mirror_ = NewMirror(proxied_streams_.get());
    MirrorPassStats started;
    ASSERT_TRUE(mirror_->Start(&started).ok());
    Poll(*mirror_);
  }

  // How many change records went from `from` to `to` counts of Berlin's Echo.
  int64_t EchoChanges(std::optional<int64_t> from, int64_t to) {
    int64_t n = 0;
    for (const core::ChangeRecord& record : Records()) {
      if (record.item == "Echo" && record.old_count == from && record.new_count == to) ++n;
    }
    return n;
  }

  void CreateTable(const std::string& view_type = "NEW_AND_OLD_IMAGES") {
    json request = {
        {"TableName", table_},
        {"BillingMode", "PAY_PER_REQUEST"},
        {"AttributeDefinitions",
         {{{"AttributeName", "Store"}, {"AttributeType", "S"}},
          {{"AttributeName", "Item"}, {"AttributeType", "S"}}}},
        {"KeySchema",
         {{{"AttributeName", "Store"}, {"KeyType", "HASH"}},
          {{"AttributeName", "Item"}, {"KeyType", "RANGE"}}}},
    };
    if (!view_type.empty()) {
      request["StreamSpecification"] = {{"StreamEnabled", true}, {"StreamViewType", view_type}};
    }
    absl::StatusOr<json> created = dynamo_->Call("CreateTable", request);
    ASSERT_TRUE(created.ok()) << created.status();
  }

  void PutItem(const std::string& store, const std::string& item, int64_t count,
               int64_t upload_id = 0) {
    json row = {{"Store", DynamoS(store)}, {"Item", DynamoS(item)}, {"Count", DynamoN(count)}};
    if (upload_id > 0) row["UploadId"] = DynamoN(upload_id);
    ASSERT_TRUE(dynamo_->PutItem(table_, row).ok());
  }
  void PutRaw(json row) { ASSERT_TRUE(dynamo_->PutItem(table_, row).ok()); }
  void DeleteItem(const std::string& store, const std::string& item) {
    absl::StatusOr<json> deleted = dynamo_->Call(
        "DeleteItem",
        {{"TableName", table_}, {"Key", {{"Store", DynamoS(store)}, {"Item", DynamoS(item)}}}});
    ASSERT_TRUE(deleted.ok()) << deleted.status();
  }

  MirrorPassStats Poll(DynamoDbStreamMirror& mirror) {
    absl::StatusOr<MirrorPassStats> pass = mirror.PollOnce();
    EXPECT_TRUE(pass.ok()) << pass.status();
    return pass.ok() ? *pass : MirrorPassStats{};
  }

  std::vector<core::ChangeRecord> Records() {
    auto records = store_->Read(0, 100000);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *records : std::vector<core::ChangeRecord>{};
  }

  std::optional<int64_t> CountOf(const std::string& store, const std::string& item) {
    auto got = store_->Get(store, item);
    if (!got.ok()) return std::nullopt;
    return got->count;
  }

  std::map<std::string, int64_t> All() {
    core::InventoryQuery query;
    query.limit = 10000;
    auto page = store_->Query(query);
    EXPECT_TRUE(page.ok()) << page.status();
    std::map<std::string, int64_t> out;
    if (page.ok()) {
      for (const core::InventoryItem& item : page->items)
        out[item.store + "/" + item.item] = item.count;
    }
    return out;
  }

  static MotoServer* moto_;
  std::unique_ptr<aws::DynamoDbClient> dynamo_;
  std::unique_ptr<aws::DynamoDbStreamsClient> streams_;
  std::unique_ptr<aws::DynamoDbStreamsClient> proxied_streams_;  // StartThrough()'s
  std::string table_;
  std::string dir_;
  TestClock clock_;
  std::shared_ptr<SqliteDatabase> db_;
  std::unique_ptr<SqliteInventoryStore> store_;
  std::unique_ptr<DynamoDbStreamMirror> mirror_;
};

MotoServer* DynamoDbStreamMirrorMotoTest::moto_ = nullptr;

TEST_F(DynamoDbStreamMirrorMotoTest, SeedsSilentlyThenFollowsTheStreamAcrossRestarts) {
  CreateTable();
  PutItem("Berlin", "Echo", 0);
  PutItem("Berlin", "Dot", 3);
  PutItem("Rome", "Kindle", 1);
  PutRaw({{"Store", DynamoS(std::string(kMirrorLoadStateStore))},
          {"Item", DynamoS("bucket/a.csv")},
          {"ETag", DynamoS("x")}});
  PutRaw({{"Store", DynamoS("Berlin")}, {"Item", DynamoS("Bad")}, {"Count", DynamoS("many")}});

  mirror_ = NewMirror();
  MirrorPassStats seed;
  ASSERT_TRUE(mirror_->Start(&seed).ok());
  EXPECT_TRUE(seed.resynced);
  EXPECT_EQ(seed.skipped, 1);  // Berlin/Bad
  EXPECT_EQ(seed.recorded, 0);
  const std::map<std::string, int64_t> seeded = {
      {"Berlin/Dot", 3}, {"Berlin/Echo", 0}, {"Rome/Kindle", 1}};
  EXPECT_EQ(All(), seeded);
  // Stock already out before the server started raises no alert: no change record.
  EXPECT_TRUE(Records().empty());
  auto echo = store_->Get("Berlin", "Echo");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->updated_at, clock_.now);

  PutItem("Berlin", "Dot", 0);     // MODIFY 3 -> 0
  PutItem("Berlin", "Dot", 0);     // MODIFY with the same count: no change
  PutItem("Paris", "Echo", 5, 9);  // INSERT by upload 9
  DeleteItem("Rome", "Kindle");    // REMOVE
  PutRaw({{"Store", DynamoS("Berlin")}, {"Item", DynamoS("Bad")}, {"Count", DynamoN(-4)}});
  PutRaw(
      {{"Store", DynamoS(std::string(kMirrorLoadStateStore))}, {"Item", DynamoS("bucket/b.csv")}});
  MirrorPassStats pass = Poll(*mirror_);
  // moto writes a record for the put that changed nothing; AWS writes none.
  EXPECT_GE(pass.records, 5);
  EXPECT_LE(pass.records, 6);
  EXPECT_EQ(pass.skipped, 1);
  EXPECT_EQ(pass.ignored, 1);
  EXPECT_EQ(pass.recorded, 2);
  const std::map<std::string, int64_t> followed = {
      {"Berlin/Dot", 0}, {"Berlin/Echo", 0}, {"Paris/Echo", 5}};
  EXPECT_EQ(All(), followed);
  std::vector<core::ChangeRecord> records = Records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].kind, core::ChangeKind::kModify);
  EXPECT_EQ(records[0].item, "Dot");
  EXPECT_EQ(records[0].old_count, 3);
  EXPECT_EQ(records[0].new_count, 0);
  EXPECT_EQ(records[1].kind, core::ChangeKind::kInsert);
  EXPECT_EQ(records[1].store, "Paris");
  EXPECT_EQ(records[1].upload_id, 9);
  EXPECT_EQ(Poll(*mirror_).records, 0);

  // Restart: resumes after the checkpoint, replays nothing.
  OpenStore();
  mirror_ = NewMirror();
  MirrorPassStats resumed;
  ASSERT_TRUE(mirror_->Start(&resumed).ok());
  EXPECT_FALSE(resumed.resynced);
  EXPECT_EQ(Poll(*mirror_).records, 0);
  EXPECT_EQ(Records(), records);
  EXPECT_EQ(All(), followed);

  PutItem("Berlin", "Echo", 2);
  pass = Poll(*mirror_);
  EXPECT_EQ(pass.records, 1);
  EXPECT_FALSE(pass.resynced);
  records = Records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].item, "Echo");
  EXPECT_EQ(records[2].old_count, 0);
  EXPECT_EQ(records[2].new_count, 2);
}

TEST_F(DynamoDbStreamMirrorMotoTest, ARestartBeforeAnyRecordResyncsWithoutRecords) {
  CreateTable();
  PutItem("Berlin", "Echo", 4);
  mirror_ = NewMirror();
  ASSERT_TRUE(mirror_->Start().ok());
  // The seeded shard has no sequence number yet, so a restart cannot know where it was.
  OpenStore();
  mirror_ = NewMirror();
  MirrorPassStats restarted;
  ASSERT_TRUE(mirror_->Start(&restarted).ok());
  EXPECT_TRUE(restarted.resynced);
  EXPECT_EQ(restarted.changed, 0);
  EXPECT_TRUE(Records().empty());
  PutItem("Berlin", "Echo", 0);
  EXPECT_EQ(Poll(*mirror_).recorded, 1);
  EXPECT_EQ(CountOf("Berlin", "Echo"), 0);
}

TEST_F(DynamoDbStreamMirrorMotoTest, ResyncsAStaleMirrorAndRecordsWhatItMissed) {
  CreateTable();
  PutItem("Berlin", "Echo", 0);
  PutItem("Berlin", "Dot", 3);
  // The mirror as an earlier run left it, without a checkpoint (or with another stream's).
  ASSERT_TRUE(store_
                  ->ApplyMirrored({{"Berlin", "Echo", 4, clock_.now, 0},
                                   {"Berlin", "Dot", 3, clock_.now, 0},
                                   {"Old", "Thing", 1, clock_.now, 0}},
                                  MirrorChanges::kSilent, MirrorScope::kWholeTable,
                                  [](SqliteConnection& conn) -> absl::Status {
                                    auto stmt = conn.Prepare(
                                        "INSERT INTO stream_shards VALUES ('arn:old', "
                                        "'shardId-1', '', '1100000000000000000001', 1)");
                                    if (!stmt.ok()) return stmt.status();
                                    return stmt->Run();
                                  })
                  .ok());
  mirror_ = NewMirror();
  MirrorPassStats resync;
  ASSERT_TRUE(mirror_->Start(&resync).ok());
  EXPECT_TRUE(resync.resynced);
  EXPECT_EQ(resync.changed, 2);   // Echo changed, Old/Thing removed
  EXPECT_EQ(resync.recorded, 1);  // Echo 4 -> 0: the checker alerts once
  const std::map<std::string, int64_t> expected = {{"Berlin/Dot", 3}, {"Berlin/Echo", 0}};
  EXPECT_EQ(All(), expected);
  std::vector<core::ChangeRecord> records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].item, "Echo");
  EXPECT_EQ(records[0].old_count, 4);
  EXPECT_EQ(records[0].new_count, 0);

  // The other stream's rows are gone; this stream's checkpoint is kept.
  int64_t rows = 0;
  ASSERT_TRUE(db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
                   auto stmt = conn.Prepare(
                       "SELECT COUNT(*) FROM stream_shards WHERE stream_arn = 'arn:old'");
                   if (!stmt.ok()) return stmt.status();
                   auto row = stmt->Step();
                   if (!row.ok()) return row.status();
                   rows = stmt->Int64(0);
                   return absl::OkStatus();
                 })
                  .ok());
  EXPECT_EQ(rows, 0);
}

// A checkpoint whose shard the stream no longer lists (trimmed after 24 hours in AWS) before
// it was read to its end: the first pass resyncs.
TEST_F(DynamoDbStreamMirrorMotoTest, ResyncsWhenTheCheckpointedShardIsGone) {
  CreateTable();
  PutItem("Berlin", "Echo", 2);
  absl::StatusOr<json> table = dynamo_->DescribeTable(table_);
  ASSERT_TRUE(table.ok()) << table.status();
  const std::string arn = table->value("LatestStreamArn", "");
  ASSERT_FALSE(arn.empty());
  ASSERT_TRUE(
      db_->WithWriteTransaction(Durability::kNormal,
                                [&](SqliteConnection& conn) {
                                  auto stmt = conn.Prepare(
                                      "INSERT INTO stream_shards VALUES (?, 'shardId-gone', '', "
                                      "'1100000000000000000001', 1)");
                                  if (!stmt.ok()) return stmt.status();
                                  stmt->BindText(1, arn);
                                  return stmt->Run();
                                })
          .ok());
  mirror_ = NewMirror();
  MirrorPassStats started;
  ASSERT_TRUE(mirror_->Start(&started).ok());
  EXPECT_FALSE(started.resynced);  // a position was kept: resumes
  MirrorPassStats pass = Poll(*mirror_);
  EXPECT_TRUE(pass.resynced);
  EXPECT_EQ(CountOf("Berlin", "Echo"), 2);
  EXPECT_TRUE(Records().empty());  // the mirror was empty: a silent seed
  PutItem("Berlin", "Echo", 0);
  EXPECT_EQ(Poll(*mirror_).recorded, 1);
  EXPECT_EQ(CountOf("Berlin", "Echo"), 0);
}

TEST_F(DynamoDbStreamMirrorMotoTest, RefusesATableWithoutNewImages) {
  CreateTable("");
  mirror_ = NewMirror();
  absl::Status started = mirror_->Start();
  EXPECT_TRUE(absl::IsFailedPrecondition(started)) << started;
  EXPECT_NE(started.message().find("no stream"), std::string::npos) << started;

  table_ += "Keys";
  CreateTable("KEYS_ONLY");
  mirror_ = NewMirror();
  started = mirror_->Start();
  EXPECT_TRUE(absl::IsFailedPrecondition(started)) << started;
  EXPECT_NE(started.message().find("KEYS_ONLY"), std::string::npos) << started;

  table_ = "NoSuchTable";
  mirror_ = NewMirror();
  EXPECT_TRUE(absl::IsNotFound(mirror_->Start())) << mirror_->Start();
}

TEST_F(DynamoDbStreamMirrorMotoTest, RunFollowsTheStreamUntilStopped) {
  CreateTable();
  PutItem("Berlin", "Echo", 1);
  mirror_ = NewMirror();
  base::WorkSignal wakeup;
  base::WorkSignal changed;
  std::thread runner([&] { mirror_->Run(wakeup, &changed); });
  // Wait for the seed (its items appear), then change an item and wait for the checker's
  // wake-up. Bounded waits, no timing asserts.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!CountOf("Berlin", "Echo") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  PutItem("Berlin", "Echo", 0);
  while (Records().empty() && std::chrono::steady_clock::now() < deadline) {
    changed.WaitUntil(std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
  }
  wakeup.Stop();
  runner.join();
  std::vector<core::ChangeRecord> records = Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].new_count, 0);
}

// An iterator expires after 15 minutes in AWS: the next pass asks for a new one after the
// checkpointed record and reads on from there, no record lost or applied twice, no resync.
TEST_F(DynamoDbStreamMirrorMotoTest, AnExpiredIteratorIsRenewedFromTheCheckpoint) {
  StreamsFaultProxy proxy(moto_->endpoint());
  StartThrough(proxy);
  PutItem("Berlin", "Echo", 3);
  Poll(*mirror_);
  ASSERT_EQ(CountOf("Berlin", "Echo"), 3);  // a position is checkpointed now

  proxy.FailGetRecords("ExpiredIteratorException", 1);
  PutItem("Berlin", "Echo", 0);
  MirrorPassStats expired = Poll(*mirror_);
  EXPECT_EQ(proxy.injected(), 1);
  EXPECT_FALSE(expired.resynced);
  MirrorPassStats renewed = Poll(*mirror_);
  EXPECT_FALSE(renewed.resynced);
  EXPECT_EQ(CountOf("Berlin", "Echo"), 0);
  Poll(*mirror_);
  EXPECT_EQ(EchoChanges(3, 0), 1) << "the change after the expiry, recorded once";
  EXPECT_EQ(EchoChanges(5, 3), 1) << "the change before it, not read again";
}

// A shard trimmed past the checkpoint (records older than 24 hours in AWS) cannot be read on:
// the mirror resyncs with a Scan and records what it missed once.
TEST_F(DynamoDbStreamMirrorMotoTest, AShardTrimmedPastTheCheckpointIsResynced) {
  StreamsFaultProxy proxy(moto_->endpoint());
  StartThrough(proxy);
  ASSERT_EQ(CountOf("Berlin", "Echo"), 5);

  proxy.FailGetRecords("TrimmedDataAccessException", 1);
  PutItem("Berlin", "Echo", 0);
  PutItem("Berlin", "Dot", 2);
  MirrorPassStats trimmed = Poll(*mirror_);
  EXPECT_EQ(proxy.injected(), 1);
  EXPECT_TRUE(trimmed.resynced);
  EXPECT_EQ(CountOf("Berlin", "Echo"), 0);
  EXPECT_EQ(CountOf("Berlin", "Dot"), 2);
  Poll(*mirror_);
  Poll(*mirror_);
  EXPECT_EQ(EchoChanges(5, 0), 1) << "what the resync found, recorded once";
}

}  // namespace
}  // namespace stockwatch::adapters
