// Status helpers: Debian's abseil ships absl::Status but not status_macros.h.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SW_CONCAT_INNER(a, b) a##b
#define SW_CONCAT(a, b) SW_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define SW_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status sw_status_ = (expr);      \
    if (!sw_status_.ok()) return sw_status_; \
  } while (0)

// `SW_ASSIGN_OR_RETURN(auto x, F());` assigns the value of an absl::StatusOr or returns
// its status from the enclosing function.
#define SW_ASSIGN_OR_RETURN(lhs, expr) \
  SW_ASSIGN_OR_RETURN_IMPL(SW_CONCAT(sw_statusor_, __LINE__), lhs, expr)
#define SW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// Aborts in every build when an invariant does not hold. Never for input validation.
#define SW_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)
