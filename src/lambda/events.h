// The Lambda events stockwatch's functions take, parsed from exactly the JSON AWS sends: the
// S3 event notification (load-inventory) and the DynamoDB Streams event (check-stock). Pure:
// no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace stockwatch::lambda {

// One record of an S3 event notification (Records[].s3 of eventVersion 2.x).
struct S3EventRecord {
  std::string event_name;  // "ObjectCreated:Put", ...
  std::string bucket;      // s3.bucket.name
  std::string key;         // s3.object.key, URL-decoded ('+' is a space)
  uint64_t size = 0;       // s3.object.size (0 when absent)
  std::string etag;        // s3.object.eTag, without quotes (empty when absent)
  std::string sequencer;   // s3.object.sequencer, upper-case hex (empty when absent)
  std::string event_time;  // eventTime as sent
};

// Parses an S3 event notification: every record, in order. kInvalidArgument naming the
// record and field when the document is not one (no Records array, a record without
// s3.bucket.name or s3.object.key, a key that does not URL-decode, a sequencer that is not
// hex).
absl::StatusOr<std::vector<S3EventRecord>> ParseS3Event(const nlohmann::json& event);

// Decodes an S3 event key: %XX escapes and '+' as a space. kInvalidArgument on a bad escape.
absl::StatusOr<std::string> DecodeS3EventKey(std::string_view key);

// Compares two S3 sequencers as AWS documents: hexadecimal values, the shorter one padded
// with leading zeros. Negative, 0 or positive as `a` is older than, the same as or newer
// than `b`. REQUIRES: both are hex digits (ParseS3Event checks).
int CompareSequencers(std::string_view a, std::string_view b);

// `sequencer` padded with leading zeros to kSequencerWidth upper-case hex digits, so that
// strings compare as the values do (DynamoDB compares strings byte-wise). Longer input is
// returned upper-cased unchanged.
inline constexpr size_t kSequencerWidth = 32;
std::string PadSequencer(std::string_view sequencer);

// DynamoDB Streams eventName.
enum class StreamEventName { kInsert, kModify, kRemove };

// An inventory item's image, read from the attributes of the original stack's table:
// Store (S), Item (S), Count (N).
struct InventoryImage {
  std::string store;
  std::string item;
  std::optional<int64_t> count;  // empty when the image has no Count attribute
};

// One record of a DynamoDB Streams event (Records[]), images in DynamoDB JSON.
struct StreamRecord {
  std::string event_id;  // eventID
  StreamEventName event_name = StreamEventName::kInsert;
  std::string sequence_number;  // dynamodb.SequenceNumber (a decimal string, up to 40 digits)
  std::string event_source_arn;
  nlohmann::json keys;                   // dynamodb.Keys
  nlohmann::json old_image;              // dynamodb.OldImage, null when absent
  nlohmann::json new_image;              // dynamodb.NewImage, null when absent
  double approximate_creation_time = 0;  // dynamodb.ApproximateCreationDateTime (seconds)
};

// Parses a DynamoDB Streams event: every record, in order. kInvalidArgument naming the
// record and field when it is not one (no Records array, no eventName among INSERT, MODIFY,
// REMOVE, no dynamodb.SequenceNumber or Keys).
absl::StatusOr<std::vector<StreamRecord>> ParseStreamEvent(const nlohmann::json& event);

// Reads Store, Item and Count from an image in DynamoDB JSON. kInvalidArgument when Store or
// Item is missing or not a string, or Count is present but not a whole number in
// 0..kMaxCount.
absl::StatusOr<InventoryImage> ReadInventoryImage(const nlohmann::json& image);

}  // namespace stockwatch::lambda
