#include "core/auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "base/status.h"

namespace stockwatch::core {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The 6-bit value of a base64url character, or -1.
int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

absl::Status Refuse(std::string_view why) {
  return absl::UnauthenticatedError("id token: " + std::string(why));
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// A JSON object decoded from a base64url part; kUnauthenticated naming `what` otherwise.
absl::StatusOr<nlohmann::json> DecodeJsonPart(std::string_view part, std::string_view what) {
  absl::StatusOr<std::string> bytes = Base64UrlDecode(part);
  if (!bytes.ok()) return Refuse(std::string(what) + " is not base64url");
  nlohmann::json doc = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Refuse(std::string(what) + " is not a JSON object");
  return doc;
}

// A NumericDate claim (seconds since the epoch, integer or not) as whole seconds, or nullopt
// when absent; kUnauthenticated when present and not a number in range.
absl::StatusOr<std::optional<int64_t>> NumericDate(const nlohmann::json& claims,
                                                   std::string_view name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<int64_t>();
  if (!it->is_number()) return Refuse("\"" + std::string(name) + "\" is not a number");
  const double value = it->get<double>();
  // Dates beyond year 9999 or before 1970 are nonsense in a fresh token.
  if (!std::isfinite(value) || value < 0 || value > 253402300799.0) {
    return Refuse("\"" + std::string(name) + "\" is out of range");
  }
  return std::optional<int64_t>(static_cast<int64_t>(value));
}

absl::Status CheckAudience(const nlohmann::json& claims, const std::string& audience) {
  auto aud = claims.find("aud");
  if (aud == claims.end()) return Refuse("\"aud\" is missing");
  if (aud->is_string()) {
    if (aud->get<std::string>() != audience) return Refuse("\"aud\" is not this client");
    return absl::OkStatus();
  }
  if (!aud->is_array()) return Refuse("\"aud\" is not a string or an array");
  bool found = false;
  for (const nlohmann::json& entry : *aud) {
    if (!entry.is_string()) return Refuse("\"aud\" holds a value that is not a string");
    if (entry.get<std::string>() == audience) found = true;
  }
  if (!found) return Refuse("\"aud\" is not this client");
  if (aud->size() > 1) {
    // OpenID Connect Core 3.1.3.7, items 4 and 5: with several audiences, the authorized
    // party must be us.
    auto azp = claims.find("azp");
    if (azp == claims.end() || !azp->is_string() || azp->get<std::string>() != audience) {
      return Refuse("\"aud\" has several audiences and \"azp\" is not this client");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                       (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                       uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                       (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

absl::StatusOr<std::string> Base64UrlDecode(std::string_view text) {
  // Padding, when present, must make the length a multiple of four.
  if (text.size() % 4 == 0) {
    size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    text.remove_suffix(pad);
  }
  if (text.size() % 4 == 1) return absl::InvalidArgumentError("base64url has a bad length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = DecodeChar(c);
    if (v < 0) return absl::InvalidArgumentError("base64url has a character outside its alphabet");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base64url has non-zero trailing bits");
  }
  return out;
}

absl::StatusOr<RsaPublicKey> RsaPublicKey::FromJwk(std::string_view n, std::string_view e) {
  absl::StatusOr<std::string> modulus = Base64UrlDecode(n);
  absl::StatusOr<std::string> exponent = Base64UrlDecode(e);
  if (!modulus.ok() || !exponent.ok() || modulus->empty() || exponent->empty()) {
    return absl::InvalidArgumentError("rsa key: \"n\" or \"e\" is not base64url");
  }
  std::unique_ptr<BIGNUM, BnFree> bn_n(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus->data()),
                static_cast<int>(modulus->size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(exponent->data()),
                static_cast<int>(exponent->size()), nullptr));
  if (bn_n == nullptr || bn_e == nullptr) return absl::ResourceExhaustedError("rsa key: no memory");
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaKeyBits || bits > kMaxRsaKeyBits) {
    return absl::InvalidArgumentError("rsa key: modulus of " + std::to_string(bits) +
                                      " bits is outside " + std::to_string(kMinRsaKeyBits) + ".." +
                                      std::to_string(kMaxRsaKeyBits));
  }
  // An even or tiny exponent is no RSA key anyone should sign with.
  if (!BN_is_odd(bn_e.get()) || BN_num_bits(bn_e.get()) < 2 || BN_num_bits(bn_e.get()) > 64) {
    return absl::InvalidArgumentError("rsa key: unusable public exponent");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> builder(OSSL_PARAM_BLD_new());
  if (builder == nullptr ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return absl::ResourceExhaustedError("rsa key: no memory");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(builder.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return absl::InternalError("rsa key: openssl cannot make keys");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 ||
      raw == nullptr) {
    return absl::InvalidArgumentError("rsa key: openssl refused \"n\" and \"e\"");
  }
  return RsaPublicKey(std::shared_ptr<EVP_PKEY>(raw, PkeyFree()));
}

bool RsaPublicKey::VerifyRs256(std::string_view data, std::string_view signature) const {
  // PKCS #1 v1.5 signatures are exactly as long as the modulus.
  if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key_.get()))) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return false;
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key_.get()) != 1) return false;
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

int RsaPublicKey::Bits() const { return EVP_PKEY_get_bits(key_.get()); }

absl::StatusOr<JwkSet> JwkSet::Parse(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return absl::InvalidArgumentError("jwks: not a JSON object");
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    return absl::InvalidArgumentError("jwks: no \"keys\" array");
  }
  JwkSet set;
  for (const nlohmann::json& jwk : *keys) {
    if (!jwk.is_object()) continue;
    auto text = [&jwk](std::string_view name) -> std::optional<std::string> {
      auto it = jwk.find(name);
      if (it == jwk.end() || !it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    if (text("kty") != "RSA") continue;
    if (jwk.contains("use") && text("use") != "sig") continue;
    if (jwk.contains("alg") && text("alg") != "RS256") continue;
    if (jwk.contains("kid") && !text("kid")) continue;
    std::optional<std::string> n = text("n");
    std::optional<std::string> e = text("e");
    if (!n || !e) continue;
    absl::StatusOr<RsaPublicKey> key = RsaPublicKey::FromJwk(*n, *e);
    if (!key.ok()) continue;
    set.keys_.emplace(text("kid").value_or(""), *std::move(key));
  }
  if (set.keys_.empty()) return absl::InvalidArgumentError("jwks: no usable RS256 key");
  return set;
}

const RsaPublicKey* JwkSet::Find(std::string_view kid) const {
  if (kid.empty()) return keys_.size() == 1 ? &keys_.begin()->second : nullptr;
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

absl::StatusOr<Jws> ParseJws(std::string_view token) {
  if (token.size() > kMaxJwtBytes)
    return Refuse("longer than " + std::to_string(kMaxJwtBytes) + " bytes");
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Refuse("not a compact JWS of three parts");
  }
  Jws jws;
  SW_ASSIGN_OR_RETURN(jws.header, DecodeJsonPart(token.substr(0, first), "header"));
  SW_ASSIGN_OR_RETURN(jws.payload,
                      DecodeJsonPart(token.substr(first + 1, second - first - 1), "payload"));
  absl::StatusOr<std::string> signature = Base64UrlDecode(token.substr(second + 1));
  if (!signature.ok()) return Refuse("signature is not base64url");
  jws.signature = *std::move(signature);
  jws.signing_input = std::string(token.substr(0, second));
  if (auto alg = jws.header.find("alg"); alg != jws.header.end() && alg->is_string()) {
    jws.alg = alg->get<std::string>();
  }
  if (auto kid = jws.header.find("kid"); kid != jws.header.end()) {
    if (!kid->is_string()) return Refuse("\"kid\" is not a string");
    jws.kid = kid->get<std::string>();
  }
  return jws;
}

absl::StatusOr<nlohmann::json> VerifyIdToken(const Jws& jws, const JwkSet& keys,
                                             const IdTokenExpectations& expect) {
  SW_CHECK(!expect.issuer.empty() && !expect.audience.empty());
  // The algorithm is fixed here, never taken from the token: "none" and HS256 (with the
  // public key as the HMAC secret) are the classic forgeries.
  if (jws.alg != "RS256") {
    return Refuse("algorithm \"" + jws.alg.substr(0, 20) + "\" is not RS256");
  }
  if (jws.header.contains("crit")) return Refuse("header has \"crit\" extensions");
  const RsaPublicKey* key = keys.Find(jws.kid);
  if (key == nullptr) {
    return Refuse(jws.kid.empty() ? "no \"kid\" and the key set has several keys"
                                  : "unknown key id \"" + jws.kid.substr(0, 64) + "\"");
  }
  if (!key->VerifyRs256(jws.signing_input, jws.signature)) {
    return Refuse("signature does not verify");
  }

  const nlohmann::json& claims = jws.payload;
  auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != expect.issuer) {
    return Refuse("\"iss\" is not the configured issuer");
  }
  SW_RETURN_IF_ERROR(CheckAudience(claims, expect.audience));

  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(expect.now.time_since_epoch()).count();
  const int64_t leeway = expect.leeway.count();
  SW_ASSIGN_OR_RETURN(std::optional<int64_t> exp, NumericDate(claims, "exp"));
  if (!exp) return Refuse("\"exp\" is missing");
  if (now > *exp + leeway) return Refuse("expired");
  SW_ASSIGN_OR_RETURN(std::optional<int64_t> nbf, NumericDate(claims, "nbf"));
  if (nbf && now + leeway < *nbf) return Refuse("not valid yet (\"nbf\")");
  SW_ASSIGN_OR_RETURN(std::optional<int64_t> iat, NumericDate(claims, "iat"));
  if (!iat) return Refuse("\"iat\" is missing");
  if (now + leeway < *iat) return Refuse("issued in the future (\"iat\")");

  auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string() || sub->get<std::string>().empty()) {
    return Refuse("\"sub\" is missing");
  }
  // Amazon Cognito signs ID and access tokens with the same keys and the same issuer; an
  // access token must not pass for an ID token.
  if (auto use = claims.find("token_use"); use != claims.end()) {
    if (!use->is_string() || use->get<std::string>() != "id") {
      return Refuse("\"token_use\" is not \"id\"");
    }
  }
  if (expect.nonce) {
    auto nonce = claims.find("nonce");
    if (nonce == claims.end()) {
      if (expect.require_nonce) return Refuse("\"nonce\" is missing");
    } else if (!nonce->is_string() || nonce->get<std::string>() != *expect.nonce) {
      return Refuse("\"nonce\" does not match this sign-in");
    }
  }
  return claims;
}

absl::StatusOr<nlohmann::json> VerifyIdToken(std::string_view token, const JwkSet& keys,
                                             const IdTokenExpectations& expect) {
  SW_ASSIGN_OR_RETURN(Jws jws, ParseJws(token));
  return VerifyIdToken(jws, keys, expect);
}

}  // namespace stockwatch::core
