// /api/v1/templates: message templates per topic and protocol (core/delivery/templates.h).
// Anyone may read and preview them; only an admin may change them.

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/delivery/templates.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/url.h"

namespace stockwatch::server {
namespace {

constexpr core::Placeholder kAllPlaceholders[] = {
    core::Placeholder::kStore,    core::Placeholder::kItem,      core::Placeholder::kOldCount,
    core::Placeholder::kNewCount, core::Placeholder::kThreshold, core::Placeholder::kTopic,
    core::Placeholder::kTime,     core::Placeholder::kSince,     core::Placeholder::kCount,
};

nlohmann::json ProtocolJson(std::optional<core::Protocol> protocol) {
  return protocol ? nlohmann::json(std::string(core::ProtocolName(*protocol)))
                  : nlohmann::json(nullptr);
}

nlohmann::json RecordJson(const core::TemplateRecord& record) {
  return {{"topic", record.topic},
          {"protocol", ProtocolJson(record.protocol)},
          {"subject", record.subject},
          {"body", record.body}};
}

// A protocol name, or nullopt for "any protocol" (absent, null or empty).
absl::StatusOr<std::optional<core::Protocol>> ProtocolArg(std::optional<std::string> name) {
  if (!name || name->empty()) return std::nullopt;
  std::optional<core::Protocol> protocol = core::ParseProtocol(*name);
  if (!protocol) {
    return absl::InvalidArgumentError(fmt::format(
        "protocol \"{}\" is not one of webhook, email, sms, slack, teams, sns (or null for any)",
        name->substr(0, 64)));
  }
  return protocol;
}

absl::StatusOr<std::optional<core::Protocol>> ProtocolMember(const nlohmann::json& body) {
  auto it = body.find("protocol");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return absl::InvalidArgumentError("protocol must be a string or null");
  return ProtocolArg(it->get<std::string>());
}

absl::StatusOr<std::string> RequiredString(const nlohmann::json& body, std::string_view name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return absl::InvalidArgumentError(fmt::format("{} is required and must be a string", name));
  }
  return it->get<std::string>();
}

absl::StatusOr<std::optional<int64_t>> OptionalInt(const nlohmann::json& body,
                                                   std::string_view name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(fmt::format("{} must be a whole number or null", name));
  }
  return it->get<int64_t>();
}

absl::StatusOr<std::string> TopicSegment(std::string_view raw) {
  absl::StatusOr<std::string> decoded = PercentDecode(raw, PlusMode::kLiteral);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(fmt::format("topic: {}", ToStd(decoded.status().message())));
  }
  if (decoded->empty()) return absl::InvalidArgumentError("topic is empty");
  return decoded;
}

}  // namespace

absl::StatusOr<HttpResponse> ApiRouter::ListTemplates() {
  SW_ASSIGN_OR_RETURN(std::vector<core::TemplateRecord> records, services_.notifier.Templates());
  nlohmann::json list = nlohmann::json::array();
  for (const core::TemplateRecord& record : records) list.push_back(RecordJson(record));
  // The wording alerts carry when no template is configured, for reference: the stock
  // checker's (DefaultTemplates), the same for every protocol.
  nlohmann::json defaults = nlohmann::json::array();
  const core::TemplateSet& builtin = core::DefaultTemplates();
  for (std::string_view topic :
       {core::kTopicNoStock, core::kTopicLowStock, core::kTopicBackInStock}) {
    const core::MessageTemplates& t = builtin.Find(topic, core::Protocol::kWebhook);
    defaults.push_back({{"topic", std::string(topic)},
                        {"subject", t.subject.source()},
                        {"body", t.body.source()}});
  }
  nlohmann::json placeholders = nlohmann::json::array();
  for (core::Placeholder p : kAllPlaceholders) {
    placeholders.push_back(std::string(core::PlaceholderName(p)));
  }
  return JsonResponse(200, {{"templates", std::move(list)},
                            {"defaults", std::move(defaults)},
                            {"placeholders", std::move(placeholders)}});
}

absl::StatusOr<HttpResponse> ApiRouter::PutTemplate(std::string_view raw_topic,
                                                    HttpRequest& request,
                                                    const core::Principal& principal) {
  SW_RETURN_IF_ERROR(RequireAdmin(principal, "change message templates"));
  SW_ASSIGN_OR_RETURN(std::string topic, TopicSegment(raw_topic));
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  SW_ASSIGN_OR_RETURN(std::optional<core::Protocol> protocol, ProtocolMember(body));
  SW_ASSIGN_OR_RETURN(std::string subject, RequiredString(body, "subject"));
  SW_ASSIGN_OR_RETURN(std::string text, RequiredString(body, "body"));
  SW_RETURN_IF_ERROR(services_.notifier.SetTemplate(topic, protocol, subject, text));
  return JsonResponse(200, RecordJson(core::TemplateRecord{topic, protocol, subject, text}));
}

absl::StatusOr<HttpResponse> ApiRouter::DeleteTemplate(std::string_view raw_topic,
                                                       const QueryParams& query,
                                                       const core::Principal& principal) {
  SW_RETURN_IF_ERROR(RequireAdmin(principal, "change message templates"));
  SW_ASSIGN_OR_RETURN(std::string topic, TopicSegment(raw_topic));
  SW_ASSIGN_OR_RETURN(std::optional<core::Protocol> protocol, ProtocolArg(query.Get("protocol")));
  SW_RETURN_IF_ERROR(services_.notifier.DeleteTemplate(topic, protocol));
  HttpResponse response;
  response.status = 204;
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::PreviewTemplate(HttpRequest& request) {
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  auto string_or = [&](std::string_view name, std::string fallback) -> absl::StatusOr<std::string> {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return fallback;
    if (!it->is_string()) {
      return absl::InvalidArgumentError(fmt::format("{} must be a string or null", name));
    }
    return it->get<std::string>();
  };
  SW_ASSIGN_OR_RETURN(std::string topic, string_or("topic", std::string(core::kTopicNoStock)));
  SW_ASSIGN_OR_RETURN(std::optional<core::Protocol> protocol, ProtocolMember(body));
  // Without a subject or body, the one that would apply to (topic, protocol): configured,
  // else the built-in wording.
  SW_ASSIGN_OR_RETURN(std::vector<core::TemplateRecord> records, services_.notifier.Templates());
  const core::MessageTemplates& builtin =
      core::DefaultTemplates().Find(topic, core::Protocol::kWebhook);
  std::string subject = builtin.subject.source();
  std::string text = builtin.body.source();
  // The dispatcher's fallback: (topic, protocol), then (topic, any protocol).
  for (const std::optional<core::Protocol>& p : {protocol, std::optional<core::Protocol>()}) {
    auto it = std::find_if(records.begin(), records.end(), [&](const core::TemplateRecord& r) {
      return r.topic == topic && r.protocol == p;
    });
    if (it != records.end()) {
      subject = it->subject;
      text = it->body;
      break;
    }
  }
  SW_ASSIGN_OR_RETURN(subject, string_or("subject", subject));
  SW_ASSIGN_OR_RETURN(text, string_or("body", text));
  SW_ASSIGN_OR_RETURN(core::MessageTemplates templates, core::ParseTemplates(subject, text));

  // Sample values, each replaceable by a member of the same name.
  core::TemplateValues values;
  values.topic = topic;
  SW_ASSIGN_OR_RETURN(values.store, string_or("store", "Berlin"));
  SW_ASSIGN_OR_RETURN(values.item, string_or("item", "Echo Plus"));
  SW_ASSIGN_OR_RETURN(std::optional<int64_t> old_count, OptionalInt(body, "old_count"));
  values.old_count = old_count.value_or(3);
  SW_ASSIGN_OR_RETURN(std::optional<int64_t> new_count, OptionalInt(body, "new_count"));
  values.new_count = new_count.value_or(0);
  SW_ASSIGN_OR_RETURN(std::optional<int64_t> threshold, OptionalInt(body, "threshold"));
  values.threshold = threshold.value_or(5);
  values.time = services_.clock.Now();
  values.since = values.time - std::chrono::hours(24);
  SW_ASSIGN_OR_RETURN(std::optional<int64_t> count, OptionalInt(body, "count"));
  values.count = count;
  return JsonResponse(200, {{"topic", topic},
                            {"protocol", ProtocolJson(protocol)},
                            {"subject", templates.subject.Render(values)},
                            {"body", templates.body.Render(values)}});
}

}  // namespace stockwatch::server
