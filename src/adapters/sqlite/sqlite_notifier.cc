#include "adapters/sqlite/sqlite_notifier.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "core/checker/topic_routes.h"
#include "core/delivery/filter_policy.h"
#include "core/delivery/reminders.h"
#include "core/delivery/schedule.h"
#include "core/delivery/templates.h"

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
    "m.change_sequence, m.at_ns, m.kind, m.upload_id, m.rule, m.threshold, m.since_ns";
constexpr int kMessageColumnCount = 15;
constexpr char kSubscriptionColumns[] =
    "s.id, s.topic, s.protocol, s.endpoint, s.created_at_ns, s.secret, s.filter_policy, "
    "s.status, s.confirm_expires_ns, s.digest, s.quiet_hours, s.timezone";

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
  switch (stmt.Int64(c + 10)) {
    case 1:
      m.kind = core::MessageKind::kSubscriptionConfirmation;
      break;
    case 2:
      m.kind = core::MessageKind::kTest;
      break;
    default:
      m.kind = core::MessageKind::kAlert;
  }
  m.upload_id = stmt.Int64(c + 11);
  m.rule = std::string(stmt.Text(c + 12));
  m.threshold = stmt.OptionalInt64(c + 13);
  if (std::optional<int64_t> since = stmt.OptionalInt64(c + 14)) m.since = FromUnixNanos(*since);
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
  s.status = stmt.Int64(c + 7) == 0 ? core::SubscriptionStatus::kPendingConfirmation
                                    : core::SubscriptionStatus::kConfirmed;
  if (s.status == core::SubscriptionStatus::kPendingConfirmation) {
    s.confirmation_expires_at = FromUnixNanos(stmt.Int64(c + 8));
  }
  s.digest = std::string(stmt.Text(c + 9));
  s.quiet_hours = std::string(stmt.Text(c + 10));
  s.timezone = std::string(stmt.Text(c + 11));
  return s;
}

// The raw SHA-256 of a confirmation token: all that is stored of it.
std::string Sha256(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// What a token looks like: 64 lower-case hex digits. Anything else is refused before any
// lookup, which also bounds the input.
bool IsToken(std::string_view token) {
  return token.size() == 64 && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

absl::Status UnknownToken() {
  return absl::NotFoundError(
      "notifier: unknown or expired confirmation token (tokens work once, for a limited time)");
}

// Whether `topic` is live: a built-in topic or a user topic not deleted.
absl::StatusOr<bool> TopicExists(SqliteConnection& conn, std::string_view topic) {
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                      conn.Prepare("SELECT 1 FROM topics WHERE name = ? AND deleted = 0"));
  stmt.BindText(1, topic);
  return stmt.Step();
}

enum class TopicState { kUnknown, kLive, kDeleted };

absl::StatusOr<TopicState> TopicStateOf(SqliteConnection& conn, std::string_view topic) {
  SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                      conn.Prepare("SELECT deleted FROM topics WHERE name = ?"));
  stmt.BindText(1, topic);
  SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return TopicState::kUnknown;
  return stmt.Int64(0) == 0 ? TopicState::kLive : TopicState::kDeleted;
}

// A `topics` row as a TopicInfo: name, builtin, urgent, rules, filter_policy, created_at_ns.
core::TopicInfo TopicInfoFrom(const SqliteStatement& stmt) {
  core::TopicInfo t;
  t.name = std::string(stmt.Text(0));
  t.builtin = stmt.Int64(1) != 0;
  t.urgent = stmt.Int64(2) != 0;
  const std::string_view rules = stmt.Text(3);
  if (t.builtin || rules.empty()) {
    t.rules = {t.name};
  } else {
    size_t start = 0;
    while (start <= rules.size()) {
      const size_t comma = std::min(rules.find(',', start), rules.size());
      t.rules.emplace_back(rules.substr(start, comma - start));
      start = comma + 1;
    }
  }
  t.filter_policy = std::string(stmt.Text(4));
  t.created_at = FromUnixNanos(stmt.Int64(5));
  return t;
}

// 32 random bytes as 64 lower-case hex digits, from OpenSSL's CSPRNG: a webhook signing
// secret or a confirmation token.
absl::StatusOr<std::string> NewSecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::UnavailableError("notifier: no random bytes for a subscription secret or token");
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

// Opens or closes the outage `m` is about (core::OpensOutage, core::ClosesOutage), in the
// transaction that stores `m`.
absl::Status TrackOutage(SqliteConnection& conn, const Message& m) {
  if (core::OpensOutage(m)) {
    SW_ASSIGN_OR_RETURN(
        SqliteStatement open,
        conn.Prepare("INSERT INTO outages (store, item, since_ns, last_ns) "
                     "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (store, item) DO NOTHING"));
    open.BindText(1, m.store).BindText(2, m.item).Bind(3, ToUnixNanos(m.at));
    return open.Run();
  }
  if (core::ClosesOutage(m)) {
    SW_ASSIGN_OR_RETURN(SqliteStatement close,
                        conn.Prepare("DELETE FROM outages WHERE store = ? AND item = ?"));
    close.BindText(1, m.store).BindText(2, m.item);
    return close.Run();
  }
  return absl::OkStatus();
}

// Ends the active subscriptions that `condition` (an SQL condition on `subscriptions`, its
// parameters bound by `bind` from index 3) selects: their pending deliveries fail with `reason`
// at `now`, and they become inactive (a confirmation token they had stops working). Unsubscribe,
// DeleteTopic and PurgeExpiredSubscriptions all end subscriptions through it. Returns how many
// ended.
absl::StatusOr<int64_t> EndSubscriptions(SqliteConnection& conn, std::string_view condition,
                                         const std::function<void(SqliteStatement&)>& bind,
                                         std::string_view reason, int64_t now) {
  // The deliveries first, while the subscriptions still say which are ending.
  SW_ASSIGN_OR_RETURN(
      SqliteStatement fail,
      conn.Prepare("UPDATE deliveries SET state = 2, last_error = ?1, updated_at_ns = ?2 WHERE "
                   "state = 0 AND subscription_id IN (SELECT id FROM subscriptions WHERE active "
                   "AND (" +
                   std::string(condition) + "))"));
  fail.BindText(1, reason).Bind(2, now);
  bind(fail);
  SW_RETURN_IF_ERROR(fail.Run());
  SW_ASSIGN_OR_RETURN(SqliteStatement end,
                      conn.Prepare("UPDATE subscriptions SET active = 0, confirm_token_sha256 = "
                                   "NULL WHERE active AND (" +
                                   std::string(condition) + ")"));
  // `condition` numbers its parameters from 3 here too: ?1 and ?2 are left unused.
  bind(end);
  SW_RETURN_IF_ERROR(end.Run());
  return conn.Changes();
}

// Stores messages, each with one pending delivery per subscription of its topic that gets it:
// active, confirmed, not an SMS number that answered STOP, filter policy matching. Publish and
// PublishReminders both store through it, so they choose subscribers alike. Lives inside one
// write transaction.
class MessageWriter {
 public:
  static absl::StatusOr<MessageWriter> Prepare(SqliteConnection& conn) {
    SW_ASSIGN_OR_RETURN(
        SqliteStatement insert,
        conn.Prepare("INSERT INTO messages (id, topic, subject, body, store, item, old_count, "
                     "new_count, change_sequence, at_ns, upload_id, rule, threshold, since_ns) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (id) DO NOTHING"));
    SW_ASSIGN_OR_RETURN(
        SqliteStatement fan_out,
        conn.Prepare("INSERT INTO deliveries (message_seq, subscription_id, state, attempts, "
                     "next_attempt_ns, last_error, updated_at_ns, since_ns) "
                     "VALUES (?1, ?2, 0, 0, ?3, '', ?3, ?3)"));
    SW_ASSIGN_OR_RETURN(
        SqliteStatement subscribers,
        conn.Prepare("SELECT id, filter_policy FROM subscriptions WHERE topic = ? AND active "
                     "AND status = 1 AND NOT (protocol = 2 AND endpoint IN "
                     "(SELECT number FROM sms_opt_outs)) ORDER BY id"));
    return MessageWriter(conn, std::move(insert), std::move(fan_out), std::move(subscribers));
  }

  // Stores `m` and its deliveries, due at `m.at`, and opens or closes the outage it is about.
  // A message whose id is stored, or to a user topic deleted since the caller read the routes,
  // is skipped; kInvalidArgument for a topic that never existed.
  absl::Status Store(const Message& m) {
    SW_ASSIGN_OR_RETURN(TopicState state, TopicStateOf(conn_, m.topic));
    if (state == TopicState::kUnknown) return UnknownTopic(m.topic);
    if (state == TopicState::kDeleted) return absl::OkStatus();
    insert_.BindText(1, m.id)
        .BindText(2, m.topic)
        .BindText(3, m.subject)
        .BindText(4, m.body)
        .BindText(5, m.store)
        .BindText(6, m.item)
        .Bind(7, m.old_count)
        .Bind(8, m.new_count)
        .Bind(9, static_cast<int64_t>(m.change_sequence))
        .Bind(10, ToUnixNanos(m.at))
        .Bind(11, m.upload_id)
        .BindText(12, m.rule)
        .Bind(13, m.threshold)
        .Bind(14, m.since ? std::optional<int64_t>(ToUnixNanos(*m.since)) : std::nullopt);
    SW_RETURN_IF_ERROR(insert_.Run());
    insert_.Reset();
    if (conn_.Changes() == 0) return absl::OkStatus();  // already published
    const int64_t seq = conn_.LastInsertRowid();
    SW_RETURN_IF_ERROR(TrackOutage(conn_, m));
    SW_ASSIGN_OR_RETURN(const Subscribers* subscribers, SubscribersOf(m.topic));
    if (subscribers->empty()) return absl::OkStatus();
    const core::Attributes attributes = core::MessageAttributes(m);
    for (const auto& [subscription_id, policy] : *subscribers) {
      if (policy && !policy->Matches(attributes)) continue;
      fan_out_.Bind(1, seq).Bind(2, subscription_id).Bind(3, ToUnixNanos(m.at));
      SW_RETURN_IF_ERROR(fan_out_.Run());
      fan_out_.Reset();
    }
    return absl::OkStatus();
  }

 private:
  using Subscribers = std::vector<std::pair<int64_t, std::optional<core::FilterPolicy>>>;

  MessageWriter(SqliteConnection& conn, SqliteStatement insert, SqliteStatement fan_out,
                SqliteStatement subscribers)
      : conn_(conn),
        insert_(std::move(insert)),
        fan_out_(std::move(fan_out)),
        subscribers_(std::move(subscribers)) {}

  // The subscribers of `topic` with their parsed policies, read once per writer.
  absl::StatusOr<const Subscribers*> SubscribersOf(const std::string& topic) {
    auto it = by_topic_.find(topic);
    if (it != by_topic_.end()) return &it->second;
    Subscribers out;
    subscribers_.BindText(1, topic);
    while (true) {
      SW_ASSIGN_OR_RETURN(bool row, subscribers_.Step());
      if (!row) break;
      std::optional<core::FilterPolicy> policy;
      if (!subscribers_.Text(1).empty()) {
        absl::StatusOr<core::FilterPolicy> parsed = core::FilterPolicy::Parse(subscribers_.Text(1));
        // Stored policies were validated at Subscribe; one that no longer parses matches
        // nothing rather than everything.
        if (!parsed.ok()) continue;
        policy = *std::move(parsed);
      }
      out.emplace_back(subscribers_.Int64(0), std::move(policy));
    }
    subscribers_.Reset();
    return &by_topic_.emplace(topic, std::move(out)).first->second;
  }

  SqliteConnection& conn_;
  SqliteStatement insert_;
  SqliteStatement fan_out_;
  // Pending subscriptions get nothing until confirmed; SMS numbers that answered STOP get
  // nothing until they answer START.
  SqliteStatement subscribers_;
  std::map<std::string, Subscribers, std::less<>> by_topic_;
};

}  // namespace

SqliteNotifier::SqliteNotifier(std::shared_ptr<SqliteDatabase> db, core::Clock& clock,
                               core::NotifierOptions options)
    : db_(std::move(db)), clock_(clock), options_(options) {}

absl::StatusOr<std::unique_ptr<SqliteNotifier>> SqliteNotifier::Open(
    std::shared_ptr<SqliteDatabase> db, core::Clock& clock, core::NotifierOptions options) {
  return std::unique_ptr<SqliteNotifier>(new SqliteNotifier(std::move(db), clock, options));
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
        SW_ASSIGN_OR_RETURN(MessageWriter writer, MessageWriter::Prepare(conn));
        for (const Message& m : messages) SW_RETURN_IF_ERROR(writer.Store(m));
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
            const std::string sql =
                std::string("SELECT ") + kMessageColumns + " FROM messages m WHERE m.kind = 0 " +
                (topic ? "AND m.topic = ?2 " : "") + "ORDER BY m.seq DESC LIMIT ?1";
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
                                                       std::string_view filter_policy,
                                                       core::Confirmation confirmation,
                                                       const core::DeliverySchedule& schedule) {
  if (endpoint.empty()) return absl::InvalidArgumentError("notifier: endpoint is empty");
  SW_ASSIGN_OR_RETURN(std::string policy, core::CanonicalFilterPolicy(filter_policy));
  SW_ASSIGN_OR_RETURN(core::DeliverySchedule canonical, core::CanonicalSchedule(schedule));
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
                stmt.Reset();
                if (out.status == core::SubscriptionStatus::kPendingConfirmation &&
                    out.confirmation_expires_at <= at) {
                  return StartConfirmation(conn, out, at);
                }
                return absl::OkStatus();
              }
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement insert,
                conn.Prepare("INSERT INTO subscriptions (topic, protocol, endpoint, created_at_ns, "
                             "secret, filter_policy, digest, quiet_hours, timezone) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
            SW_ASSIGN_OR_RETURN(out.secret, NewSecret());
            insert.BindText(1, topic)
                .Bind(2, ProtocolValue(protocol))
                .BindText(3, endpoint)
                .Bind(4, ToUnixNanos(at))
                .BindText(5, out.secret)
                .BindText(6, policy)
                .BindText(7, canonical.digest)
                .BindText(8, canonical.quiet_hours)
                .BindText(9, canonical.timezone);
            SW_RETURN_IF_ERROR(insert.Run());
            out.id = conn.LastInsertRowid();
            out.topic = std::string(topic);
            out.protocol = protocol;
            out.endpoint = std::string(endpoint);
            out.created_at = at;
            out.filter_policy = policy;
            out.digest = canonical.digest;
            out.quiet_hours = canonical.quiet_hours;
            out.timezone = canonical.timezone;
            if (confirmation == core::Confirmation::kRequired) {
              return StartConfirmation(conn, out, at);
            }
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::Status SqliteNotifier::StartConfirmation(SqliteConnection& conn, Subscription& s,
                                               core::TimePoint at) {
  SW_ASSIGN_OR_RETURN(std::string token, NewSecret());
  const core::TimePoint expires = at + options_.confirmation_ttl;
  {
    SW_ASSIGN_OR_RETURN(
        SqliteStatement update,
        conn.Prepare("UPDATE subscriptions SET status = 0, "
                     "confirm_token_sha256 = ?, confirm_expires_ns = ? WHERE id = ?"));
    update.BindBlob(1, Sha256(token)).Bind(2, ToUnixNanos(expires)).Bind(3, s.id);
    SW_RETURN_IF_ERROR(update.Run());
  }
  SW_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      conn.Prepare("INSERT INTO messages (id, topic, subject, body, store, item, old_count, "
                   "new_count, change_sequence, at_ns, kind) "
                   "VALUES (?, ?, ?, ?, '', '', NULL, 0, 0, ?, 1)"));
  insert.BindText(1, "confirm-" + std::to_string(s.id) + "-" + std::to_string(ToUnixNanos(at)))
      .BindText(2, s.topic)
      .BindText(3, "Confirm your subscription to " + s.topic)
      .BindText(4, token)
      .Bind(5, ToUnixNanos(at));
  SW_RETURN_IF_ERROR(insert.Run());
  SW_ASSIGN_OR_RETURN(
      SqliteStatement fan_out,
      conn.Prepare("INSERT INTO deliveries (message_seq, subscription_id, state, attempts, "
                   "next_attempt_ns, last_error, updated_at_ns, since_ns) "
                   "VALUES (?1, ?2, 0, 0, ?3, '', ?3, ?3)"));
  fan_out.Bind(1, conn.LastInsertRowid()).Bind(2, s.id).Bind(3, ToUnixNanos(at));
  SW_RETURN_IF_ERROR(fan_out.Run());
  s.status = core::SubscriptionStatus::kPendingConfirmation;
  s.confirmation_expires_at = expires;
  return absl::OkStatus();
}

absl::StatusOr<Subscription> SqliteNotifier::ConfirmSubscription(std::string_view token,
                                                                 core::TimePoint now) {
  if (!IsToken(token)) return UnknownToken();
  const std::string hash = Sha256(token);
  Subscription out;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            // The lookup goes by the hash, through an index: timing it tells an attacker
            // about hashes of guesses, never about the token. The stored hash is compared
            // again in constant time all the same.
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare(std::string("SELECT s.confirm_token_sha256, ") + kSubscriptionColumns +
                             " FROM subscriptions s WHERE s.confirm_token_sha256 = ? AND "
                             "s.active AND s.status = 0"));
            stmt.BindBlob(1, hash);
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (!row) return UnknownToken();
            const std::string_view stored = stmt.Blob(0);
            if (stored.size() != hash.size() ||
                CRYPTO_memcmp(stored.data(), hash.data(), hash.size()) != 0) {
              return UnknownToken();
            }
            out = SubscriptionFrom(stmt, 1);
            stmt.Reset();
            if (!out.confirmation_expires_at || *out.confirmation_expires_at <= now) {
              return UnknownToken();
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement update,
                conn.Prepare("UPDATE subscriptions SET status = 1, confirm_token_sha256 = NULL, "
                             "confirm_expires_ns = 0 WHERE id = ?"));
            update.Bind(1, out.id);
            SW_RETURN_IF_ERROR(update.Run());
            out.status = core::SubscriptionStatus::kConfirmed;
            out.confirmation_expires_at.reset();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::Status SqliteNotifier::OptOutSms(std::string_view number, core::TimePoint at) {
  if (number.empty()) return absl::InvalidArgumentError("notifier: sms number is empty");
  const int64_t now = ToUnixNanos(clock_.Now());
  return db_->WithWriteTransaction(
      Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        {
          SW_ASSIGN_OR_RETURN(SqliteStatement insert,
                              conn.Prepare("INSERT INTO sms_opt_outs (number, at_ns) VALUES (?, ?) "
                                           "ON CONFLICT (number) DO NOTHING"));
          insert.BindText(1, number).Bind(2, ToUnixNanos(at));
          SW_RETURN_IF_ERROR(insert.Run());
        }
        SW_ASSIGN_OR_RETURN(
            SqliteStatement fail,
            conn.Prepare("UPDATE deliveries SET state = 2, last_error = 'opted out (STOP)', "
                         "updated_at_ns = ? WHERE state = 0 AND subscription_id IN "
                         "(SELECT id FROM subscriptions WHERE protocol = 2 AND endpoint = ?)"));
        fail.Bind(1, now).BindText(2, number);
        return fail.Run();
      });
}

absl::Status SqliteNotifier::OptInSms(std::string_view number) {
  return db_->WithWriteTransaction(
      Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                            conn.Prepare("DELETE FROM sms_opt_outs WHERE number = ?"));
        stmt.BindText(1, number);
        return stmt.Run();
      });
}

absl::StatusOr<std::vector<core::SmsOptOut>> SqliteNotifier::SmsOptOuts() {
  std::vector<core::SmsOptOut> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT number, at_ns FROM sms_opt_outs ORDER BY number"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back({std::string(stmt.Text(0)), FromUnixNanos(stmt.Int64(1))});
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<Subscription> SqliteNotifier::UpdateSubscription(
    int64_t id, const core::SubscriptionUpdate& update) {
  const int64_t now = ToUnixNanos(clock_.Now());
  Subscription out;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            {
              SW_ASSIGN_OR_RETURN(
                  SqliteStatement stmt,
                  conn.Prepare(std::string("SELECT ") + kSubscriptionColumns +
                               " FROM subscriptions s WHERE s.id = ? AND s.active"));
              stmt.Bind(1, id);
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row)
                return absl::NotFoundError("notifier: no subscription " + std::to_string(id));
              out = SubscriptionFrom(stmt, 0);
            }
            const Subscription before = out;
            SW_ASSIGN_OR_RETURN(out, core::ApplySubscriptionUpdate(std::move(out), update));
            if (out.digest != before.digest || out.quiet_hours != before.quiet_hours ||
                out.timezone != before.timezone) {
              // Held deliveries are planned again under the new schedule.
              SW_ASSIGN_OR_RETURN(
                  SqliteStatement release,
                  conn.Prepare("UPDATE deliveries SET next_attempt_ns = ?1 WHERE "
                               "subscription_id = ?2 AND state = 0 AND attempts = 0 AND "
                               "next_attempt_ns > ?1"));
              release.Bind(1, now).Bind(2, id);
              SW_RETURN_IF_ERROR(release.Run());
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement write,
                conn.Prepare("UPDATE subscriptions SET filter_policy = ?, digest = ?, "
                             "quiet_hours = ?, timezone = ? WHERE id = ?"));
            write.BindText(1, out.filter_policy)
                .BindText(2, out.digest)
                .BindText(3, out.quiet_hours)
                .BindText(4, out.timezone)
                .Bind(5, id);
            return write.Run();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

absl::StatusOr<int64_t> SqliteNotifier::PurgeExpiredSubscriptions(core::TimePoint now) {
  const int64_t stamp = ToUnixNanos(clock_.Now());
  int64_t purged = 0;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(purged,
                                EndSubscriptions(
                                    conn, "status = 0 AND confirm_expires_ns <= ?3",
                                    [&](SqliteStatement& stmt) { stmt.Bind(3, ToUnixNanos(now)); },
                                    "confirmation expired", stamp));
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return purged;
}

absl::Status SqliteNotifier::Unsubscribe(int64_t subscription_id) {
  const int64_t now = ToUnixNanos(clock_.Now());
  return db_->WithWriteTransaction(
      Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(
            const int64_t ended,
            EndSubscriptions(
                conn, "id = ?3", [&](SqliteStatement& stmt) { stmt.Bind(3, subscription_id); },
                "unsubscribed", now));
        if (ended == 0) {
          return absl::NotFoundError("notifier: no subscription " +
                                     std::to_string(subscription_id));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<Delivery> SqliteNotifier::SendTestMessage(int64_t subscription_id,
                                                         core::TimePoint at) {
  // A random suffix keeps message ids unique when two tests are sent within one clock tick.
  SW_ASSIGN_OR_RETURN(std::string nonce, NewSecret());
  int64_t delivery_id = 0;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kSynced,
          [&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement find,
                conn.Prepare("SELECT topic, status FROM subscriptions WHERE id = ? AND active"));
            find.Bind(1, subscription_id);
            SW_ASSIGN_OR_RETURN(bool row, find.Step());
            if (!row) {
              return absl::NotFoundError("notifier: no subscription " +
                                         std::to_string(subscription_id));
            }
            const std::string topic(find.Text(0));
            if (find.Int64(1) == 0) {
              return absl::FailedPreconditionError(
                  "subscription " + std::to_string(subscription_id) +
                  " is not confirmed yet: its endpoint must confirm it before it gets messages");
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement insert,
                conn.Prepare(
                    "INSERT INTO messages (id, topic, subject, body, store, item, old_count, "
                    "new_count, change_sequence, at_ns, kind) "
                    "VALUES (?, ?, ?, ?, '', '', NULL, 0, 0, ?, 2)"));
            insert
                .BindText(1, "test-" + std::to_string(subscription_id) + "-" +
                                 std::to_string(ToUnixNanos(at)) + "-" + nonce.substr(0, 8))
                .BindText(2, topic)
                .BindText(3, std::string(core::kTestMessageSubject))
                .BindText(4, core::TestMessageBody(subscription_id, topic))
                .Bind(5, ToUnixNanos(at));
            SW_RETURN_IF_ERROR(insert.Run());
            SW_ASSIGN_OR_RETURN(
                SqliteStatement fan_out,
                conn.Prepare(
                    "INSERT INTO deliveries (message_seq, subscription_id, state, attempts, "
                    "next_attempt_ns, last_error, updated_at_ns, since_ns) "
                    "VALUES (?1, ?2, 0, 0, ?3, '', ?3, ?3)"));
            fan_out.Bind(1, conn.LastInsertRowid())
                .Bind(2, subscription_id)
                .Bind(3, ToUnixNanos(at));
            SW_RETURN_IF_ERROR(fan_out.Run());
            delivery_id = conn.LastInsertRowid();
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return GetDelivery(delivery_id);
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
                                conn.Prepare("SELECT name FROM topics WHERE deleted = 0 "
                                             "ORDER BY name"));
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

absl::StatusOr<core::TopicInfo> SqliteNotifier::CreateTopic(std::string_view name,
                                                            const std::vector<std::string>& rules,
                                                            std::string_view filter_policy,
                                                            core::TimePoint at) {
  SW_RETURN_IF_ERROR(core::ValidateTopicName(name));
  SW_ASSIGN_OR_RETURN(std::vector<std::string> canonical_rules, core::CanonicalTopicRules(rules));
  SW_ASSIGN_OR_RETURN(std::string policy, core::CanonicalFilterPolicy(filter_policy));
  std::string joined;
  for (const std::string& rule : canonical_rules) {
    if (!joined.empty()) joined += ',';
    joined += rule;
  }
  SW_RETURN_IF_ERROR(
      db_->WithWriteTransaction(Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        {
          SW_ASSIGN_OR_RETURN(SqliteStatement taken,
                              conn.Prepare("SELECT name FROM topics WHERE deleted = 0 AND "
                                           "name = ? COLLATE NOCASE"));
          taken.BindText(1, name);
          SW_ASSIGN_OR_RETURN(bool row, taken.Step());
          if (row) {
            return absl::AlreadyExistsError("notifier: topic \"" + std::string(taken.Text(0)) +
                                            "\" already exists");
          }
        }
        // A deleted topic of that very name comes back; its messages name it still.
        SW_ASSIGN_OR_RETURN(
            SqliteStatement upsert,
            conn.Prepare(
                "INSERT INTO topics (name, urgent, builtin, rules, filter_policy, deleted, "
                "created_at_ns) VALUES (?1, 0, 0, ?2, ?3, 0, ?4) "
                "ON CONFLICT (name) DO UPDATE SET urgent = 0, rules = excluded.rules, "
                "filter_policy = excluded.filter_policy, deleted = 0, "
                "created_at_ns = excluded.created_at_ns WHERE builtin = 0"));
        upsert.BindText(1, name).BindText(2, joined).BindText(3, policy).Bind(4, ToUnixNanos(at));
        return upsert.Run();
      }));
  return core::TopicInfo{std::string(name), false, false, std::move(canonical_rules),
                         std::move(policy), at};
}

absl::Status SqliteNotifier::DeleteTopic(std::string_view name) {
  const int64_t now = ToUnixNanos(clock_.Now());
  const absl::Status deleted =
      db_->WithWriteTransaction(Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        {
          SW_ASSIGN_OR_RETURN(
              SqliteStatement find,
              conn.Prepare("SELECT builtin FROM topics WHERE name = ? AND deleted = 0"));
          find.BindText(1, name);
          SW_ASSIGN_OR_RETURN(bool row, find.Step());
          if (!row) return absl::NotFoundError("notifier: no topic \"" + std::string(name) + "\"");
          if (find.Int64(0) != 0) {
            return absl::FailedPreconditionError("notifier: \"" + std::string(name) +
                                                 "\" is a built-in topic and cannot be deleted");
          }
        }
        SW_RETURN_IF_ERROR(EndSubscriptions(
                               conn, "topic = ?3",
                               [&](SqliteStatement& stmt) { stmt.BindText(3, name); },
                               "topic deleted", now)
                               .status());
        {
          // A topic created again later under this name starts with the default wording.
          SW_ASSIGN_OR_RETURN(SqliteStatement templates,
                              conn.Prepare("DELETE FROM message_templates WHERE topic = ?"));
          templates.BindText(1, name);
          SW_RETURN_IF_ERROR(templates.Run());
        }
        SW_ASSIGN_OR_RETURN(
            SqliteStatement remove,
            conn.Prepare("UPDATE topics SET deleted = 1, urgent = 0 WHERE name = ?"));
        remove.BindText(1, name);
        return remove.Run();
      });
  if (!deleted.ok()) return deleted;
  templates_generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<core::TopicInfo>> SqliteNotifier::TopicInfos() {
  std::vector<core::TopicInfo> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT name, builtin, urgent, rules, filter_policy, created_at_ns "
                             "FROM topics WHERE deleted = 0 ORDER BY name"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              out.push_back(TopicInfoFrom(stmt));
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
              d.subscription = SubscriptionFrom(stmt, 8 + kMessageColumnCount);
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

absl::StatusOr<std::vector<Delivery>> SqliteNotifier::DueDeliveriesOf(int64_t subscription_id,
                                                                      core::TimePoint now,
                                                                      size_t limit) {
  return LoadDeliveries(
      "WHERE d.subscription_id = ?1 AND d.state = 0 AND d.next_attempt_ns <= ?2 "
      "ORDER BY d.next_attempt_ns, d.id LIMIT ?3",
      [&](SqliteStatement& stmt) {
        stmt.Bind(1, subscription_id).Bind(2, ToUnixNanos(now)).Bind(3, Limit(limit));
      });
}

absl::Status SqliteNotifier::Defer(const std::vector<int64_t>& delivery_ids,
                                   core::TimePoint until) {
  if (delivery_ids.empty()) return absl::OkStatus();
  return db_->WithWriteTransaction(
      Durability::kNormal, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(
            SqliteStatement update,
            conn.Prepare("UPDATE deliveries SET next_attempt_ns = ?2, "
                         "since_ns = CASE WHEN attempts = 0 THEN ?2 ELSE since_ns END "
                         "WHERE id = ?1 AND state = 0"));
        for (int64_t id : delivery_ids) {
          update.Bind(1, id).Bind(2, ToUnixNanos(until));
          SW_RETURN_IF_ERROR(update.Run());
          update.Reset();
        }
        return absl::OkStatus();
      });
}

absl::Status SqliteNotifier::SetTopicUrgent(std::string_view topic, bool urgent) {
  return db_->WithWriteTransaction(
      Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(SqliteStatement update,
                            conn.Prepare("UPDATE topics SET urgent = ? WHERE name = ? AND "
                                         "deleted = 0"));
        update.Bind(1, int64_t{urgent ? 1 : 0}).BindText(2, topic);
        SW_RETURN_IF_ERROR(update.Run());
        if (conn.Changes() == 0) return UnknownTopic(topic);
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<std::string>> SqliteNotifier::UrgentTopics() {
  std::vector<std::string> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT name FROM topics WHERE urgent AND "
                                             "deleted = 0 ORDER BY name"));
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

namespace {

// Stored protocol of a template: the Protocol value, -1 for any protocol.
int64_t TemplateProtocolValue(std::optional<Protocol> protocol) {
  return protocol ? ProtocolValue(*protocol) : -1;
}

absl::Status UnknownTemplateTopic(std::string_view topic) {
  return absl::NotFoundError("notifier: unknown topic \"" + std::string(topic) + "\"");
}

}  // namespace

absl::Status SqliteNotifier::SetTemplate(std::string_view topic, std::optional<Protocol> protocol,
                                         std::string_view subject, std::string_view body) {
  SW_RETURN_IF_ERROR(core::ParseTemplates(subject, body).status());
  const absl::Status txn =
      db_->WithWriteTransaction(Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(bool known, TopicExists(conn, topic));
        if (!known) return UnknownTemplateTopic(topic);
        SW_ASSIGN_OR_RETURN(
            SqliteStatement upsert,
            conn.Prepare("INSERT INTO message_templates (topic, protocol, subject, body) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (topic, protocol) DO UPDATE "
                         "SET subject = excluded.subject, body = excluded.body"));
        upsert.BindText(1, topic)
            .Bind(2, TemplateProtocolValue(protocol))
            .BindText(3, subject)
            .BindText(4, body);
        return upsert.Run();
      });
  if (!txn.ok()) return txn;
  templates_generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status SqliteNotifier::DeleteTemplate(std::string_view topic,
                                            std::optional<Protocol> protocol) {
  bool deleted = false;
  const absl::Status txn =
      db_->WithWriteTransaction(Durability::kSynced, [&](SqliteConnection& conn) -> absl::Status {
        SW_ASSIGN_OR_RETURN(bool known, TopicExists(conn, topic));
        if (!known) return UnknownTemplateTopic(topic);
        SW_ASSIGN_OR_RETURN(
            SqliteStatement del,
            conn.Prepare("DELETE FROM message_templates WHERE topic = ? AND protocol = ?"));
        del.BindText(1, topic).Bind(2, TemplateProtocolValue(protocol));
        SW_RETURN_IF_ERROR(del.Run());
        deleted = conn.Changes() > 0;
        return absl::OkStatus();
      });
  if (!txn.ok()) return txn;
  if (deleted) templates_generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<core::TemplateRecord>> SqliteNotifier::Templates() {
  std::vector<core::TemplateRecord> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(SqliteStatement stmt,
                                conn.Prepare("SELECT topic, protocol, subject, body FROM "
                                             "message_templates ORDER BY topic, protocol"));
            while (true) {
              SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
              if (!row) return absl::OkStatus();
              core::TemplateRecord record;
              record.topic = std::string(stmt.Text(0));
              const int64_t protocol = stmt.Int64(1);
              if (protocol >= 0) record.protocol = ProtocolFrom(protocol);
              record.subject = std::string(stmt.Text(2));
              record.body = std::string(stmt.Text(3));
              out.push_back(std::move(record));
            }
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

uint64_t SqliteNotifier::TemplatesGeneration() {
  return templates_generation_.load(std::memory_order_acquire);
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

absl::StatusOr<int64_t> SqliteNotifier::PublishReminders(core::TimePoint now,
                                                         std::chrono::seconds after, int limit,
                                                         size_t max) {
  if (after.count() <= 0) {
    return absl::InvalidArgumentError("notifier: the reminder interval must be positive");
  }
  const int64_t after_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(after).count();
  // Reminders reach the user topics whose rules include NoStock, as the checker routes
  // alerts. The topics are read before the transaction: one created meanwhile gets the next.
  SW_ASSIGN_OR_RETURN(const std::vector<core::TopicInfo> topics, TopicInfos());
  const core::TopicRouter router(topics);
  int64_t published = 0;
  if (const absl::Status txn = db_->WithWriteTransaction(
          Durability::kNormal,
          [&](SqliteConnection& conn) -> absl::Status {
            published = 0;
            struct Due {
              int64_t id;
              std::string store;
              std::string item;
              core::TimePoint since;
              core::TimePoint last;
              int reminders;
            };
            std::vector<Due> due;
            {
              SW_ASSIGN_OR_RETURN(
                  SqliteStatement select,
                  conn.Prepare("SELECT id, store, item, since_ns, last_ns, reminders FROM outages "
                               "WHERE last_ns <= ?1 AND reminders < ?2 ORDER BY last_ns, id "
                               "LIMIT ?3"));
              select.Bind(1, ToUnixNanos(now) - after_ns)
                  .Bind(2, int64_t{limit})
                  .Bind(3, Limit(max));
              while (true) {
                SW_ASSIGN_OR_RETURN(bool row, select.Step());
                if (!row) break;
                due.push_back(Due{select.Int64(0), std::string(select.Text(1)),
                                  std::string(select.Text(2)), FromUnixNanos(select.Int64(3)),
                                  FromUnixNanos(select.Int64(4)),
                                  static_cast<int>(select.Int64(5))});
              }
            }
            SW_ASSIGN_OR_RETURN(
                SqliteStatement advance,
                conn.Prepare("UPDATE outages SET reminders = ?, last_ns = ? WHERE id = ?"));
            SW_ASSIGN_OR_RETURN(MessageWriter writer, MessageWriter::Prepare(conn));
            for (const Due& o : due) {
              const int number = o.reminders + 1;
              const Message reminder =
                  core::ReminderMessage(o.id, number, o.store, o.item, o.since, now);
              SW_RETURN_IF_ERROR(writer.Store(reminder));
              for (const Message& copy : router.Route(reminder)) {
                SW_RETURN_IF_ERROR(writer.Store(copy));
              }
              advance.Bind(1, int64_t{number})
                  .Bind(2, ToUnixNanos(core::NextReminderBase(o.last, now, after)))
                  .Bind(3, o.id);
              SW_RETURN_IF_ERROR(advance.Run());
              advance.Reset();
              ++published;
            }
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return published;
}

absl::StatusOr<std::optional<core::TimePoint>> SqliteNotifier::NextReminderDue(
    std::chrono::seconds after, int limit) {
  std::optional<core::TimePoint> out;
  if (const absl::Status txn =
          db_->WithReadTransaction([&](SqliteConnection& conn) -> absl::Status {
            SW_ASSIGN_OR_RETURN(
                SqliteStatement stmt,
                conn.Prepare("SELECT MIN(last_ns) FROM outages WHERE reminders < ?"));
            stmt.Bind(1, int64_t{limit});
            SW_ASSIGN_OR_RETURN(bool row, stmt.Step());
            if (row && !stmt.IsNull(0)) out = FromUnixNanos(stmt.Int64(0)) + after;
            return absl::OkStatus();
          });
      !txn.ok()) {
    return txn;
  }
  return out;
}

}  // namespace stockwatch::adapters
