// No real SMS provider can run on this machine (no network access and no account), so these
// tests run FakeTwilio: a receiver of Twilio's Messages API
// (POST /2010-04-01/Accounts/{AccountSid}/Messages.json) written for the test, which checks
// basic auth and the form fields the way Twilio documents them and answers with Twilio's
// resource and error documents. Scripted replies cover the remaining status codes.
#include "adapters/notify/sms_channel.h"

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/notify/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using notify_test::Hang;
using notify_test::HttpRequest;
using notify_test::MakeDelivery;
using notify_test::Reply;
using notify_test::ScriptedHttpServer;
using notify_test::ScriptedReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using namespace std::chrono_literals;

constexpr char kSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kToken[] = "f4k3t0k3n-s3cr3t-value";
// base64("AC0123456789abcdef0123456789abcdef:f4k3t0k3n-s3cr3t-value"), from python3's base64.
constexpr char kBasicAuth[] =
    "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpmNGszdDBrM24tczNjcjN0LXZhbHVl";
constexpr char kFrom[] = "+15005550006";
constexpr char kTo[] = "+4915112345678";
constexpr char kMessagesPath[] =
    "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

using Form = std::vector<std::pair<std::string, std::string>>;

// Decodes application/x-www-form-urlencoded, keeping the fields in order.
Form ParseForm(const std::string& body) {
  const auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  const auto decode = [&](std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '+') {
        out += ' ';
      } else if (text[i] == '%' && i + 2 < text.size()) {
        out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
        i += 2;
      } else {
        out += text[i];
      }
    }
    return out;
  };
  Form form;
  std::string_view rest = body;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view field = rest.substr(0, amp);
    const size_t eq = field.find('=');
    form.emplace_back(decode(field.substr(0, eq)),
                      eq == std::string_view::npos ? "" : decode(field.substr(eq + 1)));
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
  }
  return form;
}

std::optional<std::string> FormValue(const Form& form, std::string_view name) {
  for (const auto& [key, value] : form) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// Code points in valid UTF-8: every byte that is not a continuation byte starts one.
size_t CodePoints(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return count;
}

// Twilio's Messages resource, as far as SmsChannel uses it.
class FakeTwilio {
 public:
  ScriptedReply Handle(const HttpRequest& request) const {
    if (request.method != "POST" || request.target != kMessagesPath) {
      return Error(404, 20404, "The requested resource was not found");
    }
    const auto auth = request.headers.find("authorization");
    if (auth == request.headers.end() || auth->second != kBasicAuth) {
      return Error(401, 20003, "Authenticate");
    }
    if (request.headers.at("content-type") != "application/x-www-form-urlencoded") {
      return Error(400, 20001, "Unsupported content type");
    }
    const Form form = ParseForm(request.body);
    const std::optional<std::string> to = FormValue(form, "To");
    const std::optional<std::string> from = FormValue(form, "From");
    const std::optional<std::string> body = FormValue(form, "Body");
    if (!to) return Error(400, 21604, "A 'To' phone number is required.");
    if (!from) return Error(400, 21603, "A 'From' phone number is required.");
    if (!body || body->empty()) return Error(400, 21602, "Message body is required.");
    if (CodePoints(*body) > 1600) {
      return Error(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    }
    if (invalid.count(*to)) {
      return Error(400, 21211, "The 'To' number " + *to + " is not a valid phone number.");
    }
    if (unsubscribed.count(*to)) {
      return Error(400, 21610, "Attempt to send to unsubscribed recipient");
    }
    nlohmann::json message = {{"sid", "SM00000000000000000000000000000001"},
                              {"account_sid", kSid},
                              {"to", *to},
                              {"from", *from},
                              {"body", *body},
                              {"status", "queued"},
                              {"num_segments", "1"}};
    return Reply(201, "Content-Type: application/json\r\n", message.dump());
  }

  std::set<std::string> unsubscribed = {"+15005550004"};
  std::set<std::string> invalid = {"+15005550001"};

 private:
  static ScriptedReply Error(int status, int code, const std::string& message) {
    const nlohmann::json doc = {
        {"code", code},
        {"message", message},
        {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
        {"status", status}};
    return Reply(status, "Content-Type: application/json\r\n", doc.dump());
  }
};

// A server answering `count` requests as FakeTwilio does.
std::unique_ptr<ScriptedHttpServer> StartFakeTwilio(size_t count, const FakeTwilio& fake) {
  return std::make_unique<ScriptedHttpServer>(
      count, [&fake](const HttpRequest& request) { return fake.Handle(request); });
}

SmsChannelOptions Options(std::string base_url) {
  SmsChannelOptions options;
  options.base_url = std::move(base_url);
  options.account_sid = kSid;
  options.auth_token = kToken;
  options.from_number = kFrom;
  options.allow_private_targets = true;  // FakeTwilio listens on 127.0.0.1
  return options;
}

core::Delivery SmsDelivery(std::string to = kTo) {
  return MakeDelivery(std::move(to), core::Protocol::kSms);
}

TEST(SmsChannelTest, PostsFormToMessagesResource) {
  FakeTwilio fake;
  auto server = StartFakeTwilio(1, fake);
  SmsChannel channel(Options(server->Url("")));
  core::Delivery delivery = SmsDelivery();
  delivery.message.body = "<b>Berlin & Co</b> is out of stock of Echo Plus=1+1?";
  const SendResult result = channel.Send(delivery);
  server->Join();

  EXPECT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  EXPECT_EQ(result.error, "");
  ASSERT_EQ(server->Requests().size(), 1u);
  const HttpRequest& request = server->Requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, kMessagesPath);
  EXPECT_EQ(request.headers.at("authorization"), kBasicAuth);
  EXPECT_EQ(request.headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(request.headers.at("x-stockwatch-delivery"), "42");
  EXPECT_EQ(request.headers.at("user-agent"), "stockwatch/0.1");
  EXPECT_THAT(ParseForm(request.body),
              ElementsAre(Pair("To", kTo), Pair("From", kFrom),
                          Pair("Body",
                               "Inventory Alert!\n<b>Berlin & Co</b> is out of stock of Echo "
                               "Plus=1+1?")));
  // '&', '=', '+' and '?' in the text are percent-encoded, not field separators.
  EXPECT_THAT(request.body, HasSubstr("%26%20Co"));
  EXPECT_THAT(request.body, HasSubstr("Plus%3D1%2B1%3F"));
  EXPECT_THAT(request.body, Not(HasSubstr(kToken)));
}

TEST(SmsChannelTest, BaseUrlWithPathPrefixAndTrailingSlash) {
  ScriptedHttpServer server({Reply(201)});
  SmsChannel channel(Options(server.Url("/proxy/twilio/")));
  EXPECT_EQ(channel.Send(SmsDelivery()).kind, SendResult::Kind::kDelivered);
  server.Join();
  EXPECT_EQ(server.Requests()[0].target, std::string("/proxy/twilio") + kMessagesPath);
}

TEST(SmsChannelTest, UnsubscribedRecipientIsPermanent) {
  FakeTwilio fake;
  auto server = StartFakeTwilio(1, fake);
  SmsChannel channel(Options(server->Url("")));
  const SendResult result = channel.Send(SmsDelivery("+15005550004"));
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_EQ(result.error, "sms: http 400 from " + server->Url(kMessagesPath) +
                              ": twilio error 21610: Attempt to send to unsubscribed recipient");
  EXPECT_FALSE(result.retry_after.has_value());
}

TEST(SmsChannelTest, InvalidNumberAtProviderIsPermanent) {
  FakeTwilio fake;
  auto server = StartFakeTwilio(1, fake);
  SmsChannel channel(Options(server->Url("")));
  const SendResult result = channel.Send(SmsDelivery("+15005550001"));
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(result.error, HasSubstr("twilio error 21211: The 'To' number +15005550001 is not"));
}

TEST(SmsChannelTest, WrongTokenIsPermanentAndNeverShown) {
  FakeTwilio fake;
  auto server = StartFakeTwilio(1, fake);
  SmsChannelOptions options = Options(server->Url(""));
  options.auth_token = "wr0ng-t0k3n-value";
  SmsChannel channel(options);
  const SendResult result = channel.Send(SmsDelivery());
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(result.error, HasSubstr("http 401"));
  EXPECT_THAT(result.error, HasSubstr("twilio error 20003: Authenticate"));
  EXPECT_THAT(result.error, Not(HasSubstr("wr0ng-t0k3n-value")));
}

TEST(SmsChannelTest, ClassifiesStatusCodes) {
  const auto error_body = [](int code) {
    return R"({"code":)" + std::to_string(code) + R"(,"message":"m","status":0})";
  };
  const std::vector<std::pair<ScriptedReply, SendResult::Kind>> cases = {
      {Reply(201, "", R"({"sid":"SM1"})"), SendResult::Kind::kDelivered},
      {Reply(200, "", "{}"), SendResult::Kind::kDelivered},
      {Reply(400, "", error_body(21211)), SendResult::Kind::kPermanent},
      {Reply(404, "", error_body(20404)), SendResult::Kind::kPermanent},
      {Reply(410, "", ""), SendResult::Kind::kPermanent},
      {Reply(429, "Retry-After: 12\r\n", error_body(20429)), SendResult::Kind::kRetryable},
      {Reply(500, "", "<html>oops</html>"), SendResult::Kind::kRetryable},
      {Reply(503, "", error_body(20503)), SendResult::Kind::kRetryable},
      // 21610 is permanent whatever status carries it.
      {Reply(429, "", error_body(21610)), SendResult::Kind::kPermanent},
      {Reply(503, "", error_body(21610)), SendResult::Kind::kPermanent},
  };
  std::vector<ScriptedReply> replies;
  for (const auto& [reply, kind] : cases) replies.push_back(reply);
  ScriptedHttpServer server(replies);
  SmsChannel channel(Options(server.Url("")));
  for (const auto& [reply, kind] : cases) {
    const SendResult result = channel.Send(SmsDelivery());
    EXPECT_EQ(result.kind, kind) << reply.status << " " << reply.body << ": " << result.error;
    if (kind != SendResult::Kind::kDelivered) {
      EXPECT_THAT(result.error, HasSubstr("sms: http " + std::to_string(reply.status) + " from " +
                                          server.Url(kMessagesPath)));
    }
    const bool has_retry_after = reply.extra_headers.find("Retry-After") != std::string::npos;
    EXPECT_EQ(result.retry_after, has_retry_after && kind == SendResult::Kind::kRetryable
                                      ? std::optional<std::chrono::seconds>(12s)
                                      : std::nullopt);
  }
  server.Join();
  EXPECT_EQ(server.Connections(), 1);
}

TEST(SmsChannelTest, ErrorBodyIsQuotedPrintable) {
  ScriptedHttpServer server({Reply(500, "", "<html>\r\n\x1b[31mfail\xff</html>")});
  SmsChannel channel(Options(server.Url("")));
  const SendResult result = channel.Send(SmsDelivery());
  EXPECT_EQ(result.error,
            "sms: http 500 from " + server.Url(kMessagesPath) + ": <html>???[31mfail?</html>");
}

TEST(SmsChannelTest, RefusesPrivateApiAddressByDefault) {
  // Nothing listens there: if the channel connected, the send would come back retryable.
  SmsChannelOptions options =
      Options("http://127.0.0.1:" + std::to_string(notify_test::UnusedPort()));
  options.allow_private_targets = false;
  SmsChannel channel(options);
  const SendResult result = channel.Send(SmsDelivery());
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_EQ(result.error,
            "sms: refusing to connect to private address 127.0.0.1 (set "
            "notify.allow_private_targets to allow)");
}

TEST(SmsChannelTest, RejectsNonE164EndpointWithoutSending) {
  // Nothing listens on the port: an attempt to send would come back retryable.
  const std::string base = "http://127.0.0.1:" + std::to_string(notify_test::UnusedPort());
  SmsChannel channel(Options(base));
  for (const std::string endpoint :
       {"", "4915112345678", "+49 151 12345678", "tel:+4915112345678", "+0123456789"}) {
    const SendResult result = channel.Send(SmsDelivery(endpoint));
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent) << endpoint;
    EXPECT_THAT(result.error, HasSubstr("E.164")) << endpoint;
  }
}

TEST(SmsChannelTest, E164Table) {
  for (const char* number : {"+4915112345678", "+12025550123", "+12345678", "+123456789012345",
                             "+15005550006", "+9999999999"}) {
    EXPECT_TRUE(IsE164(number)) << number;
  }
  for (const char* number :
       {"", "+", "+1234567", "+1234567890123456", "4915112345678", "004915112345678", "+0123456789",
        "+49 151 12345678", "+49-151-12345678", "+(49)15112345678", "++4915112345678",
        "+49151123456a", " +4915112345678", "+4915112345678 ", "+4915112345678\n",
        "+\xef\xbc\x94\xef\xbc\x99\x31\x35\x31\x31\x32\x33\x34\x35\x36"}) {
    EXPECT_FALSE(IsE164(number)) << number;
  }
}

TEST(SmsChannelTest, ConnectionRefusedAndTimeoutAreRetryableWithoutToken) {
  const std::string base = "http://127.0.0.1:" + std::to_string(notify_test::UnusedPort());
  SmsChannel refused_channel(Options(base));
  const SendResult refused = refused_channel.Send(SmsDelivery());
  EXPECT_EQ(refused.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(refused.error, HasSubstr("(" + base + kMessagesPath + ")"));
  EXPECT_THAT(refused.error, Not(HasSubstr(kToken)));

  ScriptedHttpServer server({Hang()});
  SmsChannelOptions options = Options(server.Url(""));
  options.timeout = 200ms;
  SmsChannel slow_channel(options);
  const SendResult slow = slow_channel.Send(SmsDelivery());
  EXPECT_EQ(slow.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(slow.error, HasSubstr("timed out"));
  EXPECT_THAT(slow.error, Not(HasSubstr(kToken)));
}

TEST(SmsChannelTest, ValidatesOptions) {
  EXPECT_TRUE(ValidateSmsChannelOptions(Options("https://api.twilio.com")).ok());
  SmsChannelOptions defaults;
  defaults.account_sid = kSid;
  defaults.auth_token = kToken;
  defaults.from_number = "Stockwatch";  // alphanumeric sender IDs are allowed
  EXPECT_TRUE(ValidateSmsChannelOptions(defaults).ok());
  EXPECT_EQ(defaults.base_url, "https://api.twilio.com");

  std::vector<SmsChannelOptions> bad(6, Options("https://api.twilio.com"));
  bad[0].base_url = "ftp://api.twilio.com";
  bad[1].account_sid = "";
  bad[2].account_sid = "AC/../../other";
  bad[3].auth_token = "";
  bad[4].from_number = "";
  bad[5].auth_token = std::string(kToken) + "\r\nX-Injected: 1";
  for (const SmsChannelOptions& options : bad) {
    const absl::Status status = ValidateSmsChannelOptions(options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kToken)));
    // A channel with unusable options refuses every delivery, sending nothing.
    SmsChannel channel(options);
    const SendResult result = channel.Send(SmsDelivery());
    EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
    EXPECT_THAT(result.error, HasSubstr("sms channel not configured"));
    EXPECT_THAT(result.error, Not(HasSubstr(kToken)));
  }
}

TEST(SmsChannelTest, BodyIsSubjectNewlineBody) {
  core::Message message = MakeDelivery("").message;
  EXPECT_EQ(SmsBody(message), "Inventory Alert!\nBerlin is out of stock of Echo Plus.");
  message.store = "K\xf6ln";  // not in the text: the body is what the checker wrote
  message.body = "K\xf6ln is out of stock of Echo Plus.";
  EXPECT_EQ(SmsBody(message), "Inventory Alert!\nK\xef\xbf\xbdln is out of stock of Echo Plus.");
}

TEST(SmsChannelTest, BodyCappedAtCodePointBoundary) {
  core::Message message = MakeDelivery("").message;
  message.subject = "Inventory Alert!";  // 16 code points, and the newline: 17
  // 1,583 code points of body make exactly 1,600: sent as they are.
  message.body = std::string(1583, 'a');
  EXPECT_EQ(SmsBody(message), message.subject + "\n" + message.body);
  // One more is cut to 1,599 and the ellipsis.
  message.body += "b";
  std::string cut = SmsBody(message);
  EXPECT_EQ(CodePoints(cut), 1600u);
  EXPECT_EQ(cut, message.subject + "\n" + std::string(1582, 'a') + "\xe2\x80\xa6");

  // Multi-byte characters: 2-byte ü, 3-byte €, 4-byte 😀; the cut never splits one.
  const std::vector<std::string> glyphs = {"\xc3\xbc", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  for (size_t shift = 0; shift < glyphs.size(); ++shift) {
    message.body.clear();
    for (int i = 0; i < 2000; ++i) message.body += glyphs[(i + shift) % glyphs.size()];
    cut = SmsBody(message);
    EXPECT_EQ(CodePoints(cut), 1600u) << shift;
    ASSERT_TRUE(cut.ends_with("\xe2\x80\xa6"));
    std::string expected = message.subject + "\n";
    for (int i = 0; i < 1582; ++i) expected += glyphs[(i + shift) % glyphs.size()];
    EXPECT_EQ(cut, expected + "\xe2\x80\xa6") << shift;
  }
}

TEST(SmsChannelTest, CappedBodyAcceptedByFakeTwilio) {
  FakeTwilio fake;
  auto server = StartFakeTwilio(1, fake);
  SmsChannel channel(Options(server->Url("")));
  core::Delivery delivery = SmsDelivery();
  delivery.message.body.clear();
  for (int i = 0; i < 1000; ++i) delivery.message.body += "M\xc3\xbcnchen \xf0\x9f\x98\x80 ";
  const SendResult result = channel.Send(delivery);
  server->Join();
  EXPECT_EQ(result.kind, SendResult::Kind::kDelivered) << result.error;
  const std::optional<std::string> body = FormValue(ParseForm(server->Requests()[0].body), "Body");
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body, SmsBody(delivery.message));
  EXPECT_EQ(CodePoints(*body), 1600u);
}

TEST(SmsChannelTest, StopKeywords) {
  for (const char* text : {"STOP", "stop", "Stop", " STOP ", "\tstop\r\n", "STOPALL", "unsubscribe",
                           "CANCEL", "end", "QUIT", "revoke", "OptOut"}) {
    EXPECT_EQ(ParseStopKeyword(text), std::optional<bool>(true)) << text;
  }
  for (const char* text : {"START", "start", " Yes\n", "UNSTOP", "unstop"}) {
    EXPECT_EQ(ParseStopKeyword(text), std::optional<bool>(false)) << text;
  }
  for (const char* text : {"", " ", "HELP", "INFO", "stop please", "STOP!", "S T O P", "no",
                           "STOPP", "opt out", "ENDE", "y", "\xef\xbc\xb3TOP"}) {
    EXPECT_EQ(ParseStopKeyword(text), std::nullopt) << text;
  }
}

// The example of Twilio's "Webhooks security" page
// (https://www.twilio.com/docs/usage/security#validating-requests); checked with
//   python3 -c "import hmac,hashlib,base64; u='https://mycompany.com/myapp.php?foo=1&bar=2';
//     p={'CallSid':'CA1234567890ABCDE','Caller':'+12349013030','Digits':'1234',
//        'From':'+12349013030','To':'+18005551212'};
//     s=u+''.join(k+p[k] for k in sorted(p));
//     print(base64.b64encode(hmac.new(b'12345',s.encode(),hashlib.sha1).digest()).decode())"
//   -> 0/KCTR6DLpKmkAf8muzZqo1nDgQ=
TEST(TwilioSignatureTest, DocumentationVector) {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const Form params = {{"CallSid", "CA1234567890ABCDE"},
                       {"Caller", "+12349013030"},
                       {"Digits", "1234"},
                       {"From", "+12349013030"},
                       {"To", "+18005551212"}};
  const std::string signature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
  EXPECT_TRUE(VerifyTwilioSignature("12345", url, params, signature));

  // Any order of the parameters.
  const Form reordered = {params[4], params[2], params[0], params[3], params[1]};
  EXPECT_TRUE(VerifyTwilioSignature("12345", url, reordered, signature));
  // The same URL with the default port, as a proxy may report it.
  EXPECT_TRUE(VerifyTwilioSignature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                                    params, signature));

  EXPECT_FALSE(VerifyTwilioSignature("12346", url, params, signature));  // wrong token
  Form tampered = params;
  tampered[2].second = "1235";
  EXPECT_FALSE(VerifyTwilioSignature("12345", url, tampered, signature));
  Form extra = params;
  extra.emplace_back("Body", "STOP");
  EXPECT_FALSE(VerifyTwilioSignature("12345", url, extra, signature));
  EXPECT_FALSE(VerifyTwilioSignature("12345", url + "&baz=3", params, signature));
  EXPECT_FALSE(VerifyTwilioSignature("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", params,
                                     signature));
  EXPECT_FALSE(VerifyTwilioSignature("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ"));
  EXPECT_FALSE(VerifyTwilioSignature("12345", url, params, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
  EXPECT_FALSE(VerifyTwilioSignature("12345", url, params, ""));
  EXPECT_FALSE(VerifyTwilioSignature("", url, params, signature));
}

// An inbound STOP as our webhook would get it; the signature was computed with
//   python3 -c "import hmac,hashlib,base64;
//     u='https://alerts.example.com/api/v1/sms/inbound?tenant=berlin';
//     p={'AccountSid':'AC0123456789abcdef0123456789abcdef','Body':'STOP',
//        'From':'+4915112345678','MessageSid':'SM00000000000000000000000000000001',
//        'To':'+15005550006'};
//     s=u+''.join(k+p[k] for k in sorted(p));
//     print(base64.b64encode(hmac.new(b'f4k3t0k3n-s3cr3t-value',s.encode(),
//                                     hashlib.sha1).digest()).decode())"
//   -> CjJQduVzqZiHl8woVRfAoYe0c4g=
TEST(TwilioSignatureTest, InboundStopVector) {
  const std::string url = "https://alerts.example.com/api/v1/sms/inbound?tenant=berlin";
  const Form params = {{"To", kFrom},
                       {"From", kTo},
                       {"Body", "STOP"},
                       {"MessageSid", "SM00000000000000000000000000000001"},
                       {"AccountSid", kSid}};
  const std::string signature = "CjJQduVzqZiHl8woVRfAoYe0c4g=";
  EXPECT_TRUE(VerifyTwilioSignature(kToken, url, params, signature));
  EXPECT_TRUE(VerifyTwilioSignature(kToken, url, params, " " + signature + "\r\n"));
  EXPECT_FALSE(VerifyTwilioSignature("f4k3t0k3n-s3cr3t-valuf", url, params, signature));
  Form tampered = params;
  tampered[2].second = "START";
  EXPECT_FALSE(VerifyTwilioSignature(kToken, url, tampered, signature));
  Form renamed = params;
  renamed[1].first = "FROM";
  EXPECT_FALSE(VerifyTwilioSignature(kToken, url, renamed, signature));
}

TEST(SmsChannelTest, ConcurrentSendsToThreadedSink) {
  auto sink = notify_test::Sink::Start("webhook_sink.py", {"--status", "201"});
  ASSERT_TRUE(sink.ok()) << sink.status();
  SmsChannelOptions options = Options("http://127.0.0.1:" + std::to_string((*sink)->Port()));
  options.max_idle_handles = 2;
  SmsChannel channel(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  const int failures = notify_test::SendConcurrently(kThreads, kPerThread, [&](int64_t id) {
    core::Delivery delivery = SmsDelivery();
    delivery.id = id;
    return channel.Send(delivery).kind == SendResult::Kind::kDelivered;
  });
  EXPECT_EQ(failures, 0);
  const std::vector<nlohmann::json> records = notify_test::SinkRecords(**sink);
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const nlohmann::json& record : records) {
    EXPECT_EQ(record["path"], kMessagesPath);
    EXPECT_EQ(record["headers"]["authorization"], kBasicAuth);
    EXPECT_EQ(FormValue(ParseForm(record["body_text"].get<std::string>()), "To"), kTo);
    ids.insert(record["headers"]["x-stockwatch-delivery"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), records.size());
}

}  // namespace
}  // namespace stockwatch::adapters
