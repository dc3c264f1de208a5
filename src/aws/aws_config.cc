#include "aws/aws_config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "aws/aws_text.h"

namespace stockwatch::aws {
namespace {

using text::Cat;
using text::Lower;
using text::Upper;

std::string Trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

// One section of an AWS shared file: its settings, and the sub-settings of nested keys
// ("s3 =" followed by indented "addressing_style = path") as "s3.addressing_style".
using Section = std::map<std::string, std::string>;
using IniFile = std::map<std::string, Section>;

// Parses the INI dialect of ~/.aws/credentials and ~/.aws/config as botocore does:
// [section] headers, "key = value" lines, '#' and ';' comment lines, and indented lines
// under a key with an empty value as that key's sub-settings.
absl::StatusOr<IniFile> ParseIni(const std::string& path, std::string_view text) {
  IniFile file;
  Section* section = nullptr;
  std::string parent;  // the key whose sub-settings indented lines are
  std::istringstream in{std::string(text)};
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#' || trimmed[0] == ';') continue;
    const bool indented = std::isspace(static_cast<unsigned char>(line[0])) != 0;
    if (trimmed[0] == '[') {
      if (trimmed.back() != ']') {
        return absl::InvalidArgumentError(
            Cat(path, ":", line_number, ": section header without ']'"));
      }
      section = &file[Trim(std::string_view(trimmed).substr(1, trimmed.size() - 2))];
      parent.clear();
      continue;
    }
    const size_t eq = trimmed.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(Cat(path, ":", line_number, ": expected \"key = value\""));
    }
    if (section == nullptr) {
      return absl::InvalidArgumentError(
          Cat(path, ":", line_number, ": setting outside of a [section]"));
    }
    const std::string key = Lower(Trim(std::string_view(trimmed).substr(0, eq)));
    const std::string value = Trim(std::string_view(trimmed).substr(eq + 1));
    if (indented && !parent.empty()) {
      (*section)[parent + "." + key] = value;
      continue;
    }
    (*section)[key] = value;
    parent = value.empty() ? key : std::string();
  }
  return file;
}

// Reads and parses `path`; an empty file when it does not exist.
absl::StatusOr<IniFile> ReadIni(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IniFile{};
  std::ostringstream text;
  text << in.rdbuf();
  return ParseIni(path, text.str());
}

std::optional<std::string> NonEmpty(const EnvLookup& env, std::string_view name) {
  std::optional<std::string> value = env(name);
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

std::optional<std::string> Get(const Section* section, const std::string& key) {
  if (section == nullptr) return std::nullopt;
  const auto it = section->find(key);
  if (it == section->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Accepts http(s)://host[:port] with an optional trailing '/', returned without it.
absl::StatusOr<std::string> CheckEndpoint(std::string_view where, std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
  } else {
    return absl::InvalidArgumentError(
        Cat(where, ": endpoint \"", url, "\" is not an http:// or https:// URL"));
  }
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        Cat(where, ": endpoint \"", url, "\" must be scheme://host[:port] without a path"));
  }
  return url;
}

constexpr AwsService kKnownServices[] = {kDynamoDbService, kDynamoDbStreamsService, kS3Service,
                                         kSnsService, kSecretsManagerService};

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string AwsConfig::EndpointFor(const AwsService& service) const {
  const auto it = service_endpoints.find(std::string(service.key));
  if (it != service_endpoints.end() && !it->second.empty()) return it->second;
  if (!endpoint_url.empty()) return endpoint_url;
  return Cat("https://", service.host_prefix, ".", region, ".amazonaws.com");
}

bool AwsConfig::HasEndpointOverride(const AwsService& service) const {
  const auto it = service_endpoints.find(std::string(service.key));
  return (it != service_endpoints.end() && !it->second.empty()) || !endpoint_url.empty();
}

absl::StatusOr<AwsConfig> LoadAwsConfig(const EnvLookup& env) {
  AwsConfig config;
  config.profile = NonEmpty(env, "AWS_PROFILE").value_or("default");
  const std::string home = NonEmpty(env, "HOME").value_or("");
  const std::string credentials_path =
      NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE")
          .value_or(home.empty() ? "" : home + "/.aws/credentials");
  const std::string config_path =
      NonEmpty(env, "AWS_CONFIG_FILE").value_or(home.empty() ? "" : home + "/.aws/config");

  IniFile credentials_file;
  IniFile config_file;
  if (!credentials_path.empty()) {
    absl::StatusOr<IniFile> parsed = ReadIni(credentials_path);
    if (!parsed.ok()) return parsed.status();
    credentials_file = *std::move(parsed);
  }
  if (!config_path.empty()) {
    absl::StatusOr<IniFile> parsed = ReadIni(config_path);
    if (!parsed.ok()) return parsed.status();
    config_file = *std::move(parsed);
  }
  const Section* credentials_section = nullptr;
  if (const auto it = credentials_file.find(config.profile); it != credentials_file.end()) {
    credentials_section = &it->second;
  }
  // The config file names the default profile [default] and every other [profile NAME]
  // (botocore also accepts [default] as [profile default]).
  const Section* config_section = nullptr;
  if (const auto it = config_file.find("profile " + config.profile); it != config_file.end()) {
    config_section = &it->second;
  } else if (config.profile == "default") {
    if (const auto def = config_file.find("default"); def != config_file.end()) {
      config_section = &def->second;
    }
  }

  // Credentials: the environment as a whole, else the credentials file, else the config
  // file; never a key id from one place with a secret from another.
  std::optional<std::string> key_id = NonEmpty(env, "AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
  std::optional<std::string> token = NonEmpty(env, "AWS_SESSION_TOKEN");
  std::string credentials_source = "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)";
  if (!key_id.has_value() && !secret.has_value()) {
    for (const auto& [section, source] : {std::pair{credentials_section, credentials_path},
                                          std::pair{config_section, config_path}}) {
      key_id = Get(section, "aws_access_key_id");
      secret = Get(section, "aws_secret_access_key");
      token = Get(section, "aws_session_token");
      credentials_source = Cat(source, " [", config.profile, "]");
      if (key_id.has_value() || secret.has_value()) break;
    }
  }
  if (!key_id.has_value() && !secret.has_value()) {
    return absl::FailedPreconditionError(
        Cat("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "aws_access_key_id and aws_secret_access_key for profile \"",
            config.profile, "\" in ",
            credentials_path.empty() ? "~/.aws/credentials" : credentials_path, " or ",
            config_path.empty() ? "~/.aws/config" : config_path));
  }
  if (!key_id.has_value() || !secret.has_value()) {
    return absl::FailedPreconditionError(
        Cat("incomplete AWS credentials in ", credentials_source, ": ",
            key_id.has_value() ? "the secret access key" : "the access key id", " is missing"));
  }
  config.credentials.access_key_id = *key_id;
  config.credentials.secret_access_key = *secret;
  config.credentials.session_token = token.value_or("");

  // Region.
  if (std::optional<std::string> region = NonEmpty(env, "AWS_REGION")) {
    config.region = *region;
  } else if (std::optional<std::string> default_region = NonEmpty(env, "AWS_DEFAULT_REGION")) {
    config.region = *default_region;
  } else if (std::optional<std::string> file_region = Get(config_section, "region")) {
    config.region = *file_region;
  } else {
    return absl::FailedPreconditionError(
        Cat("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or region for profile \"",
            config.profile, "\" in ", config_path.empty() ? "~/.aws/config" : config_path));
  }

  // Endpoints.
  if (std::optional<std::string> url = NonEmpty(env, "AWS_ENDPOINT_URL")) {
    absl::StatusOr<std::string> checked = CheckEndpoint("AWS_ENDPOINT_URL", *url);
    if (!checked.ok()) return checked.status();
    config.endpoint_url = *std::move(checked);
  } else if (std::optional<std::string> file_url = Get(config_section, "endpoint_url")) {
    absl::StatusOr<std::string> checked =
        CheckEndpoint(Cat(config_path, " [", config.profile, "] endpoint_url"), *file_url);
    if (!checked.ok()) return checked.status();
    config.endpoint_url = *std::move(checked);
  }
  for (const AwsService& service : kKnownServices) {
    const std::string name = "AWS_ENDPOINT_URL_" + Upper(service.key);
    if (std::optional<std::string> url = NonEmpty(env, name)) {
      absl::StatusOr<std::string> checked = CheckEndpoint(name, *url);
      if (!checked.ok()) return checked.status();
      config.service_endpoints[std::string(service.key)] = *std::move(checked);
    }
  }

  // Retries.
  std::optional<std::string> attempts = NonEmpty(env, "AWS_MAX_ATTEMPTS");
  std::string attempts_source = "AWS_MAX_ATTEMPTS";
  if (!attempts.has_value()) {
    attempts = Get(config_section, "max_attempts");
    attempts_source = Cat(config_path, " [", config.profile, "] max_attempts");
  }
  if (attempts.has_value()) {
    char* end = nullptr;
    const long value = std::strtol(attempts->c_str(), &end, 10);
    if (end == attempts->c_str() || *end != '\0' || value < 1 || value > 100) {
      return absl::InvalidArgumentError(
          Cat(attempts_source, ": \"", *attempts, "\" is not a number of attempts 1..100"));
    }
    config.max_attempts = static_cast<int>(value);
  }

  // S3 addressing style.
  std::optional<std::string> style = NonEmpty(env, "AWS_S3_ADDRESSING_STYLE");
  if (!style.has_value()) style = Get(config_section, "s3.addressing_style");
  if (style.has_value()) {
    const std::string lower = Lower(*style);
    if (lower == "path") {
      config.s3_addressing = S3AddressingStyle::kPath;
    } else if (lower == "virtual") {
      config.s3_addressing = S3AddressingStyle::kVirtual;
    } else if (lower == "auto") {
      config.s3_addressing = S3AddressingStyle::kAuto;
    } else {
      return absl::InvalidArgumentError(
          Cat("s3 addressing style \"", *style, "\" is not one of auto, path, virtual"));
    }
  }
  return config;
}

}  // namespace stockwatch::aws
