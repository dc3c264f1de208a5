#include "server/url.h"

#include <charconv>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "server/ascii.h"

namespace stockwatch::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Quotes a user-supplied value for an error message, cut to a readable length.
std::string Quoted(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  if (text.size() > kMaxShown) return fmt::format("\"{}...\"", text.substr(0, kMaxShown));
  return fmt::format("\"{}\"", text);
}

}  // namespace

TargetParts SplitTarget(std::string_view target) {
  size_t question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

absl::StatusOr<std::string> PercentDecode(std::string_view text, PlusMode plus_mode) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int high = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return absl::InvalidArgumentError(
            "bad percent-encoding: '%' must be followed by two "
            "hex digits");
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_mode == PlusMode::kSpace) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return segments;
  while (true) {
    size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

absl::StatusOr<QueryParams> QueryParams::Parse(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    absl::StatusOr<std::string> name = PercentDecode(raw_name, PlusMode::kSpace);
    if (!name.ok()) {
      return absl::InvalidArgumentError(fmt::format("query parameter name {}: {}", Quoted(raw_name),
                                                    ToStd(name.status().message())));
    }
    absl::StatusOr<std::string> value = PercentDecode(raw_value, PlusMode::kSpace);
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("query parameter {}: {}", *name, ToStd(value.status().message())));
    }
    params.params_.emplace_back(*std::move(name), *std::move(value));
  }
  return params;
}

std::optional<std::string> QueryParams::Get(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) {
      if (value.empty()) return std::nullopt;
      return value;
    }
  }
  return std::nullopt;
}

absl::StatusOr<int64_t> QueryParams::GetInt(std::string_view name, int64_t min, int64_t max,
                                            int64_t default_value) const {
  std::optional<std::string> text = Get(name);
  if (!text) return default_value;
  return ParseInteger(name, *text, min, max);
}

absl::StatusOr<std::optional<int64_t>> QueryParams::GetOptionalInt(std::string_view name,
                                                                   int64_t min, int64_t max) const {
  std::optional<std::string> text = Get(name);
  if (!text) return std::nullopt;
  absl::StatusOr<int64_t> value = ParseInteger(name, *text, min, max);
  if (!value.ok()) return value.status();
  return *value;
}

absl::StatusOr<int64_t> ParseInteger(std::string_view what, std::string_view text, int64_t min,
                                     int64_t max) {
  // from_chars accepts a leading '-' but no '+' or spaces, which is the syntax we want;
  // digits must then run to the end.
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool digits_only = !text.empty() && end == text.data() + text.size();
  if (ec == std::errc::result_out_of_range && digits_only) {
    return absl::InvalidArgumentError(
        fmt::format("{} {} is out of range {}..{}", what, Quoted(text), min, max));
  }
  if (ec != std::errc() || !digits_only) {
    return absl::InvalidArgumentError(fmt::format("{} {} is not an integer", what, Quoted(text)));
  }
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        fmt::format("{} {} is out of range {}..{}", what, value, min, max));
  }
  return value;
}

}  // namespace stockwatch::server
