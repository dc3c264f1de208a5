#include "core/delivery/reminders.h"

#include <algorithm>
#include <string>

#include "base/status.h"
#include "core/model/json.h"
#include "fmt/format.h"

namespace stockwatch::core {
namespace {

// The stock rule of a stored alert: its topic's when none was recorded.
std::string_view RuleOf(const Message& m) { return m.rule.empty() ? m.topic : m.rule; }

}  // namespace

bool OpensOutage(const Message& m) {
  return m.kind == MessageKind::kAlert && !m.since && m.topic == kTopicNoStock &&
         RuleOf(m) == kTopicNoStock;
}

bool ClosesOutage(const Message& m) {
  return m.kind == MessageKind::kAlert && RuleOf(m) == kTopicBackInStock;
}

Message ReminderMessage(int64_t outage_id, int number, std::string_view store,
                        std::string_view item, TimePoint since, TimePoint now) {
  Message m;
  m.id = fmt::format("reminder-{}-{}", outage_id, number);
  m.topic = std::string(kTopicNoStock);
  m.rule = std::string(kTopicNoStock);
  m.subject = "Inventory Alert!";
  m.body = fmt::format("{} is still out of stock of {} since {}", store, item, FormatTime(since));
  m.store = std::string(store);
  m.item = std::string(item);
  m.new_count = 0;
  m.old_count = 0;
  m.at = now;
  m.kind = MessageKind::kAlert;
  m.upload_id = 0;
  m.since = since;
  return m;
}

TimePoint NextReminderBase(TimePoint last, TimePoint now, std::chrono::seconds after) {
  const TimePoint on_grid = last + after;
  return on_grid + after > now ? on_grid : now;
}

absl::Status ValidateReminderOptions(const ReminderOptions& options) {
  if (options.after.count() < 0) {
    return absl::InvalidArgumentError(
        "notify.reminder_after_seconds must be 0 (off) or a number of seconds");
  }
  if (options.limit < 0 || options.limit > 100) {
    return absl::InvalidArgumentError("notify.reminder_limit must be between 0 and 100");
  }
  return absl::OkStatus();
}

absl::StatusOr<ReminderPass> RunReminderPass(Notifier& notifier, TimePoint now,
                                             const ReminderOptions& options) {
  ReminderPass pass;
  const size_t batch = std::max<size_t>(options.batch, 1);
  while (true) {
    SW_ASSIGN_OR_RETURN(int64_t published,
                        notifier.PublishReminders(now, options.after, options.limit, batch));
    pass.published += published;
    if (published < static_cast<int64_t>(batch)) break;
  }
  pass.next = now + std::min(options.max_sleep, options.after);
  SW_ASSIGN_OR_RETURN(std::optional<TimePoint> due,
                      notifier.NextReminderDue(options.after, options.limit));
  if (due) pass.next = std::clamp(*due, now, pass.next);
  return pass;
}

}  // namespace stockwatch::core
