// String helpers shared by the AWS clients' .cc files. Internal: not part of the clients'
// API. (absl::StrCat does not take std::string_view on Debian's abseil, whose string_view
// is its own type.)
#pragma once

#include <cctype>
#include <concepts>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace stockwatch::aws::text {

inline void Append(std::string& out, std::string_view part) { out.append(part); }
inline void Append(std::string& out, const std::string& part) { out.append(part); }
inline void Append(std::string& out, absl::string_view part) {
  out.append(part.data(), part.size());
}
inline void Append(std::string& out, const char* part) { out.append(part); }
inline void Append(std::string& out, char part) { out.push_back(part); }
template <std::integral T>
requires(!std::same_as<T, char> && !std::same_as<T, bool>) void Append(std::string& out, T number) {
  out.append(std::to_string(number));
}

// Concatenates strings, string_views, characters and integers.
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  (Append(out, parts), ...);
  return out;
}

inline std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace stockwatch::aws::text
