#include "server/http_message.h"

namespace stockwatch::server {

std::optional<std::string_view> HttpRequest::Header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace stockwatch::server
