#include "server/http_message.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "server/ascii.h"

namespace stockwatch::server {
namespace {

// The last element of the comma-separated list made of every field named `lower_case_name`
// (repeated fields are one list, RFC 9110 5.3), trimmed; nullopt without such a field.
std::optional<std::string_view> LastListElement(const HttpRequest& request,
                                                std::string_view lower_case_name) {
  std::optional<std::string_view> last;
  for (const auto& [name, value] : request.headers) {
    if (name == lower_case_name) last = value;
  }
  if (!last) return std::nullopt;
  size_t comma = last->rfind(',');
  return TrimAsciiWhitespace(comma == std::string_view::npos ? *last : last->substr(comma + 1));
}

bool IsIpAddress(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string address(text);
  unsigned char bytes[sizeof(in6_addr)];
  return inet_pton(AF_INET, address.c_str(), bytes) == 1 ||
         inet_pton(AF_INET6, address.c_str(), bytes) == 1;
}

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return std::string_view(value);
  }
  return std::nullopt;
}

void ApplyForwardedHeaders(HttpRequest& request) {
  if (std::optional<std::string_view> proto = LastListElement(request, "x-forwarded-proto");
      proto && EqualsIgnoreCase(*proto, "https")) {
    request.secure = true;
  }
  if (std::optional<std::string_view> hop = LastListElement(request, "x-forwarded-for");
      hop && IsIpAddress(*hop)) {
    request.client_address = std::string(*hop);
  }
}

}  // namespace stockwatch::server
