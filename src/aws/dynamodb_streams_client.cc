#include "aws/dynamodb_streams_client.h"

#include <utility>

#include "aws/aws_text.h"

namespace stockwatch::aws {
namespace {

using text::Cat;

std::string StringField(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return "";
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

std::string_view ShardIteratorTypeName(ShardIteratorType type) {
  switch (type) {
    case ShardIteratorType::kTrimHorizon:
      return "TRIM_HORIZON";
    case ShardIteratorType::kLatest:
      return "LATEST";
    case ShardIteratorType::kAtSequenceNumber:
      return "AT_SEQUENCE_NUMBER";
    case ShardIteratorType::kAfterSequenceNumber:
      return "AFTER_SEQUENCE_NUMBER";
  }
  return "TRIM_HORIZON";
}

nlohmann::json LambdaStreamRecord(nlohmann::json record, std::string_view stream_arn,
                                  std::string_view region) {
  if (!record.is_object()) return record;
  record["eventSourceARN"] = std::string(stream_arn);
  if (!record.contains("eventVersion")) record["eventVersion"] = "1.1";
  if (!record.contains("eventSource")) record["eventSource"] = "aws:dynamodb";
  if (!record.contains("awsRegion")) record["awsRegion"] = std::string(region);
  return record;
}

DynamoDbStreamsClient::DynamoDbStreamsClient(AwsConfig config)
    : http_(std::move(config), kDynamoDbStreamsService) {}

absl::StatusOr<nlohmann::json> DynamoDbStreamsClient::Call(std::string_view operation,
                                                           const nlohmann::json& request) const {
  return CallJsonProtocol(http_, "DynamoDBStreams_20120810", operation, request);
}

absl::StatusOr<StreamDescription> DynamoDbStreamsClient::DescribeStream(
    std::string_view stream_arn) const {
  StreamDescription description;
  nlohmann::json request = {{"StreamArn", std::string(stream_arn)}};
  while (true) {
    absl::StatusOr<nlohmann::json> response = Call("DescribeStream", request);
    if (!response.ok()) return response.status();
    const nlohmann::json& stream = (*response)["StreamDescription"];
    if (!stream.is_object()) {
      return absl::InternalError("dynamodb_streams: DescribeStream: no StreamDescription");
    }
    description.stream_arn = StringField(stream, "StreamArn");
    description.stream_label = StringField(stream, "StreamLabel");
    description.stream_status = StringField(stream, "StreamStatus");
    description.stream_view_type = StringField(stream, "StreamViewType");
    description.table_name = StringField(stream, "TableName");
    if (const auto schema = stream.find("KeySchema"); schema != stream.end()) {
      description.key_schema = *schema;
    }
    if (const auto shards = stream.find("Shards"); shards != stream.end() && shards->is_array()) {
      for (const nlohmann::json& shard : *shards) {
        StreamShard out;
        out.shard_id = StringField(shard, "ShardId");
        out.parent_shard_id = StringField(shard, "ParentShardId");
        const auto range = shard.find("SequenceNumberRange");
        if (range != shard.end()) {
          out.starting_sequence_number = StringField(*range, "StartingSequenceNumber");
          out.ending_sequence_number = StringField(*range, "EndingSequenceNumber");
        }
        description.shards.push_back(std::move(out));
      }
    }
    const std::string last = StringField(stream, "LastEvaluatedShardId");
    if (last.empty()) return description;
    request["ExclusiveStartShardId"] = last;
  }
}

absl::StatusOr<std::string> DynamoDbStreamsClient::GetShardIterator(
    std::string_view stream_arn, std::string_view shard_id, ShardIteratorType type,
    std::string_view sequence_number) const {
  const bool needs_sequence = type == ShardIteratorType::kAtSequenceNumber ||
                              type == ShardIteratorType::kAfterSequenceNumber;
  if (needs_sequence == sequence_number.empty()) {
    return absl::InvalidArgumentError(
        Cat("dynamodb_streams: GetShardIterator: ", ShardIteratorTypeName(type),
            needs_sequence ? " needs a sequence number" : " takes no sequence number"));
  }
  nlohmann::json request = {{"StreamArn", std::string(stream_arn)},
                            {"ShardId", std::string(shard_id)},
                            {"ShardIteratorType", std::string(ShardIteratorTypeName(type))}};
  if (needs_sequence) request["SequenceNumber"] = std::string(sequence_number);
  absl::StatusOr<nlohmann::json> response = Call("GetShardIterator", request);
  if (!response.ok()) return response.status();
  std::string iterator = StringField(*response, "ShardIterator");
  if (iterator.empty()) {
    return absl::InternalError("dynamodb_streams: GetShardIterator: no ShardIterator");
  }
  return iterator;
}

absl::StatusOr<GetRecordsResult> DynamoDbStreamsClient::GetRecords(std::string_view shard_iterator,
                                                                   int limit) const {
  nlohmann::json request = {{"ShardIterator", std::string(shard_iterator)}};
  if (limit > 0) request["Limit"] = limit;
  absl::StatusOr<nlohmann::json> response = Call("GetRecords", request);
  if (!response.ok()) return response.status();
  GetRecordsResult result;
  if (const auto records = response->find("Records");
      records != response->end() && records->is_array()) {
    result.records.assign(records->begin(), records->end());
  }
  std::string next = StringField(*response, "NextShardIterator");
  if (!next.empty()) result.next_shard_iterator = std::move(next);
  return result;
}

}  // namespace stockwatch::aws
