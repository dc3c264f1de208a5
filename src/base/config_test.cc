#include "base/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace stockwatch::base {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(ConfigTest, DefaultsApplyWithoutFileOrEnvironment) {
  auto config = Config::Load("", {}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("server.listen"), "127.0.0.1:8080");
  EXPECT_EQ(config->GetInt("server.max_upload_bytes"), 1073741824);
  EXPECT_EQ(config->Source("smtp.url"), "default");
}

TEST(ConfigTest, FlagsBeatEnvironmentWhichBeatsFile) {
  const std::string file = WriteTemp("sw_config_precedence.toml",
                                     "[smtp]\nurl = \"smtp://file:25\"\nfrom = \"file@x\"\n"
                                     "[server]\nlisten = \"127.0.0.1:1\"\n");
  auto config = Config::Load(
      file, {{"STOCKWATCH_SMTP_URL", "smtp://env:25"}, {"STOCKWATCH_SERVER_LISTEN", "127.0.0.1:2"}},
      {{"server.listen", "127.0.0.1:3"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("smtp.from"), "file@x");
  EXPECT_EQ(config->GetString("smtp.url"), "smtp://env:25");
  EXPECT_EQ(config->Source("smtp.url"), "env");
  EXPECT_EQ(config->GetString("server.listen"), "127.0.0.1:3");
  EXPECT_EQ(config->Source("server.listen"), "flag");
}

TEST(ConfigTest, RejectsUnknownSettingInFile) {
  const std::string file = WriteTemp("sw_config_unknown.toml", "[smtp]\nurll = \"x\"\n");
  auto config = Config::Load(file, {}, {});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("unknown setting smtp.urll"), std::string::npos);
}

TEST(ConfigTest, RejectsMalformedTomlWithPosition) {
  const std::string file = WriteTemp("sw_config_bad.toml", "[smtp]\nurl = \n");
  auto config = Config::Load(file, {}, {});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("sw_config_bad.toml:2:"), std::string::npos)
      << config.status();
}

TEST(ConfigTest, RejectsNonNumericIntegerFromEnvironment) {
  auto config = Config::Load("", {{"STOCKWATCH_SERVER_MAX_UPLOAD_BYTES", "lots"}}, {});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("STOCKWATCH_SERVER_MAX_UPLOAD_BYTES"),
            std::string::npos);
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto config = Config::Load("/nonexistent/stockwatch.toml", {}, {});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigTest, DescribeMasksSecrets) {
  auto config = Config::Load("", {{"STOCKWATCH_SMTP_PASSWORD", "hunter2"}}, {});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->Describe().find("hunter2"), std::string::npos);
  EXPECT_NE(config->Describe().find("smtp.password = \"<secret>\""), std::string::npos);
}

// The `secret` column of Settings() is the one list of secrets (Describe and GET
// /api/v1/settings redact them): every password, secret, token and key is on it. The only
// names that look like one but are not: a path to a key file, an account's public id and a
// URL.
TEST(ConfigTest, EverySecretLookingSettingIsMarkedSecret) {
  const std::vector<std::string_view> not_secret = {"server.tls_key", "sms.account_sid",
                                                    "oidc.token_endpoint"};
  for (const SettingSpec& spec : Settings()) {
    const std::string_view key = spec.name.substr(spec.name.find('.') + 1);
    const bool looks_secret = key.find("password") != std::string_view::npos ||
                              key.find("secret") != std::string_view::npos ||
                              key.find("token") != std::string_view::npos ||
                              key.find("key") != std::string_view::npos ||
                              key.find("sid") != std::string_view::npos;
    const bool exempt =
        std::find(not_secret.begin(), not_secret.end(), spec.name) != not_secret.end();
    if (looks_secret && !exempt) {
      EXPECT_TRUE(spec.secret) << spec.name << " must be secret";
    }
  }
  const std::vector<std::string_view> expected = {"server.admin_token", "smtp.password",
                                                  "sms.auth_token", "oidc.client_secret"};
  for (std::string_view name : expected) {
    bool found = false;
    for (const SettingSpec& spec : Settings()) found |= spec.name == name && spec.secret;
    EXPECT_TRUE(found) << name;
  }
}

// The example file documents every setting with its default: loading it changes nothing.
TEST(ConfigTest, ExampleFileDocumentsEverySettingWithItsDefault) {
  const std::string example =
      std::string(STOCKWATCH_SOURCE_DIR) + "/config/stockwatch.example.toml";
  auto config = Config::Load(example, {}, {});
  ASSERT_TRUE(config.ok()) << config.status();
  for (const SettingSpec& spec : Settings()) {
    EXPECT_EQ(config->Source(spec.name), "file") << spec.name << " missing from the example";
    EXPECT_EQ(config->GetString(spec.name), spec.default_value) << spec.name;
  }
}

}  // namespace
}  // namespace stockwatch::base
