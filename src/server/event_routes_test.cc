// GET /api/v1/events through ApiRouter over the in-memory adapters, with the real loader and
// stock checker: the stream's producer is read directly, as the listener would.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/checker/checker.h"
#include "core/loader/loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/api_router_test_support.h"
#include "server/router.h"

namespace stockwatch::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

struct Event {
  std::string id;
  std::string name;
  json data;
};

// Splits Server-Sent Events text into its events (comments and `retry:` left out).
std::vector<Event> ParseEvents(const std::string& text) {
  std::vector<Event> events;
  size_t start = 0;
  while (true) {
    size_t end = text.find("\n\n", start);
    if (end == std::string::npos) break;
    Event event;
    std::string block = text.substr(start, end - start);
    start = end + 2;
    size_t line_start = 0;
    while (line_start <= block.size()) {
      size_t line_end = block.find('\n', line_start);
      if (line_end == std::string::npos) line_end = block.size();
      std::string line = block.substr(line_start, line_end - line_start);
      line_start = line_end + 1;
      if (line.starts_with("id: ")) event.id = line.substr(4);
      if (line.starts_with("event: ")) event.name = line.substr(7);
      if (line.starts_with("data: ")) event.data = json::parse(line.substr(6));
    }
    if (!event.name.empty()) events.push_back(std::move(event));
  }
  return events;
}

class EventRoutesTest : public ApiRouterTest {
 protected:
  EventRoutesTest()
      : router_(Services{objects_, inventory_, inventory_, notifier_, credentials_, clock_, wakeup_,
                         access_keys_, users_},
                options_) {}

  // Opens a stream for `principal` (with `last_event_id` if given).
  std::unique_ptr<StreamProducer> Open(const core::Principal& principal,
                                       std::string last_event_id = "") {
    StringBody body("");
    HttpRequest request;
    request.method = "GET";
    request.target = "/api/v1/events";
    request.body = &body;
    if (!last_event_id.empty()) request.headers.emplace_back("last-event-id", last_event_id);
    absl::StatusOr<HttpResponse> response = router_.StreamEvents(request, principal);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return nullptr;
    EXPECT_EQ(response->content_type, "text/event-stream");
    return std::move(response->producer);
  }

  // Reads from `stream` until an event named `until` arrives (or many rounds pass).
  static std::string ReadUntil(StreamProducer& stream, const std::string& until) {
    std::string text;
    for (int round = 0; round < 200; ++round) {
      EXPECT_TRUE(stream.Next(text, std::chrono::milliseconds(20)));
      if (text.find("event: " + until + "\n") != std::string::npos) break;
    }
    return text;
  }

  void UploadAndProcess(const std::string& name, const std::string& csv) {
    HttpResponse put = Call("PUT", "/api/v1/uploads/" + name, csv);
    ASSERT_EQ(put.status, 201) << put.body;
    core::Loader loader(objects_, inventory_, clock_, core::LoaderOptions{});
    ASSERT_TRUE(loader.LoadPending().ok());
    core::Checker checker(inventory_, inventory_, notifier_, core::CheckerOptions{});
    ASSERT_TRUE(checker.CheckPending().ok());
  }

  static core::Principal Admin() {
    core::Principal principal;
    principal.name = "admin";
    principal.role = "admin";
    return principal;
  }

  static core::Principal ManagerOf(std::string store) {
    core::Principal principal;
    principal.name = "manager";
    principal.role = "manager";
    principal.scope.all_stores = false;
    principal.scope.stores = {std::move(store)};
    return principal;
  }

  ApiRouter router_;
};

TEST_F(EventRoutesTest, RouteAnswersAnEventStream) {
  HttpResponse response = Call("GET", "/api/v1/events");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/event-stream");
  EXPECT_NE(response.producer, nullptr);
  EXPECT_EQ(Call("POST", "/api/v1/events").status, 405);
  EXPECT_EQ(Send("GET", "/api/v1/events", "", {}).status, 401);
}

TEST_F(EventRoutesTest, UploadChangesAndAlertsArriveAfterAnUploadIsApplied) {
  UploadAndProcess("before.csv", "store,item,count\nBerlin,Echo Dot,5\n");
  std::unique_ptr<StreamProducer> stream = Open(Admin());
  ASSERT_NE(stream, nullptr);
  std::string first;
  ASSERT_TRUE(stream->Next(first, std::chrono::milliseconds(20)));
  EXPECT_THAT(first, HasSubstr("retry: 2000\n\n"));
  // What happened before the stream opened is not sent again.
  EXPECT_THAT(first, Not(HasSubstr("event:")));

  UploadAndProcess("berlin.csv", "store,item,count\nBerlin,Echo Dot,0\nBerlin,Echo Show,3\n");
  std::string text = ReadUntil(*stream, "alert");
  std::vector<Event> events = ParseEvents(text);
  std::vector<std::string> names;
  for (const Event& event : events) names.push_back(event.name);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"upload", "change", "alert"})) << text;
  for (const Event& event : events) {
    EXPECT_FALSE(event.id.empty());
    if (event.name == "upload" && event.data["status"] == "loaded") {
      EXPECT_EQ(event.data["name"], "berlin.csv");
      EXPECT_EQ(event.data["report"]["rows_loaded"], 2);
    }
    if (event.name == "change") {
      EXPECT_EQ(event.data["store"], "Berlin");
    }
    if (event.name == "alert") {
      EXPECT_EQ(event.data["topic"], "NoStock");
      EXPECT_EQ(event.data["item"], "Echo Dot");
    }
  }
  std::vector<Event> loaded;
  for (const Event& event : events) {
    if (event.name == "upload" && event.data["status"] == "loaded") loaded.push_back(event);
  }
  ASSERT_EQ(loaded.size(), 1u) << text;

  // Reconnecting with the last id replays nothing already sent.
  std::unique_ptr<StreamProducer> resumed = Open(Admin(), events.back().id);
  std::string again;
  ASSERT_TRUE(resumed->Next(again, std::chrono::milliseconds(20)));
  EXPECT_THAT(again, Not(HasSubstr("event:"))) << again;
  // An id from before the upload replays its changes.
  std::unique_ptr<StreamProducer> replay = Open(Admin(), "1-1-0");
  EXPECT_THAT(ReadUntil(*replay, "alert"), HasSubstr("\"item\":\"Echo Show\""));
}

TEST_F(EventRoutesTest, ScopeDropsOtherStores) {
  std::unique_ptr<StreamProducer> stream = Open(ManagerOf("Paris"));
  ASSERT_NE(stream, nullptr);
  UploadAndProcess("both.csv", "store,item,count\nBerlin,Echo Dot,0\nParis,Echo Plus,0\n");
  std::string text = ReadUntil(*stream, "alert");
  std::vector<Event> events = ParseEvents(text);
  int changes = 0;
  int alerts = 0;
  for (const Event& event : events) {
    EXPECT_NE(event.name, "upload") << "an admin's upload covers every store";
    if (event.name == "change" || event.name == "alert") {
      EXPECT_EQ(event.data["store"], "Paris") << text;
      ++(event.name == "change" ? changes : alerts);
    }
  }
  EXPECT_EQ(changes, 1) << text;
  EXPECT_EQ(alerts, 1) << text;
}

TEST_F(EventRoutesTest, StreamEndsOnShutdown) {
  std::unique_ptr<StreamProducer> stream = Open(Admin());
  router_.Shutdown();
  std::string text;
  EXPECT_FALSE(stream->Next(text, std::chrono::milliseconds(20)));
}

}  // namespace
}  // namespace stockwatch::server
