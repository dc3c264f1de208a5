// Property test (issue #4): no CR or LF that came from a message, a store or item name, a
// topic or a subscription endpoint ever reaches an email header. Random deliveries whose
// strings mix CR, LF, "Bcc:" look-alikes, RFC 2047 markers, non-ASCII and plain text are
// composed; each either is refused (kInvalidArgument, nothing to send) or yields a header
// block whose every line is a known header or a folded continuation of one.
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/notify/smtp_channel.h"
#include "core/model/types.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

// A random string built from fragments chosen to provoke header injection.
std::string RandomText(std::mt19937_64& rng, size_t max_fragments) {
  static const std::vector<std::string> kFragments = {
      "Berlin",
      "Echo Plus",
      " ",
      "\r",
      "\n",
      "\r\n",
      "Bcc: x@evil.example",
      ":",
      "=?",
      "?=",
      "\xc3\xa9",      // é
      "\xe2\x82\xac",  // €
      "\t",
      ".",
      "\r\n.\r\n",
      "\r\n\r\n",
      "Subject: hi",
      "a@b.c",
      "<>",
      "\x85",
      "\xe2\x80\xa8"};  // NEL and LINE SEPARATOR: not line breaks in SMTP
  std::uniform_int_distribution<size_t> count(0, max_fragments);
  std::uniform_int_distribution<size_t> pick(0, kFragments.size() - 1);
  std::string text;
  const size_t n = count(rng);
  for (size_t i = 0; i < n; ++i) text += kFragments[pick(rng)];
  // Sometimes a long run, to make the encoder fold.
  if (rng() % 8 == 0) text += std::string(rng() % 200, rng() % 2 == 0 ? 'x' : '\xc3');
  return text;
}

// The header names a composed email may carry.
const std::set<std::string, std::less<>>& KnownHeaders() {
  static const std::set<std::string, std::less<>> names = {"From",
                                                           "To",
                                                           "Subject",
                                                           "Date",
                                                           "Message-ID",
                                                           "MIME-Version",
                                                           "Content-Type",
                                                           "Content-Transfer-Encoding",
                                                           "Auto-Submitted",
                                                           "List-Unsubscribe",
                                                           "List-Unsubscribe-Post",
                                                           "X-Stockwatch-Topic",
                                                           "X-Stockwatch-Delivery",
                                                           "Precedence"};
  return names;
}

TEST(EmailHeaderPropertyTest, NoCrOrLfFromInputsReachesAHeader) {
  std::mt19937_64 rng(20261126);
  int composed = 0;
  int refused = 0;
  for (int round = 0; round < 5000; ++round) {
    core::Delivery delivery;
    delivery.id = round + 1;
    delivery.message.id = RandomText(rng, 2);
    delivery.message.topic = rng() % 4 == 0 ? RandomText(rng, 2) : "NoStock";
    delivery.message.subject = RandomText(rng, 6);
    delivery.message.body = RandomText(rng, 8);
    delivery.message.store = RandomText(rng, 3);
    delivery.message.item = RandomText(rng, 3);
    delivery.message.new_count = 0;
    delivery.subscription.id = 7;
    delivery.subscription.topic = delivery.message.topic;
    delivery.subscription.protocol = core::Protocol::kEmail;
    delivery.subscription.endpoint =
        rng() % 3 == 0 ? RandomText(rng, 2) + "ops@example.com" : "ops@example.com";

    const absl::StatusOr<std::string> email = ComposeEmail(delivery, "alerts@example.com");
    if (!email.ok()) {
      ASSERT_EQ(email.status().code(), absl::StatusCode::kInvalidArgument) << email.status();
      ++refused;
      continue;
    }
    ++composed;
    const size_t end = email->find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << "no blank line after the headers";
    const std::string_view headers = std::string_view(*email).substr(0, end + 2);
    std::set<std::string, std::less<>> seen;
    size_t pos = 0;
    while (pos < headers.size()) {
      const size_t eol = headers.find("\r\n", pos);
      ASSERT_NE(eol, std::string_view::npos);
      const std::string_view line = headers.substr(pos, eol - pos);
      pos = eol + 2;
      // A bare CR or LF inside a line would end it early in some MTA: never allowed.
      ASSERT_EQ(line.find_first_of("\r\n"), std::string_view::npos) << "round " << round;
      ASSERT_FALSE(line.empty()) << "round " << round;
      if (line[0] == ' ' || line[0] == '\t') continue;  // folded continuation
      const size_t colon = line.find(':');
      ASSERT_NE(colon, std::string_view::npos) << "round " << round << ": " << line;
      const std::string_view name = line.substr(0, colon);
      EXPECT_TRUE(KnownHeaders().count(name))
          << "round " << round << ": unexpected header " << std::string(name);
      // Each header appears once: an injected second Subject or To would show here.
      EXPECT_TRUE(seen.insert(std::string(name)).second)
          << "round " << round << ": header twice: " << std::string(name);
    }
    EXPECT_TRUE(seen.count("Subject") && seen.count("To") && seen.count("From"));
  }
  // Both outcomes must have happened, or the generator is not exercising the property.
  EXPECT_GT(composed, 500);
  EXPECT_GT(refused, 500);
}

}  // namespace
}  // namespace stockwatch::adapters
