#include "server/status_http.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace stockwatch::server {
namespace {

TEST(StatusHttpTest, MapsCodesAsTheApiDocumentSays) {
  struct Case {
    absl::Status status;
    int http_status;
    std::string_view code;
  };
  const Case cases[] = {
      {absl::InvalidArgumentError("x"), 400, "invalid_argument"},
      {absl::UnauthenticatedError("x"), 401, "unauthenticated"},
      {absl::PermissionDeniedError("x"), 403, "permission_denied"},
      {absl::NotFoundError("x"), 404, "not_found"},
      {absl::AlreadyExistsError("x"), 409, "already_exists"},
      {absl::AbortedError("x"), 409, "aborted"},
      {absl::FailedPreconditionError("x"), 412, "failed_precondition"},
      {absl::ResourceExhaustedError("x"), 429, "resource_exhausted"},
      {absl::UnavailableError("x"), 503, "unavailable"},
      {absl::DeadlineExceededError("x"), 504, "deadline_exceeded"},
      {absl::InternalError("x"), 500, "internal"},
      {absl::DataLossError("x"), 500, "data_loss"},
      {absl::UnknownError("x"), 500, "unknown"},
  };
  for (const Case& c : cases) {
    HttpError error = StatusToHttp(c.status);
    EXPECT_EQ(error.http_status, c.http_status) << c.status;
    EXPECT_EQ(error.code, c.code) << c.status;
  }
}

TEST(StatusHttpTest, PayloadTooLargeIs413AndKeepsItsCode) {
  HttpError error = StatusToHttp(PayloadTooLarge("too big"));
  EXPECT_EQ(error.http_status, 413);
  EXPECT_EQ(error.code, "resource_exhausted");
  EXPECT_EQ(StatusToHttp(WithHttpStatus(absl::UnimplementedError("m"), 405)).http_status, 405);
}

TEST(StatusHttpTest, ErrorJsonHasCodeMessageAndOptionalDetails) {
  nlohmann::json plain = nlohmann::json::parse(ErrorJson(absl::NotFoundError("no upload 7")));
  EXPECT_EQ(plain,
            nlohmann::json::parse(R"({"error":{"code":"not_found","message":"no upload 7"}})"));
  nlohmann::json detailed = nlohmann::json::parse(ErrorJson(
      absl::InvalidArgumentError("a.csv:2:1: bad"), {"a.csv:2:1: bad", "a.csv:3:1: bad"}));
  EXPECT_EQ(detailed["error"]["details"].size(), 2u);
}

TEST(StatusHttpTest, ErrorJsonSurvivesInvalidUtf8) {
  std::string json = ErrorJson(absl::InvalidArgumentError("name \xff\xfe"));
  EXPECT_TRUE(nlohmann::json::accept(json));
}

TEST(StatusHttpTest, UnauthenticatedResponseCarriesTheBearerChallenge) {
  HttpResponse response = ErrorResponse(absl::UnauthenticatedError("missing bearer token"));
  EXPECT_EQ(response.status, 401);
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(response.headers[0].second, "Bearer");
}

}  // namespace
}  // namespace stockwatch::server
