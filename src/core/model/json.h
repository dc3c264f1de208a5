// JSON shapes of the model types, shared by the HTTP API, the CLI and the stores that keep
// documents (load reports). Times are RFC 3339 UTC with milliseconds.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/model/types.h"
#include "nlohmann/json.hpp"

namespace stockwatch::core {

// "2026-11-25T15:21:50.123Z".
std::string FormatTime(TimePoint t);
// Parses FormatTime's output (and RFC 3339 with "Z" or an offset, with or without
// fractions). kInvalidArgument otherwise.
absl::StatusOr<TimePoint> ParseTime(std::string_view text);

// `ChangeKind` as DynamoDB Streams names it: "INSERT", "MODIFY".
std::string_view ChangeKindName(ChangeKind kind);
// What a delivery's message is: "alert", "confirmation" (kSubscriptionConfirmation), "test".
std::string_view MessageKindName(MessageKind kind);

nlohmann::json ToJson(const InventoryItem& item);
nlohmann::json ToJson(const ChangeRecord& change);
// The report as in docs/API.md: issues as "file:line:col: reason" strings.
nlohmann::json ToJson(const LoadReport& report);
// Lossless form of a report for storage (issues as objects); ReportFromStorageJson reverses.
nlohmann::json ReportToStorageJson(const LoadReport& report);
absl::StatusOr<LoadReport> ReportFromStorageJson(const nlohmann::json& json);
nlohmann::json ToJson(const Threshold& threshold);
nlohmann::json ToJson(const Message& message);
nlohmann::json ToJson(const Subscription& subscription);
// {"name","builtin","urgent","rules":[..],"filter_policy":{..}|null,"created_at"|null}
// (created_at null for a built-in topic).
nlohmann::json ToJson(const TopicInfo& topic);
nlohmann::json ToJson(const Delivery& delivery);
// The upload as in docs/API.md (without status/report, which the caller adds).
nlohmann::json UploadJson(const ObjectCreatedEvent& event);

// The event as an S3 event notification document: {"Records":[{eventVersion, eventSource
// "aws:s3", awsRegion, eventTime, eventName, userIdentity.principalId, s3.bucket.name/arn,
// s3.object.key (URL-encoded, space as '+'), size, eTag, sequencer}]}.
nlohmann::json S3EventJson(const ObjectCreatedEvent& event, std::string_view region);

}  // namespace stockwatch::core
