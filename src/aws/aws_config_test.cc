#include "aws/aws_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace stockwatch::aws {
namespace {

// A map-backed environment, so no test touches the process environment.
EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "aws_config_test_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file) << text;
    return file;
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(AwsConfigTest, ReadsCredentialsRegionAndEndpointsFromTheEnvironment) {
  absl::StatusOr<AwsConfig> config = LoadAwsConfig(Env({
      {"AWS_ACCESS_KEY_ID", "AKIDENV"},
      {"AWS_SECRET_ACCESS_KEY", "secretenv"},
      {"AWS_SESSION_TOKEN", "tokenenv"},
      {"AWS_REGION", "eu-central-1"},
      {"AWS_DEFAULT_REGION", "us-west-2"},
      {"AWS_ENDPOINT_URL", "http://127.0.0.1:5055/"},
      {"AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "http://127.0.0.1:6066"},
      {"AWS_MAX_ATTEMPTS", "7"},
      {"HOME", "/nonexistent"},
  }));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(config->credentials.secret_access_key, "secretenv");
  EXPECT_EQ(config->credentials.session_token, "tokenenv");
  EXPECT_EQ(config->region, "eu-central-1");  // AWS_REGION wins over AWS_DEFAULT_REGION
  EXPECT_EQ(config->max_attempts, 7);
  EXPECT_EQ(config->EndpointFor(kDynamoDbService), "http://127.0.0.1:5055");
  EXPECT_EQ(config->EndpointFor(kDynamoDbStreamsService), "http://127.0.0.1:6066");
  EXPECT_TRUE(config->HasEndpointOverride(kS3Service));
}

TEST(AwsConfigTest, DefaultsToTheRealEndpointsOfTheRegion) {
  absl::StatusOr<AwsConfig> config = LoadAwsConfig(Env({{"AWS_ACCESS_KEY_ID", "A"},
                                                        {"AWS_SECRET_ACCESS_KEY", "S"},
                                                        {"AWS_DEFAULT_REGION", "eu-west-1"},
                                                        {"HOME", "/nonexistent"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->region, "eu-west-1");
  EXPECT_EQ(config->max_attempts, 3);
  EXPECT_EQ(config->EndpointFor(kDynamoDbService), "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(config->EndpointFor(kDynamoDbStreamsService),
            "https://streams.dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(config->EndpointFor(kS3Service), "https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(config->EndpointFor(kSnsService), "https://sns.eu-west-1.amazonaws.com");
  EXPECT_FALSE(config->HasEndpointOverride(kSnsService));
}

TEST(AwsConfigTest, PerServiceEndpointWinsOverTheGlobalOne) {
  absl::StatusOr<AwsConfig> config =
      LoadAwsConfig(Env({{"AWS_ACCESS_KEY_ID", "A"},
                         {"AWS_SECRET_ACCESS_KEY", "S"},
                         {"AWS_REGION", "us-east-1"},
                         {"AWS_ENDPOINT_URL", "http://global:1"},
                         {"AWS_ENDPOINT_URL_S3", "https://s3.local:9000"},
                         {"AWS_ENDPOINT_URL_SNS", "http://sns.local:2"},
                         {"AWS_ENDPOINT_URL_DYNAMODB", "http://ddb.local:3"},
                         {"HOME", "/nonexistent"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->EndpointFor(kS3Service), "https://s3.local:9000");
  EXPECT_EQ(config->EndpointFor(kSnsService), "http://sns.local:2");
  EXPECT_EQ(config->EndpointFor(kDynamoDbService), "http://ddb.local:3");
  EXPECT_EQ(config->EndpointFor(kDynamoDbStreamsService), "http://global:1");
}

TEST(AwsConfigTest, ReadsTheProfileFromTheSharedFiles) {
  TempDir dir;
  const std::string credentials = dir.Write("credentials",
                                            "[default]\n"
                                            "aws_access_key_id = AKIDDEFAULT\n"
                                            "aws_secret_access_key = secretdefault\n"
                                            "\n"
                                            "# the ops profile\n"
                                            "[ops]\n"
                                            "aws_access_key_id=AKIDOPS\n"
                                            "aws_secret_access_key = secret ops\n"
                                            "aws_session_token = tok\r\n");
  const std::string config_file = dir.Write("config",
                                            "[default]\n"
                                            "region = us-west-2\n"
                                            "[profile ops]\n"
                                            "region = ap-south-1\n"
                                            "max_attempts = 5\n"
                                            "s3 =\n"
                                            "  addressing_style = path\n"
                                            "endpoint_url = http://localhost:4566\n");
  absl::StatusOr<AwsConfig> ops = LoadAwsConfig(Env({{"AWS_SHARED_CREDENTIALS_FILE", credentials},
                                                     {"AWS_CONFIG_FILE", config_file},
                                                     {"AWS_PROFILE", "ops"}}));
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ(ops->profile, "ops");
  EXPECT_EQ(ops->credentials.access_key_id, "AKIDOPS");
  EXPECT_EQ(ops->credentials.secret_access_key, "secret ops");
  EXPECT_EQ(ops->credentials.session_token, "tok");
  EXPECT_EQ(ops->region, "ap-south-1");
  EXPECT_EQ(ops->max_attempts, 5);
  EXPECT_EQ(ops->s3_addressing, S3AddressingStyle::kPath);
  EXPECT_EQ(ops->EndpointFor(kDynamoDbService), "http://localhost:4566");

  absl::StatusOr<AwsConfig> fallback = LoadAwsConfig(
      Env({{"AWS_SHARED_CREDENTIALS_FILE", credentials}, {"AWS_CONFIG_FILE", config_file}}));
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(fallback->credentials.access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(fallback->credentials.session_token, "");
  EXPECT_EQ(fallback->region, "us-west-2");
  EXPECT_EQ(fallback->EndpointFor(kS3Service), "https://s3.us-west-2.amazonaws.com");
}

TEST(AwsConfigTest, FindsTheFilesUnderHome) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/.aws");
  dir.Write(".aws/credentials", "[default]\naws_access_key_id=K\naws_secret_access_key=S\n");
  dir.Write(".aws/config", "[default]\nregion=eu-north-1\n");
  absl::StatusOr<AwsConfig> config = LoadAwsConfig(Env({{"HOME", dir.path()}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->credentials.access_key_id, "K");
  EXPECT_EQ(config->region, "eu-north-1");
}

TEST(AwsConfigTest, EnvironmentCredentialsWinOverTheFiles) {
  TempDir dir;
  const std::string credentials =
      dir.Write("credentials", "[default]\naws_access_key_id=FILE\naws_secret_access_key=F\n");
  absl::StatusOr<AwsConfig> config =
      LoadAwsConfig(Env({{"AWS_SHARED_CREDENTIALS_FILE", credentials},
                         {"AWS_ACCESS_KEY_ID", "ENV"},
                         {"AWS_SECRET_ACCESS_KEY", "E"},
                         {"AWS_REGION", "us-east-1"},
                         {"HOME", "/nonexistent"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->credentials.access_key_id, "ENV");
  EXPECT_EQ(config->credentials.secret_access_key, "E");
}

TEST(AwsConfigTest, NamesWhatIsMissing) {
  absl::StatusOr<AwsConfig> none = LoadAwsConfig(Env({{"HOME", "/nonexistent"}}));
  ASSERT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(none.status().message().find("/nonexistent/.aws/credentials"), std::string::npos);

  absl::StatusOr<AwsConfig> half = LoadAwsConfig(
      Env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_REGION", "us-east-1"}, {"HOME", "/nonexistent"}}));
  ASSERT_EQ(half.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(half.status().message().find("secret access key"), std::string::npos);

  absl::StatusOr<AwsConfig> no_region = LoadAwsConfig(
      Env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"HOME", "/nonexistent"}}));
  ASSERT_EQ(no_region.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_region.status().message().find("AWS_REGION"), std::string::npos);
}

TEST(AwsConfigTest, RefusesBadValues) {
  const std::map<std::string, std::string> base = {{"AWS_ACCESS_KEY_ID", "A"},
                                                   {"AWS_SECRET_ACCESS_KEY", "S"},
                                                   {"AWS_REGION", "us-east-1"},
                                                   {"HOME", "/nonexistent"}};
  auto with = [&base](const std::string& name, const std::string& value) {
    std::map<std::string, std::string> vars = base;
    vars[name] = value;
    return LoadAwsConfig(Env(vars)).status();
  };
  EXPECT_EQ(with("AWS_ENDPOINT_URL", "ftp://x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with("AWS_ENDPOINT_URL_S3", "http://x/path").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with("AWS_MAX_ATTEMPTS", "0").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with("AWS_MAX_ATTEMPTS", "3x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with("AWS_S3_ADDRESSING_STYLE", "sideways").code(), absl::StatusCode::kInvalidArgument);

  TempDir dir;
  const std::string broken = dir.Write("config", "[default\nregion=x\n");
  std::map<std::string, std::string> vars = base;
  vars["AWS_CONFIG_FILE"] = broken;
  const absl::Status status = LoadAwsConfig(Env(vars)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(broken + ":1:"), std::string::npos) << status;
}

}  // namespace
}  // namespace stockwatch::aws
