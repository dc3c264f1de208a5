// Passwords of local accounts: the rules a new password must meet, and argon2id hashing
// through libsodium. A hash is libsodium's PHC string ("$argon2id$v=19$m=65536,t=2,p=1$
// salt$hash"), which carries its own salt and cost parameters, so hashes made with older
// parameters keep verifying and NeedsRehash() tells when to replace them at a login.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stockwatch::core {

// Fewest characters (Unicode code points) and most bytes of a password.
inline constexpr size_t kMinPasswordChars = 12;
inline constexpr size_t kMaxPasswordBytes = 1024;

// OK if `password` may be set as a password; kInvalidArgument (naming the rule, never the
// password) otherwise. The rules, and why:
// - valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): the browser,
//   the CLI and any later normalisation must agree on what the characters are;
// - at least kMinPasswordChars code points: counted in characters as NIST SP 800-63B does,
//   so a short password is not made acceptable by writing it in a multi-byte script; 12 is
//   above NIST's floor of 8 and what OWASP suggests for single-factor logins;
// - at most kMaxPasswordBytes bytes: long passphrases are welcome (NIST asks for at least
//   64), but the request that carries one stays small;
// - no NUL: C strings, terminals and form encoders cut a password there;
// - not only whitespace (Unicode White_Space), which is an empty password in disguise.
// No composition rules and no normalisation: the bytes are hashed as given.
absl::Status CheckPasswordRules(std::string_view password);

// Cost of argon2id. The defaults are libsodium's INTERACTIVE limits (64 MiB, 2 passes),
// above OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane); one hash takes about
// 0.35 s on a CI machine.
struct PasswordHashParams {
  // Passes over memory (argon2's t). Default 2 (crypto_pwhash_OPSLIMIT_INTERACTIVE).
  uint64_t ops_limit = 2;
  // Memory used, bytes (argon2's m, in KiB in the hash string). Default 67108864 (64 MiB,
  // crypto_pwhash_MEMLIMIT_INTERACTIVE).
  size_t mem_limit = size_t{64} << 20;

  // libsodium's smallest limits (1 pass, 8 KiB): fast, and worthless against guessing.
  // For tests only.
  static PasswordHashParams ForTestsOnly();
};

// Hashes and verifies passwords with fixed parameters. Immutable after Create(), so
// thread-safe.
class PasswordHasher {
 public:
  // Initialises libsodium and makes the dummy hash DummyVerify() checks against (costing
  // one hash). kInternal if libsodium cannot be initialised; kInvalidArgument if `params`
  // are outside libsodium's limits; kResourceExhausted if the memory cannot be had.
  static absl::StatusOr<PasswordHasher> Create(PasswordHashParams params = {});

  // A new hash of `password` with a fresh random salt. Does not check CheckPasswordRules().
  // kResourceExhausted if the memory cannot be had.
  absl::StatusOr<std::string> Hash(std::string_view password) const;
  // Whether `password` matches `hash`; false as well for a malformed hash or one of another
  // algorithm. Costs what `hash`'s parameters say.
  bool Verify(std::string_view password, std::string_view hash) const;
  // Whether `hash` was made with other parameters (or another algorithm, or is malformed)
  // than params(), so it should be replaced by Hash() of the password just verified.
  bool NeedsRehash(std::string_view hash) const;
  // Verifies `password` against a hash of a random password made with params(), and
  // returns false. A login for an unknown user calls it so that it costs what a wrong
  // password for a known user costs, and both get the same answer in the same time.
  bool DummyVerify(std::string_view password) const;

  const PasswordHashParams& params() const { return params_; }
  // The hash DummyVerify() checks against; for tests.
  const std::string& dummy_hash() const { return dummy_hash_; }

 private:
  explicit PasswordHasher(PasswordHashParams params) : params_(params) {}

  PasswordHashParams params_;
  std::string dummy_hash_;
};

}  // namespace stockwatch::core
