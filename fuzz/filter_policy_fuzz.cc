// Fuzz target for FilterPolicy::Parse. Besides "no crash, no sanitizer report" it asserts:
// - a refusal is kInvalidArgument with a message starting "filter policy ";
// - an accepted policy respects the bounds (<= 5 keys, <= 150 combinations, no empty array);
// - round trip: Parse(ToJson()) succeeds, equals the policy, and ToJson is a fixed point;
// - the reparsed policy decides every probe message set exactly as the original does.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "core/delivery/filter_policy.h"

namespace {

using stockwatch::core::Attributes;
using stockwatch::core::FilterPolicy;

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// Attribute sets that exercise every condition kind, both types and absence.
const std::vector<Attributes>& Probes() {
  static const auto* probes = new std::vector<Attributes>{
      {},
      {{"store", std::string("Berlin")},
       {"item", std::string("Echo Plus")},
       {"topic", std::string("NoStock")},
       {"event", std::string("out_of_stock")},
       {"old_count", 5.0},
       {"new_count", 0.0}},
      {{"store", std::string("Hamburg")}, {"new_count", 4.0}, {"event", std::string("low_stock")}},
      {{"store", std::string("")}, {"item", std::string("5")}, {"new_count", 2147483647.0}},
      {{"a", std::string("x")}, {"b", 1.5}, {"c", -1e9}, {"d", 1e9}, {"e", 0.00001}},
      {{"n", 100.0}, {"price", -0.5}, {"key", std::string("value")}},
  };
  return *probes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<FilterPolicy> policy = FilterPolicy::Parse(text);
  if (!policy.ok()) {
    FUZZ_CHECK(policy.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(policy.status().message(), "filter policy "));
    return 0;
  }
  FUZZ_CHECK(policy->keys().size() <= FilterPolicy::kMaxKeys);
  uint64_t combinations = 1;
  for (const auto& [key, conditions] : policy->keys()) {
    FUZZ_CHECK(!conditions.empty());
    combinations *= conditions.size();
  }
  FUZZ_CHECK(combinations <= FilterPolicy::kMaxCombinations);

  const std::string canonical = policy->ToJson();
  absl::StatusOr<FilterPolicy> again = FilterPolicy::Parse(canonical);
  if (!again.ok()) {
    std::fprintf(stderr, "canonical %s: %s\n", canonical.c_str(),
                 std::string(again.status().message()).c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *policy);
  FUZZ_CHECK(again->ToJson() == canonical);
  for (const Attributes& probe : Probes()) {
    FUZZ_CHECK(again->Matches(probe) == policy->Matches(probe));
  }
  return 0;
}
