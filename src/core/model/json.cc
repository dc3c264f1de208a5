#include "core/model/json.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "absl/status/status.h"

namespace stockwatch::core {
namespace {

using nlohmann::json;

json OptionalCount(const std::optional<int64_t>& count) {
  return count ? json(*count) : json(nullptr);
}

// S3 event keys are URL-encoded with '+' for space, as in Amazon S3's notifications.
std::string S3UrlEncode(std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size());
  for (unsigned char c : key) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

json IssueToStorage(const RowIssue& issue) {
  return {{"severity", issue.severity == Severity::kError ? "error" : "warning"},
          {"line", issue.line},
          {"column", issue.column},
          {"reason", issue.reason}};
}

RowIssue IssueFromStorage(const json& j) {
  RowIssue issue;
  issue.severity =
      j.value("severity", "error") == "warning" ? Severity::kWarning : Severity::kError;
  issue.line = j.value("line", int64_t{0});
  issue.column = j.value("column", int64_t{0});
  issue.reason = j.value("reason", "");
  return issue;
}

}  // namespace

std::string FormatTime(TimePoint t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int millis = static_cast<int>(ms - secs * 1000);
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

absl::StatusOr<TimePoint> ParseTime(std::string_view text) {
  auto bad = [&] { return absl::InvalidArgumentError("bad time \"" + std::string(text) + "\""); };
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > text.size()) return false;
    auto [p, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return ec == std::errc() && p == text.data() + pos + len;
  };
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !num(0, 4, year) || text[4] != '-' || !num(5, 2, month) ||
      text[7] != '-' || !num(8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
      !num(11, 2, hour) || text[13] != ':' || !num(14, 2, minute) || text[16] != ':' ||
      !num(17, 2, second)) {
    return bad();
  }
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (int d = digits; d < 6; ++d) micros *= 10;
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!num(pos + 1, 2, oh) || text[pos + 3] != ':' || !num(pos + 4, 2, om)) return bad();
    offset_minutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return bad();
  }
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return bad();
  const auto days = std::chrono::sys_days(ymd);
  return TimePoint(days) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second) + std::chrono::microseconds(micros) -
         std::chrono::minutes(offset_minutes);
}

std::string_view ChangeKindName(ChangeKind kind) {
  return kind == ChangeKind::kInsert ? "INSERT" : "MODIFY";
}

nlohmann::json ToJson(const InventoryItem& item) {
  return {{"store", item.store},
          {"item", item.item},
          {"count", item.count},
          {"updated_at", FormatTime(item.updated_at)}};
}

nlohmann::json ToJson(const ChangeRecord& change) {
  return {{"sequence", change.sequence},
          {"event_name", ChangeKindName(change.kind)},
          {"store", change.store},
          {"item", change.item},
          {"old_count", OptionalCount(change.old_count)},
          {"new_count", change.new_count},
          {"upload_id", change.upload_id},
          {"at", FormatTime(change.at)}};
}

nlohmann::json ToJson(const LoadReport& report) {
  json errors = json::array();
  for (const auto& issue : report.errors) errors.push_back(issue.Format(report.file_name));
  json warnings = json::array();
  for (const auto& issue : report.warnings) warnings.push_back(issue.Format(report.file_name));
  return {{"status", LoadStatusName(report.status)},
          {"rows_read", report.rows_read},
          {"rows_loaded", report.rows_loaded},
          {"rows_unchanged", report.rows_unchanged},
          {"rows_rejected", report.rows_rejected},
          {"rows_superseded", report.rows_superseded},
          {"error_count", report.error_count},
          {"warning_count", report.warning_count},
          {"errors", std::move(errors)},
          {"warnings", std::move(warnings)},
          {"ignored_columns", report.ignored_columns},
          {"reject_reason", report.reject_reason},
          {"duration_us", report.duration_us},
          {"loaded_at", FormatTime(report.loaded_at)}};
}

nlohmann::json ReportToStorageJson(const LoadReport& report) {
  json errors = json::array();
  for (const auto& issue : report.errors) errors.push_back(IssueToStorage(issue));
  json warnings = json::array();
  for (const auto& issue : report.warnings) warnings.push_back(IssueToStorage(issue));
  return {{"upload_id", report.upload_id},
          {"file_name", report.file_name},
          {"status", LoadStatusName(report.status)},
          {"rows_read", report.rows_read},
          {"rows_loaded", report.rows_loaded},
          {"rows_unchanged", report.rows_unchanged},
          {"rows_rejected", report.rows_rejected},
          {"rows_superseded", report.rows_superseded},
          {"error_count", report.error_count},
          {"warning_count", report.warning_count},
          {"errors", std::move(errors)},
          {"warnings", std::move(warnings)},
          {"ignored_columns", report.ignored_columns},
          {"reject_reason", report.reject_reason},
          {"duration_us", report.duration_us},
          {"loaded_at_us", std::chrono::duration_cast<std::chrono::microseconds>(
                               report.loaded_at.time_since_epoch())
                               .count()}};
}

absl::StatusOr<LoadReport> ReportFromStorageJson(const nlohmann::json& j) {
  try {
    LoadReport report;
    report.upload_id = j.at("upload_id").get<int64_t>();
    report.file_name = j.at("file_name").get<std::string>();
    const std::string status = j.at("status").get<std::string>();
    report.status = status == "loaded"     ? LoadStatus::kLoaded
                    : status == "rejected" ? LoadStatus::kRejected
                                           : LoadStatus::kPending;
    report.rows_read = j.value("rows_read", int64_t{0});
    report.rows_loaded = j.value("rows_loaded", int64_t{0});
    report.rows_unchanged = j.value("rows_unchanged", int64_t{0});
    report.rows_rejected = j.value("rows_rejected", int64_t{0});
    report.rows_superseded = j.value("rows_superseded", int64_t{0});
    report.error_count = j.value("error_count", int64_t{0});
    report.warning_count = j.value("warning_count", int64_t{0});
    for (const auto& e : j.value("errors", json::array())) {
      report.errors.push_back(IssueFromStorage(e));
    }
    for (const auto& w : j.value("warnings", json::array())) {
      report.warnings.push_back(IssueFromStorage(w));
    }
    report.ignored_columns = j.value("ignored_columns", std::vector<std::string>{});
    report.reject_reason = j.value("reject_reason", "");
    report.duration_us = j.value("duration_us", int64_t{0});
    report.loaded_at = TimePoint(std::chrono::microseconds(j.value("loaded_at_us", int64_t{0})));
    return report;
  } catch (const json::exception& e) {
    return absl::DataLossError(std::string("stored load report is malformed: ") + e.what());
  }
}

nlohmann::json ToJson(const Threshold& threshold) {
  return {{"store", threshold.store ? json(*threshold.store) : json(nullptr)},
          {"item", threshold.item ? json(*threshold.item) : json(nullptr)},
          {"value", threshold.value}};
}

nlohmann::json ToJson(const Message& message) {
  return {{"message_id", message.id},
          {"topic", message.topic},
          {"subject", message.subject},
          {"message", message.body},
          {"store", message.store},
          {"item", message.item},
          {"old_count", OptionalCount(message.old_count)},
          {"new_count", message.new_count},
          {"change_sequence", message.change_sequence},
          {"timestamp", FormatTime(message.at)},
          {"rule", message.rule.empty() ? message.topic : message.rule},
          {"threshold", OptionalCount(message.threshold)},
          {"since",
           message.since ? nlohmann::json(FormatTime(*message.since)) : nlohmann::json(nullptr)}};
}

nlohmann::json ToJson(const TopicInfo& topic) {
  return {{"name", topic.name},
          {"builtin", topic.builtin},
          {"urgent", topic.urgent},
          {"rules", topic.rules},
          {"filter_policy", topic.filter_policy.empty()
                                ? nlohmann::json(nullptr)
                                : nlohmann::json::parse(topic.filter_policy, nullptr,
                                                        /*allow_exceptions=*/false)},
          {"created_at",
           topic.builtin ? nlohmann::json(nullptr) : nlohmann::json(FormatTime(topic.created_at))}};
}

nlohmann::json ToJson(const Subscription& subscription) {
  return {
      {"id", subscription.id},
      {"topic", subscription.topic},
      {"protocol", ProtocolName(subscription.protocol)},
      {"endpoint", subscription.endpoint},
      {"created_at", FormatTime(subscription.created_at)},
      {"status", SubscriptionStatusName(subscription.status)},
      {"filter_policy", subscription.filter_policy.empty()
                            ? nlohmann::json(nullptr)
                            : nlohmann::json::parse(subscription.filter_policy, nullptr,
                                                    /*allow_exceptions=*/false)},
      {"digest", subscription.digest.empty() ? "immediate" : subscription.digest},
      {"quiet_hours", subscription.quiet_hours.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(subscription.quiet_hours)},
      {"timezone", subscription.timezone.empty() ? "UTC" : subscription.timezone}};
}

std::string_view MessageKindName(MessageKind kind) {
  switch (kind) {
    case MessageKind::kAlert:
      return "alert";
    case MessageKind::kSubscriptionConfirmation:
      return "confirmation";
    case MessageKind::kTest:
      return "test";
  }
  return "alert";
}

nlohmann::json ToJson(const Delivery& delivery) {
  return {{"id", delivery.id},
          {"message_id", delivery.message.id},
          {"subscription_id", delivery.subscription.id},
          {"topic", delivery.message.topic},
          {"protocol", ProtocolName(delivery.subscription.protocol)},
          {"endpoint", delivery.subscription.endpoint},
          {"state", DeliveryStateName(delivery.state)},
          {"attempts", delivery.attempts},
          {"next_attempt_at", FormatTime(delivery.next_attempt_at)},
          {"last_error", delivery.last_error},
          {"updated_at", FormatTime(delivery.updated_at)},
          {"since", FormatTime(delivery.since)},
          {"redrives", delivery.redrives},
          {"store", delivery.message.store},
          {"item", delivery.message.item},
          {"kind", MessageKindName(delivery.message.kind)}};
}

nlohmann::json UploadJson(const ObjectCreatedEvent& event) {
  return {{"id", event.sequence},
          {"name", event.object.key},
          {"bucket", event.object.bucket},
          {"size", event.object.size},
          {"sha256", event.object.sha256_hex},
          {"etag", event.object.etag},
          {"uploader", event.object.uploader},
          {"created_at", FormatTime(event.object.created_at)}};
}

nlohmann::json S3EventJson(const ObjectCreatedEvent& event, std::string_view region) {
  // The sequencer is a hex string that orders events for one key, as in S3.
  char sequencer[64];
  std::snprintf(sequencer, sizeof(sequencer), "%016llX",
                static_cast<unsigned long long>(event.sequence));
  json record = {{"eventVersion", "2.1"},
                 {"eventSource", "aws:s3"},
                 {"awsRegion", region},
                 {"eventTime", FormatTime(event.object.created_at)},
                 {"eventName", event.event_name},
                 {"userIdentity", {{"principalId", event.object.uploader}}},
                 {"requestParameters", {{"sourceIPAddress", "127.0.0.1"}}},
                 {"s3",
                  {{"s3SchemaVersion", "1.0"},
                   {"configurationId", "stockwatch-loader"},
                   {"bucket",
                    {{"name", event.object.bucket},
                     {"ownerIdentity", {{"principalId", "stockwatch"}}},
                     {"arn", "arn:aws:s3:::" + event.object.bucket}}},
                   {"object",
                    {{"key", S3UrlEncode(event.object.key)},
                     {"size", event.object.size},
                     {"eTag", event.object.etag},
                     {"sequencer", sequencer}}}}}};
  return {{"Records", json::array({std::move(record)})}};
}

}  // namespace stockwatch::core
