// Test support for ApiRouter's route tests: a request body read from a string, and a fixture
// that sends requests through a fresh ApiRouter over the in-memory adapters, with the users
// "admin" and "viewer" and a token of each, and helpers to make users and log in.
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
#include "adapters/memory/in_memory_user_store.h"
#include "core/auth/login_throttle.h"
#include "core/auth/password.h"
#include "gtest/gtest.h"
#include "server/router.h"

namespace stockwatch::server {

inline constexpr char kTestAdminToken[] = "sw_test_admin_token_0123456789";
inline constexpr char kTestViewerToken[] = "sw_test_viewer_token_0123456789";
inline constexpr char kTestPassword[] = "correct horse battery";

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
    const int64_t admin = AddUser("admin", core::Role::kAdmin);
    const int64_t viewer = AddUser("viewer", core::Role::kViewer);
    EXPECT_TRUE(credentials_.AddUserToken(admin, "test", kTestAdminToken, clock_.Now()).ok());
    EXPECT_TRUE(credentials_.AddUserToken(viewer, "test", kTestViewerToken, clock_.Now()).ok());
  }

  // Adds a user with `password` (scoped to `stores` for a manager); returns its id.
  int64_t AddUser(const std::string& name, core::Role role, std::vector<std::string> stores = {},
                  const std::string& password = kTestPassword) {
    core::User user;
    user.name = name;
    user.role = role;
    if (!stores.empty()) user.scope = core::ObjectScope{false, std::move(stores)};
    user.password_hash = *hasher_.Hash(password);
    user.created_at = clock_.Now();
    absl::StatusOr<core::User> added = users_.AddUser(user);
    EXPECT_TRUE(added.ok()) << added.status();
    return added.ok() ? added->id : 0;
  }

  // A logged-in session: its cookie value and CSRF token.
  struct TestSession {
    std::string id;
    std::string csrf;
  };
  TestSession Login(const std::string& name, const std::string& password = kTestPassword) {
    HttpResponse response = Send("POST", "/api/v1/login",
                                 R"({"name":")" + name + R"(","password":")" + password + R"("})",
                                 {{"host", "stock.test"}});
    EXPECT_EQ(response.status, 200) << response.body;
    TestSession session;
    for (const auto& [field, value] : response.headers) {
      if (field != "Set-Cookie") continue;
      const size_t eq = value.find('=');
      session.id = value.substr(eq + 1, value.find(';') - eq - 1);
    }
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_object() && body["csrf_token"].is_string()) session.csrf = body["csrf_token"];
    return session;
  }
  // `method target` with the session cookie and, unless empty, `csrf` as X-CSRF-Token.
  HttpResponse CookieCall(std::string method, std::string target, const TestSession& session,
                          std::string body = "", std::optional<std::string> csrf = std::nullopt,
                          std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"host", "stock.test"}, {"cookie", "sw_session=" + session.id}};
    const std::string token = csrf.value_or(session.csrf);
    if (!token.empty()) headers.emplace_back("x-csrf-token", token);
    for (auto& header : extra) headers.push_back(std::move(header));
    return Send(std::move(method), std::move(target), std::move(body), std::move(headers));
  }

  // `method target` with `body` and exactly `headers`, through a router made now (so it sees
  // options_ as the test has set them).
  HttpResponse Send(std::string method, std::string target, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers) {
    ApiRouter router(Services{objects_, inventory_, inventory_, notifier_, credentials_, clock_,
                              wakeup_, access_keys_, users_, nullptr, &hasher_, &throttle_},
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
  adapters::InMemoryUserStore users_;
  core::PasswordHasher hasher_ =
      *core::PasswordHasher::Create(core::PasswordHashParams::ForTestsOnly());
  core::LoginThrottle throttle_{clock_};
  base::WorkSignal wakeup_;
  ServerOptions options_;
};

}  // namespace stockwatch::server
