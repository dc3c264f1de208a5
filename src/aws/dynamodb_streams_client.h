// A thin DynamoDB Streams client (JSON protocol 1.0, API version 2012-08-10,
// X-Amz-Target DynamoDBStreams_20120810.<op>, signed as service "dynamodb").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "aws/aws_config.h"
#include "aws/aws_http.h"
#include "nlohmann/json.hpp"

namespace stockwatch::aws {

enum class ShardIteratorType {
  kTrimHorizon,          // TRIM_HORIZON: the oldest record still kept
  kLatest,               // LATEST: only records written after the call
  kAtSequenceNumber,     // AT_SEQUENCE_NUMBER
  kAfterSequenceNumber,  // AFTER_SEQUENCE_NUMBER
};

// "TRIM_HORIZON", "LATEST", ...
std::string_view ShardIteratorTypeName(ShardIteratorType type);

struct StreamShard {
  std::string shard_id;
  std::string parent_shard_id;  // empty for none
  std::string starting_sequence_number;
  std::string ending_sequence_number;  // empty while the shard is open
};

struct StreamDescription {
  std::string stream_arn;
  std::string stream_label;
  std::string stream_status;     // ENABLING | ENABLED | DISABLING | DISABLED
  std::string stream_view_type;  // NEW_AND_OLD_IMAGES, ...
  std::string table_name;
  nlohmann::json key_schema = nlohmann::json::array();
  std::vector<StreamShard> shards;  // every shard, all DescribeStream pages read
};

struct GetRecordsResult {
  // The records exactly as GetRecords returns them, which is the shape of a Lambda
  // DynamoDB event's records but for eventSourceARN (see LambdaStreamRecord): eventID,
  // eventName (INSERT|MODIFY|REMOVE), eventVersion, eventSource "aws:dynamodb", awsRegion,
  // dynamodb {ApproximateCreationDateTime, Keys, NewImage, OldImage, SequenceNumber,
  // SizeBytes, StreamViewType}.
  std::vector<nlohmann::json> records;
  // nullopt when the shard is closed and read to its end.
  std::optional<std::string> next_shard_iterator;
};

// `record` (from GetRecords) as Lambda delivers it: eventSourceARN set to `stream_arn`,
// and eventVersion / eventSource / awsRegion filled in (with `region`) when the service
// left them out.
nlohmann::json LambdaStreamRecord(nlohmann::json record, std::string_view stream_arn,
                                  std::string_view region);

// Thread-safe.
class DynamoDbStreamsClient {
 public:
  explicit DynamoDbStreamsClient(AwsConfig config);

  // Any DynamoDB Streams operation (X-Amz-Target DynamoDBStreams_20120810.<operation>).
  absl::StatusOr<nlohmann::json> Call(std::string_view operation,
                                      const nlohmann::json& request) const;

  // The stream and all its shards (DescribeStream paged with ExclusiveStartShardId).
  // kNotFound (ResourceNotFoundException) for an unknown stream.
  absl::StatusOr<StreamDescription> DescribeStream(std::string_view stream_arn) const;

  // An iterator into `shard_id`; `sequence_number` is required for the AT_/AFTER_ types
  // and must be empty for the others (kInvalidArgument).
  absl::StatusOr<std::string> GetShardIterator(std::string_view stream_arn,
                                               std::string_view shard_id, ShardIteratorType type,
                                               std::string_view sequence_number = {}) const;

  // The records after `shard_iterator`, at most `limit` (0: the service's 1,000).
  // kOutOfRange for ExpiredIteratorException / TrimmedDataAccessException (get a new
  // iterator), AWS code kept.
  absl::StatusOr<GetRecordsResult> GetRecords(std::string_view shard_iterator, int limit = 0) const;

  const AwsHttpClient& http() const { return http_; }

 private:
  AwsHttpClient http_;
};

}  // namespace stockwatch::aws
