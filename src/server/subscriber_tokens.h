// Unsubscribe tokens: what the link in every email carries, and what `/unsubscribe` checks.
//
// A token is "<subscription id>.<HMAC-SHA256(key, "unsubscribe:" + id) in hex>". Why an HMAC
// rather than a random token per subscription: the email channel needs the plain token in
// every message, so a random one would have to be kept in clear (or re-sent to the channel
// by the notifier); the HMAC is recomputed from the server's link key whenever it is
// needed, so nothing per subscription is stored at all, and the server checks a token by
// recomputing it and comparing in constant time. Tokens do not expire: RFC 8058 expects a
// List-Unsubscribe URL to keep working for as long as mail from us may be read. Replacing
// the key file revokes every link at once. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stockwatch::server {

// Longest token (or other link parameter) looked at; longer input is refused unread.
inline constexpr size_t kMaxLinkTokenBytes = 128;

// The 32-byte link key in `<data_dir>/link.key`, created (mode 0600, from OpenSSL's CSPRNG)
// when absent. kUnavailable if it cannot be read or written; kDataLoss if it is not 32
// bytes.
absl::StatusOr<std::string> LoadOrCreateLinkKey(const std::string& data_dir);

// The unsubscribe token of `subscription_id` under `key`.
std::string UnsubscribeToken(std::string_view key, int64_t subscription_id);

// The subscription id `token` was made for, if it was made with `key`; nullopt for anything
// else (malformed, too long, another key, tampered id).
std::optional<int64_t> VerifyUnsubscribeToken(std::string_view key, std::string_view token);

}  // namespace stockwatch::server
