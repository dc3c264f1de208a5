// MakeHandler's reading of the functions' environment: what each setting accepts and how a
// wrong one is named. No handler here makes a request (the secret is given directly, not
// by SESSION_SECRET_ARN); the handlers' work is tested in their own tests and against
// moto_server.

#include "lambda/handlers.h"

#include <cstdlib>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::lambda {
namespace {

using ::testing::HasSubstr;

// Sets the variables for one test and restores the environment after it. Each test is its
// own process under ctest, and none runs threads, so setenv is safe here.
class HandlerEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Set("AWS_REGION", "eu-west-1");
    Set("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    Set("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    Set("AWS_CONFIG_FILE", "/nonexistent/config");
    Set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    Set("COGNITO_USER_POOL_ID", "eu-west-1_abc");
    Set("COGNITO_CLIENT_ID", "client-1");
    Set("SESSION_SECRET", std::string(40, 's'));
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  void Set(const std::string& name, const std::string& value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    setenv(name.c_str(), value.c_str(), 1);
  }
  // The error MakeHandler(handler) gives with `name` set to `value` ("" if it succeeds).
  std::string ErrorWith(const std::string& handler, const std::string& name,
                        const std::string& value) {
    Set(name, value);
    absl::StatusOr<std::unique_ptr<LambdaHandler>> made = MakeHandler(handler);
    if (made.ok()) return "";
    EXPECT_TRUE(absl::IsInvalidArgument(made.status())) << made.status();
    return std::string(made.status().message());
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(HandlerEnvTest, TheDefaultsMakeEveryHandler) {
  for (std::string_view name : kHandlerNames) {
    absl::StatusOr<std::unique_ptr<LambdaHandler>> made = MakeHandler(name);
    EXPECT_TRUE(made.ok()) << name << ": " << made.status();
  }
  EXPECT_TRUE(absl::IsNotFound(MakeHandler("load_inventory").status()));
}

TEST_F(HandlerEnvTest, WholeNumbersAreCheckedAndTheErrorNamesTheVariable) {
  EXPECT_EQ(ErrorWith("check-stock", "LOW_STOCK_THRESHOLD", "5"), "");
  EXPECT_EQ(ErrorWith("check-stock", "LOW_STOCK_THRESHOLD", "-1"),
            "LOW_STOCK_THRESHOLD \"-1\" is not a whole number >= 0");
  EXPECT_EQ(ErrorWith("api", "LOW_STOCK_THRESHOLD", "5x"),
            "LOW_STOCK_THRESHOLD \"5x\" is not a whole number >= 0");
  Set("LOW_STOCK_THRESHOLD", "5");

  EXPECT_EQ(ErrorWith("api", "TABLE_CACHE_SECONDS", "0"), "");
  EXPECT_EQ(ErrorWith("api", "TABLE_CACHE_SECONDS", "3601"),
            "TABLE_CACHE_SECONDS \"3601\" is not a whole number of seconds within 0..3600");
  EXPECT_EQ(ErrorWith("api", "TABLE_CACHE_SECONDS", "5s"),
            "TABLE_CACHE_SECONDS \"5s\" is not a whole number of seconds within 0..3600");
  Set("TABLE_CACHE_SECONDS", "5");

  EXPECT_EQ(ErrorWith("api", "SESSION_HOURS", "168"), "");
  EXPECT_EQ(ErrorWith("api", "SESSION_HOURS", "0"),
            "SESSION_HOURS \"0\" is not a whole number of hours within 1..168");
  EXPECT_EQ(ErrorWith("api", "SESSION_HOURS", " 8"),
            "SESSION_HOURS \" 8\" is not a whole number of hours within 1..168");
  Set("SESSION_HOURS", "8");

  EXPECT_EQ(ErrorWith("api", "SESSION_GENERATION", "2"), "");
  EXPECT_EQ(ErrorWith("api", "SESSION_GENERATION", "two"),
            "SESSION_GENERATION \"two\" is not a whole number >= 0");
  EXPECT_EQ(ErrorWith("api", "SESSION_GENERATION", "99999999999999999999"),
            "SESSION_GENERATION \"99999999999999999999\" is not a whole number >= 0");
}

TEST_F(HandlerEnvTest, OtherSettingsThatCannotWork) {
  EXPECT_THAT(ErrorWith("api", "SESSION_SECRET", "short"), HasSubstr("SESSION_SECRET"));
  Set("SESSION_SECRET", std::string(40, 's'));
  EXPECT_EQ(ErrorWith("api", "OIDC_REQUIRE_NONCE", "yes"),
            "OIDC_REQUIRE_NONCE \"yes\" is not true or false");
  Set("OIDC_REQUIRE_NONCE", "true");
  EXPECT_EQ(ErrorWith("check-stock", "TABLE_THRESHOLDS", "yes"),
            "TABLE_THRESHOLDS \"yes\" is not true or false");
  EXPECT_EQ(ErrorWith("api", "TABLE_THRESHOLDS", "1"),
            "TABLE_THRESHOLDS \"1\" is not true or false");
  Set("TABLE_THRESHOLDS", "true");
  EXPECT_EQ(ErrorWith("check-stock", "THRESHOLD_CACHE_SECONDS", "-5"),
            "THRESHOLD_CACHE_SECONDS \"-5\" is not a whole number of seconds within 0..3600");
  Set("THRESHOLD_CACHE_SECONDS", "60");
  EXPECT_EQ(ErrorWith("load-inventory", "ON_BAD_ROW", "drop"),
            "ON_BAD_ROW \"drop\" is not skip or reject");
  unsetenv("COGNITO_CLIENT_ID");
  EXPECT_THAT(ErrorWith("api", "COGNITO_USER_POOL_ID", "eu-west-1_abc"),
              HasSubstr("COGNITO_CLIENT_ID"));
}

}  // namespace
}  // namespace stockwatch::lambda
