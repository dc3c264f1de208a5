// Maps absl status codes to HTTP statuses and JSON error bodies, in one table
// (docs/API.md, "Errors"). Every error response of the server is built here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/http_message.h"

namespace stockwatch::server {

struct HttpError {
  int http_status = 500;
  std::string_view code;  // snake_case absl code name, e.g. "invalid_argument"
};

// The table:
//   invalid_argument 400, unauthenticated 401, permission_denied 403, not_found 404,
//   already_exists 409, aborted 409, failed_precondition 412, resource_exhausted 429
//   (413 when marked by PayloadTooLarge), unavailable 503, deadline_exceeded 504,
//   anything else 500.
// A status built by WithHttpStatus() keeps its code but answers with the given HTTP status
// (used for 405, 413 and 431, which have no absl code of their own).
// REQUIRES: !status.ok().
HttpError StatusToHttp(const absl::Status& status);

// Marks `status` to be answered with `http_status` (4xx or 5xx) instead of the table's.
absl::Status WithHttpStatus(absl::Status status, int http_status);

// kResourceExhausted answered with 413 Payload Too Large.
absl::Status PayloadTooLarge(std::string_view message);

// {"error":{"code":..,"message":..,"details":[..]}} with `details` left out when empty.
std::string ErrorJson(const absl::Status& status, const std::vector<std::string>& details = {});

// A complete error response: status from StatusToHttp, the JSON body, and for 401 the
// `WWW-Authenticate: Bearer` challenge.
HttpResponse ErrorResponse(const absl::Status& status,
                           const std::vector<std::string>& details = {});

}  // namespace stockwatch::server
