#include "aws/checksums.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <limits>

#include "base/status.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace stockwatch::aws {
namespace {

// --- CRC32C and CRC64NVME --------------------------------------------------------------
// Debian ships no library for either (zlib has only the ISO-HDLC CRC-32, and OpenSSL none),
// so both are computed here: slice-by-8 over tables built at compile time, processing eight
// bytes per step with eight independent table look-ups. CRC32C also has a hardware path
// (SSE4.2's crc32 instruction) taken only when the CPU reports SSE4.2 at run time, so the
// same binary runs on any x86-64 and elsewhere.

// Reflected polynomials (the bit order S3 and every SDK use).
constexpr uint32_t kCrc32cPoly = 0x82F63B78u;               // Castagnoli
constexpr uint64_t kCrc64NvmePoly = 0x9A6C9329AC4BC9B5ull;  // NVMe CRC-64

template <typename T>
using SliceTables = std::array<std::array<T, 256>, 8>;

template <typename T>
constexpr SliceTables<T> MakeSliceTables(T poly) {
  SliceTables<T> tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    T crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ poly : crc >> 1;
    tables[0][i] = crc;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int k = 1; k < 8; ++k) {
      const T prev = tables[k - 1][i];
      tables[k][i] = (prev >> 8) ^ tables[0][prev & 0xff];
    }
  }
  return tables;
}

constexpr SliceTables<uint32_t> kCrc32cTables = MakeSliceTables<uint32_t>(kCrc32cPoly);
constexpr SliceTables<uint64_t> kCrc64Tables = MakeSliceTables<uint64_t>(kCrc64NvmePoly);

inline uint64_t LoadLe64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

// Updates a reflected CRC register (no pre/post inversion here) with slice-by-8.
template <typename T>
T SliceBy8(T crc, const SliceTables<T>& t, const unsigned char* p, size_t n) {
  while (n >= 8) {
    const uint64_t w = LoadLe64(p) ^ static_cast<uint64_t>(crc);
    crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
          t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(uint32_t crc, const unsigned char* p,
                                                       size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    c = _mm_crc32_u64(c, LoadLe64(p));
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

// --- Running checksums ------------------------------------------------------------------

void PutBigEndian(uint64_t value, int bytes, std::string& out) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A CRC of type T computed by `update`, written big-endian as S3 sends it.
template <typename T, T (*update)(T, std::string_view)>
class CrcChecksum final : public Checksum {
 public:
  void Update(std::string_view bytes) override { crc_ = update(crc_, bytes); }
  std::string Finish() override {
    std::string out;
    PutBigEndian(crc_, sizeof(T), out);
    return out;
  }

 private:
  T crc_ = 0;
};

class DigestChecksum final : public Checksum {
 public:
  explicit DigestChecksum(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    SW_CHECK(ctx_ != nullptr);
    SW_CHECK(EVP_DigestInit_ex(ctx_, md, nullptr) == 1);
  }
  ~DigestChecksum() override { EVP_MD_CTX_free(ctx_); }
  DigestChecksum(const DigestChecksum&) = delete;
  DigestChecksum& operator=(const DigestChecksum&) = delete;

  void Update(std::string_view bytes) override {
    SW_CHECK(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) == 1);
  }
  std::string Finish() override {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    SW_CHECK(EVP_DigestFinal_ex(ctx_, digest, &size) == 1);
    return std::string(reinterpret_cast<const char*>(digest), size);
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string OneShotDigest(const EVP_MD* md, std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  SW_CHECK(EVP_Digest(bytes.data(), bytes.size(), digest, &size, md, nullptr) == 1);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

constexpr std::array<ChecksumAlgorithm, 5> kAllAlgorithms = {
    ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kSha1,
    ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kCrc64Nvme};

constexpr std::string_view kHeaderPrefix = "x-amz-checksum-";

// -1 for a byte outside the standard base64 alphabet.
constexpr std::array<int8_t, 256> MakeBase64Values() {
  std::array<int8_t, 256> values{};
  for (auto& v : values) v = -1;
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return values;
}
constexpr std::array<int8_t, 256> kBase64Values = MakeBase64Values();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view ChecksumName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return "CRC32";
    case ChecksumAlgorithm::kCrc32c:
      return "CRC32C";
    case ChecksumAlgorithm::kSha1:
      return "SHA1";
    case ChecksumAlgorithm::kSha256:
      return "SHA256";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "CRC64NVME";
  }
  SW_CHECK(false);
  return {};
}

std::optional<ChecksumAlgorithm> ChecksumFromName(std::string_view name) {
  for (ChecksumAlgorithm algorithm : kAllAlgorithms) {
    if (EqualsIgnoreCase(name, ChecksumName(algorithm))) return algorithm;
  }
  return std::nullopt;
}

std::string ChecksumHeaderName(ChecksumAlgorithm algorithm) {
  std::string name(kHeaderPrefix);
  for (char c : ChecksumName(algorithm)) name.push_back(AsciiLower(c));
  return name;
}

std::optional<ChecksumAlgorithm> ChecksumFromHeaderName(std::string_view lower_case_name) {
  for (ChecksumAlgorithm algorithm : kAllAlgorithms) {
    if (lower_case_name == ChecksumHeaderName(algorithm)) return algorithm;
  }
  return std::nullopt;
}

std::unique_ptr<Checksum> Checksum::Create(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return std::make_unique<CrcChecksum<uint32_t, Crc32>>();
    case ChecksumAlgorithm::kCrc32c:
      return std::make_unique<CrcChecksum<uint32_t, Crc32c>>();
    case ChecksumAlgorithm::kSha1:
      return std::make_unique<DigestChecksum>(EVP_sha1());
    case ChecksumAlgorithm::kSha256:
      return std::make_unique<DigestChecksum>(EVP_sha256());
    case ChecksumAlgorithm::kCrc64Nvme:
      return std::make_unique<CrcChecksum<uint64_t, Crc64Nvme>>();
  }
  SW_CHECK(false);
  return nullptr;
}

uint32_t Crc32(uint32_t crc, std::string_view bytes) {
  // zlib takes a uInt length: feed it in pieces that fit.
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  size_t n = bytes.size();
  uLong c = crc;
  while (n > 0) {
    const uInt piece = n > (1u << 30) ? (1u << 30) : static_cast<uInt>(n);
    c = crc32(c, p, piece);
    p += piece;
    n -= piece;
  }
  return static_cast<uint32_t>(c);
}

uint32_t Crc32c(uint32_t crc, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (HasSse42()) return ~Crc32cSse42(c, p, bytes.size());
#endif
  return ~SliceBy8<uint32_t>(c, kCrc32cTables, p, bytes.size());
}

uint64_t Crc64Nvme(uint64_t crc, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  return ~SliceBy8<uint64_t>(~crc, kCrc64Tables, p, bytes.size());
}

std::string Md5(std::string_view bytes) { return OneShotDigest(EVP_md5(), bytes); }

std::string Sha256(std::string_view bytes) { return OneShotDigest(EVP_sha256(), bytes); }

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  // EVP_EncodeBlock takes an int length; encode in pieces of whole 3-byte groups.
  constexpr size_t kPiece = size_t{3} << 28;
  size_t in_pos = 0;
  size_t out_pos = 0;
  while (in_pos < bytes.size()) {
    const size_t n = std::min(kPiece, bytes.size() - in_pos);
    const int written = EVP_EncodeBlock(
        reinterpret_cast<unsigned char*>(out.data() + out_pos),
        reinterpret_cast<const unsigned char*>(bytes.data()) + in_pos, static_cast<int>(n));
    in_pos += n;
    out_pos += static_cast<size_t>(written);
  }
  // EVP_EncodeBlock wrote a terminating NUL past the last group, inside `out`'s buffer.
  out.resize(out_pos);
  return out;
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64: length is not a multiple of 4");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    if (last) {
      if (text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    }
    uint32_t group = 0;
    for (int k = 0; k < 4; ++k) {
      if (k >= 4 - pad) {
        group <<= 6;
        continue;
      }
      const int v = kBase64Values[static_cast<unsigned char>(text[i + k])];
      if (v < 0) return absl::InvalidArgumentError("base64: invalid character");
      group = (group << 6) | static_cast<uint32_t>(v);
    }
    // Canonical form: the bits that padding leaves over must be zero.
    if ((pad == 1 && (group & 0xff) != 0) || (pad == 2 && (group & 0xffff) != 0)) {
      return absl::InvalidArgumentError("base64: non-zero padding bits");
    }
    out.push_back(static_cast<char>(group >> 16));
    if (pad < 2) out.push_back(static_cast<char>((group >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(group & 0xff));
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return absl::InvalidArgumentError("hex: odd length");
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("hex: invalid character");
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace stockwatch::aws
