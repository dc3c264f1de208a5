#include "aws/dynamodb_client.h"

#include <charconv>
#include <deque>
#include <thread>
#include <utility>

#include "aws/aws_error.h"
#include "aws/aws_text.h"

namespace stockwatch::aws {
namespace {

using text::Cat;

// BatchWriteItem takes at most 25 put or delete requests per call.
constexpr size_t kBatchWriteMax = 25;

nlohmann::json ToWire(const DynamoWriteRequest& request) {
  if (request.kind == DynamoWriteRequest::Kind::kPut) {
    return {{"PutRequest", {{"Item", request.item_or_key}}}};
  }
  return {{"DeleteRequest", {{"Key", request.item_or_key}}}};
}

void SetIfNotEmpty(nlohmann::json& body, const char* name, const std::string& value) {
  if (!value.empty()) body[name] = value;
}

void SetIfNotEmpty(nlohmann::json& body, const char* name, const nlohmann::json& value) {
  if (value.is_object() && !value.empty()) body[name] = value;
}

}  // namespace

nlohmann::json DynamoS(std::string_view text) { return {{"S", std::string(text)}}; }

nlohmann::json DynamoN(int64_t value) { return {{"N", std::to_string(value)}}; }

std::optional<std::string> GetDynamoS(const nlohmann::json& item, std::string_view name) {
  if (!item.is_object()) return std::nullopt;
  const auto attribute = item.find(name);
  if (attribute == item.end() || !attribute->is_object()) return std::nullopt;
  const auto value = attribute->find("S");
  if (value == attribute->end() || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

std::optional<int64_t> GetDynamoN(const nlohmann::json& item, std::string_view name) {
  if (!item.is_object()) return std::nullopt;
  const auto attribute = item.find(name);
  if (attribute == item.end() || !attribute->is_object()) return std::nullopt;
  const auto value = attribute->find("N");
  if (value == attribute->end() || !value->is_string()) return std::nullopt;
  const std::string& digits = value->get_ref<const std::string&>();
  int64_t number = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, number);
  if (ec != std::errc() || ptr != end || digits.empty()) return std::nullopt;
  return number;
}

DynamoWriteRequest DynamoWriteRequest::Put(nlohmann::json item) {
  return DynamoWriteRequest{Kind::kPut, std::move(item)};
}

DynamoWriteRequest DynamoWriteRequest::Delete(nlohmann::json key) {
  return DynamoWriteRequest{Kind::kDelete, std::move(key)};
}

DynamoDbClient::DynamoDbClient(AwsConfig config) : http_(std::move(config), kDynamoDbService) {}

absl::StatusOr<nlohmann::json> DynamoDbClient::Call(std::string_view operation,
                                                    const nlohmann::json& request) const {
  return CallJsonProtocol(http_, "DynamoDB_20120810", operation, request);
}

absl::StatusOr<nlohmann::json> DynamoDbClient::DescribeTable(std::string_view table) const {
  absl::StatusOr<nlohmann::json> response =
      Call("DescribeTable", {{"TableName", std::string(table)}});
  if (!response.ok()) return response.status();
  if (!response->contains("Table")) {
    return absl::InternalError("dynamodb: DescribeTable: response has no Table");
  }
  return (*response)["Table"];
}

absl::StatusOr<BatchWriteResult> DynamoDbClient::BatchWriteItem(
    std::string_view table, const std::vector<DynamoWriteRequest>& requests,
    int max_unprocessed_rounds) const {
  const std::string table_name(table);
  BatchWriteResult result;
  std::deque<nlohmann::json> pending;
  for (const DynamoWriteRequest& request : requests) pending.push_back(ToWire(request));
  int consecutive_unprocessed = 0;
  while (!pending.empty()) {
    nlohmann::json batch = nlohmann::json::array();
    while (!pending.empty() && batch.size() < kBatchWriteMax) {
      batch.push_back(std::move(pending.front()));
      pending.pop_front();
    }
    const size_t sent = batch.size();
    nlohmann::json body = {{"RequestItems", {{table_name, std::move(batch)}}}};
    absl::StatusOr<nlohmann::json> response = Call("BatchWriteItem", body);
    ++result.calls;
    if (!response.ok()) return response.status();
    size_t unprocessed_count = 0;
    const auto unprocessed = response->find("UnprocessedItems");
    if (unprocessed != response->end() && unprocessed->is_object()) {
      const auto mine = unprocessed->find(table_name);
      if (mine != unprocessed->end() && mine->is_array() && !mine->empty()) {
        unprocessed_count = mine->size();
        // Put them back first, so they go out in the next call (with later requests filling
        // it up to 25).
        for (auto it = mine->rbegin(); it != mine->rend(); ++it) pending.push_front(*it);
      }
    }
    result.written += static_cast<int>(sent - unprocessed_count);
    if (unprocessed_count == 0) {
      consecutive_unprocessed = 0;
      continue;
    }
    ++result.unprocessed_rounds;
    ++consecutive_unprocessed;
    if (consecutive_unprocessed > max_unprocessed_rounds) {
      return WithAwsErrorCode(
          absl::UnavailableError(Cat("dynamodb: BatchWriteItem: ", pending.size(),
                                     " items still unprocessed after ", consecutive_unprocessed,
                                     " rounds (", result.calls, " calls)")),
          "ProvisionedThroughputExceededException");
    }
    std::this_thread::sleep_for(http_.BackoffDelay(consecutive_unprocessed));
  }
  return result;
}

absl::StatusOr<nlohmann::json> DynamoDbClient::UpdateItem(const UpdateItemRequest& request) const {
  nlohmann::json body = {{"TableName", request.table}, {"Key", request.key}};
  SetIfNotEmpty(body, "UpdateExpression", request.update_expression);
  SetIfNotEmpty(body, "ConditionExpression", request.condition_expression);
  SetIfNotEmpty(body, "ExpressionAttributeNames", request.expression_attribute_names);
  SetIfNotEmpty(body, "ExpressionAttributeValues", request.expression_attribute_values);
  SetIfNotEmpty(body, "ReturnValues", request.return_values);
  absl::StatusOr<nlohmann::json> response = Call("UpdateItem", body);
  if (!response.ok()) return response.status();
  const auto attributes = response->find("Attributes");
  if (attributes == response->end()) return nlohmann::json::object();
  return *attributes;
}

absl::StatusOr<std::optional<nlohmann::json>> DynamoDbClient::GetItem(std::string_view table,
                                                                      const nlohmann::json& key,
                                                                      bool consistent_read) const {
  nlohmann::json body = {{"TableName", std::string(table)}, {"Key", key}};
  if (consistent_read) body["ConsistentRead"] = true;
  absl::StatusOr<nlohmann::json> response = Call("GetItem", body);
  if (!response.ok()) return response.status();
  const auto item = response->find("Item");
  if (item == response->end() || !item->is_object()) return std::optional<nlohmann::json>();
  return std::optional<nlohmann::json>(*item);
}

absl::Status DynamoDbClient::PutItem(std::string_view table, const nlohmann::json& item) const {
  return Call("PutItem", {{"TableName", std::string(table)}, {"Item", item}}).status();
}

absl::StatusOr<PagingResult> DynamoDbClient::Paginate(std::string_view operation,
                                                      const QueryRequest& request,
                                                      const DynamoPageCallback& on_page) const {
  nlohmann::json body = {{"TableName", request.table}};
  SetIfNotEmpty(body, "IndexName", request.index_name);
  if (operation == "Query") {
    SetIfNotEmpty(body, "KeyConditionExpression", request.key_condition_expression);
    if (!request.scan_index_forward) body["ScanIndexForward"] = false;
  }
  SetIfNotEmpty(body, "FilterExpression", request.filter_expression);
  SetIfNotEmpty(body, "ProjectionExpression", request.projection_expression);
  SetIfNotEmpty(body, "ExpressionAttributeNames", request.expression_attribute_names);
  SetIfNotEmpty(body, "ExpressionAttributeValues", request.expression_attribute_values);
  if (request.limit > 0) body["Limit"] = request.limit;
  if (request.consistent_read) body["ConsistentRead"] = true;
  if (request.exclusive_start_key.is_object()) {
    body["ExclusiveStartKey"] = request.exclusive_start_key;
  }
  PagingResult result;
  while (true) {
    absl::StatusOr<nlohmann::json> page = Call(operation, body);
    if (!page.ok()) return page.status();
    ++result.pages;
    if (const auto items = page->find("Items"); items != page->end() && items->is_array()) {
      result.items += static_cast<int64_t>(items->size());
    }
    nlohmann::json last = nullptr;
    if (const auto key = page->find("LastEvaluatedKey");
        key != page->end() && key->is_object() && !key->empty()) {
      last = *key;
    }
    if (on_page) {
      absl::Status status = on_page(*page);
      if (status.code() == absl::StatusCode::kCancelled) {
        result.last_evaluated_key = std::move(last);
        return result;
      }
      if (!status.ok()) return status;
    }
    if (last.is_null()) return result;
    body["ExclusiveStartKey"] = std::move(last);
  }
}

absl::StatusOr<PagingResult> DynamoDbClient::Query(const QueryRequest& request,
                                                   const DynamoPageCallback& on_page) const {
  return Paginate("Query", request, on_page);
}

absl::StatusOr<PagingResult> DynamoDbClient::Scan(const QueryRequest& request,
                                                  const DynamoPageCallback& on_page) const {
  return Paginate("Scan", request, on_page);
}

namespace {

absl::StatusOr<std::vector<nlohmann::json>> CollectAll(
    const std::function<absl::StatusOr<PagingResult>(const DynamoPageCallback&)>& run) {
  std::vector<nlohmann::json> items;
  absl::StatusOr<PagingResult> result = run([&items](const nlohmann::json& page) {
    if (const auto found = page.find("Items"); found != page.end() && found->is_array()) {
      for (const nlohmann::json& item : *found) items.push_back(item);
    }
    return absl::OkStatus();
  });
  if (!result.ok()) return result.status();
  return items;
}

}  // namespace

absl::StatusOr<std::vector<nlohmann::json>> DynamoDbClient::QueryAll(
    const QueryRequest& request) const {
  return CollectAll(
      [this, &request](const DynamoPageCallback& on_page) { return Query(request, on_page); });
}

absl::StatusOr<std::vector<nlohmann::json>> DynamoDbClient::ScanAll(
    const QueryRequest& request) const {
  return CollectAll(
      [this, &request](const DynamoPageCallback& on_page) { return Scan(request, on_page); });
}

}  // namespace stockwatch::aws
