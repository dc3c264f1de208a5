// Test support for ApiRouter's route tests: a request body read from a string, and a fixture
// that sends requests through a fresh ApiRouter over the in-memory adapters, with an admin
// and a viewer token.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "adapters/memory/in_memory_access_key_store.h"
#include "adapters/memory/in_memory_credential_store.h"
#include "adapters/memory/in_memory_inventory_store.h"
#include "adapters/memory/in_memory_notifier.h"
#include "adapters/memory/in_memory_object_store.h"
#include "gtest/gtest.h"
#include "server/router.h"

namespace stockwatch::server {

inline constexpr char kTestAdminToken[] = "sw_test_admin_token_0123456789";
inline constexpr char kTestViewerToken[] = "sw_test_viewer_token_0123456789";

class StringBody final : public BodyReader {
 public:
  explicit StringBody(std::string text) : text_(std::move(text)) {}
  absl::StatusOr<size_t> Read(std::span<char> buffer, uint64_t) override {
    const size_t n = std::min(buffer.size(), text_.size() - offset_);
    std::memcpy(buffer.data(), text_.data() + offset_, n);
    offset_ += n;
    return n;
  }
  std::optional<uint64_t> content_length() const override { return text_.size(); }

 private:
  std::string text_;
  size_t offset_ = 0;
};

class ApiRouterTest : public ::testing::Test {
 protected:
  ApiRouterTest() {
    EXPECT_TRUE(credentials_.AddToken("admin", "admin", kTestAdminToken, clock_.Now()).ok());
    EXPECT_TRUE(credentials_.AddToken("viewer", "viewer", kTestViewerToken, clock_.Now()).ok());
  }

  // `method target` with `body` and exactly `headers`, through a router made now (so it sees
  // options_ as the test has set them).
  HttpResponse Send(std::string method, std::string target, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers) {
    ApiRouter router(Services{objects_, inventory_, inventory_, notifier_, credentials_, clock_,
                              wakeup_, access_keys_},
                     options_);
    StringBody reader(std::move(body));
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.headers = std::move(headers);
    request.body = &reader;
    return router.Handle(request);
  }

  // Send with `token` as the bearer token.
  HttpResponse Call(std::string method, std::string target, std::string body = "",
                    const char* token = kTestAdminToken) {
    return Send(std::move(method), std::move(target), std::move(body),
                {{"authorization", std::string("Bearer ") + token}});
  }

  core::SystemClock clock_;
  adapters::InMemoryObjectStore objects_{clock_};
  adapters::InMemoryInventoryStore inventory_;
  adapters::InMemoryNotifier notifier_{clock_};
  adapters::InMemoryCredentialStore credentials_;
  adapters::InMemoryAccessKeyStore access_keys_;
  base::WorkSignal wakeup_;
  ServerOptions options_;
};

}  // namespace stockwatch::server
