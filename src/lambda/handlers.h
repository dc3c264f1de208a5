// The handlers `_HANDLER` may name, built with their AWS adapters from the environment.
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "lambda/lambda_handler.h"

namespace stockwatch::lambda {

inline constexpr std::array<std::string_view, 3> kHandlerNames = {"load-inventory", "check-stock",
                                                                  "api"};

// Makes the handler `name` from the process environment (AWS configuration as
// aws/aws_config.h reads it, and the functions' own variables: TABLE_NAME, STATE_TABLE,
// ON_BAD_ROW, LOW_STOCK_THRESHOLD, *_TOPIC_ARN, *_TOPIC_NAME, the api's COGNITO_*,
// SESSION_* and TABLE_CACHE_SECONDS; README "AWS mode"). Makes no network request but the
// api's read of the secret SESSION_SECRET_ARN names. kNotFound for an unknown name ("unknown
// handler ..."), kFailedPrecondition or kInvalidArgument for a configuration that cannot work.
absl::StatusOr<std::unique_ptr<LambdaHandler>> MakeHandler(std::string_view name);

}  // namespace stockwatch::lambda
