// The AWS side of the Lambda functions' interfaces, over the clients in aws/: S3 objects,
// the inventory table, the per-object load state, SNS topics.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/dynamodb_client.h"
#include "aws/s3_client.h"
#include "aws/sns_client.h"
#include "lambda/check_stock.h"
#include "lambda/dashboard_api.h"
#include "lambda/load_inventory.h"

namespace stockwatch::lambda {

class S3ObjectStorage final : public ObjectStorage {
 public:
  explicit S3ObjectStorage(const aws::S3Client& s3) : s3_(s3) {}
  absl::Status Read(const std::string& bucket, const std::string& key,
                    const std::function<absl::Status(std::string_view)>& on_chunk) override;
  absl::Status Write(const std::string& bucket, const std::string& key,
                     std::string_view content_type, std::string body) override;

 private:
  const aws::S3Client& s3_;
};

// Items {Store (S), Item (S), Count (N)}, as the original stack's table.
class DynamoDbInventoryWriter final : public InventoryWriter {
 public:
  DynamoDbInventoryWriter(const aws::DynamoDbClient& db, std::string table)
      : db_(db), table_(std::move(table)) {}
  absl::Status Write(std::span<const core::InventoryItem> items) override;

 private:
  const aws::DynamoDbClient& db_;
  std::string table_;
};

// The load state of an object is one item with attributes Sequencer (the last claimed event,
// padded hex), Done (the last completed event) and ETag (of the last completed event). It
// lives in `state_table` (key attribute `Key` (S) = bucket/key) when one is given, else in
// the inventory table under Store = kLoadStateStore, Item = bucket/key (no Count, so it is
// never an inventory item; the checker skips it).
class DynamoDbLoadStateStore final : public LoadStateStore {
 public:
  DynamoDbLoadStateStore(const aws::DynamoDbClient& db, std::string inventory_table,
                         std::string state_table)
      : db_(db),
        inventory_table_(std::move(inventory_table)),
        state_table_(std::move(state_table)) {}
  absl::StatusOr<ClaimOutcome> Claim(const std::string& object, const std::string& sequencer,
                                     const std::string& etag) override;
  absl::Status Complete(const std::string& object, const std::string& sequencer,
                        const std::string& etag) override;

 private:
  aws::UpdateItemRequest Request(const std::string& object) const;
  const aws::DynamoDbClient& db_;
  std::string inventory_table_;
  std::string state_table_;
};

// The LowStock thresholds set in the dashboard, kept in the inventory table itself (the one
// table the original stack has) as items Store = kThresholdStore, Item = ThresholdItemKey(),
// with ForStore (S; absent: any store), ForItem (S; absent: any item) and Low (N). They have
// no Count, so every reader of inventory skips them (IsReservedStore).
class DynamoDbThresholds final : public ThresholdStore {
 public:
  DynamoDbThresholds(const aws::DynamoDbClient& db, std::string table)
      : db_(db), table_(std::move(table)) {}
  // A Query of the kThresholdStore partition, every page, read consistently. Items that do
  // not decode are left out.
  absl::StatusOr<std::vector<core::Threshold>> List() override;
  // PutItem, or DeleteItem for nullopt. kInvalidArgument when the scope's key would pass
  // DynamoDB's 1024-byte sort key (names that JSON escapes a lot).
  absl::Status Set(const core::Threshold& scope, std::optional<int64_t> value) override;

 private:
  const aws::DynamoDbClient& db_;
  std::string table_;
};

// The Item (sort key) of the threshold of `scope`: the JSON array [store, item], null for
// any, so every scope has one key and no two share it.
std::string ThresholdItemKey(const core::Threshold& scope);

// The threshold a kThresholdStore item holds; kInvalidArgument for one that is not such an
// item (no whole Low within 0..kMaxCount, a ForStore or ForItem that is not a string).
absl::StatusOr<core::Threshold> DecodeThresholdItem(const nlohmann::json& item);

// Where each rule's messages go: an ARN (env <RULE>_TOPIC_ARN) or a topic name looked up
// with ListTopics ignoring case (env <RULE>_TOPIC_NAME, default the rule's name).
struct TopicTarget {
  std::string arn;
  std::string name;
  bool required = false;  // NoStock: a missing topic fails the record; others are skipped
};

// Publishes with the message's subject and text and the attributes store, item, topic,
// new_count and old_count (absent for a new item), as the embedded mode's filter attributes.
// Topic ARNs are looked up once per process and kept.
class SnsAlertPublisher final : public AlertPublisher {
 public:
  SnsAlertPublisher(const aws::SnsClient& sns, std::map<std::string, TopicTarget> targets)
      : sns_(sns), targets_(std::move(targets)) {}
  absl::Status Publish(const core::Message& message) override;

 private:
  const aws::SnsClient& sns_;
  std::map<std::string, TopicTarget> targets_;  // by rule name
};

// The inventory table read by the api function: a Query of one store (Store = :s) or a Scan,
// every page. Items the table holds that are not valid inventory (no string Store and Item of
// at most kMaxNameBytes, or no whole Count within 0..kMaxCount) are left out and counted in
// `skipped()`, so one bad item written by another tool cannot take the dashboard down.
class DynamoDbInventorySource final : public InventorySource {
 public:
  DynamoDbInventorySource(const aws::DynamoDbClient& db, std::string table)
      : db_(db), table_(std::move(table)) {}
  absl::StatusOr<std::vector<core::InventoryItem>> Items(
      const std::optional<std::string>& store) override;
  int64_t skipped() const { return skipped_; }

 private:
  const aws::DynamoDbClient& db_;
  std::string table_;
  int64_t skipped_ = 0;  // in the last Items() call
};

// Reads an SNS subscription's FilterPolicy and FilterPolicyScope attributes ("" when unset)
// into `subscription`: its `stores` for the dashboard's own {"store":[names]} on the message
// attributes, else `other_filter` (and `other_filter_scope`) as they are.
void ReadFilterPolicy(const std::string& policy, const std::string& scope,
                      AlertSubscription& subscription);

// The alert topics' SNS subscriptions, for the api function. A subscription's stores are the
// `store` list of its FilterPolicy (one GetSubscriptionAttributes call per confirmed
// subscription when listing). Topics are given by name and ARN.
class SnsAlertSubscriptions final : public AlertSubscriptions {
 public:
  SnsAlertSubscriptions(const aws::SnsClient& sns,
                        std::vector<std::pair<std::string, std::string>> topics)
      : sns_(sns), topics_(std::move(topics)) {}
  std::vector<std::string> Topics() override;
  absl::StatusOr<std::vector<AlertSubscription>> List() override;
  absl::StatusOr<std::string> Subscribe(const AlertSubscription& subscription) override;
  absl::Status Unsubscribe(const std::string& id) override;

 private:
  const aws::SnsClient& sns_;
  std::vector<std::pair<std::string, std::string>> topics_;  // name, ARN
};

}  // namespace stockwatch::lambda
