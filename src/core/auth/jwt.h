// JSON Web Tokens as OpenID Connect providers sign them: compact JWS (RFC 7515) with RS256
// only, keys from a JSON Web Key Set (RFC 7517), and the claim checks an ID token needs
// (OpenID Connect Core 1.0, section 3.1.3.7, plus Amazon Cognito's `token_use`). Pure
// computation: fetching the key set is the caller's job (adapters/oidc).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model/types.h"
#include "nlohmann/json.hpp"

// OpenSSL's key type (`typedef struct evp_pkey_st EVP_PKEY;`), declared here so this header
// does not pull in OpenSSL.
struct evp_pkey_st;

namespace stockwatch::core {

// Longest compact token accepted, in bytes. Real ID tokens are 1 to 4 KiB.
inline constexpr size_t kMaxJwtBytes = 16 * 1024;
// Smallest and largest RSA modulus accepted, in bits.
inline constexpr int kMinRsaKeyBits = 2048;
inline constexpr int kMaxRsaKeyBits = 8192;

// base64url (RFC 4648 section 5) without padding.
std::string Base64UrlEncode(std::string_view bytes);
// Decodes base64url with or without its `=` padding. kInvalidArgument for any other
// character, a length no encoding has, or unused trailing bits that are not zero (so every
// byte string has exactly one accepted encoding).
absl::StatusOr<std::string> Base64UrlDecode(std::string_view text);

// An RSA public key. Copies share the key, which is immutable, so it is thread-safe.
class RsaPublicKey {
 public:
  // The key of a JWK's `n` (modulus) and `e` (exponent), both base64url big-endian.
  // kInvalidArgument if either does not decode, or the modulus is outside
  // kMinRsaKeyBits..kMaxRsaKeyBits bits.
  static absl::StatusOr<RsaPublicKey> FromJwk(std::string_view n, std::string_view e);

  // Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature (RS256) of `data`.
  bool VerifyRs256(std::string_view data, std::string_view signature) const;
  // Modulus size in bits.
  int Bits() const;

 private:
  explicit RsaPublicKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
  std::shared_ptr<evp_pkey_st> key_;
};

// The RS256 signing keys of a JSON Web Key Set, by key id. Immutable, so thread-safe.
class JwkSet {
 public:
  // Parses a JWKS document `{"keys":[...]}`. Keys that cannot verify RS256 are left out:
  // `kty` other than "RSA", `use` present and not "sig", `alg` present and not "RS256", or
  // `n`/`e` that do not make a key of an accepted size. A later key with the id of an earlier
  // one is left out too. kInvalidArgument if the document is not a JSON object with a `keys`
  // array, or no key is left.
  static absl::StatusOr<JwkSet> Parse(std::string_view json);

  // The key with id `kid`; with an empty `kid` (a token without `kid`), the only key when
  // there is exactly one. Null otherwise.
  const RsaPublicKey* Find(std::string_view kid) const;
  size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, RsaPublicKey, std::less<>> keys_;
};

// A compact JWS split and decoded. Nothing is verified yet.
struct Jws {
  nlohmann::json header;      // the protected header, a JSON object
  nlohmann::json payload;     // the claims, a JSON object
  std::string signing_input;  // "<header b64>.<payload b64>", what the signature covers
  std::string signature;      // raw bytes
  // Shorthands read from the header: its `alg` and `kid` ("" when absent).
  std::string alg;
  std::string kid;
};

// Splits `token` into its three parts and decodes them. kUnauthenticated ("id token: ...")
// if it is longer than kMaxJwtBytes, does not have exactly three dot-separated parts, a part
// is not base64url, or the header or payload is not a JSON object (a JWE, with five parts,
// is refused too).
absl::StatusOr<Jws> ParseJws(std::string_view token);

// What an ID token must say to be accepted.
struct IdTokenExpectations {
  // `iss` must equal this exactly. Required (non-empty).
  std::string issuer;
  // `aud` (a string, or an array of strings) must contain this: the client id. When `aud`
  // holds more than one audience, `azp` must be present and equal it. Required (non-empty).
  std::string audience;
  // The nonce sent in the authorization request; when set, the token's `nonce` must equal
  // it. Default: none.
  std::optional<std::string> nonce;
  // Whether a token without `nonce` is refused when `nonce` is set (OpenID Connect Core
  // requires the provider to echo it). Default true.
  bool require_nonce = true;
  // The time to check `exp`, `nbf` and `iat` against.
  TimePoint now;
  // Clock skew allowed on each side of `exp`, `nbf` and `iat`. Default 60 s.
  std::chrono::seconds leeway{60};
};

// Verifies an ID token and returns its claims. In order:
// - the header: `alg` must be "RS256" (never "none", HS256 or any other), no `crit`;
// - the key: `kid` must name a key of `keys` (JwkSet::Find);
// - the signature over the signing input;
// - the claims: `iss` exactly, `aud` (and `azp`), `exp` in the future, `nbf` (if present) and
//   `iat` not in the future (each with `leeway`), `sub` a non-empty string, `token_use` "id"
//   when present (Amazon Cognito also signs access tokens with the same keys), and `nonce`.
// Every refusal is kUnauthenticated with a message starting "id token: " that names the
// check, never the token. REQUIRES: issuer and audience are not empty.
absl::StatusOr<nlohmann::json> VerifyIdToken(const Jws& jws, const JwkSet& keys,
                                             const IdTokenExpectations& expect);
// ParseJws() then the above.
absl::StatusOr<nlohmann::json> VerifyIdToken(std::string_view token, const JwkSet& keys,
                                             const IdTokenExpectations& expect);

}  // namespace stockwatch::core
