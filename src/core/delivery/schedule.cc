#include "core/delivery/schedule.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "absl/time/civil_time.h"
#include "base/status.h"
#include "core/delivery/filter_policy.h"
#include "fmt/format.h"

namespace stockwatch::core {
namespace {

absl::Status BadField(std::string_view field, std::string_view spec, std::string_view why) {
  return absl::InvalidArgumentError(
      fmt::format("{} \"{}\" {}", field, spec.substr(0, std::min<size_t>(spec.size(), 64)), why));
}

// "HH:MM" (two digits each, 00:00..23:59) as minutes after midnight.
std::optional<int> ParseClock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  const int hour = (text[0] - '0') * 10 + (text[1] - '0');
  const int minute = (text[3] - '0') * 10 + (text[4] - '0');
  if (hour > 23 || minute > 59) return std::nullopt;
  return hour * 60 + minute;
}

std::string FormatClock(int minutes) {
  return fmt::format("{:02d}:{:02d}", minutes / 60, minutes % 60);
}

// The instant of local time `civil` in `zone`: the transition instant for a time skipped
// by a DST change, the first occurrence for a repeated one.
absl::Time LocalInstant(const absl::TimeZone& zone, absl::CivilMinute civil) {
  const absl::TimeZone::TimeInfo info = zone.At(absl::CivilSecond(civil));
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

// The first instant strictly after `after` at local time `minutes` after midnight.
absl::Time NextLocal(const absl::TimeZone& zone, absl::Time after, int minutes) {
  absl::CivilDay day(zone.At(after).cs);
  for (int i = 0; i < 3; ++i, ++day) {
    const absl::Time candidate = LocalInstant(
        zone, absl::CivilMinute(day.year(), day.month(), day.day(), minutes / 60, minutes % 60));
    if (candidate > after) return candidate;
  }
  return after;  // unreachable for real zones: a local day is never 3 days long
}

TimePoint ToTimePoint(absl::Time t) {
  return std::chrono::time_point_cast<TimePoint::duration>(absl::ToChronoTime(t));
}

// Code points in UTF-8 text (bytes that are not continuation bytes).
size_t CodePoints(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

std::string DigestSpec::Canonical() const {
  switch (kind) {
    case Kind::kImmediate:
      return "";
    case Kind::kPerUpload:
      return "per-upload";
    case Kind::kWindow:
      if (window.count() % 60 == 0) return fmt::format("{}h", window.count() / 60);
      return fmt::format("{}m", window.count());
    case Kind::kDaily:
      return fmt::format("daily {} {}", FormatClock(hour * 60 + minute), zone_name);
  }
  return "";
}

TimePoint DigestSpec::DueAt(TimePoint at) const {
  switch (kind) {
    case Kind::kImmediate:
    case Kind::kPerUpload:
      return at;
    case Kind::kWindow: {
      // Windows are aligned to the epoch so every alert of one window gets the same end
      // without any state: the end is the next multiple of the window after `at`.
      const auto since_epoch = std::chrono::duration_cast<std::chrono::minutes>(
          at.time_since_epoch() - at.time_since_epoch() % window);
      return TimePoint(std::chrono::duration_cast<TimePoint::duration>(since_epoch + window));
    }
    case Kind::kDaily:
      return ToTimePoint(NextLocal(zone, absl::FromChrono(at), hour * 60 + minute));
  }
  return at;
}

absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name) {
  if (name.empty()) return absl::UTCTimeZone();
  // Zone names are looked up as files under /usr/share/zoneinfo: keep them to the IANA
  // name alphabet so no name can walk out of it.
  const bool plain = name.size() <= 64 && name.front() != '/' &&
                     name.find("..") == std::string_view::npos &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
                              c == '-' || c == '+';
                     });
  absl::TimeZone zone;
  if (!plain || name == "localtime" || !absl::LoadTimeZone(std::string(name), &zone)) {
    return BadField("timezone", name, "is not a known IANA time zone (e.g. Europe/Berlin)");
  }
  return zone;
}

absl::StatusOr<DigestSpec> ParseDigest(std::string_view spec) {
  DigestSpec out;
  if (spec.empty() || spec == "immediate") return out;
  if (spec == "per-upload") {
    out.kind = DigestSpec::Kind::kPerUpload;
    return out;
  }
  constexpr std::string_view kUsage =
      "is not a digest: use immediate, per-upload, Nm, Nh or \"daily HH:MM Zone/Name\"";
  if (spec.starts_with("daily ")) {
    std::string_view rest = spec.substr(6);
    const size_t space = rest.find(' ');
    const std::string_view clock = rest.substr(0, space);
    const std::string_view zone_name =
        space == std::string_view::npos ? std::string_view("UTC") : rest.substr(space + 1);
    const std::optional<int> minutes = ParseClock(clock);
    if (!minutes || zone_name.empty()) return BadField("digest", spec, kUsage);
    absl::StatusOr<absl::TimeZone> zone = LoadZone(zone_name);
    if (!zone.ok()) {
      return BadField("digest", spec,
                      fmt::format("names an unknown time zone \"{}\"", zone_name.substr(0, 64)));
    }
    out.kind = DigestSpec::Kind::kDaily;
    out.hour = *minutes / 60;
    out.minute = *minutes % 60;
    out.zone_name = std::string(zone_name);
    out.zone = *zone;
    return out;
  }
  const char unit = spec.back();
  int64_t n = 0;
  const std::string_view digits = spec.substr(0, spec.size() - 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
      (unit != 'm' && unit != 'h')) {
    return BadField("digest", spec, kUsage);
  }
  const int64_t minutes = unit == 'h' ? n * 60 : n;
  if (n < 1 || minutes > 24 * 60) {
    return BadField("digest", spec, "must be a window of 1m to 24h");
  }
  out.kind = DigestSpec::Kind::kWindow;
  out.window = std::chrono::minutes(minutes);
  return out;
}

std::string QuietHours::Canonical() const {
  return FormatClock(start_minute) + "-" + FormatClock(end_minute);
}

TimePoint QuietHours::Release(TimePoint t) const {
  const absl::Time at = absl::FromChrono(t);
  const absl::CivilSecond local = zone.At(at).cs;
  const int m = local.hour() * 60 + local.minute();
  const bool inside = start_minute < end_minute ? (m >= start_minute && m < end_minute)
                                                : (m >= start_minute || m < end_minute);
  if (!inside) return t;
  const absl::Time end = NextLocal(zone, at, end_minute);
  return end > at ? ToTimePoint(end) : t;
}

absl::StatusOr<QuietHours> ParseQuietHours(std::string_view spec, absl::TimeZone zone) {
  const std::optional<int> start =
      spec.size() == 11 && spec[5] == '-' ? ParseClock(spec.substr(0, 5)) : std::nullopt;
  const std::optional<int> end =
      start ? ParseClock(spec.substr(6)) : std::optional<int>(std::nullopt);
  if (!start || !end) {
    return BadField("quiet_hours", spec, "is not a local time window HH:MM-HH:MM (22:00-07:00)");
  }
  if (*start == *end) return BadField("quiet_hours", spec, "is an empty window");
  return QuietHours{*start, *end, zone};
}

absl::StatusOr<DeliverySchedule> CanonicalSchedule(const DeliverySchedule& schedule) {
  DeliverySchedule out;
  SW_ASSIGN_OR_RETURN(DigestSpec digest, ParseDigest(schedule.digest));
  out.digest = digest.Canonical();
  SW_ASSIGN_OR_RETURN(absl::TimeZone zone, LoadZone(schedule.timezone));
  out.timezone = schedule.timezone;
  if (!schedule.quiet_hours.empty()) {
    SW_ASSIGN_OR_RETURN(QuietHours quiet, ParseQuietHours(schedule.quiet_hours, zone));
    out.quiet_hours = quiet.Canonical();
  }
  return out;
}

absl::StatusOr<Subscription> ApplySubscriptionUpdate(Subscription subscription,
                                                     const SubscriptionUpdate& update) {
  if (update.filter_policy) {
    SW_ASSIGN_OR_RETURN(subscription.filter_policy, CanonicalFilterPolicy(*update.filter_policy));
  }
  // The merged schedule is checked as a whole: new quiet hours are read in the time zone the
  // subscription will have, whether that one changes too or not.
  DeliverySchedule schedule{subscription.digest, subscription.quiet_hours, subscription.timezone};
  if (update.digest) schedule.digest = *update.digest;
  if (update.quiet_hours) schedule.quiet_hours = *update.quiet_hours;
  if (update.timezone) schedule.timezone = *update.timezone;
  SW_ASSIGN_OR_RETURN(schedule, CanonicalSchedule(schedule));
  subscription.digest = std::move(schedule.digest);
  subscription.quiet_hours = std::move(schedule.quiet_hours);
  subscription.timezone = std::move(schedule.timezone);
  return subscription;
}

absl::StatusOr<ParsedSchedule> ParseSchedule(const Subscription& subscription) {
  ParsedSchedule out;
  SW_ASSIGN_OR_RETURN(out.digest, ParseDigest(subscription.digest));
  if (!subscription.quiet_hours.empty()) {
    SW_ASSIGN_OR_RETURN(absl::TimeZone zone, LoadZone(subscription.timezone));
    SW_ASSIGN_OR_RETURN(out.quiet, ParseQuietHours(subscription.quiet_hours, zone));
  }
  return out;
}

Message DigestMessage(const std::vector<Message>& messages, Protocol protocol,
                      std::string_view key) {
  Message out;
  out.id = "digest-" + std::string(key);
  if (messages.empty()) return out;
  std::vector<std::string_view> stores;
  std::set<std::string_view> seen;
  for (const Message& m : messages) {
    if (seen.insert(m.store).second) stores.push_back(m.store);
  }
  constexpr size_t kStoresShown = 3;
  std::string store_list;
  for (size_t i = 0; i < std::min(stores.size(), kStoresShown); ++i) {
    if (i > 0) store_list += ", ";
    store_list += stores[i];
  }
  if (stores.size() > kStoresShown) store_list += ", ...";
  out.subject = fmt::format("Stockwatch: {} alert{} ({})", messages.size(),
                            messages.size() == 1 ? "" : "s", store_list);
  // SMS sends subject and body as one text; leave room for the subject, its line break and
  // the "... and N more" line.
  const bool capped = protocol == Protocol::kSms;
  const size_t budget =
      kMaxSmsDigestChars - std::min(kMaxSmsDigestChars, CodePoints(out.subject) + 1);
  size_t used = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& line = messages[i].body;
    if (capped) {
      const size_t remaining = messages.size() - i;
      const std::string more = fmt::format("... and {} more", remaining - 1);
      const size_t need = CodePoints(line) + (used > 0 ? 1 : 0);
      // The last line needs no "more" line after it; any other needs room for one.
      const size_t reserve = remaining > 1 ? CodePoints(more) + 1 : 0;
      if (used + need + reserve > budget) {
        const std::string rest = fmt::format("... and {} more", remaining);
        if (used > 0) out.body += "\n";
        out.body += rest;
        break;
      }
      used += need;
    }
    if (i > 0) out.body += "\n";
    out.body += line;
  }
  out.topic = messages.front().topic;
  if (stores.size() == 1) out.store = std::string(stores.front());
  out.change_sequence = messages.back().change_sequence;
  out.at = messages.back().at;
  out.upload_id = messages.front().upload_id;
  for (const Message& m : messages) {
    if (m.upload_id != out.upload_id) out.upload_id = 0;
  }
  return out;
}

}  // namespace stockwatch::core
