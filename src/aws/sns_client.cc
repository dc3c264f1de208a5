#include "aws/sns_client.h"

#include <algorithm>
#include <utility>

#include "aws/aws_text.h"
#include "pugixml.hpp"

namespace stockwatch::aws {
namespace {

using text::Cat;
using Params = std::vector<std::pair<std::string, std::string>>;

pugi::xml_node FindDescendant(const pugi::xml_node& node, const char* name) {
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
    if (std::string_view(child.name()) == name) return child;
    if (pugi::xml_node found = FindDescendant(child, name)) return found;
  }
  return pugi::xml_node();
}

absl::StatusOr<pugi::xml_document*> Parse(pugi::xml_document& doc, std::string_view action,
                                          const std::string& xml) {
  if (!doc.load_buffer(xml.data(), xml.size())) {
    return absl::InternalError(Cat("sns: ", action, ": response is not XML"));
  }
  return &doc;
}

// The text of the first element `name` in the response to `action`; kInternal if absent.
absl::StatusOr<std::string> ResultField(std::string_view action, const std::string& xml,
                                        const char* name) {
  pugi::xml_document doc;
  absl::StatusOr<pugi::xml_document*> parsed = Parse(doc, action, xml);
  if (!parsed.ok()) return parsed.status();
  const pugi::xml_node node = FindDescendant(doc, name);
  if (!node) return absl::InternalError(Cat("sns: ", action, ": response has no ", name));
  return std::string(node.text().as_string());
}

// The topic name of an ARN: its last ':'-separated part.
std::string_view TopicName(std::string_view arn) {
  const size_t colon = arn.rfind(':');
  return colon == std::string_view::npos ? arn : arn.substr(colon + 1);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return text::Lower(a) == text::Lower(b);
}

}  // namespace

SnsMessageAttribute SnsMessageAttribute::String(std::string value) {
  return SnsMessageAttribute{Type::kString, std::move(value)};
}

SnsMessageAttribute SnsMessageAttribute::Number(std::string value) {
  return SnsMessageAttribute{Type::kNumber, std::move(value)};
}

SnsMessageAttribute SnsMessageAttribute::Number(int64_t value) {
  return SnsMessageAttribute{Type::kNumber, std::to_string(value)};
}

SnsClient::SnsClient(AwsConfig config) : http_(std::move(config), kSnsService) {}

absl::StatusOr<std::string> SnsClient::CallAction(std::string_view action,
                                                  const Params& params) const {
  AwsHttpRequest request;
  request.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  request.body = Cat("Action=", QueryEncode(action), "&Version=2010-03-31");
  for (const auto& param : params) {
    request.body += Cat("&", QueryEncode(param.first), "=", QueryEncode(param.second));
  }
  absl::StatusOr<AwsHttpResponse> response = http_.Send(request);
  if (!response.ok()) return response.status();
  return std::move(response->body);
}

bool IsFifoTopic(std::string_view topic_arn) { return TopicName(topic_arn).ends_with(".fifo"); }

std::string SnsSubject(std::string_view subject) {
  constexpr size_t kMaxChars = 99;
  constexpr std::string_view kEllipsis = "...";
  std::string out;
  out.reserve(std::min(subject.size(), kMaxChars));
  for (size_t i = 0; i < subject.size();) {
    const auto byte = static_cast<unsigned char>(subject[i]);
    if (byte >= 0x80) {
      // One '?' for the whole sequence: skip its continuation bytes (10xxxxxx).
      ++i;
      while (i < subject.size() && (static_cast<unsigned char>(subject[i]) & 0xC0) == 0x80) ++i;
      out += '?';
      continue;
    }
    const bool control = byte < 0x20 || byte == 0x7F;
    if (!(out.empty() && (control || byte == ' '))) out += control ? ' ' : static_cast<char>(byte);
    ++i;
  }
  if (out.size() > kMaxChars) {
    out.resize(kMaxChars - kEllipsis.size());
    out += kEllipsis;
  }
  return out;
}

absl::StatusOr<std::string> SnsClient::Publish(const SnsPublishRequest& request) const {
  Params params = {{"TopicArn", request.topic_arn}, {"Message", request.message}};
  if (!request.subject.empty()) params.emplace_back("Subject", request.subject);
  if (!request.message_group_id.empty()) {
    params.emplace_back("MessageGroupId", request.message_group_id);
  }
  if (!request.deduplication_id.empty()) {
    params.emplace_back("MessageDeduplicationId", request.deduplication_id);
  }
  int index = 0;
  for (const auto& attribute : request.attributes) {
    ++index;
    const std::string prefix = Cat("MessageAttributes.entry.", index, ".");
    const bool number = attribute.second.type == SnsMessageAttribute::Type::kNumber;
    params.emplace_back(prefix + "Name", attribute.first);
    params.emplace_back(prefix + "Value.DataType", number ? "Number" : "String");
    params.emplace_back(prefix + "Value.StringValue", attribute.second.value);
  }
  absl::StatusOr<std::string> xml = CallAction("Publish", params);
  if (!xml.ok()) return xml.status();
  return ResultField("Publish", *xml, "MessageId");
}

absl::StatusOr<std::string> SnsClient::CreateTopic(std::string_view name) const {
  absl::StatusOr<std::string> xml = CallAction("CreateTopic", {{"Name", std::string(name)}});
  if (!xml.ok()) return xml.status();
  return ResultField("CreateTopic", *xml, "TopicArn");
}

absl::StatusOr<std::string> SnsClient::Subscribe(std::string_view topic_arn,
                                                 std::string_view protocol,
                                                 std::string_view endpoint) const {
  return Subscribe(topic_arn, protocol, endpoint, {});
}

absl::StatusOr<std::string> SnsClient::Subscribe(
    std::string_view topic_arn, std::string_view protocol, std::string_view endpoint,
    const std::map<std::string, std::string>& attributes) const {
  Params params = {{"TopicArn", std::string(topic_arn)},
                   {"Protocol", std::string(protocol)},
                   {"Endpoint", std::string(endpoint)},
                   {"ReturnSubscriptionArn", "true"}};
  int index = 0;
  for (const auto& [name, value] : attributes) {
    ++index;
    params.emplace_back(Cat("Attributes.entry.", index, ".key"), name);
    params.emplace_back(Cat("Attributes.entry.", index, ".value"), value);
  }
  absl::StatusOr<std::string> xml = CallAction("Subscribe", params);
  if (!xml.ok()) return xml.status();
  return ResultField("Subscribe", *xml, "SubscriptionArn");
}

absl::StatusOr<std::vector<SnsSubscription>> SnsClient::ListSubscriptionsByTopic(
    std::string_view topic_arn) const {
  std::vector<SnsSubscription> out;
  std::string next_token;
  while (true) {
    Params params = {{"TopicArn", std::string(topic_arn)}};
    if (!next_token.empty()) params.emplace_back("NextToken", next_token);
    absl::StatusOr<std::string> xml = CallAction("ListSubscriptionsByTopic", params);
    if (!xml.ok()) return xml.status();
    pugi::xml_document doc;
    absl::StatusOr<pugi::xml_document*> parsed = Parse(doc, "ListSubscriptionsByTopic", *xml);
    if (!parsed.ok()) return parsed.status();
    const pugi::xml_node list = FindDescendant(doc, "Subscriptions");
    for (pugi::xml_node member = list.child("member"); member;
         member = member.next_sibling("member")) {
      out.push_back({member.child("SubscriptionArn").text().as_string(),
                     member.child("Protocol").text().as_string(),
                     member.child("Endpoint").text().as_string()});
    }
    next_token = FindDescendant(doc, "NextToken").text().as_string();
    if (next_token.empty()) return out;
  }
}

absl::StatusOr<std::map<std::string, std::string>> SnsClient::GetSubscriptionAttributes(
    std::string_view subscription_arn) const {
  absl::StatusOr<std::string> xml =
      CallAction("GetSubscriptionAttributes", {{"SubscriptionArn", std::string(subscription_arn)}});
  if (!xml.ok()) return xml.status();
  pugi::xml_document doc;
  absl::StatusOr<pugi::xml_document*> parsed = Parse(doc, "GetSubscriptionAttributes", *xml);
  if (!parsed.ok()) return parsed.status();
  std::map<std::string, std::string> out;
  const pugi::xml_node attributes = FindDescendant(doc, "Attributes");
  for (pugi::xml_node entry = attributes.child("entry"); entry;
       entry = entry.next_sibling("entry")) {
    out[entry.child("key").text().as_string()] = entry.child("value").text().as_string();
  }
  return out;
}

absl::Status SnsClient::Unsubscribe(std::string_view subscription_arn) const {
  return CallAction("Unsubscribe", {{"SubscriptionArn", std::string(subscription_arn)}}).status();
}

absl::StatusOr<std::vector<std::string>> SnsClient::ListTopics() const {
  std::vector<std::string> arns;
  std::string next_token;
  while (true) {
    Params params;
    if (!next_token.empty()) params.emplace_back("NextToken", next_token);
    absl::StatusOr<std::string> xml = CallAction("ListTopics", params);
    if (!xml.ok()) return xml.status();
    pugi::xml_document doc;
    absl::StatusOr<pugi::xml_document*> parsed = Parse(doc, "ListTopics", *xml);
    if (!parsed.ok()) return parsed.status();
    const pugi::xml_node topics = FindDescendant(doc, "Topics");
    for (pugi::xml_node member = topics.child("member"); member;
         member = member.next_sibling("member")) {
      arns.emplace_back(member.child("TopicArn").text().as_string());
    }
    next_token = FindDescendant(doc, "NextToken").text().as_string();
    if (next_token.empty()) return arns;
  }
}

absl::StatusOr<std::string> SnsClient::FindTopicArn(std::string_view name) const {
  absl::StatusOr<std::vector<std::string>> arns = ListTopics();
  if (!arns.ok()) return arns.status();
  for (const std::string& arn : *arns) {
    if (EqualsIgnoreCase(TopicName(arn), name)) return arn;
  }
  return absl::NotFoundError(
      Cat("sns: no topic named \"", name, "\" (ignoring case) among ", arns->size(), " topics"));
}

}  // namespace stockwatch::aws
