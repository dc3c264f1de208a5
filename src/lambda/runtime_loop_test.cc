// The runtime loop (ServeInvocations) against a scripted fake of the Lambda Runtime API: no
// real Lambda can run on this machine, so adapters/notify/test_util.h's scripted HTTP server
// plays the service side (the Python FakeRuntimeApi plays it for the whole binary in
// tests/integration/test_lambda_runtime.py). These tests cover what a process-level test
// cannot provoke: a handler that throws.

#include "lambda/runtime_loop.h"

#include <stdexcept>
#include <string>

#include "adapters/notify/test_util.h"
#include "gtest/gtest.h"
#include "lambda/runtime_api_client.h"

namespace stockwatch::lambda {
namespace {

using adapters::notify_test::Reply;
using adapters::notify_test::ScriptedHttpServer;

// Throws on an event with "boom", answers the others with their "n" doubled.
class ThrowingHandler final : public LambdaHandler {
 public:
  absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json& event,
                                        const InvocationContext&) override {
    ++calls;
    if (event.contains("boom")) throw std::runtime_error("index out of range");
    return nlohmann::json{{"n", event.at("n").get<int>() * 2}};
  }
  int calls = 0;
};

adapters::notify_test::ScriptedReply Event(const std::string& request_id, const std::string& body) {
  return Reply(200, "Lambda-Runtime-Aws-Request-Id: " + request_id + "\r\n", body);
}

TEST(RuntimeLoop, HandlerExceptionFailsThatInvocationAndTheLoopGoesOn) {
  // next (throws) -> error post -> next (fine) -> response post -> next refused: loop ends.
  ScriptedHttpServer api({Event("req-1", R"({"boom": true})"), Reply(202),
                          Event("req-2", R"({"n": 21})"), Reply(202), Reply(500)});
  RuntimeApiClient client("127.0.0.1:" + std::to_string(api.Port()));
  ThrowingHandler handler;
  const absl::Status ended = ServeInvocations(client, handler);
  api.Join();

  EXPECT_EQ(ended.code(), absl::StatusCode::kUnavailable) << ended;
  EXPECT_EQ(handler.calls, 2);
  const auto& requests = api.Requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].target, "/2018-06-01/runtime/invocation/req-1/error");
  EXPECT_EQ(requests[1].headers.at("lambda-runtime-function-error-type"), "Runtime.HandlerError");
  const nlohmann::json error = nlohmann::json::parse(requests[1].body);
  EXPECT_EQ(error.at("errorType"), "Runtime.HandlerError");
  EXPECT_NE(error.at("errorMessage").get<std::string>().find("index out of range"),
            std::string::npos)
      << error;
  // The process survived the exception and served the next event.
  EXPECT_EQ(requests[3].target, "/2018-06-01/runtime/invocation/req-2/response");
  EXPECT_EQ(nlohmann::json::parse(requests[3].body), (nlohmann::json{{"n", 42}}));
}

TEST(RuntimeLoop, EventThatIsNotJsonIsAnInvalidEventError) {
  ScriptedHttpServer api({Event("req-1", "{not json"), Reply(202), Reply(500)});
  RuntimeApiClient client("127.0.0.1:" + std::to_string(api.Port()));
  ThrowingHandler handler;
  ServeInvocations(client, handler).IgnoreError();
  api.Join();

  EXPECT_EQ(handler.calls, 0);
  ASSERT_EQ(api.Requests().size(), 3u);
  EXPECT_EQ(api.Requests()[1].target, "/2018-06-01/runtime/invocation/req-1/error");
  EXPECT_EQ(nlohmann::json::parse(api.Requests()[1].body).at("errorType"), "Runtime.InvalidEvent");
}

}  // namespace
}  // namespace stockwatch::lambda
