#include "adapters/sqlite/sqlite_notifier.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "core/delivery/filter_policy.h"

namespace stockwatch::adapters {
namespace {

using core::Delivery;
using core::DeliveryState;
using core::Message;
using core::Protocol;
using core::Subscription;

// Stored enum values; never renumber.
int64_t StateValue(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return 0;
    case DeliveryState::kDelivered:
      return 1;
    case DeliveryState::kFailed:
      return 2;
  }
  return 0;
}

DeliveryState StateFrom(int64_t value) {
  return value == 1   ? DeliveryState::kDelivered
         : value == 2 ? DeliveryState::kFailed
                      : DeliveryState::kPending;
}

int64_t ProtocolValue(Protocol protocol) { return static_cast<int64_t>(protocol); }
Protocol ProtocolFrom(int64_t value) {
  return value >= 0 && value <= static_cast<int64_t>(Protocol::kSns) ? static_cast<Protocol>(value)
                                                                     : Protocol::kWebhook;
}

int64_t Limit(size_t limit) { return static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)); }

constexpr char kMessageColumns[] =
    "m.id, m.topic, m.subject, m.body, m.store, m.item, m.old_count, m.new_count, "
    "m.change_sequence, m.at_ns";
constexpr char kSubscriptionColumns[] =
    "s.id, s.topic, s.protocol, s.endpoint, s.created_at_ns, s.secret, s.filter_policy";

// Reads the message columns starting at `c`.
Message MessageFrom(const SqliteStatement& stmt, int c) {
  Message m;
  m.id = std::string(stmt.Text(c));
  m.topic = std::string(stmt.Text(c + 1));
  m.subject = std::string(stmt.Text(c + 2));
  m.body = std::string(stmt.Text(c + 3));
  m.store = std::string(stmt.Text(c + 4));
  m.item = std::string(stmt.Text(c + 5));
  m.old_count = stmt.OptionalInt64(c + 6);
  m.new_count = stmt.Int64(c + 7);
  m.change_sequence = static_cast<uint64_t>(stmt.Int64(c + 8));
  m.at = FromUnixNanos(stmt.Int64(c + 9));
  return m;
}

Subscription SubscriptionFrom(const SqliteStatement& stmt, int c) {
  Subscription s;
  s.id = stmt.Int64(c);
  s.topic = std::string(stmt.Text(c + 1));
  s.protocol = ProtocolFrom(stmt.Int64(c + 2));
  s.endpoint = std::string(stmt.Text(c + 3));
  s.created_at = FromUnixNanos(stmt.Int64(c + 4));
  s.secret = std::string(stmt.Text(c + 5));
  s.filter_policy = std::string(stmt.Text(c + 6));
  return s;
}

absl::StatusOr<bool> TopicExists(SqliteConnection& conn, std::string_view topic) {
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("SELECT 1 FROM topics WHERE name = ?"));
  stmt.BindText(1, topic);
  return stmt.Step();
}

// 32 random bytes as 64 lower-case hex digits, from OpenSSL's CSPRNG.
absl::StatusOr<std::string> NewSecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::UnavailableError("notifier: no random bytes for a subscription secret");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

absl::Status NoSuchDelivery(int64_t delivery_id) {
  return absl::NotFoundError("notifier: no delivery " + std::to_string(delivery_id));
}

absl::StatusOr<bool> DeliveryExists(SqliteConnection& conn, int64_t delivery_id) {
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare("SELECT 1 FROM deliveries WHERE id = ?"));
  stmt.Bind(1, delivery_id);
  return stmt.Step();
}

absl::Status UnknownTopic(std::string_view topic) {
  return absl::InvalidArgumentError("notifier: unknown topic \"" + std::string(topic) + "\"");
}

}  // namespace

SqliteNotifier::SqliteNotifier(std::shared_ptr<SqliteDatabase> db, core::Clock& clock)
    : db_(std::move(db)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<SqliteNotifier>> SqliteNotifier::Open(
    std::shared_ptr<SqliteDatabase> db, core::Clock& clock) {
  return std::unique_ptr<SqliteNotifier>(new SqliteNotifier(std::move(db), clock));
}

absl::Status SqliteNotifier::Publish(const std::vector<Message>& messages, uint64_t expected,
                                     uint64_t checkpoint) {
  return db_->WithWriteTransaction(
      Durability::kNormal, [&](SqliteConnection& conn) -> absl::Status {
        {
          SW_ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              conn.Prepare("SELECT value FROM meta WHERE name = 'checker_checkpoint'"));
          SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
          const uint64_t stored = row ? static_cast<uint64_t>(stmt.Int64(0)) : 0;
          if (stored != expected) {
            return absl::AbortedError("notifier: checkpoint is " + std::to_string(stored) +
                                      ", not " + std::to_string(expected) +
                                      " (another checker ran)");
          }
        }
        SW_ASSIGN_OR_RETURN(
            SqliteStatement insert,
            conn.Prepare("INSERT INTO messages (id, topic, subject, body, store, item, old_count, "
                         "new_count, change_sequence, at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT (id) DO NOTHING"));
        SW_ASSIGN_OR_RETURN(
            SqliteStatement fan_out,
            conn.Prepare("INSERT INTO deliveries (message_seq, subscription_id, state, attempts, "
                         "next_attempt_ns, last_error, updated_at_ns, since_ns) "
                         "VALUES (?1, ?2, 0, 0, ?3, '', ?3, ?3)"));
        SW_ASSIGN_OR_RETURN(SqliteStatement subscribers,
                            conn.Prepare("SELECT id, filter_policy FROM subscriptions "
                                         "WHERE topic = ? AND active ORDER BY id"));
        // The subscribers of each topic, with their parsed policies, read once per Publish.
        std::map<std::string, std::vector<std::pair<int64_t, std::optional<core::FilterPolicy>>>,
                 std::less<>>
            by_topic;
        for (const Message& m : messages) {
          SW_ASSIGN_OR_RETURN(bool known, TopicExists(conn, m.topic));
          if (!known) return UnknownTopic(m.topic);
          insert.BindText(1, m.id)
              .BindText(2, m.topic)
              .BindText(3, m.subject)
              .BindText(4, m.body)
              .BindText(5, m.store)
              .BindText(6, m.item)
              .Bind(7, m.old_count)
              .Bind(8, m.new_count)
              .Bind(9, static_cast<int64_t>(m.change_sequence))
              .Bind(10, ToUnixNanos(m.at));
          SW_RETURN_IF_ERROR(insert.Run());
          insert.Reset();
          if (conn.Changes() == 0) continue;  // already published
          const int64_t seq = conn.LastInsertRowid();
          auto topic = by_topic.find(m.topic);
          if (topic == by_topic.end()) {
            topic =
                by_topic
                    .emplace(m.topic,
                             std::vector<std::pair<int64_t, std::optional<core::FilterPolicy>>>())
                    .first;
            subscribers.BindText(1, m.topic);
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, subscribers.Step());
              if (!row) break;
              std::optional<core::FilterPolicy> policy;
              if (!subscribers.Text(1).empty()) {
                absl::StatusOr<core::FilterPolicy> parsed =
                    core::FilterPolicy::Parse(subscribers.Text(1));
                // Stored policies were validated at Subscribe; one that no longer parses
                // matches nothing rather than everything.
                if (!parsed.ok()) continue;
                policy = *std::move(parsed);
              }
              topic->second.emplace_back(subscribers.Int64(0), std::move(policy));
            }
            subscribers.Reset();
          }
          if (topic->second.empty()) continue;
          const core::Attributes attributes = core::MessageAttributes(m);
          for (const auto& [subscription_id, policy] : topic->second) {
            if (policy && !policy->Matches(attributes)) continue;
            fan_out.Bind(1, seq).Bind(2, subscription_id).Bind(3, ToUnixNanos(m.at));
            SW_RETURN_IF_ERROR(fan_out.Run());
            fan_out.Reset();
          }
        }
        SW_ASSIGN_OR_RETURN(SqliteStatement save,
                            conn.Prepare("INSERT INTO meta (name, value) VALUES "
                                         "('checker_checkpoint', ?) ON CONFLICT (name) DO UPDATE "
                                         "SET value = excluded.value"));
        save.Bind(1, static_cast<int64_t>(checkpoint));
        return save.Run();
      });
}

absl::StatusOr<uint64_t> SqliteNotifier::Checkpoint() {
  uint64_t checkpoint = 0;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT value FROM meta WHERE name = 'checker_checkpoint'"));
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row) checkpoint = static_cast<uint64_t>(stmt.Int64(0));
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return checkpoint;
}

absl::StatusOr<std::vector<Message>> SqliteNotifier::RecentMessages(
    std::optional<std::string> topic, size_t limit) {
  std::vector<Message> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            const std::string sql = std::string("SELECT ") + kMessageColumns + " FROM messages m " +
                                    (topic ? "WHERE m.topic = ?2 " : "") +
                                    "ORDER BY m.seq DESC LIMIT ?1";
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
            stmt.Bind(1, Limit(limit));
            if (topic) stmt.BindText(2, *topic);
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(MessageFrom(stmt, 0));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<Subscription> SqliteNotifier::Subscribe(std::string_view topic, Protocol protocol,
                                                       std::string_view endpoint,
                                                       core::TimePoint at,
                                                       std::string_view filter_policy) {
  if (endpoint.empty()) return absl::InvalidArgumentError("notifier: endpoint is empty");
  SW_ASSIGN_OR_RETURN(std::string policy, core::CanonicalFilterPolicy(filter_policy));
  Subscription out;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(bool known, TopicExists(conn, topic));
            if (!known) return UnknownTopic(topic);
            {
              SW_ASSIGN_OR_RETURN(
                  SqliteStatement stmt,
                  conn.Prepare(std::string("SELECT ") + kSubscriptionColumns +
                               " FROM subscriptions s WHERE s.topic = ? AND s.endpoint = ? AND "
                               "s.active"));
              stmt.BindText(1, topic).BindText(2, endpoint);
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (row) {
                out = SubscriptionFrom(stmt, 0);
                return absl::OkStatus();
              }
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement insert,
                conn.Prepare("INSERT INTO subscriptions (topic, protocol, endpoint, created_at_ns, "
                             "secret, filter_policy) VALUES (?, ?, ?, ?, ?, ?)"));
            SW_ASSIGN_OR_RETURN(out.secret, NewSecret());
            insert.BindText(1, topic)
                .Bind(2, ProtocolValue(protocol))
                .BindText(3, endpoint)
                .Bind(4, ToUnixNanos(at))
                .BindText(5, out.secret)
                .BindText(6, policy);
            SW_RETURN_IF_ERROR(insert.Run());
            out.id = conn.LastInsertRowid();
            out.topic = std::string(topic);
            out.protocol = protocol;
            out.endpoint = std::string(endpoint);
            out.created_at = at;
            out.filter_policy = policy;
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::Status SqliteNotifier::Unsubscribe(int64_t subscription_id) {
  const int64_t now = ToUnixNanos(clock_.Now());
  return db_->WithWriteTransaction(
      Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        {
          SW_ASSIGN_OR_RETURN(
              SqliteStatement stmt,
              conn.Prepare("UPDATE subscriptions SET active = 0 WHERE id = ? AND active"));
          stmt.Bind(1, subscription_id);
          SW_RETURN_IF_ERROR(stmt.Run());
          if (conn.Changes() == 0) {
            return absl::NotFoundError("notifier: no subscription " +
                                       std::to_string(subscription_id));
          }
        }
        SW_ASSIGN_OR_RETURN(
            SqliteStatement fail,
            conn.Prepare("UPDATE deliveries SET state = 2, last_error = 'unsubscribed', "
                         "updated_at_ns = ? WHERE subscription_id = ? AND state = 0"));
        fail.Bind(1, now).Bind(2, subscription_id);
        return fail.Run();
      });
}

absl::StatusOr<std::vector<Subscription>> SqliteNotifier::Subscriptions() {
  std::vector<Subscription> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare(std::string("SELECT ") + kSubscriptionColumns +
                                             " FROM subscriptions s WHERE s.active ORDER BY s.id"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(SubscriptionFrom(stmt, 0));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SqliteNotifier::Topics() {
  std::vector<std::string> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT name FROM topics ORDER BY name"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.emplace_back(stmt.Text(0));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<std::vector<Delivery>> SqliteNotifier::LoadDeliveries(
    const std::string& where, absl::FunctionRef<void(SqliteStatement&)> bind) {
  std::vector<Delivery> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            const std::string sql =
                std::string(
                    "SELECT d.id, d.state, d.attempts, d.next_attempt_ns, d.last_error, "
                    "d.updated_at_ns, d.since_ns, d.redrives, ") +
                kMessageColumns + ", " + kSubscriptionColumns +
                " FROM deliveries d JOIN messages m ON m.seq = d.message_seq "
                "JOIN subscriptions s ON s.id = d.subscription_id " +
                where;
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt, conn.Prepare(sql));
            bind(stmt);
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              Delivery d;
              d.id = stmt.Int64(0);
              d.state = StateFrom(stmt.Int64(1));
              d.attempts = static_cast<int>(stmt.Int64(2));
              d.next_attempt_at = FromUnixNanos(stmt.Int64(3));
              d.last_error = std::string(stmt.Text(4));
              d.updated_at = FromUnixNanos(stmt.Int64(5));
              d.since = FromUnixNanos(stmt.Int64(6));
              d.redrives = static_cast<int>(stmt.Int64(7));
              d.message = MessageFrom(stmt, 8);
              d.subscription = SubscriptionFrom(stmt, 18);
              out.push_back(std::move(d));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<Delivery> SqliteNotifier::GetDelivery(int64_t delivery_id) {
  SW_ASSIGN_OR_RETURN(
      std::vector<Delivery> found,
      LoadDeliveries("WHERE d.id = ?1", [&](SqliteStatement& stmt) { stmt.Bind(1, delivery_id); }));
  if (found.empty()) return NoSuchDelivery(delivery_id);
  return std::move(found.front());
}

absl::StatusOr<std::vector<core::DeliveryAttempt>> SqliteNotifier::Attempts(int64_t delivery_id) {
  std::vector<core::DeliveryAttempt> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(bool known, DeliveryExists(conn, delivery_id));
            if (!known) return NoSuchDelivery(delivery_id);
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT at_ns, error FROM delivery_attempts "
                                             "WHERE delivery_id = ? ORDER BY id"));
            stmt.Bind(1, delivery_id);
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back({FromUnixNanos(stmt.Int64(0)), std::string(stmt.Text(1))});
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<int64_t> SqliteNotifier::Redrive(std::optional<int64_t> delivery_id,
                                                core::TimePoint at) {
  int64_t redriven = 0;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            if (delivery_id) {
              SW_ASSIGN_OR_RETURN(
                  SqliteStatement stmt,
                  conn.Prepare("SELECT d.state, s.active FROM deliveries d JOIN subscriptions s "
                               "ON s.id = d.subscription_id WHERE d.id = ?"));
              stmt.Bind(1, *delivery_id);
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return NoSuchDelivery(*delivery_id);
              if (StateFrom(stmt.Int64(0)) != DeliveryState::kFailed) {
                return absl::FailedPreconditionError(
                    "notifier: delivery " + std::to_string(*delivery_id) + " is " +
                    std::string(core::DeliveryStateName(StateFrom(stmt.Int64(0)))) +
                    ", not failed");
              }
              if (stmt.Int64(1) == 0) {
                return absl::FailedPreconditionError("notifier: the subscription of delivery " +
                                                     std::to_string(*delivery_id) + " was deleted");
              }
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement update,
                conn.Prepare(
                    std::string("UPDATE deliveries SET state = 0, attempts = 0, "
                                "next_attempt_ns = ?1, since_ns = ?1, updated_at_ns = ?1, "
                                "redrives = redrives + 1 WHERE state = 2 AND subscription_id IN "
                                "(SELECT id FROM subscriptions WHERE active)") +
                    (delivery_id ? " AND id = ?2" : "")));
            update.Bind(1, ToUnixNanos(at));
            if (delivery_id) update.Bind(2, *delivery_id);
            SW_RETURN_IF_ERROR(update.Run());
            redriven = conn.Changes();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return redriven;
}

absl::StatusOr<std::vector<Delivery>> SqliteNotifier::DueDeliveries(core::TimePoint now,
                                                                    size_t limit) {
  return LoadDeliveries(
      "WHERE d.state = 0 AND d.next_attempt_ns <= ?1 ORDER BY d.next_attempt_ns, d.id LIMIT ?2",
      [&](SqliteStatement& stmt) { stmt.Bind(1, ToUnixNanos(now)).Bind(2, Limit(limit)); });
}

absl::StatusOr<std::optional<core::TimePoint>> SqliteNotifier::NextDue() {
  std::optional<core::TimePoint> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT MIN(next_attempt_ns) FROM deliveries WHERE state = 0"));
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row && !stmt.IsNull(0)) out = FromUnixNanos(stmt.Int64(0));
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::Status SqliteNotifier::RecordAttempts(const std::vector<core::AttemptRecord>& attempts) {
  if (attempts.empty()) return absl::OkStatus();
  return db_->WithWriteTransaction(
      Durability::kNormal, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(SqliteStatement select,
                            conn.Prepare("SELECT state FROM deliveries WHERE id = ?"));
        SW_ASSIGN_OR_RETURN(
            SqliteStatement update,
            conn.Prepare(
                "UPDATE deliveries SET state = ?2, attempts = attempts + 1, last_error = ?3, "
                "next_attempt_ns = CASE WHEN ?2 = 0 THEN ?4 ELSE next_attempt_ns END, "
                "updated_at_ns = ?5 WHERE id = ?1"));
        SW_ASSIGN_OR_RETURN(
            SqliteStatement history,
            conn.Prepare(
                "INSERT INTO delivery_attempts (delivery_id, at_ns, error) VALUES (?, ?, ?)"));
        for (const core::AttemptRecord& attempt : attempts) {
          select.Bind(1, attempt.delivery_id);
          SW_ASSIGN_OR_RETURN(bool row, select.Step());
          if (!row) return NoSuchDelivery(attempt.delivery_id);
          const DeliveryState current = StateFrom(select.Int64(0));
          select.Reset();
          if (current != DeliveryState::kPending) continue;
          const core::AttemptOutcome& outcome = attempt.outcome;
          DeliveryState state = DeliveryState::kPending;
          if (outcome.delivered) {
            state = DeliveryState::kDelivered;
          } else if (outcome.permanent_failure) {
            state = DeliveryState::kFailed;
          }
          update.Bind(1, attempt.delivery_id)
              .Bind(2, StateValue(state))
              .BindText(3, outcome.delivered ? std::string_view() : std::string_view(outcome.error))
              .Bind(4, ToUnixNanos(outcome.next_attempt_at))
              .Bind(5, ToUnixNanos(attempt.at));
          SW_RETURN_IF_ERROR(update.Run());
          update.Reset();
          if (!outcome.delivered) {
            history.Bind(1, attempt.delivery_id)
                .Bind(2, ToUnixNanos(attempt.at))
                .BindText(3, outcome.error);
            SW_RETURN_IF_ERROR(history.Run());
            history.Reset();
          }
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<Delivery>> SqliteNotifier::Deliveries(std::optional<DeliveryState> state,
                                                                 size_t limit) {
  if (state) {
    return LoadDeliveries(
        "WHERE d.state = ?1 ORDER BY d.id DESC LIMIT ?2",
        [&](SqliteStatement& stmt) { stmt.Bind(1, StateValue(*state)).Bind(2, Limit(limit)); });
  }
  return LoadDeliveries("ORDER BY d.id DESC LIMIT ?1",
                        [&](SqliteStatement& stmt) { stmt.Bind(1, Limit(limit)); });
}

}  // namespace stockwatch::adapters
