#include "aws/secrets_manager.h"

#include <string>

namespace stockwatch::aws {

absl::StatusOr<std::string> GetSecretString(const AwsHttpClient& secrets_manager,
                                            std::string_view secret_id) {
  absl::StatusOr<nlohmann::json> answer =
      CallJsonProtocol(secrets_manager, "secretsmanager", "GetSecretValue",
                       {{"SecretId", std::string(secret_id)}}, "application/x-amz-json-1.1");
  if (!answer.ok()) return answer.status();
  auto value = answer->find("SecretString");
  if (value == answer->end() || !value->is_string()) {
    return absl::FailedPreconditionError("secret " + std::string(secret_id) +
                                         " has no SecretString (binary secrets are not used)");
  }
  return value->get<std::string>();
}

}  // namespace stockwatch::aws
