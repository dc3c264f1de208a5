#include "lambda/handlers.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "aws/aws_config.h"
#include "base/status.h"
#include "lambda/aws_adapters.h"
#include "lambda/check_stock.h"
#include "lambda/events.h"
#include "lambda/load_inventory.h"

namespace stockwatch::lambda {
namespace {

std::string Env(const char* name, std::string fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

void LogJson(const nlohmann::json& line) {
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(stderr, "%s\n", text.c_str());
}

class LoadInventoryHandler final : public LambdaHandler {
 public:
  LoadInventoryHandler(aws::AwsConfig config, const std::string& table,
                       const std::string& state_table, LoadInventoryOptions options)
      : s3_(config),
        db_(std::move(config)),
        storage_(s3_),
        writer_(db_, table),
        state_(db_, table, state_table),
        loader_(storage_, writer_, state_, std::move(options)) {}

  absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json& event,
                                        const InvocationContext&) override {
    SW_ASSIGN_OR_RETURN(std::vector<S3EventRecord> records, ParseS3Event(event));
    SW_ASSIGN_OR_RETURN(nlohmann::json result, loader_.HandleAll(records));
    for (const nlohmann::json& record : result["records"]) {
      LogJson({{"level", "info"}, {"msg", "load"}, {"record", record}});
    }
    return result;
  }

 private:
  aws::S3Client s3_;
  aws::DynamoDbClient db_;
  S3ObjectStorage storage_;
  DynamoDbInventoryWriter writer_;
  DynamoDbLoadStateStore state_;
  InventoryLoader loader_;
};

class CheckStockHandler final : public LambdaHandler {
 public:
  CheckStockHandler(aws::AwsConfig config, std::map<std::string, TopicTarget> targets,
                    CheckStockOptions options)
      : sns_(std::move(config)), publisher_(sns_, std::move(targets)), options_(options) {}

  absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json& event,
                                        const InvocationContext&) override {
    SW_ASSIGN_OR_RETURN(std::vector<StreamRecord> records, ParseStreamEvent(event));
    CheckStockResult result = CheckStock(records, options_, publisher_);
    for (size_t i = 0; i < result.failed_sequence_numbers.size(); ++i) {
      LogJson({{"level", "error"},
               {"msg", "record failed"},
               {"sequenceNumber", result.failed_sequence_numbers[i]},
               {"error", result.failure_messages[i]}});
    }
    LogJson({{"level", "info"},
             {"msg", "checked"},
             {"records", records.size()},
             {"published", result.published},
             {"ignored", result.ignored},
             {"failed", result.failed_sequence_numbers.size()}});
    return result.ToJson();
  }

 private:
  aws::SnsClient sns_;
  SnsAlertPublisher publisher_;
  CheckStockOptions options_;
};

// TODO(#6): the dashboard's JSON API over DynamoDB behind the Function URL. Until then it
// answers every request 501, so a deployed stack says plainly what is missing.
class ApiHandler final : public LambdaHandler {
 public:
  absl::StatusOr<nlohmann::json> Invoke(const nlohmann::json&, const InvocationContext&) override {
    return nlohmann::json{
        {"statusCode", 501},
        {"headers", {{"content-type", "application/json"}}},
        {"body", nlohmann::json{{"error", "the api handler is not implemented yet"}}.dump()}};
  }
};

absl::StatusOr<std::optional<int64_t>> ThresholdFromEnv() {
  const std::string text = Env("LOW_STOCK_THRESHOLD");
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || value < 0) {
    return absl::InvalidArgumentError("LOW_STOCK_THRESHOLD \"" + text +
                                      "\" is not a whole number >= 0");
  }
  return value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LambdaHandler>> MakeHandler(std::string_view name) {
  if (name == "api") return std::make_unique<ApiHandler>();
  if (name != "load-inventory" && name != "check-stock") {
    std::string known;
    for (std::string_view n : kHandlerNames) known += (known.empty() ? "" : ", ") + std::string(n);
    return absl::NotFoundError("unknown handler \"" + std::string(name) + "\" (known: " + known +
                               ")");
  }
  SW_ASSIGN_OR_RETURN(aws::AwsConfig config, aws::LoadAwsConfig(aws::ProcessEnv()));
  if (name == "load-inventory") {
    LoadInventoryOptions options;
    const std::string on_bad_row = Env("ON_BAD_ROW", "skip");
    if (on_bad_row == "reject") {
      options.bad_row_policy = core::BadRowPolicy::kReject;
    } else if (on_bad_row != "skip") {
      return absl::InvalidArgumentError("ON_BAD_ROW \"" + on_bad_row + "\" is not skip or reject");
    }
    return std::make_unique<LoadInventoryHandler>(std::move(config), Env("TABLE_NAME", "Inventory"),
                                                  Env("STATE_TABLE"), std::move(options));
  }
  CheckStockOptions options;
  SW_ASSIGN_OR_RETURN(options.low_stock_threshold, ThresholdFromEnv());
  std::map<std::string, TopicTarget> targets;
  targets[std::string(core::kTopicNoStock)] = {Env("NO_STOCK_TOPIC_ARN"),
                                               Env("NO_STOCK_TOPIC_NAME", "NoStock"), true};
  targets[std::string(core::kTopicLowStock)] = {Env("LOW_STOCK_TOPIC_ARN"),
                                                Env("LOW_STOCK_TOPIC_NAME", "LowStock"), false};
  targets[std::string(core::kTopicBackInStock)] = {
      Env("BACK_IN_STOCK_TOPIC_ARN"), Env("BACK_IN_STOCK_TOPIC_NAME", "BackInStock"), false};
  return std::make_unique<CheckStockHandler>(std::move(config), std::move(targets), options);
}

}  // namespace stockwatch::lambda
