// Reminders: an item still out of stock some time after its NoStock alert is announced again
// ("Berlin is still out of stock of Echo Plus since 2026-11-25T15:21:50.123Z").
//
// The notifier keeps the open outages: Publish opens one for (store, item) when it stores a
// built-in NoStock alert (OpensOutage) and closes it when it stores a BackInStock alert
// (ClosesOutage), in the same transaction. Notifier::PublishReminders then publishes a
// reminder (ReminderMessage) for each outage whose next reminder is due, and advances it
// (NextReminderBase). These are the pure parts, shared by every notifier adapter, and one
// pass of the reminder loop that `stockwatch serve` runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/model/types.h"
#include "core/ports/notifier.h"

namespace stockwatch::core {

// Whether storing `m` opens an outage of (m.store, m.item): a built-in NoStock alert (kind
// kAlert, topic and rule NoStock) that is not itself a reminder (no `since`). An empty rule
// counts as the topic's, as stored messages read back.
bool OpensOutage(const Message& m);
// Whether storing `m` closes the outage of (m.store, m.item): a BackInStock alert, on any
// topic it was routed to.
bool ClosesOutage(const Message& m);

// The `number`-th reminder (1-based) of outage `outage_id` of (store, item), open since
// `since`, published at `now`: kind kAlert, topic and rule NoStock, subject "Inventory
// Alert!", body "<store> is still out of stock of <item> since <FormatTime(since)>", `since`
// set, counts 0, upload_id 0, and the id "reminder-<outage_id>-<number>", which is stable, so
// publishing it again adds nothing.
Message ReminderMessage(int64_t outage_id, int number, std::string_view store,
                        std::string_view item, TimePoint since, TimePoint now);

// What an outage's reminder schedule counts from once a reminder is published at `now` when
// it last counted from `last` (its start, or the previous reminder's slot): the next reminder
// is due `after` later. Reminders keep to the grid start + n * after while the notifier keeps
// up; when it fell more than one interval behind (the server was down), the missed reminders
// are not sent in a burst: the grid restarts at `now`.
TimePoint NextReminderBase(TimePoint last, TimePoint now, std::chrono::seconds after);

// Settings of the reminder loop (notify.reminder_after_seconds, notify.reminder_limit).
struct ReminderOptions {
  // An item still at 0 this long after its NoStock alert is announced again, and again every
  // further `after` while it stays at 0. 0 (the default) turns reminders off.
  std::chrono::seconds after{0};
  // Most reminders per outage. Default 3; 0..100 (0 sends none).
  int limit = 3;
  // Reminders published per transaction. Default 1000.
  size_t batch = 1000;
  // The loop looks for due reminders at least this often. Default 1 minute.
  std::chrono::seconds max_sleep{60};
};

// kInvalidArgument, naming the setting, unless after >= 0 and 0 <= limit <= 100.
absl::Status ValidateReminderOptions(const ReminderOptions& options);

struct ReminderPass {
  int64_t published = 0;  // reminders published by the pass
  TimePoint next;         // when to run the next pass
};

// One pass of the reminder loop at `now`: publishes every reminder due (in batches of
// options.batch, each its own transaction) and says when to look again: at the next due
// reminder, but no later than min(options.max_sleep, options.after) from `now`, since a
// NoStock alert published meanwhile opens an outage the loop does not hear of.
// REQUIRES: options.after > 0.
absl::StatusOr<ReminderPass> RunReminderPass(Notifier& notifier, TimePoint now,
                                             const ReminderOptions& options);

}  // namespace stockwatch::core
