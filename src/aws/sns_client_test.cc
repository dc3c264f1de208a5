#include "aws/sns_client.h"

#include <string>

#include "gtest/gtest.h"

namespace stockwatch::aws {
namespace {

TEST(SnsSubjectTest, KeepsAPlainSubject) {
  EXPECT_EQ(SnsSubject("Berlin is out of stock of Echo Plus"),
            "Berlin is out of stock of Echo Plus");
}

TEST(SnsSubjectTest, ReplacesEachNonAsciiCharacterWithOneQuestionMark) {
  // "Zürich", then a three-byte and a four-byte sequence.
  EXPECT_EQ(SnsSubject("Z\xC3\xBCrich: \xE4\xB8\x8A \xF0\x9F\x93\xA6 low"), "Z?rich: ? ? low");
}

TEST(SnsSubjectTest, TurnsControlCharactersIntoSpacesAndDropsLeadingOnes) {
  EXPECT_EQ(SnsSubject("\r\n  Berlin\tis\nout"), "Berlin is out");
  EXPECT_EQ(SnsSubject("a\x7F"
                       "b"),
            "a b");
}

TEST(SnsSubjectTest, CutsALongSubjectUnderOneHundredCharacters) {
  const std::string subject = SnsSubject(std::string(300, 'x'));
  EXPECT_EQ(subject.size(), 99u);
  EXPECT_EQ(subject.substr(96), "...");
  EXPECT_EQ(SnsSubject(std::string(99, 'y')), std::string(99, 'y'));
}

TEST(SnsSubjectTest, NeverLeavesAByteOutsidePrintableAscii) {
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all += static_cast<char>(byte);
  for (char c : SnsSubject(all)) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
    EXPECT_LT(static_cast<unsigned char>(c), 0x7F);
  }
}

TEST(IsFifoTopicTest, LooksAtTheTopicName) {
  EXPECT_TRUE(IsFifoTopic("arn:aws:sns:eu-west-1:123456789012:NoStock.fifo"));
  EXPECT_FALSE(IsFifoTopic("arn:aws:sns:eu-west-1:123456789012:NoStock"));
  EXPECT_FALSE(IsFifoTopic("arn:aws:sns:eu-west-1:123456789012:fifo"));
}

}  // namespace
}  // namespace stockwatch::aws
