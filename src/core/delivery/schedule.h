// When a subscription's deliveries may go out: digests, quiet hours and the digest message.
//
// Digest specs (Subscription::digest, canonical form in brackets):
//   "" or "immediate"          every alert on its own, as soon as it is published [""]
//   "per-upload"               one message for all alerts caused by one uploaded file
//   "Nm", "Nh"                 a window of N minutes (1..1440) or hours (1..24), aligned to
//                              multiples of the window since the Unix epoch (UTC): the
//                              alerts of one window go out together when it ends ["5m"]
//   "daily HH:MM Zone/Name"    one message a day at HH:MM local time in the IANA zone
//                              ("daily 08:00 Europe/Berlin")
// Quiet hours (Subscription::quiet_hours): "HH:MM-HH:MM" local time in
// Subscription::timezone (IANA name, "" for UTC); the window may wrap midnight
// ("22:00-07:00"). Deliveries due inside it are held until it ends, unless the topic is
// urgent.
//
// Local times follow the zone's rules (absl::TimeZone, /usr/share/zoneinfo): a local time
// skipped by a DST change means the instant of the change; one that occurs twice means the
// first occurrence.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/model/types.h"
#include "core/ports/notifier.h"

namespace stockwatch::core {

// A parsed digest spec.
struct DigestSpec {
  enum class Kind { kImmediate, kPerUpload, kWindow, kDaily };
  Kind kind = Kind::kImmediate;
  std::chrono::minutes window{0};  // kWindow
  int hour = 0;                    // kDaily
  int minute = 0;                  // kDaily
  std::string zone_name;           // kDaily
  absl::TimeZone zone;             // kDaily

  // The canonical spec: "" for immediate, "per-upload", "5m", "2h", "daily 08:00 Europe/Berlin".
  std::string Canonical() const;
  // When an alert published at `at` may go out: `at` for immediate and per-upload; the end
  // of its window (strictly after `at`) for a window or a daily digest.
  TimePoint DueAt(TimePoint at) const;
};

// kInvalidArgument, naming the field "digest", for anything the grammar above refuses or an
// unknown zone.
absl::StatusOr<DigestSpec> ParseDigest(std::string_view spec);

// The time zone named `name` ("" is UTC). kInvalidArgument, naming the field "timezone",
// for a name absl cannot load.
absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name);

// Parsed quiet hours: minutes after local midnight. start != end.
struct QuietHours {
  int start_minute = 0;
  int end_minute = 0;
  absl::TimeZone zone;

  // "22:00-07:00".
  std::string Canonical() const;
  // `t` when it is outside the quiet window; otherwise the end of the window it is in.
  TimePoint Release(TimePoint t) const;
};

// Parses "HH:MM-HH:MM" in `zone`. kInvalidArgument, naming the field "quiet_hours", for
// another form or an empty window (start == end).
absl::StatusOr<QuietHours> ParseQuietHours(std::string_view spec, absl::TimeZone zone);

// Validates `schedule` (Notifier::Subscribe's) and returns it in canonical form (digest "immediate"
// becomes ""). kInvalidArgument naming the bad field. A timezone without quiet hours is kept (it is
// shown).
absl::StatusOr<DeliverySchedule> CanonicalSchedule(const DeliverySchedule& schedule);

// `subscription` with `update` applied (Notifier::UpdateSubscription): the fields set replace
// its filter policy, digest, quiet hours and time zone; the result is validated and made
// canonical as Subscribe does (CanonicalFilterPolicy, CanonicalSchedule). kInvalidArgument
// naming the bad field.
absl::StatusOr<Subscription> ApplySubscriptionUpdate(Subscription subscription,
                                                     const SubscriptionUpdate& update);

// The parsed schedule of a subscription, cached by the dispatcher.
struct ParsedSchedule {
  DigestSpec digest;
  std::optional<QuietHours> quiet;
};
// kInvalidArgument as CanonicalSchedule.
absl::StatusOr<ParsedSchedule> ParseSchedule(const Subscription& subscription);

// Longest digest body for SMS, in characters (code points), subject line included.
inline constexpr size_t kMaxSmsDigestChars = 1600;

// The one message a digest of `messages` (non-empty, oldest first) sends over `protocol`:
// subject "Stockwatch: 500 alerts (Berlin, Hamburg, ...)", body one line per alert (the
// alert's message), with SMS bodies cut at whole lines to fit kMaxSmsDigestChars with
// "... and N more". Topic, store (when all alerts share one) and time come from the
// alerts; the id is "digest-" + `key`.
Message DigestMessage(const std::vector<Message>& messages, Protocol protocol,
                      std::string_view key);

}  // namespace stockwatch::core
