// Test code only: RSA key pairs made in the test and tokens signed with them, for the tests
// of core/auth/jwt and of the OIDC adapter.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/auth/jwt.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace stockwatch::core::jwt_test {

// An RSA key pair made in the test, and what a provider publishes of it.
class TestKey {
 public:
  explicit TestKey(unsigned int bits = 2048) : key_(EVP_RSA_gen(bits), EVP_PKEY_free) {
    EXPECT_NE(key_, nullptr);
  }

  std::string N() const { return Param(OSSL_PKEY_PARAM_RSA_N); }
  std::string E() const { return Param(OSSL_PKEY_PARAM_RSA_E); }

  nlohmann::json Jwk(const std::string& kid) const {
    return {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", "RS256"}, {"n", N()}, {"e", E()}};
  }

  // RS256 signature of `data`.
  std::string Sign(std::string_view data) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()), 1);
    size_t size = 0;
    EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size,
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()),
              1);
    std::string signature(size, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()),
              1);
    signature.resize(size);
    return signature;
  }

 private:
  std::string Param(const char* name) const {
    BIGNUM* bn = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key_.get(), name, &bn), 1);
    std::string bytes(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(bn);
    return Base64UrlEncode(bytes);
  }

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
};

// Key generation takes a moment; the tests share two keys.
inline const TestKey& KeyA() {
  static const TestKey* key = new TestKey();
  return *key;
}
inline const TestKey& KeyB() {
  static const TestKey* key = new TestKey();
  return *key;
}

// A compact JWS of `header` and `claims` signed by `key`.
inline std::string MakeToken(const nlohmann::json& header, const nlohmann::json& claims,
                             const TestKey& key = KeyA()) {
  const std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(key.Sign(input));
}

}  // namespace stockwatch::core::jwt_test
