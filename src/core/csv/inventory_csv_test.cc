#include "core/csv/inventory_csv.h"

#include <gtest/gtest.h>
