#include "aws/checksums.h"

#include <gtest/gtest.h>

#include <random>

namespace stockwatch::aws {
namespace {

constexpr std::string_view kCheck = "123456789";

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// Bit-at-a-time references, independent of the table-driven and hardware code.
uint32_t ReferenceCrc32c(std::string_view bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int i = 0; i < 8; ++i) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

uint64_t ReferenceCrc64Nvme(std::string_view bytes) {
  uint64_t crc = ~uint64_t{0};
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int i = 0; i < 8; ++i) crc = (crc & 1) ? (crc >> 1) ^ 0x9A6C9329AC4BC9B5ull : crc >> 1;
  }
  return ~crc;
}

std::string Digest(ChecksumAlgorithm algorithm, std::string_view bytes) {
  std::unique_ptr<Checksum> checksum = Checksum::Create(algorithm);
  checksum->Update(bytes);
  return checksum->Finish();
}

TEST(ChecksumsTest, CheckValues) {
  EXPECT_EQ(Crc32(0, kCheck), 0xCBF43926u);
  EXPECT_EQ(Crc32c(0, kCheck), 0xE3069283u);
  EXPECT_EQ(Crc64Nvme(0, kCheck), 0xAE8B14860A799888ull);
  EXPECT_EQ(Crc32(0, ""), 0u);
  EXPECT_EQ(Crc32c(0, ""), 0u);
  EXPECT_EQ(Crc64Nvme(0, ""), 0u);
  EXPECT_EQ(HexEncode(Md5(kCheck)), "25f9e794323b453885f5181f1b624d0b");
  EXPECT_EQ(HexEncode(Sha256(kCheck)),
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");
}

TEST(ChecksumsTest, DigestsAreBigEndianBytesInBase64) {
  EXPECT_EQ(Base64Encode(Digest(ChecksumAlgorithm::kCrc32, kCheck)), "y/Q5Jg==");
  EXPECT_EQ(HexEncode(Digest(ChecksumAlgorithm::kCrc32c, kCheck)), "e3069283");
  EXPECT_EQ(HexEncode(Digest(ChecksumAlgorithm::kCrc64Nvme, kCheck)), "ae8b14860a799888");
  EXPECT_EQ(Base64Encode(Digest(ChecksumAlgorithm::kSha1, kCheck)), "98O8HYCOBHMq32eZZczDTKeuNEE=");
  EXPECT_EQ(Base64Encode(Digest(ChecksumAlgorithm::kSha256, kCheck)),
            "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=");
  // S3's documented trailer example: 66560 bytes of 'a' (CRC32 from Python's zlib).
  const std::string a(66560, 'a');
  EXPECT_EQ(Base64Encode(Digest(ChecksumAlgorithm::kCrc32c, a)), "sOO8/Q==");
  EXPECT_EQ(Base64Encode(Digest(ChecksumAlgorithm::kCrc32, a)), "sK4Y7A==");
}

TEST(ChecksumsTest, CrcsMatchBitwiseReferencesAtEveryLengthAndAlignment) {
  const std::string data = RandomBytes(300, 7);
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t length = 0; offset + length <= data.size(); length += (length < 40 ? 1 : 13)) {
      const std::string_view piece = std::string_view(data).substr(offset, length);
      ASSERT_EQ(Crc32c(0, piece), ReferenceCrc32c(piece)) << offset << "+" << length;
      ASSERT_EQ(Crc64Nvme(0, piece), ReferenceCrc64Nvme(piece)) << offset << "+" << length;
    }
  }
}

TEST(ChecksumsTest, EveryAlgorithmIsSplitInvariant) {
  const std::string data = RandomBytes(1000, 11);
  for (ChecksumAlgorithm algorithm :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kSha1,
        ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kCrc64Nvme}) {
    SCOPED_TRACE(std::string(ChecksumName(algorithm)));
    const std::string whole = Digest(algorithm, data);
    for (size_t split = 0; split <= data.size(); split += 37) {
      for (size_t second = split; second <= data.size(); second += 211) {
        std::unique_ptr<Checksum> checksum = Checksum::Create(algorithm);
        checksum->Update(std::string_view(data).substr(0, split));
        checksum->Update(std::string_view(data).substr(split, second - split));
        checksum->Update("");
        checksum->Update(std::string_view(data).substr(second));
        ASSERT_EQ(checksum->Finish(), whole) << split << "," << second;
      }
    }
    std::unique_ptr<Checksum> bytewise = Checksum::Create(algorithm);
    for (char c : data) bytewise->Update(std::string_view(&c, 1));
    EXPECT_EQ(bytewise->Finish(), whole);
  }
  EXPECT_EQ(Crc32c(Crc32c(0, "1234"), "56789"), 0xE3069283u);
  EXPECT_EQ(Crc64Nvme(Crc64Nvme(0, "12345"), "6789"), 0xAE8B14860A799888ull);
  EXPECT_EQ(Crc32(Crc32(0, "1"), "23456789"), 0xCBF43926u);
}

TEST(ChecksumsTest, NamesAndHeaderNamesRoundTrip) {
  const std::pair<ChecksumAlgorithm, std::string_view> expected[] = {
      {ChecksumAlgorithm::kCrc32, "CRC32"},         {ChecksumAlgorithm::kCrc32c, "CRC32C"},
      {ChecksumAlgorithm::kSha1, "SHA1"},           {ChecksumAlgorithm::kSha256, "SHA256"},
      {ChecksumAlgorithm::kCrc64Nvme, "CRC64NVME"},
  };
  for (const auto& [algorithm, name] : expected) {
    EXPECT_EQ(ChecksumName(algorithm), name);
    EXPECT_EQ(ChecksumFromName(name), algorithm);
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    EXPECT_EQ(ChecksumFromName(lower), algorithm);
    EXPECT_EQ(ChecksumHeaderName(algorithm), "x-amz-checksum-" + lower);
    EXPECT_EQ(ChecksumFromHeaderName("x-amz-checksum-" + lower), algorithm);
  }
  EXPECT_EQ(ChecksumFromName("MD5"), std::nullopt);
  EXPECT_EQ(ChecksumFromName(""), std::nullopt);
  EXPECT_EQ(ChecksumFromHeaderName("x-amz-checksum-md5"), std::nullopt);
  EXPECT_EQ(ChecksumFromHeaderName("X-Amz-Checksum-CRC32"), std::nullopt);
  EXPECT_EQ(ChecksumFromHeaderName("x-amz-checksum-type"), std::nullopt);
}

TEST(ChecksumsTest, Base64RoundTripsAndDecodesStrictly) {
  for (size_t n = 0; n < 70; ++n) {
    const std::string bytes = RandomBytes(n, static_cast<uint32_t>(n));
    const std::string text = Base64Encode(bytes);
    EXPECT_EQ(text.size(), 4 * ((n + 2) / 3));
    absl::StatusOr<std::string> back = Base64Decode(text);
    ASSERT_TRUE(back.ok()) << text;
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64Decode("").value(), "");
  EXPECT_EQ(Base64Decode("Zm9vYmFy").value(), "foobar");
  for (const std::string_view bad : std::initializer_list<std::string_view>{
           "Zg", "Zg=", "Zg===", "Z===", "====", "Zm9v\n", " Zm9v", "Zm-v", "Zm_v",
           "Zh==", "Zm9=", "Zg==Zg==", "Zm=v", "Zm9v====", std::string_view("Zm\0v", 4)}) {
    EXPECT_EQ(Base64Decode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ChecksumsTest, HexRoundTripsAndDecodesStrictly) {
  const std::string bytes = RandomBytes(64, 3);
  EXPECT_EQ(HexDecode(HexEncode(bytes)).value(), bytes);
  EXPECT_EQ(HexEncode("\x01\xab\xff"), "01abff");
  EXPECT_EQ(HexDecode("01ABff").value(), "\x01\xab\xff");
  EXPECT_EQ(HexDecode("").value(), "");
  for (const std::string_view bad : {"0", "0g", "zz", "0x01", " 01"}) {
    EXPECT_EQ(HexDecode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace stockwatch::aws
