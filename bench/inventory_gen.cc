#include "bench/inventory_gen.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "base/status.h"

namespace stockwatch::bench {
namespace {

// SplitMix64: a good 64-bit mixer, so each count is a pure function of (seed, row) and a
// refresh can change chosen rows without disturbing the others.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) from the top 53 bits.
double Unit(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

// Small deterministic shuffle (Fisher-Yates driven by Mix) so the seed varies the names.
template <typename T>
void Shuffle(std::vector<T>& v, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = v.size(); i > 1; --i) {
    state = Mix(state);
    std::swap(v[i - 1], v[state % i]);
  }
}

constexpr std::array<std::string_view, 64> kCities = {
    "Berlin",      "Calcutta",       "Karachi",      "Pusan",         "Shanghai",   "Springfield",
    "Hamburg",     "München",        "Köln",         "Frankfurt",     "Zürich",     "Wien",
    "Paris",       "Lyon",           "Marseille",    "Madrid",        "Barcelona",  "Lisboa",
    "São Paulo",   "Rio de Janeiro", "Buenos Aires", "Santiago",      "Lima",       "Bogotá",
    "Mexico City", "New York",       "Los Angeles",  "San Francisco", "Chicago",    "Houston",
    "Toronto",     "Montréal",       "Vancouver",    "London",        "Manchester", "Dublin",
    "Edinburgh",   "Amsterdam",      "Rotterdam",    "Brussels",      "Kraków",     "Warszawa",
    "Praha",       "Budapest",       "Athens",       "Istanbul",      "Cairo",      "Lagos",
    "Nairobi",     "Cape Town",      "Mumbai",       "Delhi",         "Bangalore",  "Dhaka",
    "Bangkok",     "Singapore",      "Jakarta",      "Manila",        "Tokyo",      "Osaka",
    "Seoul",       "Beijing",        "Sydney",       "Melbourne",
};

constexpr std::array<std::string_view, 12> kRegions = {
    "IL", "OR", "MA", "Bavaria", "NSW", "Ontario", "Kanto", "Gauteng", "IE", "NRW", "CA", "TX",
};

// Store names: a city, a city plus a district ("Berlin Mitte"), "City, Region" (needs
// quotes), `City "Outlet"` (needs doubled quotes).
constexpr std::array<std::string_view, 10> kDistricts = {
    "",       " Central", " Airport",  " Mall",    " North",
    " South", " Station", " Old Town", " Harbour", " University",
};

constexpr std::array<std::string_view, 24> kBrands = {
    "Echo",     "Kindle",  "Fire TV", "Ring",    "Blink",    "eero",   "Anker",  "Logitech",
    "Sony",     "Samsung", "Philips", "Bosch",   "Braun",    "JBL",    "Bose",   "Lego",
    "Nintendo", "Xiaomi",  "TP-Link", "SanDisk", "Kingston", "Belkin", "Garmin", "Tefal",
};

constexpr std::array<std::string_view, 40> kProducts = {
    "Dot",
    "Show 8",
    "Plus",
    "Studio",
    "Paperwhite",
    "Stick 4K",
    "Doorbell",
    "Camera",
    "Router",
    "Power Bank 10000mAh",
    "USB-C Cable",
    "Mouse",
    "Keyboard",
    "Headphones",
    "Speaker",
    "Smart Plug",
    "Light Bulb E27",
    "Kettle",
    "Toaster",
    "Hair Dryer",
    "Toothbrush",
    "Watch",
    "Tablet 10\"",
    "SD Card",
    "SSD 1TB",
    "Charger 65W",
    "HDMI Cable",
    "Webcam",
    "Microphone",
    "Game Controller",
    "Starter Set",
    "Drill",
    "Frying Pan 28cm",
    "Blender",
    "Scale",
    "Thermostat",
    "Remote",
    "Adapter",
    "Hub 7-Port",
    "Case",
};

// Most variants need no quoting; ", black", `2m, "braided"` and `"Pro"` do (~20% of items).
constexpr std::array<std::string_view, 16> kVariants = {
    "",        " (2nd Gen)", " (3rd Gen)",       " XL",          " Mini",          " Max",
    " Lite",   " 64 GB",     " Gen 2",           " (pack of 3)", " – refurbished", " Starter Kit",
    " Travel", ", black",    " 2m, \"braided\"", " \"Pro\"",
};

bool NeedsQuotes(std::string_view s) {
  return s.find_first_of(",\"\r\n") != std::string_view::npos || s.empty() || s.front() == ' ' ||
         s.back() == ' ';
}

std::string Field(std::string_view s, bool quote_all) {
  if (!quote_all && !NeedsQuotes(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

void AppendDistinct(std::string name, std::unordered_set<std::string>& seen,
                    std::vector<std::string>& out) {
  if (seen.contains(name)) {
    for (int n = 2;; ++n) {
      std::string alt = name + " #" + std::to_string(n);
      if (!seen.contains(alt)) {
        name = std::move(alt);
        break;
      }
    }
  }
  seen.insert(name);
  out.push_back(std::move(name));
}

}  // namespace

std::vector<std::string> GenerateStoreNames(int count, uint64_t seed) {
  std::vector<std::string_view> cities(kCities.begin(), kCities.end());
  Shuffle(cities, Mix(seed ^ 0x5709e5ULL));
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  out.reserve(count);
  for (int k = 0; k < count; ++k) {
    std::string_view city = cities[k % cities.size()];
    size_t round = k / cities.size();
    std::string name(city);
    if (k % 13 == 5) {
      name += ", ";
      name += kRegions[(k / 13) % kRegions.size()];
    } else if (k % 29 == 7) {
      name += " \"Outlet\"";
    }
    name += kDistricts[round % kDistricts.size()];
    if (round >= kDistricts.size()) name += " " + std::to_string(round / kDistricts.size() + 1);
    AppendDistinct(std::move(name), seen, out);
  }
  return out;
}

std::vector<std::string> GenerateItemNames(int count, uint64_t seed) {
  // Enumerate (brand, product, variant) in a seed-dependent order; 15360 combinations
  // before names need a numeric suffix.
  const size_t combos = kBrands.size() * kProducts.size() * kVariants.size();
  std::vector<uint32_t> order(combos);
  for (size_t i = 0; i < combos; ++i) order[i] = static_cast<uint32_t>(i);
  Shuffle(order, Mix(seed ^ 0x17e3ULL));
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  out.reserve(count);
  for (int k = 0; k < count; ++k) {
    size_t c = order[k % combos];
    std::string name(kBrands[c % kBrands.size()]);
    name += ' ';
    name += kProducts[(c / kBrands.size()) % kProducts.size()];
    name += kVariants[c / (kBrands.size() * kProducts.size())];
    if (k >= static_cast<int>(combos)) name += " v" + std::to_string(k / combos + 1);
    AppendDistinct(std::move(name), seen, out);
  }
  return out;
}

InventoryCsvGenerator::InventoryCsvGenerator(const GenOptions& options) : options_(options) {
  SW_CHECK(options_.rows >= 0 && options_.stores >= 1 && options_.items >= 1);
  store_names_ = GenerateStoreNames(options_.stores, options_.seed);
  item_names_ = GenerateItemNames(options_.items, options_.seed);
  store_fields_.reserve(store_names_.size());
  for (const auto& s : store_names_) store_fields_.push_back(Field(s, options_.quote_all));
  item_fields_.reserve(item_names_.size());
  for (const auto& s : item_names_) item_fields_.push_back(Field(s, options_.quote_all));
}

int64_t InventoryCsvGenerator::CountAt(int64_t row) const {
  const uint64_t h = Mix(options_.seed * 0x100000001b3ULL ^ static_cast<uint64_t>(row));
  int64_t count;
  if (Unit(h) < options_.zero_fraction) {
    count = 0;
  } else if ((h & 15) == 0) {
    count = 1 + static_cast<int64_t>((h >> 8) % 9999);  // a few big stocks
  } else {
    count = 1 + static_cast<int64_t>((h >> 8) % 200);
  }
  if (options_.changed_fraction > 0) {
    const uint64_t c = Mix(h ^ 0xc4a96eULL);
    if (Unit(c) < options_.changed_fraction) {
      if (count == 0) {
        count = 1 + static_cast<int64_t>((c >> 4) % 50);  // back in stock
      } else if ((c & 3) == 0) {
        count = 0;  // sold out
      } else {
        count += 1 + static_cast<int64_t>((c >> 4) % 20);
      }
    }
  }
  return count;
}

std::string InventoryCsvGenerator::StoreAt(int64_t row) const {
  const int64_t s = row / options_.items;
  std::string name = store_names_[s % options_.stores];
  if (s >= options_.stores) name += " " + std::to_string(s / options_.stores + 1);
  return name;
}

const std::string& InventoryCsvGenerator::ItemAt(int64_t row) const {
  return item_names_[row % options_.items];
}

void InventoryCsvGenerator::AppendChunk(size_t min_bytes, std::string& out) {
  const size_t start = out.size();
  if (!header_written_) {
    out += "store,item,count\n";
    header_written_ = true;
  }
  std::string extra_store;  // field text for made-up stores beyond options_.stores
  int64_t extra_store_index = -1;
  char digits[24];
  while (next_row_ < options_.rows && out.size() - start < min_bytes) {
    const int64_t row = next_row_++;
    const int64_t s = row / options_.items;
    if (s < options_.stores) {
      out += store_fields_[s];
    } else {
      if (s != extra_store_index) {
        extra_store = Field(StoreAt(row), options_.quote_all);
        extra_store_index = s;
      }
      out += extra_store;
    }
    out += ',';
    out += item_fields_[row % options_.items];
    out += ',';
    const char* end = std::to_chars(digits, digits + sizeof(digits), CountAt(row)).ptr;
    out.append(digits, static_cast<size_t>(end - digits));
    out += '\n';
  }
}

void GenerateInventoryCsv(const GenOptions& options, std::string& out) {
  InventoryCsvGenerator gen(options);
  // ~40 bytes a row; reserve once to avoid regrowth.
  out.reserve(out.size() + 32 + static_cast<size_t>(options.rows) * 44);
  gen.AppendChunk(static_cast<size_t>(-1), out);
}

}  // namespace stockwatch::bench
