// Secrets Manager, the one call stockwatch needs: GetSecretValue (JSON 1.1 protocol), for
// the `api` function's session secret (SESSION_SECRET_ARN), so the secret is in neither the
// template nor the function's configuration.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "aws/aws_http.h"

namespace stockwatch::aws {

// The SecretString of the current version of `secret_id` (an ARN or name). kNotFound if
// there is no such secret, kFailedPrecondition if it holds only binary data; other errors as
// CallJsonProtocol.
absl::StatusOr<std::string> GetSecretString(const AwsHttpClient& secrets_manager,
                                            std::string_view secret_id);

}  // namespace stockwatch::aws
