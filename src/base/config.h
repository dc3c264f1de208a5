// Settings from a TOML file, the environment (STOCKWATCH_<SECTION>_<KEY>) and flags, in
// rising order of precedence. Every setting is declared once in kSettings with its default
// and documented in config/stockwatch.example.toml (a test keeps the two in step).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stockwatch::base {

enum class SettingType { kString, kInt, kBool };

struct SettingSpec {
  std::string_view name;  // "section.key"
  SettingType type;
  std::string_view default_value;  // as text; "" for none
  bool secret;                     // never logged or printed
};

// Every setting stockwatch reads.
std::span<const SettingSpec> Settings();

// Resolved settings. Values are validated against their type when loaded.
class Config {
 public:
  // Loads defaults, then `file` (if not empty; kNotFound if missing, kInvalidArgument if
  // malformed or naming an unknown setting), then `environ`-style variables, then
  // `overrides` ("section.key" -> value, from flags).
  static absl::StatusOr<Config> Load(const std::string& file,
                                     const std::map<std::string, std::string>& environment,
                                     const std::map<std::string, std::string>& overrides);
  // The process environment as a map, for Load().
  static std::map<std::string, std::string> ProcessEnvironment();
  // "STOCKWATCH_SMTP_URL" for "smtp.url".
  static std::string EnvName(std::string_view setting);

  // REQUIRES: `name` is declared in Settings() with the matching type.
  std::string GetString(std::string_view name) const;
  int64_t GetInt(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  // The value of `name` as text, whatever its type (for listing every setting).
  // REQUIRES: `name` is declared in Settings().
  std::string Text(std::string_view name) const { return GetString(name); }
  // Where the value came from: "default", "file", "env" or "flag".
  std::string Source(std::string_view name) const;
  // All settings as "name = value  # source", secrets masked.
  std::string Describe() const;

 private:
  struct Value {
    std::string text;
    std::string source;
  };
  absl::Status Set(std::string_view name, std::string text, std::string source);
  std::map<std::string, Value, std::less<>> values_;
};

}  // namespace stockwatch::base
