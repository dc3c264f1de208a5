#include "lambda/events.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

#include "core/model/types.h"

namespace stockwatch::lambda {
namespace {

using nlohmann::json;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return HexValue(c) >= 0; });
}

std::string Where(size_t index, std::string_view field) {
  return "Records[" + std::to_string(index) + "]." + std::string(field);
}

// The string at `path` (keys) under `object`, or nullptr when a step is missing or the value
// is not a string.
const json* StringAt(const json& object, std::initializer_list<const char*> path) {
  const json* at = &object;
  for (const char* step : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(step);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at->is_string() ? at : nullptr;
}

}  // namespace

absl::StatusOr<std::string> DecodeS3EventKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= key.size()) {
        return absl::InvalidArgumentError("bad %-escape at byte " + std::to_string(i + 1));
      }
      const int hi = HexValue(key[i + 1]);
      const int lo = HexValue(key[i + 2]);
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError("bad %-escape at byte " + std::to_string(i + 1));
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

int CompareSequencers(std::string_view a, std::string_view b) {
  // Leading zeros do not change the value: drop them, then the longer string is larger and
  // equal lengths compare digit by digit (case-insensitively).
  auto strip = [](std::string_view s) {
    size_t i = 0;
    while (i < s.size() && s[i] == '0') ++i;
    return s.substr(i);
  };
  a = strip(a);
  b = strip(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    const int x = HexValue(a[i]);
    const int y = HexValue(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

std::string PadSequencer(std::string_view sequencer) {
  std::string out;
  if (sequencer.size() < kSequencerWidth) out.assign(kSequencerWidth - sequencer.size(), '0');
  for (char c : sequencer) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

absl::StatusOr<std::vector<S3EventRecord>> ParseS3Event(const json& event) {
  if (!event.is_object() || !event.contains("Records") || !event["Records"].is_array()) {
    return absl::InvalidArgumentError("not an S3 event: no Records array");
  }
  std::vector<S3EventRecord> out;
  const json& records = event["Records"];
  for (size_t i = 0; i < records.size(); ++i) {
    const json& r = records[i];
    S3EventRecord rec;
    if (const json* name = StringAt(r, {"eventName"})) rec.event_name = name->get<std::string>();
    if (const json* time = StringAt(r, {"eventTime"})) rec.event_time = time->get<std::string>();
    const json* bucket = StringAt(r, {"s3", "bucket", "name"});
    if (bucket == nullptr) {
      return absl::InvalidArgumentError(Where(i, "s3.bucket.name") + " is missing");
    }
    rec.bucket = bucket->get<std::string>();
    const json* key = StringAt(r, {"s3", "object", "key"});
    if (key == nullptr) {
      return absl::InvalidArgumentError(Where(i, "s3.object.key") + " is missing");
    }
    absl::StatusOr<std::string> decoded = DecodeS3EventKey(key->get<std::string>());
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(Where(i, "s3.object.key") + ": " +
                                        std::string(decoded.status().message()));
    }
    rec.key = *std::move(decoded);
    const json& object = r["s3"]["object"];
    if (auto size = object.find("size"); size != object.end()) {
      if (size->is_number_unsigned()) {
        rec.size = size->get<uint64_t>();
      } else if (size->is_number_integer() && size->get<int64_t>() >= 0) {
        rec.size = static_cast<uint64_t>(size->get<int64_t>());
      } else {
        return absl::InvalidArgumentError(Where(i, "s3.object.size") + " is not a size");
      }
    }
    if (const json* etag = StringAt(object, {"eTag"})) {
      rec.etag = etag->get<std::string>();
      rec.etag.erase(std::remove(rec.etag.begin(), rec.etag.end(), '"'), rec.etag.end());
    }
    if (const json* sequencer = StringAt(object, {"sequencer"})) {
      rec.sequencer = sequencer->get<std::string>();
      if (!IsHex(rec.sequencer)) {
        return absl::InvalidArgumentError(Where(i, "s3.object.sequencer") + " is not hex");
      }
      std::transform(rec.sequencer.begin(), rec.sequencer.end(), rec.sequencer.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    }
    out.push_back(std::move(rec));
  }
  return out;
}

absl::StatusOr<std::vector<StreamRecord>> ParseStreamEvent(const json& event) {
  if (!event.is_object() || !event.contains("Records") || !event["Records"].is_array()) {
    return absl::InvalidArgumentError("not a DynamoDB stream event: no Records array");
  }
  std::vector<StreamRecord> out;
  const json& records = event["Records"];
  for (size_t i = 0; i < records.size(); ++i) {
    const json& r = records[i];
    StreamRecord rec;
    if (const json* id = StringAt(r, {"eventID"})) rec.event_id = id->get<std::string>();
    if (const json* arn = StringAt(r, {"eventSourceARN"})) {
      rec.event_source_arn = arn->get<std::string>();
    }
    const json* name = StringAt(r, {"eventName"});
    if (name == nullptr) return absl::InvalidArgumentError(Where(i, "eventName") + " is missing");
    if (*name == "INSERT") {
      rec.event_name = StreamEventName::kInsert;
    } else if (*name == "MODIFY") {
      rec.event_name = StreamEventName::kModify;
    } else if (*name == "REMOVE") {
      rec.event_name = StreamEventName::kRemove;
    } else {
      return absl::InvalidArgumentError(Where(i, "eventName") + " \"" + name->get<std::string>() +
                                        "\" is not INSERT, MODIFY or REMOVE");
    }
    const json* sequence = StringAt(r, {"dynamodb", "SequenceNumber"});
    if (sequence == nullptr) {
      return absl::InvalidArgumentError(Where(i, "dynamodb.SequenceNumber") + " is missing");
    }
    rec.sequence_number = sequence->get<std::string>();
    const json& ddb = r["dynamodb"];
    auto keys = ddb.find("Keys");
    if (keys == ddb.end() || !keys->is_object()) {
      return absl::InvalidArgumentError(Where(i, "dynamodb.Keys") + " is missing");
    }
    rec.keys = *keys;
    if (auto old_image = ddb.find("OldImage"); old_image != ddb.end() && old_image->is_object()) {
      rec.old_image = *old_image;
    }
    if (auto new_image = ddb.find("NewImage"); new_image != ddb.end() && new_image->is_object()) {
      rec.new_image = *new_image;
    }
    if (auto time = ddb.find("ApproximateCreationDateTime");
        time != ddb.end() && time->is_number()) {
      rec.approximate_creation_time = time->get<double>();
    }
    out.push_back(std::move(rec));
  }
  return out;
}

absl::StatusOr<InventoryImage> ReadInventoryImage(const json& image) {
  if (!image.is_object()) return absl::InvalidArgumentError("image is missing");
  InventoryImage out;
  const json* store = StringAt(image, {"Store", "S"});
  if (store == nullptr) return absl::InvalidArgumentError("Store (S) is missing");
  const json* item = StringAt(image, {"Item", "S"});
  if (item == nullptr) return absl::InvalidArgumentError("Item (S) is missing");
  out.store = store->get<std::string>();
  out.item = item->get<std::string>();
  if (image.contains("Count")) {
    const json* count = StringAt(image, {"Count", "N"});
    if (count == nullptr) return absl::InvalidArgumentError("Count is not a number (N)");
    const std::string& text = count->get_ref<const std::string&>();
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 0 ||
        value > core::kMaxCount) {
      return absl::InvalidArgumentError("Count \"" + text + "\" is not a whole number 0.." +
                                        std::to_string(core::kMaxCount));
    }
    out.count = value;
  }
  return out;
}

}  // namespace stockwatch::lambda
