// GET /api/v1/events: Server-Sent Events for the dashboard (docs/API.md, "Live updates").
//
// Each open stream watches the ports on the connection's own thread: at every tick it reads
// the change stream after the last change sent, the uploads after the last one reported, and,
// when the stock checker's checkpoint moved (or now and then, for reminders), the newest
// alerts. The reads are point or range reads on indexed columns, so a tick costs a few
// queries, and the listener bounds the number of open streams (ServerOptions::max_streams).
// Polling keeps the ports free of a notification API, as the `?wait=` long poll does.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/status.h"
#include "core/model/json.h"
#include "fmt/format.h"
#include "server/router.h"
#include "spdlog/spdlog.h"

namespace stockwatch::server {
namespace {

// Changes and uploads read per tick; more wait for the next tick.
constexpr size_t kEventBatch = 500;
// Newest alerts read when looking for new ones. More alerts than this published between
// two ticks (one upload sending 1,000 items out of stock) are not all announced: the
// dashboard reloads its alert list on any `alert` event.
constexpr size_t kAlertWindow = 500;
// Alerts are looked for at least every this many ticks even if the checker's checkpoint
// did not move: reminders are published without moving it.
constexpr int kAlertTicks = 10;

bool CoversStore(const core::ObjectScope& scope, std::string_view store) {
  return scope.all_stores || std::binary_search(scope.stores.begin(), scope.stores.end(), store);
}

// "<upload>-<change>-<alert>": the last upload reported (every upload up to it is loaded or
// rejected and was sent), the last change sent and the change sequence of the last alert
// sent. nullopt if `text` is not one.
struct EventCursor {
  int64_t upload = 0;
  uint64_t change = 0;
  uint64_t alert = 0;
};

std::optional<EventCursor> ParseEventCursor(std::string_view text) {
  EventCursor cursor;
  auto parse = [&text](auto& value, bool last) {
    size_t end = last ? text.size() : text.find('-');
    if (end == std::string_view::npos || end == 0) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, value);
    if (ec != std::errc() || ptr != text.data() + end) return false;
    text.remove_prefix(last ? end : end + 1);
    return true;
  };
  if (!parse(cursor.upload, false) || !parse(cursor.change, false) || !parse(cursor.alert, true) ||
      cursor.upload < 0) {
    return std::nullopt;
  }
  return cursor;
}

}  // namespace

// The producer of one stream. Holds the router (which outlives the server's connections)
// for its ports, its upload JSON and its shutdown flag.
class EventStream final : public StreamProducer {
 public:
  EventStream(ApiRouter& router, core::ObjectScope scope, EventCursor cursor,
              std::unordered_set<std::string> seen_alerts)
      : router_(router),
        scope_(std::move(scope)),
        cursor_(cursor),
        announced_pending_(cursor.upload),
        seen_alerts_(std::move(seen_alerts)),
        last_sent_(std::chrono::steady_clock::now()) {}

  bool Next(std::string& out, std::chrono::milliseconds max_wait) override {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    if (first_) {
      first_ = false;
      out += fmt::format("retry: {}\n\n", kEventRetryMillis);
    }
    while (!router_.shutting_down_.load(std::memory_order_relaxed)) {
      if (absl::Status polled = Poll(out); !polled.ok()) {
        spdlog::warn("event stream: {}", polled.ToString());
      }
      auto now = std::chrono::steady_clock::now();
      if (!out.empty()) {
        last_sent_ = now;
        return true;
      }
      if (now - last_sent_ >= kEventKeepAlive) {
        out += ": keepalive\n\n";
        last_sent_ = now;
        return true;
      }
      if (now + kEventPollInterval > deadline) return true;
      std::this_thread::sleep_for(kEventPollInterval);
    }
    return false;
  }

 private:
  absl::Status Poll(std::string& out) {
    SW_RETURN_IF_ERROR(PollChanges(out));
    SW_RETURN_IF_ERROR(PollUploads(out));
    return PollAlerts(out);
  }

  void Emit(std::string& out, std::string_view event, const nlohmann::json& data) {
    out += fmt::format("id: {}-{}-{}\nevent: {}\ndata: {}\n\n", cursor_.upload, cursor_.change,
                       cursor_.alert, event,
                       data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  absl::Status PollChanges(std::string& out) {
    SW_ASSIGN_OR_RETURN(std::vector<core::ChangeRecord> records,
                        router_.services_.changes.Read(cursor_.change, kEventBatch));
    for (const core::ChangeRecord& record : records) {
      cursor_.change = record.sequence;
      if (CoversStore(scope_, record.store)) Emit(out, "change", core::ToJson(record));
    }
    return absl::OkStatus();
  }

  // An upload is announced when it is stored (status pending) and again when it is loaded
  // or rejected; uploads are applied in order, so everything after the last applied one is
  // pending.
  absl::Status PollUploads(std::string& out) {
    SW_ASSIGN_OR_RETURN(int64_t applied, router_.services_.inventory.LastAppliedUpload());
    SW_ASSIGN_OR_RETURN(std::vector<core::ObjectCreatedEvent> events,
                        router_.services_.objects.EventsAfter(cursor_.upload, kEventBatch));
    for (const core::ObjectCreatedEvent& event : events) {
      const bool done = event.sequence <= applied;
      if (!done && event.sequence <= announced_pending_) continue;
      if (done) cursor_.upload = event.sequence;
      announced_pending_ = std::max(announced_pending_, event.sequence);
      if (!scope_.Covers(event.object.scope)) continue;
      SW_ASSIGN_OR_RETURN(nlohmann::json upload, router_.UploadWithStatus(event));
      Emit(out, "upload", upload);
    }
    return absl::OkStatus();
  }

  absl::Status PollAlerts(std::string& out) {
    SW_ASSIGN_OR_RETURN(uint64_t checkpoint, router_.services_.notifier.Checkpoint());
    if (checkpoint == checkpoint_ && ++ticks_since_alerts_ < kAlertTicks) {
      return absl::OkStatus();
    }
    SW_ASSIGN_OR_RETURN(std::vector<core::Message> messages,
                        router_.services_.notifier.RecentMessages(std::nullopt, kAlertWindow));
    checkpoint_ = checkpoint;
    ticks_since_alerts_ = 0;
    // Newest first: the new ones are those before the first already seen.
    size_t fresh = 0;
    while (fresh < messages.size() && !seen_alerts_.contains(messages[fresh].id)) ++fresh;
    for (size_t i = fresh; i-- > 0;) {
      const core::Message& message = messages[i];
      cursor_.alert = std::max(cursor_.alert, message.change_sequence);
      if (CoversStore(scope_, message.store)) Emit(out, "alert", core::ToJson(message));
    }
    if (fresh > 0) {
      seen_alerts_.clear();
      for (const core::Message& message : messages) seen_alerts_.insert(message.id);
    }
    return absl::OkStatus();
  }

  ApiRouter& router_;
  const core::ObjectScope scope_;
  EventCursor cursor_;
  int64_t announced_pending_ = 0;  // the last upload announced as pending
  std::unordered_set<std::string> seen_alerts_;
  uint64_t checkpoint_ = 0;
  int ticks_since_alerts_ = 0;
  bool first_ = true;
  std::chrono::steady_clock::time_point last_sent_;
};

absl::StatusOr<HttpResponse> ApiRouter::StreamEvents(const HttpRequest& request,
                                                     const core::Principal& principal) {
  std::optional<EventCursor> resume;
  if (std::optional<std::string_view> last = request.Header("last-event-id")) {
    resume = ParseEventCursor(*last);
  }
  EventCursor cursor;
  std::unordered_set<std::string> seen_alerts;
  SW_ASSIGN_OR_RETURN(std::vector<core::Message> recent,
                      services_.notifier.RecentMessages(std::nullopt, kAlertWindow));
  if (resume) {
    cursor = *resume;
    // Alerts of changes after the cursor's are sent again; older ones count as seen.
    for (const core::Message& message : recent) {
      if (message.change_sequence <= cursor.alert) seen_alerts.insert(message.id);
    }
  } else {
    // From now: the newest upload applied, the head of the change stream, the alerts there are.
    SW_ASSIGN_OR_RETURN(cursor.upload, services_.inventory.LastAppliedUpload());
    SW_ASSIGN_OR_RETURN(cursor.change, services_.notifier.Checkpoint());
    while (true) {
      SW_ASSIGN_OR_RETURN(std::vector<core::ChangeRecord> records,
                          services_.changes.Read(cursor.change, kEventBatch));
      if (records.empty()) break;
      cursor.change = records.back().sequence;
    }
    for (const core::Message& message : recent) {
      seen_alerts.insert(message.id);
      cursor.alert = std::max(cursor.alert, message.change_sequence);
    }
  }
  HttpResponse response;
  response.content_type = "text/event-stream";
  response.headers.emplace_back("Cache-Control", "no-store");
  // Asks a proxy in front (nginx) not to buffer the stream.
  response.headers.emplace_back("X-Accel-Buffering", "no");
  response.producer =
      std::make_unique<EventStream>(*this, principal.scope, cursor, std::move(seen_alerts));
  return response;
}

}  // namespace stockwatch::server
