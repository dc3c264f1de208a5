// A thin DynamoDB client (JSON protocol 1.0, API version 2012-08-10) over AwsHttpClient.
// Items, keys and attribute values are nlohmann::json in DynamoDB's own JSON form
// ({"Store":{"S":"Berlin"},"Count":{"N":"3"}}), exactly as the API and Lambda events carry
// them, so they pass between the clients and the handlers unconverted.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aws/aws_config.h"
#include "aws/aws_http.h"
#include "nlohmann/json.hpp"

namespace stockwatch::aws {

// --- Attribute helpers ------------------------------------------------------------------

// {"S": text}
nlohmann::json DynamoS(std::string_view text);
// {"N": "<value>"}
nlohmann::json DynamoN(int64_t value);
// The string of attribute `name` of `item` ({"S":...}); nullopt when absent or not S.
std::optional<std::string> GetDynamoS(const nlohmann::json& item, std::string_view name);
// The number of attribute `name` of `item` ({"N":"..."}) as an integer; nullopt when
// absent, not N, or not a whole number that fits int64.
std::optional<int64_t> GetDynamoN(const nlohmann::json& item, std::string_view name);

// --- Requests ---------------------------------------------------------------------------

// One entry of BatchWriteItem: a PutRequest (item) or a DeleteRequest (key).
struct DynamoWriteRequest {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  nlohmann::json item_or_key;  // the whole item for kPut, the key for kDelete

  static DynamoWriteRequest Put(nlohmann::json item);
  static DynamoWriteRequest Delete(nlohmann::json key);
};

struct BatchWriteResult {
  int calls = 0;               // BatchWriteItem calls made (retries of unprocessed items too)
  int written = 0;             // requests the service accepted
  int unprocessed_rounds = 0;  // calls that returned UnprocessedItems
};

struct UpdateItemRequest {
  std::string table;
  nlohmann::json key;                // {"Store":{"S":..},"Item":{"S":..}}
  std::string update_expression;     // "SET #c = :c"
  std::string condition_expression;  // empty: none
  nlohmann::json expression_attribute_names = nlohmann::json::object();   // {"#c":"Count"}
  nlohmann::json expression_attribute_values = nlohmann::json::object();  // {":c":{"N":"1"}}
  // NONE (default) | ALL_OLD | UPDATED_OLD | ALL_NEW | UPDATED_NEW
  std::string return_values = "NONE";
};

// Query (key_condition_expression required) and Scan (key_condition_expression unused).
struct QueryRequest {
  std::string table;
  std::string index_name;                // empty: the table
  std::string key_condition_expression;  // Query only, e.g. "Store = :s"
  std::string filter_expression;         // empty: none
  std::string projection_expression;     // empty: all attributes
  nlohmann::json expression_attribute_names = nlohmann::json::object();
  nlohmann::json expression_attribute_values = nlohmann::json::object();
  int limit = 0;  // items evaluated per page (Limit); 0: the service's 1 MB pages
  bool consistent_read = false;
  bool scan_index_forward = true;  // Query only
  // Start after this key (a LastEvaluatedKey of an earlier call); null: from the start.
  nlohmann::json exclusive_start_key = nullptr;
};

// One page of a Query or Scan: the response as DynamoDB sends it ("Items", "Count",
// "ScannedCount", and "LastEvaluatedKey" unless it is the last page). A non-OK status
// stops the paging and is returned by Query/Scan as is.
using DynamoPageCallback = std::function<absl::Status(const nlohmann::json& page)>;

struct PagingResult {
  int pages = 0;
  int64_t items = 0;
  // The LastEvaluatedKey of the last page read: null when the table/query was read to the
  // end, else the key to resume from (only when the callback stopped the paging with
  // kCancelled, see Query).
  nlohmann::json last_evaluated_key = nullptr;
};

// Thread-safe; one client may serve every thread.
class DynamoDbClient {
 public:
  explicit DynamoDbClient(AwsConfig config);

  // Any DynamoDB operation: POSTs `request` with X-Amz-Target DynamoDB_20120810.<operation>
  // and returns the parsed response. Errors as AwsHttpClient::Send (the AWS code kept).
  absl::StatusOr<nlohmann::json> Call(std::string_view operation,
                                      const nlohmann::json& request) const;

  // The "Table" object of DescribeTable (TableName, KeySchema, TableStatus,
  // LatestStreamArn, ...). kNotFound (ResourceNotFoundException) for a missing table.
  absl::StatusOr<nlohmann::json> DescribeTable(std::string_view table) const;

  // Writes any number of requests, 25 per BatchWriteItem call, in order. Items the service
  // returns as UnprocessedItems are sent again (with the next requests, still 25 a call)
  // after a backoff with full jitter; throttled calls are retried by the transport.
  // Fails with kUnavailable ("UnprocessedItems": AWS code
  // ProvisionedThroughputExceededException) when items stay unprocessed after
  // max_unprocessed_rounds rounds; with the first error otherwise. Calls made before an
  // error stay applied (BatchWriteItem is not transactional).
  absl::StatusOr<BatchWriteResult> BatchWriteItem(std::string_view table,
                                                  const std::vector<DynamoWriteRequest>& requests,
                                                  int max_unprocessed_rounds = 10) const;

  // UpdateItem; returns the response's "Attributes" (an empty object for NONE).
  // A ConditionExpression that does not hold: kFailedPrecondition with AWS code
  // ConditionalCheckFailedException.
  absl::StatusOr<nlohmann::json> UpdateItem(const UpdateItemRequest& request) const;

  // The item with `key`, or nullopt when there is none.
  absl::StatusOr<std::optional<nlohmann::json>> GetItem(std::string_view table,
                                                        const nlohmann::json& key,
                                                        bool consistent_read = false) const;

  // PutItem of one item (for tests and single writes; loads use BatchWriteItem).
  absl::Status PutItem(std::string_view table, const nlohmann::json& item) const;

  // Query / Scan every page, following LastEvaluatedKey, calling `on_page` for each page
  // (pages may be empty while LastEvaluatedKey continues). `on_page` returning
  // kCancelled stops cleanly: OK is returned with last_evaluated_key set to resume from.
  absl::StatusOr<PagingResult> Query(const QueryRequest& request,
                                     const DynamoPageCallback& on_page) const;
  absl::StatusOr<PagingResult> Scan(const QueryRequest& request,
                                    const DynamoPageCallback& on_page) const;

  // Every item of a Query / Scan, all pages read.
  absl::StatusOr<std::vector<nlohmann::json>> QueryAll(const QueryRequest& request) const;
  absl::StatusOr<std::vector<nlohmann::json>> ScanAll(const QueryRequest& request) const;

  const AwsHttpClient& http() const { return http_; }

 private:
  absl::StatusOr<PagingResult> Paginate(std::string_view operation, const QueryRequest& request,
                                        const DynamoPageCallback& on_page) const;
  AwsHttpClient http_;
};

}  // namespace stockwatch::aws
