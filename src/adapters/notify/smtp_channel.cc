#include "adapters/notify/smtp_channel.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "adapters/notify/curl_support.h"
#include "adapters/notify/subscription_messages.h"
#include "base/status.h"

namespace stockwatch::adapters {
namespace {

using core::SendResult;
using notify_internal::CurlHandlePool;
using notify_internal::HasLineBreak;

// RFC 5322 limits a line to 998 octets (without CRLF).
constexpr size_t kMaxLineOctets = 998;
// RFC 2047: an encoded word is at most 75 characters; "=?UTF-8?B?" and "?=" take 12 of them,
// leaving 63, so 60 base64 characters, which carry 45 bytes.
constexpr size_t kEncodedWordPayloadBytes = 45;
// Longest server reply kept for an error text.
constexpr size_t kMaxReplyChars = 200;

SendResult Retryable(std::string error) {
  return SendResult{SendResult::Kind::kRetryable, std::move(error), std::nullopt};
}

SendResult Permanent(std::string error) {
  return SendResult{SendResult::Kind::kPermanent, std::move(error), std::nullopt};
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A bare address local@domain in the common unquoted form. Quoted local parts, domain
// literals and internationalised addresses (SMTPUTF8) are not supported.
absl::Status ValidateAddress(std::string_view address) {
  if (HasLineBreak(address)) {
    return absl::InvalidArgumentError("CR or LF in email address (header injection)");
  }
  if (address.empty() || address.size() > 254) {
    return absl::InvalidArgumentError("email address is empty or longer than 254 bytes");
  }
  for (char c : address) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f || std::strchr("<>()[],;:\\\"", c) != nullptr) {
      return absl::InvalidArgumentError(
          "email address must be one plain ASCII local@domain without spaces or brackets");
    }
  }
  const size_t at = address.find('@');
  if (at == std::string_view::npos || at != address.rfind('@') || at == 0 || at > 64 ||
      at + 1 == address.size()) {
    return absl::InvalidArgumentError("email address must be local@domain");
  }
  const std::string_view domain = address.substr(at + 1);
  if (domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return absl::InvalidArgumentError("email address has an invalid domain");
  }
  return absl::OkStatus();
}

// RFC 5322 atext: what may appear in a msg-id's left part without quoting.
bool IsAtext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

// Turns bare CR, bare LF and CRLF into CRLF, as SMTP requires.
std::string NormalizeLineEnds(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Whether `body` (CRLF line ends) can go as 8bit: no line over 998 octets and no NUL.
bool Fits8bit(std::string_view body) {
  if (body.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find("\r\n", start);
    if (end == std::string_view::npos) end = body.size();
    if (end - start > kMaxLineOctets) return false;
    start = end + 2;
  }
  return true;
}

// RFC 2045 quoted-printable of `body` (CRLF line ends kept as hard breaks), lines at most 76
// characters with soft breaks.
std::string QuotedPrintable(std::string_view body) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find("\r\n", start);
    const bool last = end == std::string_view::npos;
    if (last) end = body.size();
    size_t column = 0;
    for (size_t i = start; i < end; ++i) {
      const auto byte = static_cast<unsigned char>(body[i]);
      const bool trailing_blank = (byte == ' ' || byte == '\t') && i + 1 == end;
      std::string token;
      if (((byte >= 33 && byte <= 126) && byte != '=') ||
          ((byte == ' ' || byte == '\t') && !trailing_blank)) {
        token.assign(1, static_cast<char>(byte));
      } else {
        token = {'=', kHex[byte >> 4], kHex[byte & 0xf]};
      }
      // Keep room for the "=" of a soft break: at most 76 characters per line.
      if (column + token.size() > 75) {
        out += "=\r\n";
        column = 0;
      }
      out += token;
      column += token.size();
    }
    if (last) break;
    out += "\r\n";
    start = end + 2;
  }
  return out;
}

std::string MessageIdHeader(const core::Delivery& delivery) {
  std::string left = "delivery-" + std::to_string(delivery.id);
  if (!delivery.message.id.empty()) {
    left += '.';
    for (char c : delivery.message.id) left += IsAtext(c) ? c : '-';
  }
  return "<" + left + "@stockwatch>";
}

struct ComposedEmail {
  std::string recipient;
  std::string data;
};

// The HTML part of an email with links: `text` (CRLF line ends) escaped, with the
// unsubscribe (and, for a confirmation, the confirm) link made clickable.
std::string HtmlPart(std::string_view text, std::string_view unsubscribe_url) {
  std::string html =
      "<!doctype html>\r\n<html><head><meta charset=\"utf-8\"></head><body>\r\n<pre "
      "style=\"font-family:sans-serif;white-space:pre-wrap\">";
  for (char c : text) {
    switch (c) {
      case '&':
        html += "&amp;";
        break;
      case '<':
        html += "&lt;";
        break;
      case '>':
        html += "&gt;";
        break;
      case '"':
        html += "&quot;";
        break;
      default:
        html += c;
    }
  }
  html += "</pre>\r\n";
  if (!unsubscribe_url.empty()) {
    // The URL is ours (base URL and a token of [0-9a-f.]), but escape it all the same.
    std::string href;
    for (char c : unsubscribe_url) href += c == '"' ? std::string("&quot;") : std::string(1, c);
    html += "<p><a href=\"" + href + "\">Unsubscribe</a> from these alerts.</p>\r\n";
  }
  html += "</body></html>\r\n";
  return html;
}

absl::StatusOr<ComposedEmail> Compose(const core::Delivery& delivery, std::string_view from,
                                      const core::SubscriberLinks* links = nullptr) {
  const core::Message& message = delivery.message;
  ComposedEmail email;
  SW_ASSIGN_OR_RETURN(email.recipient, EmailAddressFromEndpoint(delivery.subscription.endpoint));
  SW_RETURN_IF_ERROR(ValidateAddress(from));
  if (HasLineBreak(message.subject)) {
    return absl::InvalidArgumentError("CR or LF in subject (header injection)");
  }
  // With links, every email says how to unsubscribe (RFC 8058 one-click, and in the text).
  const std::string unsubscribe_url =
      links != nullptr ? links->UnsubscribeUrl(delivery.subscription.id) : std::string();
  if (HasLineBreak(unsubscribe_url)) {
    return absl::InvalidArgumentError("CR or LF in the unsubscribe URL (header injection)");
  }

  std::string text;
  if (message.kind == core::MessageKind::kSubscriptionConfirmation) {
    text = NormalizeLineEnds(SubscriptionConfirmationText(
        delivery, links != nullptr ? *links : core::SubscriberLinks{}));
  } else if (message.kind == core::MessageKind::kTest) {
    text = NormalizeLineEnds(message.body);
    if (!text.empty() && !text.ends_with("\r\n")) text += "\r\n";
  } else {
    text = NormalizeLineEnds(message.body);
    if (!text.empty() && !text.ends_with("\r\n")) text += "\r\n";
    text += "\r\n-- \r\n";
    text += NormalizeLineEnds("Store: " + message.store + "\nItem: " + message.item + "\nCount: " +
                              (message.old_count ? std::to_string(*message.old_count) : "new") +
                              " -> " + std::to_string(message.new_count) + "\n");
  }
  if (!unsubscribe_url.empty()) {
    text += "\r\nTo stop these alerts, unsubscribe: " + unsubscribe_url + "\r\n";
  }
  // The parts' boundary: stable per delivery (same bytes on every retry). A text part that
  // happens to contain it goes quoted-printable, where "=_" cannot occur.
  const std::string boundary = "=_stockwatch_" + std::to_string(delivery.id);
  const bool eight_bit =
      Fits8bit(text) && (unsubscribe_url.empty() || text.find(boundary) == std::string::npos);
  const std::string text_encoding = eight_bit ? "Content-Transfer-Encoding: 8bit\r\n"
                                              : "Content-Transfer-Encoding: quoted-printable\r\n";

  std::string& out = email.data;
  out.reserve(3 * text.size() + 1024);
  out += "From: " + std::string(from) + "\r\n";
  out += "To: " + email.recipient + "\r\n";
  out += "Subject: " + EncodeHeaderValue(message.subject) + "\r\n";
  out += "Date: " + FormatRfc5322Date(message.at) + "\r\n";
  out += "Message-ID: " + MessageIdHeader(delivery) + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  if (unsubscribe_url.empty()) {
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += text_encoding;
    out += "Auto-Submitted: auto-generated\r\n";
    out += "\r\n";
    out += eight_bit ? text : QuotedPrintable(text);
    return email;
  }
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "List-Unsubscribe: <" + unsubscribe_url + ">\r\n";
  out += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
  out += "\r\n";
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += text_encoding;
  out += "\r\n";
  out += eight_bit ? text : QuotedPrintable(text);
  if (!out.ends_with("\r\n")) out += "\r\n";
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/html; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n";
  out += "\r\n";
  out += QuotedPrintable(HtmlPart(text, unsubscribe_url));
  if (!out.ends_with("\r\n")) out += "\r\n";
  out += "--" + boundary + "--\r\n";
  return email;
}

// Hands the prepared email to libcurl in pieces.
struct UploadSource {
  std::string_view data;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* source = static_cast<UploadSource*>(user);
  const size_t n = std::min(size * count, source->data.size() - source->offset);
  std::memcpy(buffer, source->data.data() + source->offset, n);
  source->offset += n;
  return n;
}

// libcurl passes each SMTP server reply line to the header callback. The last error reply
// (4xx or 5xx) explains a failure better than curl's "RCPT failed: 550"; later replies, such
// as "221 Bye" to the QUIT sent when a failed connection is closed, do not replace it.
size_t OnReplyLine(char* data, size_t size, size_t count, void* user) {
  const size_t length = size * count;
  auto* last_error_reply = static_cast<std::string*>(user);
  const std::string_view line = notify_internal::Trim(std::string_view(data, length));
  if (line.size() < 3 || (line[0] != '4' && line[0] != '5')) return length;
  last_error_reply->clear();
  for (char c : line.substr(0, kMaxReplyChars)) {
    // The text comes from the server: keep it printable so it cannot forge log lines.
    const auto byte = static_cast<unsigned char>(c);
    *last_error_reply += (byte >= 0x20 && byte < 0x7f) ? c : '?';
  }
  return length;
}

std::string ScrubSecrets(std::string text, const std::vector<std::string>& secrets) {
  notify_internal::ParsedUrl holder;
  holder.secrets = secrets;
  return notify_internal::ScrubSecrets(std::move(text), holder);
}

}  // namespace

absl::StatusOr<std::string> EmailAddressFromEndpoint(std::string_view endpoint) {
  if (HasLineBreak(endpoint)) {
    return absl::InvalidArgumentError("CR or LF in email address (header injection)");
  }
  std::string address;
  if (notify_internal::StartsWithIgnoreCase(endpoint, "mailto:")) {
    endpoint.remove_prefix(7);
    if (endpoint.find('?') != std::string_view::npos) {
      return absl::InvalidArgumentError("mailto: with a query is not supported");
    }
    // RFC 6068: the address may be percent-encoded. Decode, then validate the result, so an
    // encoded CR or LF is caught like a literal one.
    for (size_t i = 0; i < endpoint.size(); ++i) {
      if (endpoint[i] != '%') {
        address += endpoint[i];
        continue;
      }
      const int high = i + 2 < endpoint.size() ? HexValue(endpoint[i + 1]) : -1;
      const int low = i + 2 < endpoint.size() ? HexValue(endpoint[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return absl::InvalidArgumentError("mailto: has a bad percent escape");
      }
      address += static_cast<char>(high * 16 + low);
      i += 2;
    }
  } else {
    address = std::string(endpoint);
  }
  SW_RETURN_IF_ERROR(ValidateAddress(address));
  return address;
}

std::string EncodeHeaderValue(std::string_view value) {
  bool plain = value.size() <= kMaxLineOctets - 100 && value.find("=?") == std::string_view::npos;
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && byte != '\t') || byte >= 0x7f) plain = false;
  }
  if (plain) return std::string(value);

  std::string out;
  size_t start = 0;
  while (start < value.size()) {
    // Take whole UTF-8 characters (an invalid byte counts as one) up to the payload limit,
    // so no encoded word ends in the middle of a character.
    size_t end = start;
    while (end < value.size()) {
      const auto lead = static_cast<unsigned char>(value[end]);
      size_t length = 1;
      if (lead >= 0xf0 && lead <= 0xf7) {
        length = 4;
      } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
      } else if (lead >= 0xc0 && lead <= 0xdf) {
        length = 2;
      }
      length = std::min(length, value.size() - end);
      if (end - start + length > kEncodedWordPayloadBytes) break;
      end += length;
    }
    if (!out.empty()) out += "\r\n ";  // folding whitespace between words is not displayed
    out += "=?UTF-8?B?" + absl::Base64Escape(absl::string_view(value.data() + start, end - start)) +
           "?=";
    start = end;
  }
  return out;
}

std::string FormatRfc5322Date(core::TimePoint at) {
  using namespace std::chrono;
  static constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto secs = floor<seconds>(at);
  const auto day = floor<days>(secs);
  const year_month_day date(day);
  const hh_mm_ss time(secs - day);
  char text[64];
  std::snprintf(text, sizeof(text), "%s, %02u %s %04d %02d:%02d:%02d +0000",
                kWeekdays[weekday(day).c_encoding()], static_cast<unsigned>(date.day()),
                kMonths[static_cast<unsigned>(date.month()) - 1], static_cast<int>(date.year()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

absl::StatusOr<std::string> ComposeEmail(const core::Delivery& delivery, std::string_view from) {
  SW_ASSIGN_OR_RETURN(ComposedEmail email, Compose(delivery, from));
  return std::move(email.data);
}

absl::StatusOr<std::string> ComposeEmail(const core::Delivery& delivery, std::string_view from,
                                         const core::SubscriberLinks& links) {
  SW_ASSIGN_OR_RETURN(ComposedEmail email, Compose(delivery, from, &links));
  return std::move(email.data);
}

absl::StatusOr<std::unique_ptr<SmtpChannel>> SmtpChannel::Create(SmtpChannelOptions options) {
  absl::StatusOr<notify_internal::ParsedUrl> url =
      notify_internal::ParseUrl(options.url, std::vector<std::string_view>{"smtp", "smtps"});
  if (!url.ok()) return absl::InvalidArgumentError("smtp " + std::string(url.status().message()));
  if (absl::Status status = ValidateAddress(options.from); !status.ok()) {
    return absl::InvalidArgumentError("smtp from address: " + std::string(status.message()));
  }
  std::string redacted = url->redacted;
  if (redacted.ends_with("/") &&
      redacted.find('/', url->scheme.size() + 3) + 1 == redacted.size()) {
    redacted.pop_back();  // "smtp://host:25/" reads better without the empty EHLO path
  }
  std::vector<std::string> secrets = url->secrets;
  if (!options.password.empty()) secrets.push_back(options.password);
  return std::unique_ptr<SmtpChannel>(
      new SmtpChannel(std::move(options), std::move(redacted), std::move(secrets)));
}

SmtpChannel::SmtpChannel(SmtpChannelOptions options, std::string redacted_url,
                         std::vector<std::string> secrets)
    : options_(std::move(options)),
      redacted_url_(std::move(redacted_url)),
      secrets_(std::move(secrets)),
      pool_(std::make_unique<CurlHandlePool>(options_.max_idle_handles)) {}

SmtpChannel::~SmtpChannel() = default;

SendResult SmtpChannel::Send(const core::Delivery& delivery) {
  // Exceptions stop here: the port never throws.
  try {
    absl::StatusOr<ComposedEmail> email = Compose(delivery, options_.from, &options_.links);
    if (!email.ok()) return Permanent("refusing to send: " + std::string(email.status().message()));

    struct SlistDeleter {
      void operator()(curl_slist* list) const { curl_slist_free_all(list); }
    };
    const std::string rcpt = "<" + email->recipient + ">";
    std::unique_ptr<curl_slist, SlistDeleter> recipients(curl_slist_append(nullptr, rcpt.c_str()));
    if (recipients == nullptr) return Retryable("out of memory building email");
    const std::string mail_from = "<" + options_.from + ">";

    CurlHandlePool::Lease lease = pool_->Acquire();
    CURL* curl = lease.Handle();
    if (curl == nullptr) return Retryable("curl_easy_init failed");

    UploadSource source{email->data, 0};
    std::string last_error_reply;
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_USE_SSL,
                     static_cast<long>(options_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    if (options_.insecure_skip_verify) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!options_.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients.get());
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &source);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(email->data.size()));
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnReplyLine);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &last_error_reply);

    const CURLcode rc = curl_easy_perform(curl);
    // The handle goes back to the pool holding pointers into this frame; clear those that
    // closing its cached connection could still use (QUIT replies reach the header callback).
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, nullptr);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, nullptr);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
    if (rc == CURLE_OK) return SendResult{};

    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    std::string curl_text = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    curl_text = ScrubSecrets(std::move(curl_text), secrets_);
    if (code >= 400 && code < 600) {
      std::string text =
          "smtp " + std::to_string(code) + " from " + redacted_url_ + ": " +
          (last_error_reply.empty() ? curl_text : ScrubSecrets(last_error_reply, secrets_));
      return code < 500 ? Retryable(std::move(text)) : Permanent(std::move(text));
    }
    std::string text = curl_text + " (" + redacted_url_ + ")";
    // Errors that come with an SMTP reply code were classified by the code above.
    return notify_internal::IsPermanentCurlError(rc, notify_internal::CurlProtocol::kSmtp)
               ? Permanent(std::move(text))
               : Retryable(std::move(text));
  } catch (const std::bad_alloc&) {
    return Retryable("out of memory sending email");
  } catch (const std::exception& e) {
    return Permanent(std::string("smtp: ") + e.what());
  }
}

}  // namespace stockwatch::adapters
