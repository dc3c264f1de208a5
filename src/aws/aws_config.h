// Where and as whom the AWS clients of AWS mode talk: credentials, region, endpoints,
// retries and timeouts, resolved the way the AWS CLI and SDKs resolve them, so the same
// environment (Lambda's, a developer's ~/.aws, an emulator's AWS_ENDPOINT_URL) works
// unchanged.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "aws/sigv4.h"

namespace stockwatch::aws {

// Reads one environment variable; std::nullopt when it is unset. Tests pass a map-backed
// lookup so they never touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

// The process environment (getenv). Thread-safe as long as nobody calls setenv.
EnvLookup ProcessEnv();

// How the protocol of a service reports its errors (aws_http.h parses all three).
enum class ErrorProtocol {
  kJson,      // DynamoDB, DynamoDB Streams: {"__type":"...#Code","message":"..."}
  kQueryXml,  // SNS: <ErrorResponse><Error><Code>...</Code><Message>
  kRestXml,   // S3: <Error><Code>...</Code><Message>...<RequestId>
};

// One AWS service as the clients address it.
struct AwsService {
  // Key in AwsConfig::service_endpoints and suffix of AWS_ENDPOINT_URL_<KEY upper case>:
  // botocore's service id in snake case ("dynamodb_streams").
  std::string_view key;
  std::string_view signing_name;  // SigV4 credential scope service ("dynamodb")
  std::string_view host_prefix;   // https://<host_prefix>.<region>.amazonaws.com
  ErrorProtocol error_protocol;
};

inline constexpr AwsService kDynamoDbService{"dynamodb", "dynamodb", "dynamodb",
                                             ErrorProtocol::kJson};
inline constexpr AwsService kDynamoDbStreamsService{"dynamodb_streams", "dynamodb",
                                                    "streams.dynamodb", ErrorProtocol::kJson};
inline constexpr AwsService kS3Service{"s3", "s3", "s3", ErrorProtocol::kRestXml};
inline constexpr AwsService kSnsService{"sns", "sns", "sns", ErrorProtocol::kQueryXml};
inline constexpr AwsService kSecretsManagerService{"secrets_manager", "secretsmanager",
                                                   "secretsmanager", ErrorProtocol::kJson};

// S3 bucket addressing. kAuto: path style (http://endpoint/bucket/key) against an
// endpoint override (emulators, MinIO, our own S3 API), virtual-hosted style
// (https://bucket.s3.<region>.amazonaws.com/key) against AWS when the bucket name is a
// valid DNS label without dots, else path style.
enum class S3AddressingStyle { kAuto, kPath, kVirtual };

struct AwsConfig {
  // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the profile's
  // aws_access_key_id / aws_secret_access_key / aws_session_token in the shared
  // credentials file, else in the config file.
  Credentials credentials;
  // AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region` in the config file.
  std::string region;
  // AWS_ENDPOINT_URL, else the profile's `endpoint_url`; empty: the real AWS endpoints.
  std::string endpoint_url;
  // Per service (key AwsService::key, e.g. "dynamodb_streams"): AWS_ENDPOINT_URL_<KEY>,
  // e.g. AWS_ENDPOINT_URL_DYNAMODB_STREAMS. Wins over endpoint_url.
  std::map<std::string, std::string> service_endpoints;
  // Attempts per request, the first included (AWS_MAX_ATTEMPTS, else the profile's
  // `max_attempts`). Default 3, as the SDKs' standard retry mode.
  int max_attempts = 3;
  // Backoff between attempts: full jitter, uniform in [0, min(max, base * 2^attempt)).
  // Defaults 50 ms and 20 s.
  std::chrono::milliseconds retry_base_delay{50};
  std::chrono::milliseconds retry_max_delay{20000};
  // Default 3 s to connect, 60 s for a whole request (a streamed GetObject: between two
  // received chunks rather than in total, see S3Client).
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{60000};
  // The profile the files were read for (AWS_PROFILE, default "default").
  std::string profile = "default";
  // S3 addressing (AWS_S3_ADDRESSING_STYLE: auto|path|virtual, else the profile's
  // `s3 = addressing_style = ...` sub-setting). Default kAuto.
  S3AddressingStyle s3_addressing = S3AddressingStyle::kAuto;

  // The base URL (scheme://host[:port], no trailing slash) for `service`: its
  // service_endpoints entry, else endpoint_url, else https://<host_prefix>.<region>.amazonaws.com.
  std::string EndpointFor(const AwsService& service) const;
  // True when EndpointFor(service) is an override rather than the real AWS endpoint.
  bool HasEndpointOverride(const AwsService& service) const;
};

// Resolves the configuration from `env` and the shared files it names
// (AWS_SHARED_CREDENTIALS_FILE, default $HOME/.aws/credentials; AWS_CONFIG_FILE, default
// $HOME/.aws/config with `[profile NAME]` sections and `[default]`). Missing files are
// fine. Errors:
//   kFailedPrecondition, naming what is missing: no credentials (the variables and files
//   looked at), only one of the key id and the secret, no region;
//   kInvalidArgument: a file that cannot be parsed (file:line), a bad AWS_MAX_ATTEMPTS,
//   an endpoint URL that is not http(s)://host[:port][/].
absl::StatusOr<AwsConfig> LoadAwsConfig(const EnvLookup& env);

}  // namespace stockwatch::aws
