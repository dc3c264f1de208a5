// `stockwatch serve`: the embedded default. Builds the adapters over the data directory
// (SQLite for the table, the stream and the outbox; files for the objects), the pipeline
// stages, the channels and the HTTP listener, and runs until SIGINT or SIGTERM.
#include <signal.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "adapters/dynamodb/dynamodb_inventory_store.h"
#include "adapters/dynamodb/dynamodb_stream_mirror.h"
#include "adapters/local/local_object_store.h"
#include "adapters/notify/slack_channel.h"
#include "adapters/notify/sms_channel.h"
#include "adapters/notify/smtp_channel.h"
#include "adapters/notify/sns_channel.h"
#include "adapters/notify/teams_channel.h"
#include "adapters/notify/webhook_channel.h"
#include "adapters/oidc/oidc_identity_provider.h"
#include "adapters/s3/s3_upload_copier.h"
#include "adapters/sqlite/sqlite_access_key_store.h"
#include "adapters/sqlite/sqlite_credential_store.h"
#include "adapters/sqlite/sqlite_database.h"
#include "adapters/sqlite/sqlite_inventory_store.h"
#include "adapters/sqlite/sqlite_notifier.h"
#include "adapters/sqlite/sqlite_user_store.h"
#include "aws/aws_config.h"
#include "aws/dynamodb_client.h"
#include "aws/dynamodb_streams_client.h"
#include "aws/s3_client.h"
#include "aws/sns_client.h"
#include "base/config.h"
#include "base/status.h"
#include "base/work_signal.h"
#include "cli/commands.h"
#include "core/auth/login_throttle.h"
#include "core/auth/oidc.h"
#include "core/auth/password.h"
#include "core/checker/checker.h"
#include "core/delivery/dispatcher.h"
#include "core/delivery/reminders.h"
#include "core/loader/loader.h"
#include "core/pipeline/pipeline.h"
#include "server/http_server.h"
#include "server/s3_api/s3_router.h"
#include "server/subscriber_tokens.h"

namespace stockwatch::cli {
namespace {

// How often `serve` purges subscriptions whose confirmation expired (and once at start).
constexpr std::chrono::hours kHousekeepingInterval{1};

// Unsubscribes the subscriptions whose confirmation link expired unconfirmed; logs, never
// fails (the next pass tries again).
void PurgeExpiredSubscriptions(core::Notifier& notifier, core::Clock& clock) {
  absl::StatusOr<int64_t> purged = notifier.PurgeExpiredSubscriptions(clock.Now());
  if (!purged.ok()) {
    spdlog::error("housekeeping: {}", purged.status().ToString());
  } else if (*purged > 0) {
    spdlog::info("housekeeping: removed {} subscriptions whose confirmation expired", *purged);
  }
}

// Stops `signal` and joins `thread` on every way out of Serve, before the stores they use go.
struct StopAndJoin {
  base::WorkSignal& signal;
  std::thread& thread;
  ~StopAndJoin() {
    signal.Stop();
    if (thread.joinable()) thread.join();
  }
};

struct ServeFlags {
  std::string config_file;
  std::map<std::string, std::string> overrides;  // "section.key" -> value
};

// Stands in for a channel whose settings are missing (email while smtp.url is unset, SMS
// while sms.account_sid, sms.auth_token and sms.from are): each attempt fails with `error` and
// is retried, so configuring it later delivers what is still pending instead of losing it; what
// gives up is kept as failed and can be redriven.
class UnconfiguredChannel final : public core::Channel {
 public:
  explicit UnconfiguredChannel(std::string error) : error_(std::move(error)) {}
  core::SendResult Send(const core::Delivery&) override {
    return {core::SendResult::Kind::kRetryable, error_, std::nullopt};
  }

 private:
  const std::string error_;
};

// A random API token: 32 bytes from libsodium's CSPRNG, hex-encoded, with a prefix that
// makes leaked tokens easy to find with secret scanners.
std::string NewToken() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof(bytes));
  char hex[2 * sizeof(bytes) + 1];
  sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
  return std::string("sw_") + hex;
}

// On the first start (no token stored yet) creates the admin token: STOCKWATCH_ADMIN_TOKEN
// or server.admin_token if set, otherwise a generated one printed once.
absl::Status EnsureAdminToken(core::CredentialStore& credentials, const base::Config& config,
                              core::Clock& clock) {
  SW_ASSIGN_OR_RETURN(auto tokens, credentials.Tokens());
  if (!tokens.empty()) return absl::OkStatus();
  std::string token;
  if (const char* env = std::getenv("STOCKWATCH_ADMIN_TOKEN"); env != nullptr && *env != '\0') {
    token = env;
  } else {
    token = config.GetString("server.admin_token");
  }
  const bool generated = token.empty();
  if (generated) token = NewToken();
  if (token.size() < 16) {
    return absl::InvalidArgumentError("the admin token must be at least 16 characters");
  }
  SW_RETURN_IF_ERROR(credentials.AddToken("admin", "admin", token, clock.Now()).status());
  if (generated) {
    std::cout << "created the admin API token (shown once, store it now): " << token << std::endl;
  } else {
    std::cout << "created the admin API token from the environment" << std::endl;
  }
  return absl::OkStatus();
}

// A random password for the first admin: 24 characters of an alphabet without look-alikes
// (about 137 bits), drawn without modulo bias.
std::string NewAdminPassword() {
  static constexpr char kAlphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string password;
  for (int i = 0; i < 24; ++i) {
    password.push_back(kAlphabet[randombytes_uniform(sizeof(kAlphabet) - 1)]);
  }
  return password;
}

// On the first start (no user yet) creates the user `admin` (role admin) with the password
// STOCKWATCH_ADMIN_PASSWORD if set, otherwise a generated one printed once. Tokens without
// an owner (the first-start admin token, tokens of databases older than accounts) then
// belong to the first admin, so they act with its role.
absl::Status EnsureAdminUser(core::UserStore& users, core::CredentialStore& credentials,
                             const core::PasswordHasher& hasher, core::Clock& clock) {
  SW_ASSIGN_OR_RETURN(std::vector<core::User> existing, users.ListUsers());
  if (existing.empty()) {
    std::string password;
    if (const char* env = std::getenv("STOCKWATCH_ADMIN_PASSWORD");
        env != nullptr && *env != '\0') {
      password = env;
      if (absl::Status rules = core::CheckPasswordRules(password); !rules.ok()) {
        return absl::InvalidArgumentError("STOCKWATCH_ADMIN_PASSWORD: " +
                                          std::string(rules.message()));
      }
    }
    const bool generated = password.empty();
    if (generated) password = NewAdminPassword();
    core::User admin;
    admin.name = "admin";
    admin.role = core::Role::kAdmin;
    SW_ASSIGN_OR_RETURN(admin.password_hash, hasher.Hash(password));
    admin.created_at = clock.Now();
    SW_ASSIGN_OR_RETURN(core::User created, users.AddUser(admin));
    existing.push_back(created);
    if (generated) {
      std::cout << "created the admin user \"admin\"; its password (shown once, store it now): "
                << password << std::endl;
    } else {
      std::cout << "created the admin user \"admin\" with the password from the environment"
                << std::endl;
    }
  }
  for (const core::User& user : existing) {
    if (user.role != core::Role::kAdmin) continue;
    SW_RETURN_IF_ERROR(credentials.AssignUnownedTokens(user.id).status());
    break;
  }
  return absl::OkStatus();
}

sigset_t BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // Blocked before any thread starts, so every thread inherits the mask and only the
  // sigwait() below receives them.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The S3 listener's options from the s3.* settings.
absl::StatusOr<server::s3_api::S3Options> S3OptionsFrom(const base::Config& config) {
  server::s3_api::S3Options options;
  options.buckets.clear();
  const std::string names = config.GetString("s3.buckets");
  size_t start = 0;
  while (start <= names.size()) {
    size_t comma = names.find(',', start);
    std::string name =
        names.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (!name.empty()) {
      // S3's bucket naming rules, in short: 3..63 of a-z 0-9 . -
      if (name.size() < 3 || name.size() > 63 ||
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos) {
        return absl::InvalidArgumentError("s3.buckets: \"" + name +
                                          "\" is not a valid bucket name (3-63 of a-z 0-9 . -)");
      }
      options.buckets.push_back(name);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (options.buckets.empty()) return absl::InvalidArgumentError("s3.buckets names no bucket");
  options.region = config.GetString("s3.region");
  options.domain = config.GetString("s3.domain");
  const int64_t max_object = config.GetInt("s3.max_object_bytes");
  if (max_object <= 0) return absl::InvalidArgumentError("s3.max_object_bytes must be positive");
  options.max_object_bytes = static_cast<uint64_t>(max_object);
  return options;
}

// `serve --backend aws` (README "AWS mode"): the AWS clients, the DynamoDB table as the
// inventory, and the stream mirror that keeps the local store current.
struct AwsBackend {
  explicit AwsBackend(const aws::AwsConfig& config)
      : dynamo(config), streams(config), sns(config), s3(config) {}
  aws::DynamoDbClient dynamo;
  aws::DynamoDbStreamsClient streams;
  aws::SnsClient sns;
  aws::S3Client s3;
  std::unique_ptr<adapters::DynamoDbInventoryStore> table;
  std::unique_ptr<adapters::DynamoDbStreamMirror> mirror;
  // With aws.bucket: every upload is copied there (null without).
  std::unique_ptr<adapters::S3UploadCopier> copier;
};

// nullptr for the embedded backend. For aws: checks the table and its stream and brings the
// mirror up to date before anything is served (a Scan on the first start), so the dashboard
// shows the table at once.
absl::StatusOr<std::unique_ptr<AwsBackend>> OpenAwsBackend(
    const base::Config& config, const std::shared_ptr<adapters::SqliteDatabase>& db,
    adapters::SqliteInventoryStore& mirror, core::ObjectStore& objects, const std::string& data_dir,
    core::Clock& clock) {
  const std::string backend = config.GetString("server.backend");
  if (backend == "embedded") return nullptr;
  if (backend != "aws") {
    return absl::InvalidArgumentError("server.backend must be \"embedded\" or \"aws\", not \"" +
                                      backend + "\"");
  }
  absl::StatusOr<aws::AwsConfig> aws_config = aws::LoadAwsConfig(aws::ProcessEnv());
  if (!aws_config.ok()) {
    return absl::Status(aws_config.status().code(),
                        "server.backend aws: " + std::string(aws_config.status().message()));
  }
  const int64_t poll_ms = config.GetInt("aws.stream_poll_ms");
  if (poll_ms < 10 || poll_ms > 60000) {
    return absl::InvalidArgumentError("aws.stream_poll_ms must be between 10 and 60000");
  }
  auto backend_parts = std::make_unique<AwsBackend>(*aws_config);
  const std::string table = config.GetString("aws.table");
  adapters::DynamoDbInventoryOptions table_options;
  table_options.table = table;
  backend_parts->table = std::make_unique<adapters::DynamoDbInventoryStore>(backend_parts->dynamo,
                                                                            mirror, table_options);
  adapters::DynamoDbStreamMirrorOptions mirror_options;
  mirror_options.table = table;
  mirror_options.poll_interval = std::chrono::milliseconds(poll_ms);
  backend_parts->mirror = std::make_unique<adapters::DynamoDbStreamMirror>(
      backend_parts->dynamo, backend_parts->streams, db, mirror, clock, mirror_options);
  adapters::MirrorPassStats stats;
  if (absl::Status started = backend_parts->mirror->Start(&stats); !started.ok()) {
    return absl::Status(started.code(), "server.backend aws: table " + table + ": " +
                                            std::string(started.message()));
  }
  spdlog::info("aws backend: table {} ({} region), stream {}{}", table, aws_config->region,
               backend_parts->mirror->stream_arn(),
               stats.resynced ? " (resynced from a full scan)" : "");
  if (const std::string bucket = config.GetString("aws.bucket"); !bucket.empty()) {
    adapters::S3UploadCopierOptions copy_options;
    copy_options.checkpoint_path = data_dir + "/s3-copy.checkpoint";
    copy_options.poll_interval = std::chrono::milliseconds(poll_ms);
    const aws::S3Client& s3 = backend_parts->s3;
    backend_parts->copier = std::make_unique<adapters::S3UploadCopier>(
        objects,
        [&s3, bucket](const core::ObjectInfo& object, std::string_view body) {
          const std::string type = object.content_type.empty() ? "text/csv" : object.content_type;
          return s3.PutObject(bucket, object.key, body, type).status();
        },
        copy_options);
    SW_RETURN_IF_ERROR(backend_parts->copier->Start());
    spdlog::info("aws backend: uploads are copied to s3://{}/ (after upload {})", bucket,
                 backend_parts->copier->checkpoint());
  }
  return backend_parts;
}

// --backend aws: the alerts of each topic in aws.topics are also published to the SNS topic
// of the same name (ignoring case), through an `sns` subscription of the outbox, so they are
// retried and their delivery shows like any other. A topic that does not exist is skipped
// with a warning; subscribing again on the next start finds the existing subscription.
absl::Status SubscribeAwsTopics(const base::Config& config, const AwsBackend& backend,
                                core::Notifier& notifier, core::Clock& clock) {
  for (const std::string& name : core::SplitCommaList(config.GetString("aws.topics"))) {
    absl::StatusOr<std::string> arn = backend.sns.FindTopicArn(name);
    if (absl::IsNotFound(arn.status())) {
      spdlog::warn("aws backend: no SNS topic named {}: its alerts are not published to SNS", name);
      continue;
    }
    if (!arn.ok()) {
      return absl::Status(arn.status().code(),
                          "aws.topics: " + name + ": " + std::string(arn.status().message()));
    }
    absl::StatusOr<core::Subscription> subscription =
        notifier.Subscribe(name, core::Protocol::kSns, *arn, clock.Now());
    if (!subscription.ok()) {
      return absl::Status(
          subscription.status().code(),
          "aws.topics: " + name + ": " + std::string(subscription.status().message()));
    }
    spdlog::info("aws backend: {} alerts are published to {}", name, *arn);
  }
  return absl::OkStatus();
}

absl::Status Serve(const ServeFlags& flags) {
  const sigset_t signals = BlockTerminationSignals();
  SW_ASSIGN_OR_RETURN(
      base::Config config,
      base::Config::Load(flags.config_file, base::Config::ProcessEnvironment(), flags.overrides));
  spdlog::set_level(spdlog::level::from_str(config.GetString("log.level")));
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  // HTTPS: refused before anything else is done, e.g. before the first admin password is
  // printed for a server that would not start.
  const std::string tls_cert = config.GetString("server.tls_cert");
  const std::string tls_key = config.GetString("server.tls_key");
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert (server.tls_cert) and --tls-key (server.tls_key) go together: give both or "
        "neither");
  }
  const bool tls = !tls_cert.empty();
  if (tls) SW_RETURN_IF_ERROR(server::CheckTlsFiles(tls_cert, tls_key));
  const std::string scheme = tls ? "https://" : "http://";

  const std::string data_dir = config.GetString("server.data_dir");
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return absl::UnavailableError("cannot create " + data_dir + ": " + ec.message());
  // The data directory holds uploads and token hashes: owner only.
  ::chmod(data_dir.c_str(), 0700);

  core::SystemClock clock;
  SW_ASSIGN_OR_RETURN(auto db, adapters::SqliteDatabase::Open(data_dir, {}));
  adapters::LocalObjectStoreOptions object_options;
  const int64_t inline_max = config.GetInt("s3.inline_max_bytes");
  if (inline_max < 0 || inline_max > (int64_t{16} << 20)) {
    return absl::InvalidArgumentError("s3.inline_max_bytes must be between 0 and 16777216");
  }
  object_options.inline_max_bytes = static_cast<size_t>(inline_max);
  SW_ASSIGN_OR_RETURN(auto objects, adapters::LocalObjectStore::Open(db, clock, object_options));
  SW_ASSIGN_OR_RETURN(auto inventory, adapters::SqliteInventoryStore::Open(db));
  // --backend aws: the DynamoDB table is the inventory and `inventory` its local mirror, kept
  // current from the table's stream (which also feeds the checker).
  SW_ASSIGN_OR_RETURN(std::unique_ptr<AwsBackend> aws_backend,
                      OpenAwsBackend(config, db, *inventory, *objects, data_dir, clock));
  core::InventoryStore& inventory_port =
      aws_backend ? static_cast<core::InventoryStore&>(*aws_backend->table) : *inventory;
  core::NotifierOptions notifier_options;
  notifier_options.confirmation_ttl =
      std::chrono::seconds(config.GetInt("notify.confirmation_ttl_seconds"));
  if (notifier_options.confirmation_ttl.count() <= 0) {
    return absl::InvalidArgumentError("notify.confirmation_ttl_seconds must be positive");
  }
  SW_ASSIGN_OR_RETURN(auto notifier, adapters::SqliteNotifier::Open(db, clock, notifier_options));
  SW_ASSIGN_OR_RETURN(auto credentials, adapters::SqliteCredentialStore::Open(db));
  SW_ASSIGN_OR_RETURN(auto access_keys, adapters::SqliteAccessKeyStore::Open(db));
  SW_RETURN_IF_ERROR(EnsureAdminToken(*credentials, config, clock));
  core::SessionLimits session_limits;
  session_limits.idle = std::chrono::seconds(config.GetInt("auth.session_idle_seconds"));
  session_limits.absolute = std::chrono::seconds(config.GetInt("auth.session_absolute_seconds"));
  if (session_limits.idle.count() <= 0 || session_limits.absolute.count() <= 0) {
    return absl::InvalidArgumentError(
        "auth.session_idle_seconds and auth.session_absolute_seconds must be positive");
  }
  SW_ASSIGN_OR_RETURN(auto users, adapters::SqliteUserStore::Open(db, session_limits));
  SW_ASSIGN_OR_RETURN(const core::PasswordHasher password_hasher, core::PasswordHasher::Create());
  SW_RETURN_IF_ERROR(EnsureAdminUser(*users, *credentials, password_hasher, clock));
  core::LoginThrottle login_throttle(clock);

  // Confirm and unsubscribe links: under notify.public_url, else the address the API listens
  // on (its port is known once it is bound, which matters for port 0).
  SW_ASSIGN_OR_RETURN(const std::string link_key, server::LoadOrCreateLinkKey(data_dir));
  const std::string public_url = config.GetString("notify.public_url");
  const std::string listen = config.GetString("server.listen");
  const std::string listen_host = listen.substr(0, listen.rfind(':'));
  auto api_port = std::make_shared<std::atomic<int>>(std::atoi(
      listen.rfind(':') == std::string::npos ? "0" : listen.c_str() + listen.rfind(':') + 1));
  core::SubscriberLinks links;
  links.base_url = [public_url, scheme, listen_host, api_port] {
    if (!public_url.empty()) return public_url;
    return scheme + listen_host + ":" + std::to_string(api_port->load());
  };
  links.unsubscribe_token = [link_key](int64_t subscription_id) {
    return server::UnsubscribeToken(link_key, subscription_id);
  };

  // Webhook, Slack and Teams share the webhook settings; SMS goes to the Twilio-compatible API.
  const bool allow_private_targets = config.GetBool("notify.allow_private_targets");
  if (allow_private_targets) {
    spdlog::warn(
        "notify.allow_private_targets is set: deliveries may reach loopback and "
        "private network addresses");
  }
  adapters::WebhookChannelOptions webhook_options;
  webhook_options.timeout = std::chrono::seconds(config.GetInt("webhook.timeout_seconds"));
  webhook_options.allow_private_targets = allow_private_targets;
  webhook_options.clock = &clock;
  webhook_options.links = links;
  adapters::WebhookChannel webhook(webhook_options);
  adapters::SlackChannel slack(webhook_options);
  adapters::TeamsChannel teams(webhook_options);
  std::unique_ptr<core::Channel> sms;
  if (config.GetString("sms.account_sid").empty() && config.GetString("sms.auth_token").empty() &&
      config.GetString("sms.from").empty()) {
    spdlog::warn(
        "sms.account_sid, sms.auth_token and sms.from are not set: SMS deliveries "
        "wait until they are");
    sms = std::make_unique<UnconfiguredChannel>(
        "sms is not configured: set sms.account_sid, sms.auth_token and sms.from");
  } else {
    adapters::SmsChannelOptions sms_options;
    sms_options.base_url = config.GetString("sms.base_url");
    sms_options.account_sid = config.GetString("sms.account_sid");
    sms_options.auth_token = config.GetString("sms.auth_token");
    sms_options.from_number = config.GetString("sms.from");
    sms_options.timeout = webhook_options.timeout;
    sms_options.allow_private_targets = allow_private_targets;
    // A half-done configuration is a mistake to report now, not at the first alert.
    if (absl::Status valid = adapters::ValidateSmsChannelOptions(sms_options); !valid.ok()) {
      return absl::InvalidArgumentError("settings sms.*: " + std::string(valid.message()));
    }
    sms = std::make_unique<adapters::SmsChannel>(std::move(sms_options));
  }
  std::unique_ptr<core::Channel> email;
  if (config.GetString("smtp.url").empty()) {
    spdlog::warn("smtp.url is not set: email deliveries wait until it is");
    email = std::make_unique<UnconfiguredChannel>("smtp.url is not set");
  } else {
    adapters::SmtpChannelOptions smtp;
    smtp.url = config.GetString("smtp.url");
    smtp.from = config.GetString("smtp.from");
    smtp.username = config.GetString("smtp.username");
    smtp.password = config.GetString("smtp.password");
    smtp.require_tls = config.GetBool("smtp.require_tls");
    smtp.insecure_skip_verify = config.GetBool("smtp.insecure_skip_verify");
    smtp.timeout = std::chrono::seconds(config.GetInt("smtp.timeout_seconds"));
    smtp.links = links;
    SW_ASSIGN_OR_RETURN(email, adapters::SmtpChannel::Create(std::move(smtp)));
  }

  // SNS topic subscriptions publish with the AWS credentials and region of the environment
  // (AWS_ACCESS_KEY_ID..., AWS_REGION, the shared files, AWS_ENDPOINT_URL_SNS): without them
  // such deliveries wait, as email waits for smtp.url.
  std::unique_ptr<core::Channel> sns;
  if (absl::StatusOr<aws::AwsConfig> aws_config = aws::LoadAwsConfig(aws::ProcessEnv());
      aws_config.ok()) {
    sns = std::make_unique<adapters::SnsChannel>(*std::move(aws_config));
  } else {
    sns = std::make_unique<UnconfiguredChannel>("sns is not configured: " +
                                                std::string(aws_config.status().message()));
  }

  core::LoaderOptions loader_options;
  const std::string on_bad_row = config.GetString("loader.on_bad_row");
  if (on_bad_row != "skip" && on_bad_row != "reject") {
    return absl::InvalidArgumentError("loader.on_bad_row must be \"skip\" or \"reject\", not \"" +
                                      on_bad_row + "\"");
  }
  loader_options.bad_row_policy =
      on_bad_row == "reject" ? core::BadRowPolicy::kReject : core::BadRowPolicy::kSkip;
  core::Loader loader(*objects, inventory_port, clock, loader_options);
  core::Checker checker(*inventory, *inventory, *notifier, core::CheckerOptions{});
  core::DispatcherOptions dispatch_options;
  dispatch_options.concurrency =
      static_cast<size_t>(std::clamp<int64_t>(config.GetInt("delivery.concurrency"), 1, 256));
  dispatch_options.email_rate_per_address =
      static_cast<double>(config.GetInt("delivery.email_rate_per_address"));
  dispatch_options.rate_per_subscription =
      static_cast<double>(config.GetInt("delivery.rate_per_subscription"));
  for (core::Protocol p : {core::Protocol::kEmail, core::Protocol::kSms, core::Protocol::kWebhook,
                           core::Protocol::kSlack, core::Protocol::kTeams}) {
    dispatch_options.rate_per_channel[p] = static_cast<double>(
        config.GetInt("delivery.channel_rate_" + std::string(core::ProtocolName(p))));
  }
  const auto backoff = [&](core::Protocol p, const char* attempts, const char* age) {
    core::RetryPolicy& policy = dispatch_options.policies[p];
    policy.max_attempts = static_cast<int>(config.GetInt(attempts));
    policy.max_age = std::chrono::seconds(config.GetInt(age));
    policy.initial_backoff =
        std::chrono::milliseconds(config.GetInt("delivery.initial_backoff_ms"));
    policy.max_backoff = std::chrono::milliseconds(config.GetInt("delivery.max_backoff_ms"));
  };
  backoff(core::Protocol::kEmail, "delivery.email_max_attempts", "delivery.email_max_age_seconds");
  backoff(core::Protocol::kWebhook, "delivery.webhook_max_attempts",
          "delivery.webhook_max_age_seconds");
  // Slack and Teams are webhooks; SMS is retried like email (SNS's defaults for both).
  backoff(core::Protocol::kSlack, "delivery.webhook_max_attempts",
          "delivery.webhook_max_age_seconds");
  backoff(core::Protocol::kTeams, "delivery.webhook_max_attempts",
          "delivery.webhook_max_age_seconds");
  backoff(core::Protocol::kSms, "delivery.email_max_attempts", "delivery.email_max_age_seconds");
  // An SNS topic is an HTTP API like a webhook's receiver.
  backoff(core::Protocol::kSns, "delivery.webhook_max_attempts",
          "delivery.webhook_max_age_seconds");
  core::Dispatcher dispatcher(*notifier,
                              {{core::Protocol::kWebhook, &webhook},
                               {core::Protocol::kEmail, email.get()},
                               {core::Protocol::kSlack, &slack},
                               {core::Protocol::kTeams, &teams},
                               {core::Protocol::kSms, sms.get()},
                               {core::Protocol::kSns, sns.get()}},
                              clock, dispatch_options);
  core::Pipeline pipeline(loader, checker, dispatcher, clock);
  if (aws_backend) SW_RETURN_IF_ERROR(SubscribeAwsTopics(config, *aws_backend, *notifier, clock));
  core::ReminderOptions reminder_options;
  reminder_options.after = std::chrono::seconds(config.GetInt("notify.reminder_after_seconds"));
  reminder_options.limit =
      static_cast<int>(std::clamp<int64_t>(config.GetInt("notify.reminder_limit"), -1, 101));
  SW_RETURN_IF_ERROR(core::ValidateReminderOptions(reminder_options));

  server::ServerOptions server_options;
  server_options.listen = config.GetString("server.listen");
  // The S3 listener copies these options, so it speaks HTTPS with the same files.
  server_options.tls_cert_file = tls_cert;
  server_options.tls_key_file = tls_key;
  server_options.tls = tls;
  server_options.trust_proxy = config.GetBool("server.trust_proxy");
  server_options.max_upload_bytes = static_cast<uint64_t>(config.GetInt("server.max_upload_bytes"));
  server_options.max_connections = static_cast<size_t>(config.GetInt("server.max_connections"));
  server_options.idle_timeout = std::chrono::seconds(config.GetInt("server.idle_timeout_seconds"));
  server_options.bad_row_policy = loader_options.bad_row_policy;
  server_options.links = links;
  server_options.link_key = link_key;
  server_options.settings = &config;
  // POST /sms/inbound: STOP and START from Twilio, verified with the account's auth token.
  if (const std::string auth_token = config.GetString("sms.auth_token"); !auth_token.empty()) {
    server_options.verify_sms_signature =
        [auth_token](std::string_view url,
                     const std::vector<std::pair<std::string, std::string>>& form,
                     std::string_view signature) {
          return adapters::VerifyTwilioSignature(auth_token, url, form, signature);
        };
  }
  server_options.parse_sms_keyword = [](std::string_view body) {
    return adapters::ParseStopKeyword(body);
  };
  // Sign-in with OpenID Connect: off while oidc.issuer is empty.
  std::unique_ptr<adapters::OidcIdentityProvider> oidc_provider;
  if (const std::string issuer = config.GetString("oidc.issuer"); !issuer.empty()) {
    adapters::OidcProviderOptions oidc_options;
    oidc_options.issuer = issuer;
    oidc_options.client_id = config.GetString("oidc.client_id");
    if (oidc_options.client_id.empty()) {
      return absl::InvalidArgumentError("oidc.issuer is set but oidc.client_id is not");
    }
    oidc_options.client_secret = config.GetString("oidc.client_secret");
    oidc_options.authorization_endpoint = config.GetString("oidc.authorization_endpoint");
    oidc_options.token_endpoint = config.GetString("oidc.token_endpoint");
    oidc_options.jwks_uri = config.GetString("oidc.jwks_uri");
    oidc_options.require_nonce = config.GetBool("oidc.require_nonce");
    oidc_provider = std::make_unique<adapters::OidcIdentityProvider>(oidc_options, clock);
    server_options.oidc.client_id = oidc_options.client_id;
    server_options.oidc.redirect_url = config.GetString("oidc.redirect_url");
    server_options.oidc.scopes = config.GetString("oidc.scopes");
    server_options.oidc.roles.groups_claim = config.GetString("oidc.groups_claim");
    server_options.oidc.roles.admin_groups =
        core::SplitCommaList(config.GetString("oidc.admin_groups"));
    server_options.oidc.roles.manager_groups =
        core::SplitCommaList(config.GetString("oidc.manager_groups"));
    server_options.oidc.roles.manager_stores_claim = config.GetString("oidc.manager_stores_claim");
    server_options.oidc.roles.viewer_groups =
        core::SplitCommaList(config.GetString("oidc.viewer_groups"));
    server_options.oidc.roles.require_group = config.GetBool("oidc.require_group");
    spdlog::info("oidc sign-in on: issuer {}, client {}", issuer, oidc_options.client_id);
  }
  server::HttpServer http(
      server::Services{*objects, inventory_port, *inventory, *notifier, *credentials, clock,
                       pipeline.loader_wakeup(), *access_keys, *users, &pipeline.deliver_wakeup(),
                       &password_hasher, &login_throttle, oidc_provider.get()},
      server_options);

  SW_ASSIGN_OR_RETURN(server::s3_api::S3Options s3_options, S3OptionsFrom(config));
  s3_options.bad_row_policy = loader_options.bad_row_policy;
  server::s3_api::S3Router s3_router(
      server::s3_api::S3Services{*objects, *access_keys, clock, pipeline.loader_wakeup()},
      s3_options);
  const std::string s3_listen = config.GetString("s3.listen");
  std::unique_ptr<server::HttpServer> s3_server;
  if (s3_listen != "off" && !s3_listen.empty()) {
    server::ServerOptions s3_server_options = server_options;
    s3_server_options.listen = s3_listen;
    s3_server = std::make_unique<server::HttpServer>(s3_router, s3_server_options);
  }

  // Expired pending subscriptions are gone before anyone can list them.
  PurgeExpiredSubscriptions(*notifier, clock);
  // The API listens before the pipeline starts, so the links in confirmations it sends carry
  // the bound port (server.listen may give port 0).
  SW_RETURN_IF_ERROR(http.Start());
  api_port->store(http.port());
  pipeline.Start();
  // Reminders run on their own thread, in short transactions of their own, so they never
  // hold up loading; each pass that publishes wakes the dispatcher.
  base::WorkSignal reminder_signal;
  std::thread reminder_thread;
  if (reminder_options.after.count() > 0 && reminder_options.limit > 0) {
    reminder_thread = std::thread([&] {
      auto deadline = std::chrono::steady_clock::now();
      while (reminder_signal.WaitUntil(deadline)) {
        const core::TimePoint now = clock.Now();
        absl::StatusOr<core::ReminderPass> pass =
            core::RunReminderPass(*notifier, now, reminder_options);
        if (!pass.ok()) {
          spdlog::error("reminders: {}", pass.status().ToString());
          deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
          continue;
        }
        if (pass->published > 0) {
          spdlog::info("reminders: published {}", pass->published);
          pipeline.deliver_wakeup().Notify();
        }
        // Wall-clock due time to a monotonic deadline, as the dispatcher does.
        const auto wait = std::max<std::chrono::system_clock::duration>(
            pass->next - now, std::chrono::milliseconds(1));
        deadline = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait);
      }
    });
  }
  const StopAndJoin join_reminders{reminder_signal, reminder_thread};
  // --backend aws: the stream, read on a thread of its own; each batch that changes the mirror
  // wakes the checker.
  base::WorkSignal mirror_signal;
  std::thread mirror_thread;
  if (aws_backend) {
    mirror_thread =
        std::thread([&] { aws_backend->mirror->Run(mirror_signal, &pipeline.check_wakeup()); });
  }
  const StopAndJoin join_mirror{mirror_signal, mirror_thread};
  // --backend aws with aws.bucket: the copy of the uploads to S3, on a thread of its own.
  base::WorkSignal copy_signal;
  std::thread copy_thread;
  if (aws_backend && aws_backend->copier) {
    copy_thread = std::thread([&] { aws_backend->copier->Run(copy_signal); });
  }
  const StopAndJoin join_copy{copy_signal, copy_thread};
  // Housekeeping, on a thread of its own (the reminder thread runs only when reminders are
  // on): subscriptions left pending after their confirmation link expired are purged hourly
  // (and once before the API listens, above), so they are not listed as pending forever.
  base::WorkSignal housekeeping_signal;
  std::thread housekeeping_thread([&] {
    while (
        housekeeping_signal.WaitUntil(std::chrono::steady_clock::now() + kHousekeepingInterval)) {
      PurgeExpiredSubscriptions(*notifier, clock);
    }
  });
  const StopAndJoin join_housekeeping{housekeeping_signal, housekeeping_thread};
  const std::string host = server_options.listen.substr(0, server_options.listen.rfind(':'));
  std::cout << "stockwatch listening on " << scheme << host << ":" << http.port() << std::endl;
  if (s3_server) {
    SW_RETURN_IF_ERROR(s3_server->Start());
    const std::string s3_host = s3_listen.substr(0, s3_listen.rfind(':'));
    std::cout << "stockwatch S3 API listening on " << scheme << s3_host << ":" << s3_server->port()
              << std::endl;
  }
  spdlog::info("data directory {}", data_dir);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received signal {}, stopping", signal_number);
  reminder_signal.Stop();
  housekeeping_signal.Stop();
  mirror_signal.Stop();
  copy_signal.Stop();
  if (s3_server) s3_server->Stop();
  http.Stop();
  pipeline.Stop();
  return absl::OkStatus();
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the whole pipeline and the HTTP API in one process (embedded default)");
  cmd->add_option("--config", flags->config_file, "TOML config file (see config/)");
  const auto setting = [cmd, flags](const char* flag, const char* name, const char* help) {
    cmd->add_option_function<std::string>(
        flag, [flags, name](const std::string& v) { flags->overrides[name] = v; }, help);
  };
  setting("--data", "server.data_dir", "Data directory (server.data_dir, default ./data)");
  setting("--listen", "server.listen", "host:port to listen on (default 127.0.0.1:8080)");
  setting("--s3-listen", "s3.listen",
          "host:port of the S3-compatible API (default 127.0.0.1:9000; off disables it)");
  setting("--smtp-url", "smtp.url", "SMTP server for email, e.g. smtp://127.0.0.1:2525");
  setting("--smtp-from", "smtp.from", "Sender address of alert emails");
  setting("--on-bad-row", "loader.on_bad_row", "skip (default) or reject");
  setting("--tls-cert", "server.tls_cert",
          "PEM certificate (chain) to serve HTTPS with; needs --tls-key (server.tls_cert)");
  setting("--tls-key", "server.tls_key",
          "PEM private key of --tls-cert, not readable by every user (server.tls_key)");
  setting("--backend", "server.backend",
          "embedded (default: SQLite in --data) or aws (the DynamoDB table of aws.table, "
          "mirrored locally from its stream; README \"AWS mode\")");
  cmd->callback([flags] {
    absl::Status st = Serve(*flags);
    if (!st.ok()) {
      std::fprintf(stderr, "stockwatch serve: %s\n", std::string(st.message()).c_str());
      throw CLI::RuntimeError(kExitFailure);
    }
  });
}

}  // namespace stockwatch::cli
