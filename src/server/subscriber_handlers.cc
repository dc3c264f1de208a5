// Handlers of the subscriber routes (GET /confirm, GET and POST /unsubscribe, POST
// /sms/inbound) and of the SMS opt-out routes under /api/v1/sms/opt-outs.
//
// The subscriber routes need no credentials: the token in the link is the credential (for
// the same reason CSRF does not apply to them), and /sms/inbound is authenticated by
// Twilio's signature instead. Every input is bounded before it is looked at.

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "server/ascii.h"
#include "server/router.h"
#include "server/status_http.h"
#include "server/subscriber_tokens.h"
#include "server/subscription_endpoint.h"

namespace stockwatch::server {
namespace {

// Largest form accepted by /unsubscribe (one-click) and /sms/inbound. Twilio's inbound
// forms carry a few dozen short fields.
constexpr uint64_t kMaxFormBytes = 16 * 1024;

// An empty TwiML answer: Twilio sends no reply text of ours (it answers STOP itself).
constexpr std::string_view kEmptyTwiml =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A small page. The URL that led here holds a token: no caching, no referrer.
HttpResponse HtmlPage(int status, std::string_view title, std::string_view body_html) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/html; charset=utf-8";
  response.body = fmt::format(
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head>"
      "<body><h1>{0}</h1>\n{1}\n</body></html>\n",
      HtmlEscape(title), body_html);
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  return response;
}

HttpResponse HtmlError(const absl::Status& status) {
  const int http_status = StatusToHttp(status).http_status;
  return HtmlPage(http_status, http_status == 404 ? "This link does not work" : "Error",
                  "<p>" + HtmlEscape(ToStd(status.message())) + "</p>");
}

HttpResponse NoStore(HttpResponse response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

bool WantsJson(const HttpRequest& request) {
  std::optional<std::string_view> accept = request.Header("accept");
  return accept && AsciiLower(*accept).find("application/json") != std::string::npos;
}

// application/x-www-form-urlencoded: every name=value pair in order, '+' read as a space.
// Pairs without '=' have an empty value. kInvalidArgument for a bad escape.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    SW_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, eq), PlusMode::kSpace));
    std::string value;
    if (eq != std::string_view::npos) {
      SW_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1), PlusMode::kSpace));
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

std::optional<std::string> FormValue(const std::vector<std::pair<std::string, std::string>>& form,
                                     std::string_view name) {
  for (const auto& [key, value] : form) {
    if (key == name) return value;
  }
  return std::nullopt;
}

absl::Status BadConfirmation() {
  return absl::NotFoundError(
      "this confirmation link is unknown, already used or expired; nothing was changed. "
      "Subscribe again to get a new link.");
}

absl::Status BadUnsubscribe() {
  return absl::NotFoundError("this unsubscribe link is not valid; nothing was changed");
}

HttpResponse MethodNotAllowedHere(std::string_view method, std::string_view allow) {
  HttpResponse response = ErrorResponse(WithHttpStatus(
      absl::UnimplementedError(fmt::format("method {} is not allowed here; use {}", method, allow)),
      405));
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

}  // namespace

bool IsSubscriberRoute(std::string_view path) {
  return path == "/confirm" || path == "/api/v1/subscriptions/confirm" || path == "/unsubscribe" ||
         path == "/sms/inbound";
}

HttpResponse ApiRouter::SubscriberRoute(HttpRequest& request, std::string_view path,
                                        std::string_view query) {
  const std::string& method = request.method;
  if (path == "/sms/inbound") {
    if (method != "POST") return MethodNotAllowedHere(method, "POST");
    absl::StatusOr<HttpResponse> response = SmsInbound(request, query);
    return response.ok() ? *std::move(response) : ErrorResponse(response.status());
  }
  const bool json = path.starts_with("/api/") || WantsJson(request);
  absl::StatusOr<HttpResponse> response;
  if (path == "/unsubscribe") {
    if (method == "GET") {
      response = UnsubscribePage(query, json);
    } else if (method == "POST") {
      response = UnsubscribeNow(request, query, json);
    } else {
      return MethodNotAllowedHere(method, "GET, POST");
    }
  } else {
    if (method != "GET") return MethodNotAllowedHere(method, "GET");
    response = Confirm(query, json);
  }
  if (response.ok()) return *std::move(response);
  return json ? NoStore(ErrorResponse(response.status())) : HtmlError(response.status());
}

absl::StatusOr<HttpResponse> ApiRouter::Confirm(std::string_view query, bool json) {
  SW_ASSIGN_OR_RETURN(QueryParams params, QueryParams::Parse(query));
  std::optional<std::string> token = params.Get("token");
  if (!token) return absl::InvalidArgumentError("the link has no token");
  if (token->size() > kMaxLinkTokenBytes) return BadConfirmation();
  absl::StatusOr<core::Subscription> confirmed =
      services_.notifier.ConfirmSubscription(*token, services_.clock.Now());
  if (absl::IsNotFound(confirmed.status())) return BadConfirmation();
  if (!confirmed.ok()) return confirmed.status();
  if (json) return NoStore(JsonResponse(200, {{"subscription", core::ToJson(*confirmed)}}));
  return HtmlPage(200, "Subscription confirmed",
                  fmt::format("<p>{} will get the {} alerts of stockwatch.</p>",
                              HtmlEscape(confirmed->endpoint), HtmlEscape(confirmed->topic)));
}

absl::StatusOr<int64_t> ApiRouter::UnsubscribeTokenId(std::string_view token) {
  // Without a key every token would be an HMAC under the empty key: refuse them all.
  if (options_.link_key.empty()) return BadUnsubscribe();
  std::optional<int64_t> id = VerifyUnsubscribeToken(options_.link_key, token);
  if (!id) return BadUnsubscribe();
  return *id;
}

absl::StatusOr<HttpResponse> ApiRouter::UnsubscribePage(std::string_view query, bool json) {
  SW_ASSIGN_OR_RETURN(QueryParams params, QueryParams::Parse(query));
  std::optional<std::string> token = params.Get("token");
  if (!token) return absl::InvalidArgumentError("the link has no token");
  SW_ASSIGN_OR_RETURN(int64_t id, UnsubscribeTokenId(*token));
  SW_ASSIGN_OR_RETURN(std::vector<core::Subscription> subscriptions,
                      services_.notifier.Subscriptions());
  auto found = std::find_if(subscriptions.begin(), subscriptions.end(),
                            [&](const core::Subscription& s) { return s.id == id; });
  if (json) {
    nlohmann::json doc = {{"subscribed", found != subscriptions.end()}};
    if (found != subscriptions.end()) doc["subscription"] = core::ToJson(*found);
    return NoStore(JsonResponse(200, doc));
  }
  if (found == subscriptions.end()) {
    return HtmlPage(200, "You are unsubscribed", "<p>This subscription no longer exists.</p>");
  }
  // The GET only asks: link scanners and previews fetch links, so only the POST acts.
  return HtmlPage(
      200, "Unsubscribe?",
      fmt::format("<p>Stop sending the {} alerts of stockwatch to {}?</p>\n"
                  "<form method=\"post\" action=\"/unsubscribe\">"
                  "<input type=\"hidden\" name=\"token\" value=\"{}\">"
                  "<button type=\"submit\">Unsubscribe</button></form>",
                  HtmlEscape(found->topic), HtmlEscape(found->endpoint), HtmlEscape(*token)));
}

absl::StatusOr<HttpResponse> ApiRouter::UnsubscribeNow(HttpRequest& request, std::string_view query,
                                                       bool json) {
  // RFC 8058 one-click: the token is in the List-Unsubscribe URL (the query) and the body
  // is "List-Unsubscribe=One-Click"; the page's form sends the token in the body.
  SW_ASSIGN_OR_RETURN(QueryParams params, QueryParams::Parse(query));
  SW_ASSIGN_OR_RETURN(std::string body, ReadWholeBody(*request.body, kMaxFormBytes));
  SW_ASSIGN_OR_RETURN(auto form, ParseForm(body));
  std::optional<std::string> token = params.Get("token");
  if (!token) token = FormValue(form, "token");
  if (!token || token->empty()) return absl::InvalidArgumentError("the request has no token");
  SW_ASSIGN_OR_RETURN(int64_t id, UnsubscribeTokenId(*token));
  absl::Status removed = services_.notifier.Unsubscribe(id);
  // Unsubscribing twice is not an error for the subscriber.
  if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
  if (json) return NoStore(JsonResponse(200, {{"unsubscribed", true}, {"subscription_id", id}}));
  return HtmlPage(200, "You are unsubscribed", "<p>You will get no more of these alerts.</p>");
}

absl::StatusOr<HttpResponse> ApiRouter::SmsInbound(HttpRequest& request, std::string_view query) {
  if (!options_.verify_sms_signature) {
    return absl::PermissionDeniedError("inbound SMS is not configured (set sms.auth_token)");
  }
  SW_ASSIGN_OR_RETURN(std::string body, ReadWholeBody(*request.body, kMaxFormBytes));
  SW_ASSIGN_OR_RETURN(auto form, ParseForm(body));
  std::optional<std::string_view> signature = request.Header("x-twilio-signature");
  // Twilio signs the URL it called: ours as the public base URL names it.
  std::string url = options_.links.Base() + "/sms/inbound";
  if (!query.empty()) url += "?" + std::string(query);
  if (!signature || !options_.verify_sms_signature(url, form, *signature)) {
    return absl::PermissionDeniedError("X-Twilio-Signature is missing or does not match");
  }
  const std::optional<std::string> from = FormValue(form, "From");
  const std::optional<std::string> text = FormValue(form, "Body");
  std::optional<bool> opt_out;
  if (text && options_.parse_sms_keyword) opt_out = options_.parse_sms_keyword(*text);
  if (opt_out && from) {
    absl::StatusOr<SubscriptionEndpoint> number =
        ParseSubscriptionEndpoint(*from, std::string_view("sms"));
    if (number.ok()) {
      if (*opt_out) {
        SW_RETURN_IF_ERROR(services_.notifier.OptOutSms(number->endpoint, services_.clock.Now()));
      } else {
        SW_RETURN_IF_ERROR(services_.notifier.OptInSms(number->endpoint));
      }
    }
  }
  HttpResponse response;
  response.content_type = "text/xml";
  response.body = std::string(kEmptyTwiml);
  return response;
}

absl::StatusOr<HttpResponse> ApiRouter::ListSmsOptOuts() {
  SW_ASSIGN_OR_RETURN(std::vector<core::SmsOptOut> opt_outs, services_.notifier.SmsOptOuts());
  nlohmann::json list = nlohmann::json::array();
  for (const core::SmsOptOut& opt_out : opt_outs) {
    list.push_back({{"number", opt_out.number}, {"at", core::FormatTime(opt_out.at)}});
  }
  return JsonResponse(200, {{"opt_outs", std::move(list)}});
}

absl::StatusOr<HttpResponse> ApiRouter::SetSmsOptOut(std::string_view raw_number, bool opt_out) {
  absl::StatusOr<std::string> decoded = PercentDecode(raw_number, PlusMode::kLiteral);
  if (!decoded.ok()) return absl::InvalidArgumentError("number: bad percent escape");
  SW_ASSIGN_OR_RETURN(SubscriptionEndpoint number,
                      ParseSubscriptionEndpoint(*decoded, std::string_view("sms")));
  if (!opt_out) {
    SW_RETURN_IF_ERROR(services_.notifier.OptInSms(number.endpoint));
    HttpResponse response;
    response.status = 204;
    response.content_type.clear();
    return response;
  }
  const core::TimePoint now = services_.clock.Now();
  SW_RETURN_IF_ERROR(services_.notifier.OptOutSms(number.endpoint, now));
  SW_ASSIGN_OR_RETURN(std::vector<core::SmsOptOut> opt_outs, services_.notifier.SmsOptOuts());
  for (const core::SmsOptOut& o : opt_outs) {
    if (o.number == number.endpoint) {
      return JsonResponse(200, {{"number", o.number}, {"at", core::FormatTime(o.at)}});
    }
  }
  return JsonResponse(200, {{"number", number.endpoint}, {"at", core::FormatTime(now)}});
}

}  // namespace stockwatch::server
