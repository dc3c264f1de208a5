// Request-target helpers: splitting path and query, percent-decoding, query parameters
// with validated integers. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace stockwatch::server {

// "/a/b?x=1" -> path "/a/b", query "x=1". No '?' -> empty query.
struct TargetParts {
  std::string_view path;
  std::string_view query;
};
TargetParts SplitTarget(std::string_view target);

// Whether '+' means a space (query strings, form encoding) or itself (paths).
enum class PlusMode { kLiteral, kSpace };

// Decodes %XX escapes (either case of hex digit). kInvalidArgument for a '%' not followed
// by two hex digits. The result may hold any bytes, NUL included; callers validate.
absl::StatusOr<std::string> PercentDecode(std::string_view text, PlusMode plus_mode);

// The segments of `path` between '/', still encoded: "/api/v1/x%2Fy" -> {"api","v1","x%2Fy"}.
// A trailing '/' yields a last empty segment.
std::vector<std::string_view> PathSegments(std::string_view path);

// Decoded query parameters. The first occurrence of a name wins; a parameter with an
// empty value counts as absent.
class QueryParams {
 public:
  // kInvalidArgument for a bad escape, naming the parameter.
  static absl::StatusOr<QueryParams> Parse(std::string_view query);

  std::optional<std::string> Get(std::string_view name) const;

  // The parameter as an integer in min..max, or `default_value` when absent.
  // kInvalidArgument, e.g. `limit "x" is not an integer`, `limit 0 is out of range 1..100`.
  absl::StatusOr<int64_t> GetInt(std::string_view name, int64_t min, int64_t max,
                                 int64_t default_value) const;
  // As GetInt, nullopt when absent.
  absl::StatusOr<std::optional<int64_t>> GetOptionalInt(std::string_view name, int64_t min,
                                                        int64_t max) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// Parses a whole decimal integer in min..max (optional '-', digits only). kInvalidArgument
// naming `what`, e.g. `id "7x" is not an integer`.
absl::StatusOr<int64_t> ParseInteger(std::string_view what, std::string_view text, int64_t min,
                                     int64_t max);

}  // namespace stockwatch::server
