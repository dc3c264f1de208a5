#include "adapters/notify/smtp_channel.h"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "adapters/notify/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// A saved message split into unfolded headers (by exact name; first occurrence) and body.
struct Email {
  std::map<std::string, std::string> headers;
  std::vector<std::string> header_names;  // in order
  std::string raw_head;                   // as received, folded
  std::string body;
};

Email ParseEmail(const std::string& raw) {
  Email email;
  const size_t head_end = raw.find("\r\n\r\n");
  SW_CHECK(head_end != std::string::npos);
  email.raw_head = raw.substr(0, head_end + 2);
  email.body = raw.substr(head_end + 4);
  std::string unfolded;
  for (size_t i = 0; i < email.raw_head.size(); ++i) {
    // RFC 5322 unfolding: a CRLF followed by whitespace is removed.
    if (email.raw_head.compare(i, 2, "\r\n") == 0 && i + 2 < email.raw_head.size() &&
        (email.raw_head[i + 2] == ' ' || email.raw_head[i + 2] == '\t')) {
      ++i;
      continue;
    }
    unfolded += email.raw_head[i];
  }
  size_t start = 0;
  for (size_t end = unfolded.find("\r\n"); end != std::string::npos;
       start = end + 2, end = unfolded.find("\r\n", start)) {
    const std::string line = unfolded.substr(start, end - start);
    const size_t colon = line.find(':');
    SW_CHECK(colon != std::string::npos);
    const std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    email.header_names.push_back(name);
    email.headers.emplace(name, value);
  }
  return email;
}

// Decodes a header value made only of RFC 2047 "=?UTF-8?B?...?=" words separated by
// whitespace (which is not part of the text).
std::string DecodeEncodedWords(const std::string& value, std::vector<std::string>* words) {
  std::string text;
  size_t start = 0;
  while (start < value.size()) {
    if (value[start] == ' ' || value[start] == '\t') {
      ++start;
      continue;
    }
    size_t end = value.find_first_of(" \t", start);
    if (end == std::string::npos) end = value.size();
    const std::string word = value.substr(start, end - start);
    if (words != nullptr) words->push_back(word);
    EXPECT_THAT(word, StartsWith("=?UTF-8?B?"));
    EXPECT_TRUE(word.ends_with("?="));
    std::string decoded;
    EXPECT_TRUE(absl::Base64Unescape(word.substr(10, word.size() - 12), &decoded)) << word;
    text += decoded;
    start = end;
  }
  return text;
}

core::Delivery MakeDelivery(std::string endpoint) {
  using namespace std::chrono;
  core::Delivery delivery;
  delivery.id = 7;
  delivery.message.id = "17-NoStock";
  delivery.message.topic = "NoStock";
  delivery.message.subject = "Inventory Alert!";
  delivery.message.body = "Berlin is out of stock of Echo Plus.";
  delivery.message.store = "Berlin";
  delivery.message.item = "Echo Plus";
  delivery.message.old_count = 3;
  delivery.message.new_count = 0;
  delivery.message.at = core::TimePoint(sys_days(2024y / May / 1)) + 12h + 34min + 56s + 789ms;
  delivery.subscription.id = 3;
  delivery.subscription.topic = "NoStock";
  delivery.subscription.protocol = core::Protocol::kEmail;
  delivery.subscription.endpoint = std::move(endpoint);
  return delivery;
}

class SmtpChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = notify_test::Sink::Start("smtp_sink.py");
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
    auto channel = SmtpChannel::Create(Options());
    ASSERT_TRUE(channel.ok()) << channel.status();
    channel_ = std::move(*channel);
  }

  SmtpChannelOptions Options() const {
    SmtpChannelOptions options;
    options.url = "smtp://127.0.0.1:" + std::to_string(sink_->Port());
    options.from = "alerts@stockwatch.test";
    return options;
  }

  // The only message the sink saved.
  Email OnlyEmail() const {
    const auto files = sink_->Dir().Files(".eml");
    SW_CHECK(files.size() == 1);
    return ParseEmail(notify_test::ReadFile(files[0]));
  }

  std::unique_ptr<notify_test::Sink> sink_;
  std::unique_ptr<SmtpChannel> channel_;
};

TEST_F(SmtpChannelTest, SendsInventoryAlert) {
  const SendResult result = channel_->Send(MakeDelivery("mailto:ops@example.com"));
  ASSERT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  EXPECT_EQ(result.error, "");

  const Email email = OnlyEmail();
  EXPECT_EQ(email.headers.at("X-MailFrom"), "alerts@stockwatch.test");
  EXPECT_EQ(email.headers.at("X-RcptTo"), "ops@example.com");
  EXPECT_EQ(email.headers.at("Subject"), "Inventory Alert!");
  EXPECT_EQ(email.headers.at("From"), "alerts@stockwatch.test");
  EXPECT_EQ(email.headers.at("To"), "ops@example.com");
  EXPECT_EQ(email.headers.at("Date"), "Wed, 01 May 2024 12:34:56 +0000");
  EXPECT_EQ(email.headers.at("Message-ID"), "<delivery-7.17-NoStock@stockwatch>");
  EXPECT_EQ(email.headers.at("MIME-Version"), "1.0");
  EXPECT_EQ(email.headers.at("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(email.headers.at("Content-Transfer-Encoding"), "8bit");
  EXPECT_THAT(
      email.header_names,
      ElementsAre("X-Peer", "X-MailFrom", "X-RcptTo", "From", "To", "Subject", "Date", "Message-ID",
                  "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted"));
  EXPECT_THAT(email.body, StartsWith("Berlin is out of stock of Echo Plus"));
  EXPECT_EQ(email.body,
            "Berlin is out of stock of Echo Plus.\r\n"
            "\r\n"
            "-- \r\n"
            "Store: Berlin\r\n"
            "Item: Echo Plus\r\n"
            "Count: 3 -> 0\r\n");
}

TEST_F(SmtpChannelTest, AcceptsBareAddressAndNewItem) {
  core::Delivery delivery = MakeDelivery("ops@example.com");
  delivery.message.old_count.reset();
  delivery.message.new_count = 2;
  ASSERT_EQ(channel_->Send(delivery).kind, SendResult::Kind::kDelivered);
  const Email email = OnlyEmail();
  EXPECT_EQ(email.headers.at("To"), "ops@example.com");
  EXPECT_THAT(email.body, HasSubstr("\r\nCount: new -> 2\r\n"));
}

TEST_F(SmtpChannelTest, EncodesNonAsciiSubject) {
  core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
  delivery.message.subject = "Ausverkauft: Müsli in Köln – 0 übrig";
  ASSERT_EQ(channel_->Send(delivery).kind, SendResult::Kind::kDelivered);
  const Email email = OnlyEmail();
  for (char c : email.raw_head) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
  const std::string& subject = email.headers.at("Subject");
  EXPECT_THAT(subject, StartsWith("=?UTF-8?B?"));
  EXPECT_EQ(DecodeEncodedWords(subject, nullptr), delivery.message.subject);
}

TEST_F(SmtpChannelTest, SplitsLongSubjectIntoFoldedWords) {
  core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
  delivery.message.subject.clear();
  for (int i = 0; i < 40; ++i) delivery.message.subject += "Grüße 😀 ";
  ASSERT_EQ(channel_->Send(delivery).kind, SendResult::Kind::kDelivered);
  const Email email = OnlyEmail();
  std::vector<std::string> words;
  EXPECT_EQ(DecodeEncodedWords(email.headers.at("Subject"), &words), delivery.message.subject);
  EXPECT_GT(words.size(), 5u);
  for (const std::string& word : words) EXPECT_LE(word.size(), 75u) << word;
  // Every word decodes to whole UTF-8 characters on its own.
  for (const std::string& word : words) {
    std::string decoded;
    ASSERT_TRUE(absl::Base64Unescape(word.substr(10, word.size() - 12), &decoded));
    const auto last = static_cast<unsigned char>(decoded.back());
    EXPECT_TRUE(last < 0x80 || (last & 0xC0) == 0x80);
  }
  // Folded: no header line is longer than 78 + the "Subject: " start.
  size_t start = 0;
  for (size_t end = email.raw_head.find("\r\n"); end != std::string::npos;
       start = end + 2, end = email.raw_head.find("\r\n", start)) {
    EXPECT_LE(end - start, 9u + 75u);
  }
}

TEST_F(SmtpChannelTest, EncodesAsciiSubjectThatLooksEncoded) {
  core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
  delivery.message.subject = "=?UTF-8?B?SGk=?= is not a word";
  ASSERT_EQ(channel_->Send(delivery).kind, SendResult::Kind::kDelivered);
  EXPECT_EQ(DecodeEncodedWords(OnlyEmail().headers.at("Subject"), nullptr),
            delivery.message.subject);
}

TEST_F(SmtpChannelTest, DotStuffingRoundTrips) {
  // libcurl doubles a leading "." on the wire (RFC 5321 4.5.2) and the server removes it, so
  // a line holding only "." does not end the message early.
  core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
  delivery.message.body = ".\n.hidden\n..two dots\nlast\n.";
  ASSERT_EQ(channel_->Send(delivery).kind, SendResult::Kind::kDelivered);
  EXPECT_THAT(OnlyEmail().body,
              StartsWith(".\r\n.hidden\r\n..two dots\r\nlast\r\n.\r\n\r\n-- \r\n"));
}

TEST_F(SmtpChannelTest, KeepsUtf8BodyAndNormalizesLineEnds) {
  core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
  delivery.message.body = "Köln: Müsli\r\nist aus.\rEnde\n";
  delivery.message.store = "Köln";
  ASSERT_EQ(channel_->Send(delivery).kind, SendResult::Kind::kDelivered);
  const Email email = OnlyEmail();
  EXPECT_EQ(email.headers.at("Content-Transfer-Encoding"), "8bit");
  EXPECT_THAT(email.body,
              StartsWith("Köln: Müsli\r\nist aus.\r\nEnde\r\n\r\n-- \r\nStore: Köln\r\n"));
}

TEST_F(SmtpChannelTest, LongLineGoesQuotedPrintable) {
  core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
  delivery.message.body = std::string(1500, 'x') + "=ü ";
  ASSERT_EQ(channel_->Send(delivery).kind, SendResult::Kind::kDelivered);
  const Email email = OnlyEmail();
  EXPECT_EQ(email.headers.at("Content-Transfer-Encoding"), "quoted-printable");
  size_t start = 0;
  for (size_t end = email.body.find("\r\n"); end != std::string::npos;
       start = end + 2, end = email.body.find("\r\n", start)) {
    EXPECT_LE(end - start, 76u);
  }
  EXPECT_THAT(email.body, HasSubstr("=3D=C3=BC=20\r\n\r\n--=20\r\nStore: Berlin\r\n"));
}

TEST_F(SmtpChannelTest, RefusesLineBreakInSubject) {
  for (const std::string subject :
       {"Alert\r\nBcc: victim@example.com", "Alert\nBcc: x@y.z", "Alert\rX: y"}) {
    core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
    delivery.message.subject = subject;
    const SendResult result = channel_->Send(delivery);
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
    EXPECT_THAT(result.error, HasSubstr("CR or LF in subject"));
  }
  EXPECT_TRUE(sink_->Dir().Files(".eml").empty());
}

TEST_F(SmtpChannelTest, RefusesLineBreakInRecipient) {
  for (const std::string endpoint :
       {"ops@example.com\r\nBcc: victim@example.com", "mailto:ops@example.com\nBcc: x@y.z",
        "mailto:ops@example.com%0D%0ABcc:victim@example.com"}) {
    const SendResult result = channel_->Send(MakeDelivery(endpoint));
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent) << endpoint;
    EXPECT_THAT(result.error, HasSubstr("CR or LF in email address")) << endpoint;
  }
  EXPECT_TRUE(sink_->Dir().Files(".eml").empty());
}

TEST_F(SmtpChannelTest, RejectsInvalidAddresses) {
  for (const std::string endpoint :
       {"", "mailto:", "ops", "@example.com", "ops@", "a@b@c", "ops@example.com,evil@x.y",
        "Ops <ops@example.com>", "ops @example.com", "ops@exa mple.com", "mailto:a@b.c?cc=d@e.f",
        "mailto:%zz@b.c", "óps@example.com", "ops@.example.com", "ops@example..com"}) {
    const SendResult result = channel_->Send(MakeDelivery(endpoint));
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent) << endpoint;
    EXPECT_THAT(result.error, StartsWith("refusing to send: ")) << endpoint;
  }
  EXPECT_TRUE(sink_->Dir().Files(".eml").empty());
}

TEST_F(SmtpChannelTest, DecodesPercentEncodedMailto) {
  ASSERT_EQ(channel_->Send(MakeDelivery("MAILTO:ops%2Bberlin%40example.com")).kind,
            SendResult::Kind::kDelivered);
  EXPECT_EQ(OnlyEmail().headers.at("X-RcptTo"), "ops+berlin@example.com");
}

TEST_F(SmtpChannelTest, TemporaryRejectionIsRetryable) {
  const SendResult result = channel_->Send(MakeDelivery("mailto:reply-451@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_EQ(result.error, "smtp 451 from smtp://127.0.0.1:" + std::to_string(sink_->Port()) +
                              ": 451 4.0.0 scripted reply for reply-451@example.com");
  // The channel recovers: the failed connection is not reused in a bad state.
  EXPECT_EQ(channel_->Send(MakeDelivery("mailto:ops@example.com")).kind,
            SendResult::Kind::kDelivered);
}

TEST_F(SmtpChannelTest, PermanentRejectionIsPermanent) {
  const SendResult result = channel_->Send(MakeDelivery("mailto:reply-550@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(result.error, StartsWith("smtp 550 from smtp://127.0.0.1:"));
  EXPECT_TRUE(sink_->Dir().Files(".eml").empty());
}

TEST_F(SmtpChannelTest, RequireTlsWithoutStarttlsIsPermanent) {
  SmtpChannelOptions options = Options();
  options.require_tls = true;
  auto channel = SmtpChannel::Create(options);
  ASSERT_TRUE(channel.ok());
  const SendResult result = (*channel)->Send(MakeDelivery("mailto:ops@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(result.error, HasSubstr("smtp://127.0.0.1:"));
  EXPECT_TRUE(sink_->Dir().Files(".eml").empty());
}

TEST_F(SmtpChannelTest, ConcurrentSends) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        core::Delivery delivery = MakeDelivery("mailto:ops@example.com");
        delivery.id = t * 1000 + i;
        if (channel_->Send(delivery).kind != SendResult::Kind::kDelivered) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  std::set<std::string> ids;
  for (const auto& file : sink_->Dir().Files(".eml")) {
    ids.insert(ParseEmail(notify_test::ReadFile(file)).headers.at("Message-ID"));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(SmtpChannelStandaloneTest, ConnectionRefusedIsRetryable) {
  SmtpChannelOptions options;
  options.url = "smtp://127.0.0.1:" + std::to_string(notify_test::UnusedPort());
  options.from = "alerts@stockwatch.test";
  options.username = "mailer";
  options.password = "hunter2-secret";
  auto channel = SmtpChannel::Create(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  const SendResult result = (*channel)->Send(MakeDelivery("ops@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, HasSubstr("(" + options.url + ")"));
  EXPECT_THAT(result.error, Not(HasSubstr("hunter2")));
}

TEST(SmtpChannelStandaloneTest, CreateRejectsBadOptions) {
  SmtpChannelOptions options;
  options.from = "alerts@stockwatch.test";
  for (const std::string url : {"http://127.0.0.1:25", "127.0.0.1:25", "", "smtp://"}) {
    options.url = url;
    const auto channel = SmtpChannel::Create(options);
    EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument) << url;
  }
  options.url = "smtp://127.0.0.1:25";
  for (const std::string from : {"", "Alerts <alerts@x.y>", "alerts@x.y\r\nBcc: a@b.c"}) {
    options.from = from;
    const auto channel = SmtpChannel::Create(options);
    EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument) << from;
  }
  options.from = "alerts@x.y";
  options.url = "smtps://user:pw@127.0.0.1:465/helo.example";
  EXPECT_TRUE(SmtpChannel::Create(options).ok());
}

TEST(SmtpChannelStandaloneTest, ErrorTextHidesUrlCredentials) {
  SmtpChannelOptions options;
  options.url = "smtp://mailer:pa55word@127.0.0.1:" + std::to_string(notify_test::UnusedPort());
  options.from = "alerts@stockwatch.test";
  auto channel = SmtpChannel::Create(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  const SendResult result = (*channel)->Send(MakeDelivery("ops@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.error, Not(HasSubstr("pa55word")));
  EXPECT_THAT(result.error, Not(HasSubstr("mailer")));
}

// STARTTLS and AUTH against the sink with a throwaway self-signed certificate.
class SmtpChannelTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string cert = (dir_.Path() / "cert.pem").string();
    const std::string key = (dir_.Path() / "key.pem").string();
    if (notify_test::Subprocess::Run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
                                      "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                      "-keyout", key, "-out", cert, "-days", "1", "-subj",
                                      "/CN=localhost"}) != 0) {
      GTEST_SKIP() << "openssl could not make a certificate";
    }
    auto sink = notify_test::Sink::Start("smtp_sink.py", {"--starttls-cert", cert, "--starttls-key",
                                                          key, "--auth", "mailer:pa55word"});
    ASSERT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
  }

  SmtpChannelOptions Options() const {
    SmtpChannelOptions options;
    options.url = "smtp://127.0.0.1:" + std::to_string(sink_->Port());
    options.from = "alerts@stockwatch.test";
    options.username = "mailer";
    options.password = "pa55word";
    options.require_tls = true;
    options.insecure_skip_verify = true;
    return options;
  }

  notify_test::TempDir dir_;
  std::unique_ptr<notify_test::Sink> sink_;
};

TEST_F(SmtpChannelTlsTest, SendsOverStarttlsWithLogin) {
  auto channel = SmtpChannel::Create(Options());
  ASSERT_TRUE(channel.ok());
  const SendResult result = (*channel)->Send(MakeDelivery("mailto:ops@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  ASSERT_EQ(sink_->Dir().Files(".eml").size(), 1u);
  EXPECT_EQ(ParseEmail(notify_test::ReadFile(sink_->Dir().Files(".eml")[0])).headers.at("Subject"),
            "Inventory Alert!");
}

TEST_F(SmtpChannelTlsTest, WrongPasswordIsPermanent) {
  SmtpChannelOptions options = Options();
  options.password = "wrong-pa55";
  auto channel = SmtpChannel::Create(options);
  ASSERT_TRUE(channel.ok());
  const SendResult result = (*channel)->Send(MakeDelivery("mailto:ops@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(result.error, StartsWith("smtp 535 from smtp://127.0.0.1:"));
  EXPECT_THAT(result.error, Not(HasSubstr("wrong-pa55")));
  EXPECT_TRUE(sink_->Dir().Files(".eml").empty());
}

TEST_F(SmtpChannelTlsTest, UntrustedCertificateIsPermanent) {
  SmtpChannelOptions options = Options();
  options.insecure_skip_verify = false;
  auto channel = SmtpChannel::Create(options);
  ASSERT_TRUE(channel.ok());
  const SendResult result = (*channel)->Send(MakeDelivery("mailto:ops@example.com"));
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(result.error, HasSubstr("certificate"));
  EXPECT_TRUE(sink_->Dir().Files(".eml").empty());
}

TEST(ComposeEmailTest, IsDeterministicAndSanitizesMessageId) {
  core::Delivery delivery = MakeDelivery("ops@example.com");
  delivery.message.id = "17:No Stock/<x>";
  const auto first = ComposeEmail(delivery, "a@b.c");
  const auto second = ComposeEmail(delivery, "a@b.c");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_THAT(*first, HasSubstr("\r\nMessage-ID: <delivery-7.17-No-Stock/-x-@stockwatch>\r\n"));
}

TEST(ComposeEmailTest, FormatsDates) {
  using namespace std::chrono;
  EXPECT_EQ(FormatRfc5322Date(core::TimePoint{}), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(
      FormatRfc5322Date(core::TimePoint(sys_days(2024y / February / 29)) + 23h + 5min + 7s + 999ms),
      "Thu, 29 Feb 2024 23:05:07 +0000");
  EXPECT_EQ(FormatRfc5322Date(core::TimePoint(sys_days(2023y / December / 31)) - 1s),
            "Sat, 30 Dec 2023 23:59:59 +0000");
}

TEST(ComposeEmailTest, EncodesOnlyWhatNeedsIt) {
  EXPECT_EQ(EncodeHeaderValue("Inventory Alert!"), "Inventory Alert!");
  EXPECT_EQ(EncodeHeaderValue("tab\there"), "tab\there");
  EXPECT_EQ(EncodeHeaderValue("Müsli"), "=?UTF-8?B?TcO8c2xp?=");
  EXPECT_EQ(EncodeHeaderValue(""), "");
}

}  // namespace
}  // namespace stockwatch::adapters
