#include "core/auth/sealed_token.h"

#include <sodium.h>

#include <array>
#include <chrono>
#include <string>

#include "base/status.h"
#include "core/auth/jwt.h"

namespace stockwatch::core {
namespace {

using Key = std::array<unsigned char, crypto_secretbox_KEYBYTES>;

// BLAKE2b keyed with the secret over the purpose: one key per purpose.
Key PurposeKey(std::string_view secret, std::string_view purpose) {
  Key key;
  // crypto_generichash takes keys of at most crypto_generichash_KEYBYTES_MAX (64) bytes; a
  // longer secret is hashed down to that first.
  std::array<unsigned char, crypto_generichash_KEYBYTES_MAX> short_secret;
  size_t secret_size = secret.size();
  const unsigned char* secret_bytes = reinterpret_cast<const unsigned char*>(secret.data());
  if (secret.size() > short_secret.size()) {
    crypto_generichash(short_secret.data(), short_secret.size(), secret_bytes, secret.size(),
                       nullptr, 0);
    secret_bytes = short_secret.data();
    secret_size = short_secret.size();
  }
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(purpose.data()),
                     purpose.size(), secret_bytes, secret_size);
  sodium_memzero(short_secret.data(), short_secret.size());
  return key;
}

int64_t UnixSeconds(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

}  // namespace

absl::Status CheckSealSecret(std::string_view secret, std::string_view name) {
  if (secret.size() < kMinSealSecretBytes) {
    return absl::InvalidArgumentError(
        std::string(name) + " must be at least " + std::to_string(kMinSealSecretBytes) +
        " characters long (it has " + std::to_string(secret.size()) + ")");
  }
  return absl::OkStatus();
}

TokenSealer::TokenSealer(std::string_view secret) : secret_(secret) {
  SW_CHECK(secret.size() >= kMinSealSecretBytes);
  SW_CHECK(sodium_init() >= 0);
}

TokenSealer::~TokenSealer() { sodium_memzero(secret_.data(), secret_.size()); }

std::string TokenSealer::Seal(std::string_view purpose, nlohmann::json claims,
                              TimePoint expires_at) const {
  claims["exp"] = UnixSeconds(expires_at);
  const std::string plain = claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(out, crypto_secretbox_NONCEBYTES);
  Key key = PurposeKey(secret_, purpose);
  crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), out,
                        key.data());
  sodium_memzero(key.data(), key.size());
  return Base64UrlEncode(box);
}

absl::StatusOr<nlohmann::json> TokenSealer::Open(std::string_view purpose, std::string_view token,
                                                 TimePoint now) const {
  if (token.size() > kMaxSealedTokenBytes) {
    return absl::UnauthenticatedError("the " + std::string(purpose) + " token is too long");
  }
  absl::StatusOr<std::string> box = Base64UrlDecode(token);
  if (!box.ok() || box->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return absl::UnauthenticatedError("the " + std::string(purpose) + " token is malformed");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(box->data());
  std::string plain(box->size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  Key key = PurposeKey(secret_, purpose);
  const int opened = crypto_secretbox_open_easy(
      reinterpret_cast<unsigned char*>(plain.data()), in + crypto_secretbox_NONCEBYTES,
      box->size() - crypto_secretbox_NONCEBYTES, in, key.data());
  sodium_memzero(key.data(), key.size());
  if (opened != 0) {
    return absl::UnauthenticatedError("the " + std::string(purpose) +
                                      " token does not verify (changed, or sealed with another "
                                      "secret or for another purpose)");
  }
  nlohmann::json claims = nlohmann::json::parse(plain, nullptr, /*allow_exceptions=*/false);
  auto exp = claims.is_object() ? claims.find("exp") : claims.end();
  if (claims.is_discarded() || !claims.is_object() || exp == claims.end() ||
      !exp->is_number_integer()) {
    return absl::UnauthenticatedError("the " + std::string(purpose) + " token is malformed");
  }
  if (exp->get<int64_t>() <= UnixSeconds(now)) {
    return absl::UnauthenticatedError("the " + std::string(purpose) + " token has expired");
  }
  return claims;
}

}  // namespace stockwatch::core
