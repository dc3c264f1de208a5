// Plain-text rendering of load reports, shared by `check` and `upload`.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace stockwatch::cli {

// `report` is a load report in the API's JSON shape (core::ToJson(LoadReport)). Returns
//   NAME: loaded: 6 rows read, 5 loaded, 0 unchanged, 1 rejected (12 ms)
//     NAME:3:14: count is empty
//     warning: NAME:2:1: row for store "Berlin" and item "Echo Dot" is superseded by line 5
//     ignored columns: price, note
// or "NAME: rejected: <reason>" followed by the errors. Lines end with '\n'.
std::string ReportText(const std::string& name, const nlohmann::json& report);

}  // namespace stockwatch::cli
