#include "core/auth/password.h"

#include <sodium.h>

#include <utility>

namespace stockwatch::core {
namespace {

static_assert(crypto_pwhash_OPSLIMIT_INTERACTIVE == 2);
static_assert(crypto_pwhash_MEMLIMIT_INTERACTIVE == (64 << 20));

// Unicode's White_Space property.
bool IsWhiteSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

// Decodes the UTF-8 sequence at `s[*i]`, advancing `*i`; false if it is not well-formed
// (RFC 3629: shortest form only, no surrogates, nothing above U+10FFFF).
bool NextCodePoint(std::string_view s, size_t* i, char32_t* out) {
  const auto byte = [&](size_t at) { return static_cast<unsigned char>(s[at]); };
  const unsigned char lead = byte(*i);
  size_t length;
  char32_t c;
  char32_t min;
  if (lead < 0x80) {
    *out = lead;
    ++*i;
    return true;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2;
    c = lead & 0x1f;
    min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
    c = lead & 0x0f;
    min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
    c = lead & 0x07;
    min = 0x10000;
  } else {
    return false;
  }
  if (s.size() - *i < length) return false;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char next = byte(*i + k);
    if ((next & 0xc0) != 0x80) return false;
    c = (c << 6) | (next & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
  *out = c;
  *i += length;
  return true;
}

}  // namespace

absl::Status CheckPasswordRules(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError("password: at most " + std::to_string(kMaxPasswordBytes) +
                                      " bytes");
  }
  size_t chars = 0;
  bool only_space = true;
  for (size_t i = 0; i < password.size();) {
    char32_t c;
    if (!NextCodePoint(password, &i, &c)) {
      return absl::InvalidArgumentError("password: not valid UTF-8");
    }
    if (c == 0) return absl::InvalidArgumentError("password: must not contain NUL");
    if (!IsWhiteSpace(c)) only_space = false;
    ++chars;
  }
  if (chars < kMinPasswordChars) {
    return absl::InvalidArgumentError("password: at least " + std::to_string(kMinPasswordChars) +
                                      " characters");
  }
  if (only_space) return absl::InvalidArgumentError("password: must not be only whitespace");
  return absl::OkStatus();
}

PasswordHashParams PasswordHashParams::ForTestsOnly() {
  return PasswordHashParams{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

absl::StatusOr<PasswordHasher> PasswordHasher::Create(PasswordHashParams params) {
  if (sodium_init() < 0) return absl::InternalError("password: libsodium failed to initialise");
  if (params.ops_limit < crypto_pwhash_OPSLIMIT_MIN ||
      params.ops_limit > crypto_pwhash_OPSLIMIT_MAX ||
      params.mem_limit < crypto_pwhash_MEMLIMIT_MIN ||
      params.mem_limit > crypto_pwhash_MEMLIMIT_MAX) {
    return absl::InvalidArgumentError("password: hash parameters outside libsodium's limits");
  }
  PasswordHasher hasher(params);
  // A random password nobody knows: DummyVerify() can never succeed.
  unsigned char secret[32];
  randombytes_buf(secret, sizeof(secret));
  auto dummy = hasher.Hash(std::string_view(reinterpret_cast<const char*>(secret), sizeof(secret)));
  sodium_memzero(secret, sizeof(secret));
  if (!dummy.ok()) return dummy.status();
  hasher.dummy_hash_ = *std::move(dummy);
  return hasher;
}

absl::StatusOr<std::string> PasswordHasher::Hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params_.ops_limit,
                            params_.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError("password: out of memory hashing a password");
  }
  return std::string(out);
}

bool PasswordHasher::Verify(std::string_view password, std::string_view hash) const {
  // libsodium wants a NUL-terminated hash; one with an embedded NUL is malformed.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES ||
      hash.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool PasswordHasher::NeedsRehash(std::string_view hash) const {
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES ||
      hash.find('\0') != std::string_view::npos) {
    return true;
  }
  const std::string terminated(hash);
  // The generic call also accepts argon2i hashes; only argon2id ones are kept.
  if (terminated.rfind(crypto_pwhash_argon2id_STRPREFIX, 0) != 0) return true;
  return crypto_pwhash_str_needs_rehash(terminated.c_str(), params_.ops_limit, params_.mem_limit) !=
         0;
}

bool PasswordHasher::DummyVerify(std::string_view password) const {
  // Verify()'s result is dropped: the dummy password is random and unknown.
  (void)Verify(password, dummy_hash_);
  return false;
}

}  // namespace stockwatch::core
