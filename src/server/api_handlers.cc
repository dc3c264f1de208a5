// Handlers of the inventory, change, alert, subscription, delivery and threshold routes.

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "base/status.h"
#include "core/checker/inventory_order.h"
#include "core/checker/stock_rules.h"
#include "core/checker/topic_routes.h"
#include "core/delivery/schedule.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "server/ascii.h"
#include "server/inventory_json.h"
#include "server/inventory_query_params.h"
#include "server/router.h"
#include "server/scoped_scan.h"
#include "server/status_http.h"
#include "server/subscription_endpoint.h"

namespace stockwatch::server {
namespace {

// Changes listed with one item.
constexpr size_t kItemHistoryLimit = 100;
// Alerts listed with one item: its newest, among the newest kItemAlertWindow of all items.
constexpr size_t kItemAlertLimit = 20;
constexpr size_t kItemAlertWindow = 1000;

absl::StatusOr<std::string> DecodeSegment(std::string_view what, std::string_view raw) {
  absl::StatusOr<std::string> decoded = PercentDecode(raw, PlusMode::kLiteral);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", what, ToStd(decoded.status().message())));
  }
  if (decoded->empty()) return absl::InvalidArgumentError(fmt::format("{} is empty", what));
  return decoded;
}

// An optional string member: absent or null -> nullopt; kInvalidArgument if not a string.
absl::StatusOr<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                          std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    return absl::InvalidArgumentError(fmt::format("{} must be a string or null", name));
  }
  return it->get<std::string>();
}

// An optional boolean member: absent or null -> false; kInvalidArgument if not a boolean.
absl::StatusOr<bool> OptionalBool(const nlohmann::json& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return false;
  if (!it->is_boolean())
    return absl::InvalidArgumentError(fmt::format("{} must be a boolean", name));
  return it->get<bool>();
}

absl::StatusOr<std::optional<core::DeliveryState>> ParseDeliveryState(
    const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  for (core::DeliveryState state : {core::DeliveryState::kPending, core::DeliveryState::kDelivered,
                                    core::DeliveryState::kFailed}) {
    if (*text == core::DeliveryStateName(state)) return state;
  }
  return absl::InvalidArgumentError("state must be pending, delivered or failed");
}

// The body's "filter_policy": a JSON object, or a string holding one (as SNS's FilterPolicy
// attribute); "" when absent or null. The notifier parses it.
absl::StatusOr<std::string> FilterPolicyField(const nlohmann::json& body) {
  auto it = body.find("filter_policy");
  if (it == body.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return it->dump();
  return absl::InvalidArgumentError("filter_policy must be a JSON object or null");
}

nlohmann::json OptionalCountJson(std::optional<int64_t> value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

absl::Status RequireAdmin(const core::Principal& principal, std::string_view what) {
  if (principal.role == "admin") return absl::OkStatus();
  return absl::PermissionDeniedError(fmt::format("only an admin may {}", what));
}

absl::StatusOr<HttpResponse> ApiRouter::ListInventory(const QueryParams& query,
                                                      const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(core::InventoryQuery inventory_query, ParseInventoryQuery(query));
  inventory_query.scope = principal.scope;
  SW_ASSIGN_OR_RETURN(core::InventoryPage page, services_.inventory.Query(inventory_query));
  SW_ASSIGN_OR_RETURN(std::vector<core::Threshold> thresholds, services_.inventory.Thresholds());
  HttpResponse response;
  response.status = 200;
  response.body = InventoryPageJson(page, core::ThresholdTable(thresholds));
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::GetItem(std::string_view raw_store,
                                                std::string_view raw_item,
                                                const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(std::string store, DecodeSegment("store", raw_store));
  SW_ASSIGN_OR_RETURN(std::string item, DecodeSegment("item", raw_item));
  if (!core::ScopeCoversStore(principal.scope, store)) {
    return absl::PermissionDeniedError(
        fmt::format("{} may not see the inventory of store \"{}\"", principal.name, store));
  }
  SW_ASSIGN_OR_RETURN(core::InventoryItem found, services_.inventory.Get(store, item));
  SW_ASSIGN_OR_RETURN(std::vector<core::ChangeRecord> history,
                      services_.changes.ItemHistory(store, item, kItemHistoryLimit));
  SW_ASSIGN_OR_RETURN(std::vector<core::Threshold> thresholds, services_.inventory.Thresholds());
  SW_ASSIGN_OR_RETURN(std::vector<core::Message> recent,
                      services_.notifier.RecentMessages(std::nullopt, kItemAlertWindow));
  nlohmann::json json = core::ToJson(found);
  nlohmann::json changes = nlohmann::json::array();
  for (const core::ChangeRecord& change : history) changes.push_back(core::ToJson(change));
  json["history"] = std::move(changes);
  json["threshold"] = OptionalCountJson(core::ThresholdTable(thresholds).For(store, item));
  nlohmann::json alerts = nlohmann::json::array();
  for (const core::Message& message : recent) {
    if (message.store != store || message.item != item) continue;
    alerts.push_back(core::ToJson(message));
    if (alerts.size() == kItemAlertLimit) break;
  }
  json["alerts"] = std::move(alerts);
  return JsonResponse(200, json);
}

absl::StatusOr<HttpResponse> ApiRouter::ListStores(const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(nlohmann::json stores,
                      StoreSummariesJson(services_.inventory, principal.scope));
  return JsonResponse(200, {{"stores", std::move(stores)}});
}

absl::StatusOr<HttpResponse> ApiRouter::ListChanges(const QueryParams& query,
                                                    const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(int64_t after,
                      query.GetInt("after", 0, std::numeric_limits<int64_t>::max(), 0));
  SW_ASSIGN_OR_RETURN(int64_t limit, query.GetInt("limit", 1, kMaxPage, kDefaultPage));
  // The scope is applied while reading (scoped_scan.h); `next_after` is where reading stopped
  // (in scope or not), so a page that is short because kMaxScopedScan was reached still
  // leads on.
  SW_ASSIGN_OR_RETURN(
      auto scan,
      (ScanInScope<core::ChangeRecord>(
          static_cast<uint64_t>(after), static_cast<size_t>(limit),
          [&](uint64_t cursor, size_t batch) { return services_.changes.Read(cursor, batch); },
          [](const core::ChangeRecord& record) { return record.sequence; },
          [&](const core::ChangeRecord& record) {
            return core::ScopeCoversStore(principal.scope, record.store);
          })));
  nlohmann::json changes = nlohmann::json::array();
  for (const core::ChangeRecord& record : scan.kept) changes.push_back(core::ToJson(record));
  const bool exhausted = scan.exhausted;
  const uint64_t cursor = scan.cursor;
  return JsonResponse(
      200, {{"changes", std::move(changes)},
            {"next_after", exhausted ? nlohmann::json(nullptr) : nlohmann::json(cursor)}});
}

absl::StatusOr<HttpResponse> ApiRouter::ListAlerts(const QueryParams& query,
                                                   const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(int64_t limit, query.GetInt("limit", 1, kMaxPage, kDefaultPage));
  const std::optional<std::string> topic = query.Get("topic");
  SW_ASSIGN_OR_RETURN(
      std::vector<core::Message> messages,
      NewestInScope<core::Message>(
          static_cast<size_t>(limit),
          [&](size_t window) { return services_.notifier.RecentMessages(topic, window); },
          [&](const core::Message& message) {
            return core::ScopeCoversStore(principal.scope, message.store);
          }));
  nlohmann::json alerts = nlohmann::json::array();
  for (const core::Message& message : messages) alerts.push_back(core::ToJson(message));
  return JsonResponse(200, {{"alerts", std::move(alerts)}});
}

absl::StatusOr<HttpResponse> ApiRouter::ListTopics() {
  // One read: the names and the urgent ones come from the same listing as the details.
  SW_ASSIGN_OR_RETURN(std::vector<core::TopicInfo> infos, services_.notifier.TopicInfos());
  std::vector<std::string> topics;
  std::vector<std::string> urgent;
  nlohmann::json details = nlohmann::json::array();
  for (const core::TopicInfo& info : infos) {
    topics.push_back(info.name);
    if (info.urgent) urgent.push_back(info.name);
    details.push_back(core::ToJson(info));
  }
  return JsonResponse(200, {{"topics", topics}, {"urgent", urgent}, {"details", details}});
}

absl::StatusOr<HttpResponse> ApiRouter::CreateTopic(HttpRequest& request,
                                                    const core::Principal& principal) {
  SW_RETURN_IF_ERROR(RequireAdmin(principal, "create topics"));
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  SW_ASSIGN_OR_RETURN(std::optional<std::string> name, OptionalString(body, "name"));
  if (!name) return absl::InvalidArgumentError("name is required");
  SW_RETURN_IF_ERROR(core::ValidateTopicName(*name));
  auto rules_it = body.find("rules");
  if (rules_it == body.end() || !rules_it->is_array()) {
    return absl::InvalidArgumentError(
        "rules is required: an array of NoStock, LowStock, BackInStock");
  }
  std::vector<std::string> rules;
  for (const nlohmann::json& rule : *rules_it) {
    if (!rule.is_string()) {
      return absl::InvalidArgumentError(
          "rules must be an array of strings (NoStock, LowStock, BackInStock)");
    }
    rules.push_back(rule.get<std::string>());
  }
  SW_ASSIGN_OR_RETURN(std::string filter_policy, FilterPolicyField(body));
  absl::StatusOr<core::TopicInfo> created =
      services_.notifier.CreateTopic(*name, rules, filter_policy, services_.clock.Now());
  if (!created.ok()) return created.status();
  HttpResponse response = JsonResponse(201, core::ToJson(*created));
  response.headers.emplace_back("Location", fmt::format("/api/v1/topics/{}", created->name));
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::DeleteTopic(std::string_view raw_name,
                                                    const core::Principal& principal) {
  SW_RETURN_IF_ERROR(RequireAdmin(principal, "delete topics"));
  SW_ASSIGN_OR_RETURN(std::string name, DecodeSegment("topic", raw_name));
  if (absl::Status deleted = services_.notifier.DeleteTopic(name); !deleted.ok()) {
    // A built-in topic conflicts with the request, as creating one does.
    if (absl::IsFailedPrecondition(deleted)) return WithHttpStatus(deleted, 409);
    return deleted;
  }
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::UpdateTopic(std::string_view raw_name, HttpRequest& request,
                                                    const core::Principal& principal) {
  SW_RETURN_IF_ERROR(RequireAdmin(principal, "change topics"));
  SW_ASSIGN_OR_RETURN(std::string name, DecodeSegment("topic", raw_name));
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  auto it = body.find("urgent");
  if (it == body.end() || !it->is_boolean()) {
    return absl::InvalidArgumentError("urgent must be true or false");
  }
  const bool urgent = it->get<bool>();
  SW_RETURN_IF_ERROR(services_.notifier.SetTopicUrgent(name, urgent));
  return JsonResponse(200, {{"topic", name}, {"urgent", urgent}});
}

absl::StatusOr<HttpResponse> ApiRouter::ListSubscriptions() {
  SW_ASSIGN_OR_RETURN(std::vector<core::Subscription> subscriptions,
                      services_.notifier.Subscriptions());
  nlohmann::json list = nlohmann::json::array();
  for (const core::Subscription& subscription : subscriptions) {
    list.push_back(core::ToJson(subscription));
  }
  return JsonResponse(200, {{"subscriptions", std::move(list)}});
}

absl::StatusOr<HttpResponse> ApiRouter::CreateSubscription(HttpRequest& request,
                                                           const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  SW_ASSIGN_OR_RETURN(std::optional<std::string> topic, OptionalString(body, "topic"));
  if (!topic) return absl::InvalidArgumentError("topic is required");
  SW_ASSIGN_OR_RETURN(std::optional<std::string> endpoint_text, OptionalString(body, "endpoint"));
  if (!endpoint_text) return absl::InvalidArgumentError("endpoint is required");
  SW_ASSIGN_OR_RETURN(std::optional<std::string> protocol, OptionalString(body, "protocol"));
  SW_ASSIGN_OR_RETURN(std::string filter_policy, FilterPolicyField(body));
  // A manager subscribes only to alerts of its own stores.
  if (!principal.scope.all_stores && !PolicyWithinScope(filter_policy, principal.scope)) {
    return absl::PermissionDeniedError(fmt::format(
        "a manager's subscription needs a filter_policy limiting store to its stores, e.g. "
        "{{\"store\":[\"{}\"]}}",
        principal.scope.stores.empty() ? std::string() : principal.scope.stores.front()));
  }

  SW_ASSIGN_OR_RETURN(std::vector<std::string> topics, services_.notifier.Topics());
  if (std::find(topics.begin(), topics.end(), *topic) == topics.end()) {
    return absl::InvalidArgumentError(fmt::format("unknown topic \"{}\"; topics: {}",
                                                  topic->substr(0, 64), fmt::join(topics, ", ")));
  }
  SW_ASSIGN_OR_RETURN(
      SubscriptionEndpoint endpoint,
      ParseSubscriptionEndpoint(
          *endpoint_text, protocol ? std::optional<std::string_view>(*protocol) : std::nullopt));
  // Email and webhook endpoints confirm, as in SNS, unless the admin vouches for them.
  SW_ASSIGN_OR_RETURN(bool confirmed, OptionalBool(body, "confirmed"));
  if (confirmed) SW_RETURN_IF_ERROR(RequireAdmin(principal, "skip confirmation"));
  const core::Confirmation confirmation =
      !confirmed && core::ProtocolNeedsConfirmation(endpoint.protocol)
          ? core::Confirmation::kRequired
          : core::Confirmation::kNotRequired;
  // When deliveries go out; each refused with a message naming the field.
  core::DeliverySchedule schedule;
  for (auto [name, field] :
       {std::pair{"digest", &schedule.digest}, std::pair{"quiet_hours", &schedule.quiet_hours},
        std::pair{"timezone", &schedule.timezone}}) {
    SW_ASSIGN_OR_RETURN(std::optional<std::string> value, OptionalString(body, name));
    if (value) *field = *std::move(value);
  }
  SW_ASSIGN_OR_RETURN(schedule, core::CanonicalSchedule(schedule));
  SW_ASSIGN_OR_RETURN(
      core::Subscription subscription,
      services_.notifier.Subscribe(*topic, endpoint.protocol, endpoint.endpoint,
                                   services_.clock.Now(), filter_policy, confirmation, schedule));
  // A new confirmation message is due now.
  if (subscription.status == core::SubscriptionStatus::kPendingConfirmation &&
      services_.deliver_wakeup != nullptr) {
    services_.deliver_wakeup->Notify();
  }
  nlohmann::json created = core::ToJson(subscription);
  // The key receivers verify X-Stockwatch-Signature with; listings never show it.
  if (subscription.protocol == core::Protocol::kWebhook) {
    created["signing_secret"] = subscription.secret;
  }
  HttpResponse response = JsonResponse(201, created);
  response.headers.emplace_back("Location",
                                fmt::format("/api/v1/subscriptions/{}", subscription.id));
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::UpdateSubscription(std::string_view raw_id,
                                                           HttpRequest& request,
                                                           const core::Principal& principal) {
  SW_RETURN_IF_ERROR(RequireAdmin(principal, "change subscriptions"));
  SW_ASSIGN_OR_RETURN(
      int64_t id, ParseInteger("subscription id", raw_id, 1, std::numeric_limits<int64_t>::max()));
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  // Only what may change is accepted, so a typo or an attempt to move the endpoint is an
  // error rather than a silent no-op.
  for (const auto& member : body.items()) {
    if (member.key() != "filter_policy" && member.key() != "digest" &&
        member.key() != "quiet_hours" && member.key() != "timezone") {
      return absl::InvalidArgumentError(
          fmt::format("{} cannot be changed: give filter_policy, digest, quiet_hours or timezone "
                      "(subscribe again for another topic or endpoint)",
                      member.key().substr(0, 64)));
    }
  }
  if (body.empty()) {
    return absl::InvalidArgumentError(
        "nothing to change: give filter_policy, digest, quiet_hours or timezone");
  }
  core::SubscriptionUpdate update;
  if (body.contains("filter_policy")) {
    // null removes the policy, as does "" (FilterPolicyField maps null to "").
    SW_ASSIGN_OR_RETURN(update.filter_policy, FilterPolicyField(body));
  }
  for (auto [name, field, nullable] : {std::tuple{"digest", &update.digest, false},
                                       std::tuple{"quiet_hours", &update.quiet_hours, true},
                                       std::tuple{"timezone", &update.timezone, false}}) {
    auto it = body.find(name);
    if (it == body.end()) continue;
    if (it->is_null() && nullable) {
      *field = std::string();
    } else if (it->is_string()) {
      *field = it->get<std::string>();
    } else {
      return absl::InvalidArgumentError(
          fmt::format("{} must be a string{}", name, nullable ? " or null" : ""));
    }
  }
  SW_ASSIGN_OR_RETURN(core::Subscription subscription,
                      services_.notifier.UpdateSubscription(id, update));
  // Deliveries the old schedule held may be due now.
  if (services_.deliver_wakeup != nullptr) services_.deliver_wakeup->Notify();
  return JsonResponse(200, core::ToJson(subscription));
}

absl::StatusOr<HttpResponse> ApiRouter::DeleteSubscription(std::string_view raw_id) {
  SW_ASSIGN_OR_RETURN(
      int64_t id, ParseInteger("subscription id", raw_id, 1, std::numeric_limits<int64_t>::max()));
  SW_RETURN_IF_ERROR(services_.notifier.Unsubscribe(id));
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::SendTestMessage(std::string_view raw_id) {
  SW_ASSIGN_OR_RETURN(
      int64_t id, ParseInteger("subscription id", raw_id, 1, std::numeric_limits<int64_t>::max()));
  // 412 (kFailedPrecondition) for a subscription still pending confirmation.
  SW_ASSIGN_OR_RETURN(core::Delivery delivery,
                      services_.notifier.SendTestMessage(id, services_.clock.Now()));
  if (services_.deliver_wakeup != nullptr) services_.deliver_wakeup->Notify();
  HttpResponse response = JsonResponse(202, core::ToJson(delivery));
  response.headers.emplace_back("Location", fmt::format("/api/v1/deliveries/{}", delivery.id));
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::ListDeliveries(const QueryParams& query,
                                                       const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(std::optional<core::DeliveryState> state,
                      ParseDeliveryState(query.Get("state")));
  SW_ASSIGN_OR_RETURN(int64_t limit, query.GetInt("limit", 1, kMaxPage, kDefaultPage));
  // A test message has no store: it is in scope when its subscription is.
  SW_ASSIGN_OR_RETURN(
      std::vector<core::Delivery> deliveries,
      NewestInScope<core::Delivery>(
          static_cast<size_t>(limit),
          [&](size_t window) { return services_.notifier.Deliveries(state, window); },
          [&](const core::Delivery& delivery) {
            return core::ScopeCoversStore(principal.scope, delivery.message.store) ||
                   (delivery.message.kind == core::MessageKind::kTest &&
                    PolicyWithinScope(delivery.subscription.filter_policy, principal.scope));
          }));
  nlohmann::json list = nlohmann::json::array();
  for (const core::Delivery& delivery : deliveries) list.push_back(core::ToJson(delivery));
  return JsonResponse(200, {{"deliveries", std::move(list)}});
}

absl::StatusOr<HttpResponse> ApiRouter::GetDelivery(std::string_view raw_id) {
  SW_ASSIGN_OR_RETURN(int64_t id,
                      ParseInteger("delivery id", raw_id, 1, std::numeric_limits<int64_t>::max()));
  SW_ASSIGN_OR_RETURN(core::Delivery delivery, services_.notifier.GetDelivery(id));
  SW_ASSIGN_OR_RETURN(std::vector<core::DeliveryAttempt> attempts, services_.notifier.Attempts(id));
  nlohmann::json json = core::ToJson(delivery);
  nlohmann::json list = nlohmann::json::array();
  for (const core::DeliveryAttempt& attempt : attempts) {
    list.push_back({{"at", core::FormatTime(attempt.at)}, {"error", attempt.error}});
  }
  json["failed_attempts"] = std::move(list);
  return JsonResponse(200, json);
}

absl::StatusOr<HttpResponse> ApiRouter::RedriveDeliveries(std::optional<std::string_view> raw_id) {
  std::optional<int64_t> id;
  if (raw_id) {
    SW_ASSIGN_OR_RETURN(
        id, ParseInteger("delivery id", *raw_id, 1, std::numeric_limits<int64_t>::max()));
  }
  SW_ASSIGN_OR_RETURN(int64_t redriven, services_.notifier.Redrive(id, services_.clock.Now()));
  if (redriven > 0 && services_.deliver_wakeup != nullptr) services_.deliver_wakeup->Notify();
  return JsonResponse(200, {{"redriven", redriven}});
}

absl::StatusOr<HttpResponse> ApiRouter::ListThresholds() {
  SW_ASSIGN_OR_RETURN(std::vector<core::Threshold> thresholds, services_.inventory.Thresholds());
  return JsonResponse(200, ThresholdsJson(thresholds));
}

absl::StatusOr<HttpResponse> ApiRouter::PutThreshold(HttpRequest& request,
                                                     const core::Principal& principal) {
  SW_ASSIGN_OR_RETURN(nlohmann::json body, ReadJsonObject(request));
  SW_ASSIGN_OR_RETURN(ThresholdChange change, ParseThresholdChange(body, principal));
  SW_RETURN_IF_ERROR(services_.inventory.SetThreshold(change.scope, change.value));
  return JsonResponse(200, ThresholdChangeJson(change));
}

}  // namespace stockwatch::server
