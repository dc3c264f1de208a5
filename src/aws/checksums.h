// The checksums S3 uses: Content-MD5, the x-amz-checksum-* family (CRC32, CRC32C, SHA-1,
// SHA-256, CRC64NVME) and the base64 they are written in. Streaming: update with any split.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stockwatch::aws {

enum class ChecksumAlgorithm { kCrc32, kCrc32c, kSha1, kSha256, kCrc64Nvme };

// "CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME" (as in x-amz-checksum-algorithm and the
// <ChecksumCRC32> XML element names).
std::string_view ChecksumName(ChecksumAlgorithm algorithm);
// Case-insensitive inverse of ChecksumName.
std::optional<ChecksumAlgorithm> ChecksumFromName(std::string_view name);
// "x-amz-checksum-crc32" etc.
std::string ChecksumHeaderName(ChecksumAlgorithm algorithm);
// Inverse of ChecksumHeaderName for a lower-case header name.
std::optional<ChecksumAlgorithm> ChecksumFromHeaderName(std::string_view lower_case_name);

// One running checksum. Not thread-safe.
class Checksum {
 public:
  static std::unique_ptr<Checksum> Create(ChecksumAlgorithm algorithm);
  virtual ~Checksum() = default;
  virtual void Update(std::string_view bytes) = 0;
  // The digest bytes (big-endian for CRCs, as S3 sends them). REQUIRES: called once.
  virtual std::string Finish() = 0;
};

// One-shot helpers.
uint32_t Crc32(uint32_t crc, std::string_view bytes);   // zlib's crc32 (ISO-HDLC)
uint32_t Crc32c(uint32_t crc, std::string_view bytes);  // Castagnoli
uint64_t Crc64Nvme(uint64_t crc, std::string_view bytes);
std::string Md5(std::string_view bytes);     // 16 raw bytes
std::string Sha256(std::string_view bytes);  // 32 raw bytes

std::string Base64Encode(std::string_view bytes);
// Strict standard base64 with padding; kInvalidArgument otherwise.
absl::StatusOr<std::string> Base64Decode(std::string_view text);
std::string HexEncode(std::string_view bytes);  // lower case
// kInvalidArgument unless `text` is hex of even length (either case).
absl::StatusOr<std::string> HexDecode(std::string_view text);

}  // namespace stockwatch::aws
