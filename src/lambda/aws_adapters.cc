#include "lambda/aws_adapters.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "adapters/dynamodb/dynamodb_stream_mirror.h"
#include "adapters/notify/sns_channel.h"
#include "base/status.h"
#include "core/model/json.h"

namespace stockwatch::lambda {
namespace {

// DynamoDB's limit on a sort key value.
constexpr size_t kMaxSortKeyBytes = 1024;

// The mirror of `serve --backend aws` (which does not link this layer) skips the same
// reserved stores and load-state rows as the functions.
static_assert(kReservedStorePrefix == adapters::kMirrorReservedStorePrefix);
static_assert(kLoadStateStore == adapters::kMirrorLoadStateStore);

}  // namespace

absl::Status S3ObjectStorage::Read(const std::string& bucket, const std::string& key,
                                   const std::function<absl::Status(std::string_view)>& on_chunk) {
  return s3_.GetObject(bucket, key, on_chunk).status();
}

absl::Status S3ObjectStorage::Write(const std::string& bucket, const std::string& key,
                                    std::string_view content_type, std::string body) {
  return s3_.PutObject(bucket, key, body, content_type).status();
}

absl::Status DynamoDbInventoryWriter::Write(std::span<const core::InventoryItem> items) {
  std::vector<aws::DynamoWriteRequest> requests;
  requests.reserve(items.size());
  for (const core::InventoryItem& item : items) {
    requests.push_back(aws::DynamoWriteRequest::Put({{"Store", aws::DynamoS(item.store)},
                                                     {"Item", aws::DynamoS(item.item)},
                                                     {"Count", aws::DynamoN(item.count)}}));
  }
  return db_.BatchWriteItem(table_, requests).status();
}

aws::UpdateItemRequest DynamoDbLoadStateStore::Request(const std::string& object) const {
  aws::UpdateItemRequest request;
  if (state_table_.empty()) {
    request.table = inventory_table_;
    request.key = {{"Store", aws::DynamoS(kLoadStateStore)}, {"Item", aws::DynamoS(object)}};
  } else {
    request.table = state_table_;
    request.key = {{"Key", aws::DynamoS(object)}};
  }
  request.expression_attribute_names = {
      {"#seq", "Sequencer"}, {"#done", "Done"}, {"#etag", "ETag"}, {"#at", "UpdatedAt"}};
  return request;
}

absl::StatusOr<ClaimOutcome> DynamoDbLoadStateStore::Claim(const std::string& object,
                                                           const std::string& sequencer,
                                                           const std::string& etag) {
  aws::UpdateItemRequest request = Request(object);
  // Newer than the last claimed event, or this very event when it never completed (a
  // retry after a failure). Sequencers are stored padded, so strings compare as values.
  request.update_expression = "SET #seq = :s, #at = :t";
  request.condition_expression =
      "attribute_not_exists(#seq) OR #seq < :s OR "
      "(#seq = :s AND (attribute_not_exists(#done) OR #done <> :s))";
  request.expression_attribute_names.erase("#etag");
  request.expression_attribute_values = {
      {":s", aws::DynamoS(sequencer)},
      {":t", aws::DynamoS(core::FormatTime(std::chrono::system_clock::now()))}};
  request.return_values = "ALL_OLD";
  absl::StatusOr<nlohmann::json> old = db_.UpdateItem(request);
  if (absl::IsFailedPrecondition(old.status())) return ClaimOutcome::kStale;
  SW_RETURN_IF_ERROR(old.status());
  // Unchanged only when the last claimed event completed with the same content: a claim
  // that failed half-way may have left the table between two versions.
  const std::optional<std::string> old_seq = aws::GetDynamoS(*old, "Sequencer");
  const std::optional<std::string> old_done = aws::GetDynamoS(*old, "Done");
  const std::optional<std::string> old_etag = aws::GetDynamoS(*old, "ETag");
  if (old_seq && old_done && *old_seq == *old_done && old_etag && !etag.empty() &&
      *old_etag == etag) {
    return ClaimOutcome::kUnchanged;
  }
  return ClaimOutcome::kClaimed;
}

absl::Status DynamoDbLoadStateStore::Complete(const std::string& object,
                                              const std::string& sequencer,
                                              const std::string& etag) {
  aws::UpdateItemRequest request = Request(object);
  request.update_expression = "SET #done = :s, #etag = :e, #at = :t";
  request.condition_expression = "#seq = :s";
  request.expression_attribute_values = {
      {":s", aws::DynamoS(sequencer)},
      {":e", aws::DynamoS(etag)},
      {":t", aws::DynamoS(core::FormatTime(std::chrono::system_clock::now()))}};
  absl::StatusOr<nlohmann::json> done = db_.UpdateItem(request);
  if (absl::IsFailedPrecondition(done.status())) {
    return absl::AbortedError(object + ": a newer event claimed the key during this load");
  }
  return done.status();
}

absl::Status SnsAlertPublisher::Publish(const core::Message& message) {
  auto it = targets_.find(message.topic);
  if (it == targets_.end()) return absl::OkStatus();  // a rule with no topic configured
  TopicTarget& target = it->second;
  if (target.arn.empty()) {
    absl::StatusOr<std::string> arn = sns_.FindTopicArn(target.name);
    if (absl::IsNotFound(arn.status()) && !target.required) {
      // Stacks built for the original have only NoStock: the other rules stay quiet.
      std::fprintf(stderr,
                   "{\"level\":\"warn\",\"msg\":\"no SNS topic named %s: its alerts are not "
                   "published\"}\n",
                   nlohmann::json(target.name).dump().c_str());
      targets_.erase(it);
      return absl::OkStatus();
    }
    if (!arn.ok()) {
      return absl::Status(arn.status().code(),
                          "topic " + target.name + ": " + std::string(arn.status().message()));
    }
    target.arn = *arn;
  }
  // The same request as the server's SNS delivery channel; a FIFO topic deduplicates on the
  // message id, which is stable across Lambda's retries of the record.
  const aws::SnsPublishRequest request = adapters::SnsAlertRequest(message, target.arn, message.id);
  return sns_.Publish(request).status();
}

absl::StatusOr<std::vector<core::InventoryItem>> DynamoDbInventorySource::Items(
    const std::optional<std::string>& store) {
  aws::QueryRequest request;
  request.table = table_;
  request.projection_expression = "#s, #i, #c";
  request.expression_attribute_names = {{"#s", "Store"}, {"#i", "Item"}, {"#c", "Count"}};
  absl::StatusOr<std::vector<nlohmann::json>> found;
  if (store) {
    request.key_condition_expression = "#s = :s";
    request.expression_attribute_values = {{":s", aws::DynamoS(*store)}};
    found = db_.QueryAll(request);
  } else {
    found = db_.ScanAll(request);
  }
  if (!found.ok()) return found.status();
  std::vector<core::InventoryItem> items;
  items.reserve(found->size());
  skipped_ = 0;
  for (const nlohmann::json& raw : *found) {
    absl::StatusOr<std::optional<adapters::MirroredItem>> item =
        adapters::DecodeMirrorItem(raw, core::TimePoint{});
    if (!item.ok()) {
      ++skipped_;
      continue;
    }
    if (!item->has_value()) continue;  // the load-state rows
    items.push_back({std::move((*item)->store), std::move((*item)->item), *(*item)->count, {}});
  }
  return items;
}

std::string ThresholdItemKey(const core::Threshold& scope) {
  nlohmann::json key = nlohmann::json::array();
  key.push_back(scope.store ? nlohmann::json(*scope.store) : nlohmann::json(nullptr));
  key.push_back(scope.item ? nlohmann::json(*scope.item) : nlohmann::json(nullptr));
  return key.dump();
}

absl::StatusOr<core::Threshold> DecodeThresholdItem(const nlohmann::json& item) {
  core::Threshold threshold;
  const std::optional<int64_t> low = aws::GetDynamoN(item, "Low");
  if (!low || *low < 0 || *low > core::kMaxCount) {
    return absl::InvalidArgumentError("threshold item without a whole Low within 0.." +
                                      std::to_string(core::kMaxCount));
  }
  threshold.value = *low;
  for (const auto& [name, field] :
       {std::pair<const char*, std::optional<std::string>*>{"ForStore", &threshold.store},
        {"ForItem", &threshold.item}}) {
    if (!item.contains(name)) continue;
    std::optional<std::string> value = aws::GetDynamoS(item, name);
    if (!value || value->empty()) {
      return absl::InvalidArgumentError(std::string("threshold item whose ") + name +
                                        " is not a name");
    }
    *field = std::move(value);
  }
  return threshold;
}

absl::StatusOr<std::vector<core::Threshold>> DynamoDbThresholds::List() {
  aws::QueryRequest request;
  request.table = table_;
  request.key_condition_expression = "#s = :s";
  request.expression_attribute_names = {{"#s", "Store"}};
  request.expression_attribute_values = {{":s", aws::DynamoS(kThresholdStore)}};
  request.consistent_read = true;
  SW_ASSIGN_OR_RETURN(std::vector<nlohmann::json> found, db_.QueryAll(request));
  std::vector<core::Threshold> thresholds;
  for (const nlohmann::json& item : found) {
    absl::StatusOr<core::Threshold> threshold = DecodeThresholdItem(item);
    if (threshold.ok()) thresholds.push_back(*std::move(threshold));
  }
  return thresholds;
}

absl::Status DynamoDbThresholds::Set(const core::Threshold& scope, std::optional<int64_t> value) {
  const std::string sort_key = ThresholdItemKey(scope);
  if (sort_key.size() > kMaxSortKeyBytes) {
    return absl::InvalidArgumentError(
        "store and item are too long together for a threshold (their escaped names take " +
        std::to_string(sort_key.size()) + " of at most " + std::to_string(kMaxSortKeyBytes) +
        " bytes)");
  }
  nlohmann::json key = {{"Store", aws::DynamoS(kThresholdStore)}, {"Item", aws::DynamoS(sort_key)}};
  if (!value) {
    return db_.Call("DeleteItem", {{"TableName", table_}, {"Key", std::move(key)}}).status();
  }
  nlohmann::json item = std::move(key);
  item["Low"] = aws::DynamoN(*value);
  if (scope.store) item["ForStore"] = aws::DynamoS(*scope.store);
  if (scope.item) item["ForItem"] = aws::DynamoS(*scope.item);
  return db_.PutItem(table_, item);
}

std::vector<std::string> SnsAlertSubscriptions::Topics() {
  std::vector<std::string> names;
  for (const auto& topic : topics_) names.push_back(topic.first);
  return names;
}

void ReadFilterPolicy(const std::string& policy, const std::string& scope,
                      AlertSubscription& subscription) {
  if (policy.empty()) return;  // every store's alerts
  const nlohmann::json parsed = nlohmann::json::parse(policy, nullptr, false);
  // Only the dashboard's own shape is read as a store list: {"store":["A","B"]} on the
  // message attributes. Anything else ({"store":[{"prefix":"Ber"}]}, more keys, the
  // message body) filters in ways no store list can say.
  auto stores = parsed.is_object() && parsed.size() == 1 ? parsed.find("store") : parsed.end();
  bool plain = (scope.empty() || scope == "MessageAttributes") && stores != parsed.end() &&
               stores->is_array() && !stores->empty();
  if (plain) {
    for (const nlohmann::json& store : *stores) plain = plain && store.is_string();
  }
  if (!plain) {
    subscription.other_filter = policy;
    subscription.other_filter_scope = scope;
    return;
  }
  for (const nlohmann::json& store : *stores) {
    subscription.stores.push_back(store.get<std::string>());
  }
}

absl::StatusOr<std::vector<AlertSubscription>> SnsAlertSubscriptions::List() {
  std::vector<AlertSubscription> out;
  for (const auto& [name, arn] : topics_) {
    SW_ASSIGN_OR_RETURN(std::vector<aws::SnsSubscription> listed,
                        sns_.ListSubscriptionsByTopic(arn));
    for (aws::SnsSubscription& listed_one : listed) {
      AlertSubscription subscription;
      subscription.id = std::move(listed_one.arn);
      subscription.topic = name;
      subscription.protocol = std::move(listed_one.protocol);
      subscription.endpoint = std::move(listed_one.endpoint);
      if (subscription.id.starts_with("arn:")) {
        SW_ASSIGN_OR_RETURN(auto attributes, sns_.GetSubscriptionAttributes(subscription.id));
        ReadFilterPolicy(attributes["FilterPolicy"], attributes["FilterPolicyScope"], subscription);
      }
      out.push_back(std::move(subscription));
    }
  }
  return out;
}

absl::StatusOr<std::string> SnsAlertSubscriptions::Subscribe(
    const AlertSubscription& subscription) {
  auto topic = std::find_if(topics_.begin(), topics_.end(),
                            [&](const auto& t) { return t.first == subscription.topic; });
  if (topic == topics_.end()) {
    return absl::NotFoundError("no alert topic " + subscription.topic);
  }
  std::map<std::string, std::string> attributes;
  if (!subscription.stores.empty()) {
    attributes["FilterPolicy"] = nlohmann::json({{"store", subscription.stores}}).dump();
  }
  return sns_.Subscribe(topic->second, subscription.protocol, subscription.endpoint, attributes);
}

absl::Status SnsAlertSubscriptions::Unsubscribe(const std::string& id) {
  return sns_.Unsubscribe(id);
}

}  // namespace stockwatch::lambda
