#include "server/subscriber_tokens.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"

namespace stockwatch::server {
namespace {

constexpr size_t kKeyBytes = 32;

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

std::string Mac(std::string_view key, int64_t subscription_id) {
  const std::string text = "unsubscribe:" + std::to_string(subscription_id);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &size);
  return Hex(mac, size);
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateLinkKey(const std::string& data_dir) {
  const std::string path = (std::filesystem::path(data_dir) / "link.key").string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    unsigned char key[kKeyBytes];
    if (RAND_bytes(key, sizeof key) != 1) {
      ::close(fd);
      ::unlink(path.c_str());
      return absl::UnavailableError("no random bytes for the link key");
    }
    const bool written =
        ::write(fd, key, sizeof key) == static_cast<ssize_t>(sizeof key) && ::fsync(fd) == 0;
    ::close(fd);
    if (!written) {
      ::unlink(path.c_str());
      return absl::UnavailableError("cannot write " + path);
    }
    return std::string(reinterpret_cast<const char*>(key), sizeof key);
  }
  if (errno != EEXIST) {
    return absl::UnavailableError("cannot create " + path + ": " + std::strerror(errno));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::UnavailableError("cannot read " + path);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (key.size() != kKeyBytes) {
    return absl::DataLossError(path + " does not hold a 32-byte key; remove it to make a new one");
  }
  return key;
}

std::string UnsubscribeToken(std::string_view key, int64_t subscription_id) {
  return std::to_string(subscription_id) + "." + Mac(key, subscription_id);
}

std::optional<int64_t> VerifyUnsubscribeToken(std::string_view key, std::string_view token) {
  if (token.size() > kMaxLinkTokenBytes) return std::nullopt;
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19) return std::nullopt;
  int64_t id = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + dot, id);
  if (ec != std::errc() || end != token.data() + dot || id <= 0) return std::nullopt;
  // Only the canonical spelling of the id: "017" would otherwise verify as 17.
  if (std::to_string(id) != token.substr(0, dot)) return std::nullopt;
  const std::string expected = Mac(key, id);
  const std::string_view given = token.substr(dot + 1);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return std::nullopt;
  }
  return id;
}

}  // namespace stockwatch::server
