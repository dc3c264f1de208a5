// The value types that flow through the pipeline: objects and their ObjectCreated events,
// inventory items, change records (modelled on DynamoDB Streams), load reports, messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace stockwatch::core {

using TimePoint = std::chrono::system_clock::time_point;

// Largest count a row may carry.
inline constexpr int64_t kMaxCount = 2147483647;
// Longest store or item name, in bytes.
inline constexpr size_t kMaxNameBytes = 256;

// The stores an S3 access key may touch, and the scope an object was uploaded under.
struct ObjectScope {
  bool all_stores = true;
  std::vector<std::string> stores;  // sorted, unique; used when !all_stores
  // Whether an object uploaded under `object` may be listed, read or deleted by a key
  // with scope `*this`: an all-stores key sees everything; a scoped key sees objects
  // whose (scoped) scope is a subset of its stores.
  bool Covers(const ObjectScope& object) const;
  bool operator==(const ObjectScope&) const = default;
};

// Digests of content as it was written.
struct ContentDigests {
  uint64_t size = 0;
  std::string sha256_hex;  // lower case
  std::string md5_hex;     // lower case
};

// An object (an uploaded inventory file) as stored by an ObjectStore.
struct ObjectInfo {
  int64_t id = 0;          // assigned by the store, > 0
  std::string bucket;      // "inventory" for the upload API
  std::string key;         // the name the uploader gave; never used as a path
  uint64_t size = 0;       // bytes
  std::string sha256_hex;  // lower-case hex SHA-256 of the content
  std::string etag;        // lower-case hex MD5 of the content, as S3 computes it
  std::string uploader;    // principal that uploaded it (token name or access key)
  TimePoint created_at;
  ObjectScope scope;         // PutOptions::scope
  std::string content_type;  // PutOptions::content_type
  // User metadata (S3's x-amz-meta-*): lower-case name without the prefix, value.
  std::vector<std::pair<std::string, std::string>> metadata;
};

// One ObjectCreated event, shaped like an S3 event notification record. Events are
// totally ordered by `sequence` (> 0), which is also the upload id used by the API.
struct ObjectCreatedEvent {
  int64_t sequence = 0;
  std::string event_name = "ObjectCreated:Put";
  ObjectInfo object;
};

// A row of the inventory table.
struct InventoryItem {
  std::string store;
  std::string item;
  int64_t count = 0;
  TimePoint updated_at;
  bool operator==(const InventoryItem&) const = default;
};

// DynamoDB Streams eventName. Items are never removed by uploads, so there is no kRemove.
enum class ChangeKind { kInsert, kModify };

// One change stream record: one item whose count changed or that is new, with its old and
// new image. Sequence numbers strictly increase along the stream, so records are ordered
// per item (and globally).
struct ChangeRecord {
  uint64_t sequence = 0;
  ChangeKind kind = ChangeKind::kInsert;
  std::string store;
  std::string item;
  std::optional<int64_t> old_count;  // old image; empty for kInsert
  int64_t new_count = 0;             // new image
  int64_t upload_id = 0;             // the event that caused the change
  TimePoint at;
  bool operator==(const ChangeRecord&) const = default;
};

enum class Severity { kError, kWarning };

// A problem with one row or with the whole file, located as file:line:column.
struct RowIssue {
  Severity severity = Severity::kError;
  int64_t line = 0;    // 1-based physical line; 0 when the issue is about the whole file
  int64_t column = 0;  // 1-based byte column; 0 when not about one field
  std::string reason;  // lower case, e.g. `count "1O" is not a whole number`
  // "file:line:column: reason" (line and column left out when 0).
  std::string Format(std::string_view file_name) const;
  bool operator==(const RowIssue&) const = default;
};

enum class LoadStatus { kPending, kLoaded, kRejected };
std::string_view LoadStatusName(LoadStatus status);

// Maximum number of issues of each severity kept in a report; the counts stay exact.
inline constexpr size_t kMaxReportedIssues = 100;

// What loading one file did.
struct LoadReport {
  int64_t upload_id = 0;
  std::string file_name;
  LoadStatus status = LoadStatus::kPending;
  int64_t rows_read = 0;        // data rows in the file
  int64_t rows_loaded = 0;      // rows that inserted or changed an item
  int64_t rows_unchanged = 0;   // rows equal to what the table held
  int64_t rows_rejected = 0;    // bad rows, not loaded
  int64_t rows_superseded = 0;  // earlier duplicates of a (store, item), last row wins
  int64_t error_count = 0;      // all errors, including those not kept in `errors`
  int64_t warning_count = 0;
  std::vector<RowIssue> errors;    // first kMaxReportedIssues
  std::vector<RowIssue> warnings;  // first kMaxReportedIssues
  std::vector<std::string> ignored_columns;
  std::string reject_reason;  // set when status is kRejected
  int64_t duration_us = 0;    // load time, from start of read to commit
  TimePoint loaded_at;
};

// A threshold for the LowStock topic. Empty store/item are wildcards: (store, item) beats
// (any, item) beats (store, any) beats (any, any).
struct Threshold {
  std::optional<std::string> store;
  std::optional<std::string> item;
  int64_t value = 0;
  bool operator==(const Threshold&) const = default;
};

// Built-in topics.
inline constexpr std::string_view kTopicNoStock = "NoStock";
inline constexpr std::string_view kTopicLowStock = "LowStock";
inline constexpr std::string_view kTopicBackInStock = "BackInStock";

// A topic as Notifier::TopicInfos lists it. A built-in topic (NoStock, LowStock,
// BackInStock) gets the messages of the stock rule of its name. A user topic (made by
// Notifier::CreateTopic) gets a copy of every message of its `rules` that passes its
// `filter_policy` (core/checker/topic_routes.h routes them).
struct TopicInfo {
  std::string name;
  bool builtin = false;
  bool urgent = false;  // its alerts skip quiet hours
  // The built-in rule names (kTopicNoStock, ...) that publish to it, sorted; a built-in
  // topic's is its own name.
  std::vector<std::string> rules;
  // An SNS-style filter policy (core/delivery/filter_policy.h) in canonical JSON, applied to
  // the attributes of the rule's message; empty: every message of its rules.
  std::string filter_policy;
  // When a user topic was (last) created; the epoch for a built-in topic.
  TimePoint created_at;
  bool operator==(const TopicInfo&) const = default;
};

// What a message is. The numeric values are stored: never renumber them.
enum class MessageKind {
  kAlert = 0,
  // Asks the endpoint of a pending subscription to confirm it, as SNS's
  // SubscriptionConfirmation: the notifier writes it at Subscribe, for that subscription
  // only. Its `body` is the confirmation token (channels build the text and the
  // SubscribeURL from it); its `store` and `item` are empty. Never listed as an alert.
  kSubscriptionConfirmation = 1,
  // A test message an operator sent to one confirmed subscription (Notifier::SendTestMessage):
  // subject kTestMessageSubject, no store or item. Never listed or counted as an alert, never
  // templated, digested or held by quiet hours.
  kTest = 2,
};

// The subject of every kTest message.
inline constexpr std::string_view kTestMessageSubject = "stockwatch test message";
// The body of a kTest message to subscription `subscription_id` of `topic`: says it is a test
// and that no stock changed.
std::string TestMessageBody(int64_t subscription_id, std::string_view topic);

// A message published to a topic by the stock checker.
struct Message {
  std::string id;  // stable: derived from the change sequence and topic
  std::string topic;
  std::string subject;
  std::string body;
  std::string store;
  std::string item;
  std::optional<int64_t> old_count;
  int64_t new_count = 0;
  uint64_t change_sequence = 0;
  TimePoint at;
  MessageKind kind = MessageKind::kAlert;
  // The upload (ObjectCreatedEvent::sequence) whose change caused it; 0 when unknown. The
  // checker publishes the messages of one upload together, so per-upload digests group
  // by it.
  int64_t upload_id = 0;
  // The stock rule that published it, named as its built-in topic (kTopicNoStock, ...):
  // the same as `topic` for a built-in topic, the rule routed to it for a user topic.
  // Empty for a confirmation, and for alerts published before rules were recorded: their
  // topic is their rule.
  std::string rule;
  // The LowStock threshold the count crossed; empty for other rules.
  std::optional<int64_t> threshold;
  // Set on a reminder only: since when the item has been out of stock (the time of the
  // NoStock message it reminds of).
  std::optional<TimePoint> since;
  bool operator==(const Message&) const = default;
};

// Delivery protocols. The numeric values are stored: never renumber them.
enum class Protocol { kWebhook = 0, kEmail = 1, kSms = 2, kSlack = 3, kTeams = 4, kSns = 5 };
// "webhook", "email", "sms", "slack", "teams", "sns".
std::string_view ProtocolName(Protocol protocol);
// The protocol named `name` as ProtocolName spells it; nullopt for any other name.
std::optional<Protocol> ParseProtocol(std::string_view name);

// The numeric values are stored: never renumber them.
enum class SubscriptionStatus { kPendingConfirmation = 0, kConfirmed = 1 };
// "pending_confirmation", "confirmed".
std::string_view SubscriptionStatusName(SubscriptionStatus status);

struct Subscription {
  int64_t id = 0;
  std::string topic;
  Protocol protocol = Protocol::kWebhook;
  std::string endpoint;  // URL for webhooks, address for email
  TimePoint created_at;
  // An SNS-style filter policy on the message attributes (core/delivery/filter_policy.h), in
  // canonical JSON; empty: every message of the topic.
  std::string filter_policy;
  // Key of the HMAC-SHA256 signature on webhook requests: 64 lower-case hex digits, made by
  // the notifier at Subscribe. Shown when the subscription is created, never in listings.
  std::string secret;
  // Publish gives a subscription deliveries only once it is confirmed.
  SubscriptionStatus status = SubscriptionStatus::kConfirmed;
  // While pending: when its confirmation token stops working.
  std::optional<TimePoint> confirmation_expires_at;
  // When deliveries go out (core/delivery/schedule.h), canonical: the digest spec ("" for
  // immediate, "per-upload", "5m", "daily 08:00 Europe/Berlin"), quiet hours ("" for none,
  // "22:00-07:00") and their IANA time zone ("" for UTC).
  std::string digest;
  std::string quiet_hours;
  std::string timezone;
};

// Whether a new subscription to `protocol` must be confirmed by its endpoint, as in SNS:
// email and webhook endpoints can answer (follow a link, fetch the SubscribeURL); an SMS
// number, a Slack or Teams incoming-webhook URL and an SNS topic cannot, and are taken as
// the operator typed them.
bool ProtocolNeedsConfirmation(Protocol protocol);

// A number that answered STOP to an SMS: it gets no SMS until it answers START.
struct SmsOptOut {
  std::string number;  // E.164, as in the sms subscription endpoints
  TimePoint at;
  bool operator==(const SmsOptOut&) const = default;
};

enum class DeliveryState { kPending, kDelivered, kFailed };
std::string_view DeliveryStateName(DeliveryState state);

// One (message, subscription) pair in the outbox.
struct Delivery {
  int64_t id = 0;
  Message message;
  Subscription subscription;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;  // since it became pending (a redrive resets it)
  TimePoint next_attempt_at;
  std::string last_error;
  TimePoint updated_at;
  // When it became pending: the message's time, or its last redrive. Retries give up
  // `max_age` after this.
  TimePoint since;
  int redrives = 0;
};

}  // namespace stockwatch::core
