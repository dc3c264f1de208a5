#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>

#include "aws/aws_error.h"
#include "aws/checksums.h"
#include "base/status.h"

namespace stockwatch::aws {
namespace {

using std::chrono::seconds;

constexpr std::string_view kTerminator = "aws4_request";
// AWS's own limit on X-Amz-Expires; VerifyOptions may only lower it.
constexpr int64_t kMaxPresignSeconds = 7 * 24 * 3600;

// --- Small text helpers ----------------------------------------------------------------

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

bool IsHexDigest(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), IsHex);
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Decodes %XX escapes; nullopt for a '%' not followed by two hex digits. '+' stays '+':
// SigV4 clients encode a space as %20, and S3 reads '+' in a query as itself.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) return std::nullopt;
    out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
    i += 2;
  }
  return out;
}

// The query parameters of `query`, percent-decoded, in order; nullopt if an escape is bad.
// Empty pieces ("a&&b", a trailing '&') carry no parameter and are skipped.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    std::optional<std::string> name = PercentDecode(piece.substr(0, eq));
    std::optional<std::string> value =
        PercentDecode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

void SplitTarget(std::string_view target, std::string_view& path, std::string_view& query) {
  const size_t q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// The query parameters a presigned URL carries; the verifier reads the first three as
// query credentials.
// The last, X-Amz-Content-Sha256, is not signer-made, but the verifier takes a presigned
// request's payload hash from it: a target that already carries one is not presigned.
constexpr std::string_view kQueryAuthParameters[] = {
    "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Signature",      "X-Amz-Date",
    "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Content-Sha256"};

// Whether `params` hold one of the first `count` kQueryAuthParameters.
bool HasAuthParameter(const std::vector<std::pair<std::string, std::string>>& params,
                      size_t count) {
  for (const auto& [name, value] : params) {
    for (size_t i = 0; i < count; ++i) {
      if (name == kQueryAuthParameters[i]) return true;
    }
  }
  return false;
}

bool HasQueryAuthParameter(std::string_view target, size_t count) {
  std::string_view path;
  std::string_view query;
  SplitTarget(target, path, query);
  std::optional<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(query);
  return params && HasAuthParameter(*params, count);
}

// RFC 3986 dot-segment removal as the non-S3 services apply it, which also drops empty
// segments ("//"); keeps a leading and (when anything is left) a trailing slash.
std::string NormalizePath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  std::string_view rest = path;
  while (true) {
    const size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out;
  if (path.front() == '/') out.push_back('/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  return out;
}

// Appends the canonical form of a header value: trimmed, inner runs of blanks as one space.
void AppendCanonicalValue(std::string_view value, std::string& out) {
  value = Trim(value);
  bool in_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
}

std::vector<std::string_view> SplitSignedHeaders(std::string_view signed_headers) {
  std::vector<std::string_view> names;
  while (true) {
    const size_t semi = signed_headers.find(';');
    names.push_back(signed_headers.substr(0, semi));
    if (semi == std::string_view::npos) break;
    signed_headers.remove_prefix(semi + 1);
  }
  return names;
}

// OK if `signed_headers` is a sorted list of distinct, non-empty, lower-case names that
// includes host; otherwise the reason it is not.
std::optional<std::string> CheckSignedHeaderList(std::string_view signed_headers) {
  if (signed_headers.empty()) return "signed headers are empty";
  const std::vector<std::string_view> names = SplitSignedHeaders(signed_headers);
  bool has_host = false;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string_view name = names[i];
    if (name.empty()) return "signed headers contain an empty name";
    for (char c : name) {
      if (c != AsciiLower(c) || IsSpace(c) || c == ':' || c == ',') {
        return "signed header names must be lower case tokens";
      }
    }
    if (i > 0 && !(names[i - 1] < name)) return "signed headers must be sorted and distinct";
    if (name == "host") has_host = true;
  }
  if (!has_host) return "host must be a signed header";
  return std::nullopt;
}

const std::string* FindHeader(const Headers* headers, std::string_view lower_name) {
  if (headers == nullptr) return nullptr;
  for (const auto& [name, value] : *headers) {
    if (EqualsIgnoreCase(Trim(name), lower_name)) return &value;
  }
  return nullptr;
}

size_t CountHeader(const Headers* headers, std::string_view lower_name) {
  if (headers == nullptr) return 0;
  return static_cast<size_t>(std::count_if(headers->begin(), headers->end(), [&](const auto& h) {
    return EqualsIgnoreCase(Trim(h.first), lower_name);
  }));
}

TimePoint FromCivil(int year, unsigned month, unsigned day, int hour, int minute, int second,
                    bool& ok) {
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month},
                                        std::chrono::day{day}};
  // Years outside 1900..2199 are refused: they are no signing time, and a time_point of
  // nanoseconds cannot hold much beyond 2262.
  ok = year >= 1900 && year <= 2199 && ymd.ok() && hour >= 0 && hour < 24 && minute >= 0 &&
       minute < 60 && second >= 0 && second < 60;
  if (!ok) return {};
  return TimePoint(std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(hour) +
                   std::chrono::minutes(minute) + seconds(second));
}

bool ParseDigits(std::string_view s, int& out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  out = 0;
  for (char c : s) out = out * 10 + (c - '0');
  return true;
}

// The IMF-fixdate of an HTTP Date header: "Fri, 24 May 2013 00:00:00 GMT".
std::optional<TimePoint> ParseHttpDate(std::string_view text) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  text = Trim(text);
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  int day = 0;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ParseDigits(text.substr(5, 2), day) || !ParseDigits(text.substr(12, 4), year) ||
      !ParseDigits(text.substr(17, 2), hour) || !ParseDigits(text.substr(20, 2), minute) ||
      !ParseDigits(text.substr(23, 2), second)) {
    return std::nullopt;
  }
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (text.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  if (month == 0) return std::nullopt;
  bool ok = false;
  const TimePoint time =
      FromCivil(year, month, static_cast<unsigned>(day), hour, minute, second, ok);
  if (!ok) return std::nullopt;
  return time;
}

std::string SignedHeaderNames(const Headers& headers) {
  std::vector<std::string> names;
  names.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    std::string lower = ToLower(Trim(name));
    if (lower != "authorization") names.push_back(std::move(lower));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out.push_back(';');
    out.append(name);
  }
  return out;
}

// An RFC 9110 token character: what a header name is made of.
bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The signer signs every header, so each name must be a token (which also keeps ';', ':'
// and ',' out of SignedHeaders), and host must be among them.
absl::Status CheckHeaderNames(const Headers& headers) {
  bool has_host = false;
  for (const auto& [name, value] : headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return absl::InvalidArgumentError("sigv4: header name \"" + name + "\" cannot be signed");
    }
    if (EqualsIgnoreCase(name, "host")) has_host = true;
  }
  if (!has_host) return absl::InvalidArgumentError("sigv4: the request has no host header");
  return absl::OkStatus();
}

void RemoveHeader(Headers& headers, std::string_view lower_name) {
  std::erase_if(headers,
                [&](const auto& h) { return EqualsIgnoreCase(Trim(h.first), lower_name); });
}

std::string CredentialString(std::string_view access_key_id, const CredentialScope& scope) {
  std::string out(access_key_id);
  out.push_back('/');
  out.append(scope.ToString());
  return out;
}

TimePoint FloorSeconds(TimePoint t) { return std::chrono::floor<seconds>(t); }

// --- Verifier pieces -----------------------------------------------------------------------

struct ParsedCredential {
  std::string access_key_id;
  CredentialScope scope;
  std::string terminator;
};

// "AKID/20130524/us-east-1/s3/aws4_request", read from the right so that the key id may
// hold anything.
std::optional<ParsedCredential> ParseCredential(std::string_view text) {
  ParsedCredential out;
  std::string_view parts[4];
  for (int i = 3; i >= 0; --i) {
    const size_t slash = text.rfind('/');
    if (slash == std::string_view::npos) return std::nullopt;
    parts[i] = text.substr(slash + 1);
    text = text.substr(0, slash);
  }
  if (text.empty()) return std::nullopt;
  out.access_key_id = std::string(text);
  out.scope.date = std::string(parts[0]);
  out.scope.region = std::string(parts[1]);
  out.scope.service = std::string(parts[2]);
  out.terminator = std::string(parts[3]);
  return out;
}

struct ParsedAuthorization {
  std::string credential;
  std::string signed_headers;
  std::string signature;
};

absl::Status HeaderMalformed(std::string_view message) {
  return AwsError(absl::StatusCode::kInvalidArgument, "AuthorizationHeaderMalformed", message);
}
absl::Status QueryMalformed(std::string_view message) {
  return AwsError(absl::StatusCode::kInvalidArgument, "AuthorizationQueryParametersError", message);
}
absl::Status AccessDenied(std::string_view message) {
  return AwsError(absl::StatusCode::kPermissionDenied, "AccessDenied", message);
}

// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...", with the spacing
// around the commas that different clients use (none, one space, several).
absl::StatusOr<ParsedAuthorization> ParseAuthorization(std::string_view value) {
  value = Trim(value);
  if (value.size() <= kAlgorithm.size() || value.substr(0, kAlgorithm.size()) != kAlgorithm ||
      !IsSpace(value[kAlgorithm.size()])) {
    return HeaderMalformed("unsupported authorization type; only AWS4-HMAC-SHA256 is accepted");
  }
  value.remove_prefix(kAlgorithm.size());
  std::optional<std::string> credential;
  std::optional<std::string> signed_headers;
  std::optional<std::string> signature;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view part = Trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return HeaderMalformed("authorization component without '=': " + std::string(part));
    }
    const std::string_view key = Trim(part.substr(0, eq));
    const std::string_view val = Trim(part.substr(eq + 1));
    std::optional<std::string>* slot = nullptr;
    if (key == "Credential") {
      slot = &credential;
    } else if (key == "SignedHeaders") {
      slot = &signed_headers;
    } else if (key == "Signature") {
      slot = &signature;
    } else {
      return HeaderMalformed("unknown authorization component: " + std::string(key));
    }
    if (slot->has_value()) {
      return HeaderMalformed("repeated authorization component: " + std::string(key));
    }
    *slot = std::string(val);
  }
  if (!credential || !signed_headers || !signature) {
    return HeaderMalformed("authorization needs Credential, SignedHeaders and Signature");
  }
  return ParsedAuthorization{std::move(*credential), std::move(*signed_headers),
                             std::move(*signature)};
}

absl::StatusOr<PayloadMode> ClassifyPayloadHash(std::string_view value) {
  if (IsHexDigest(value)) return PayloadMode::kSignedHex;
  if (value == kUnsignedPayload) return PayloadMode::kUnsigned;
  if (value == kStreamingSignedPayload) return PayloadMode::kStreamingSigned;
  if (value == kStreamingSignedTrailerPayload) return PayloadMode::kStreamingSignedTrailer;
  if (value == kStreamingUnsignedTrailerPayload) return PayloadMode::kStreamingUnsignedTrailer;
  return AwsError(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a supported STREAMING-* value "
                  "or a hex SHA-256");
}

// What both kinds of signature share once the credential, date and signed headers are known.
struct SignatureClaim {
  ParsedCredential credential;
  std::string amz_date;
  TimePoint signed_at;
  std::string signed_headers;
  std::string signature;  // as sent
  std::string payload_hash;
};

absl::StatusOr<VerifiedRequest> CheckSignature(const RequestView& request,
                                               const SecretLookup& lookup,
                                               const VerifyOptions& options, SignatureClaim claim) {
  absl::StatusOr<std::string> secret = lookup(claim.credential.access_key_id);
  if (!secret.ok()) {
    if (absl::IsNotFound(secret.status())) {
      return AwsError(absl::StatusCode::kPermissionDenied, "InvalidAccessKeyId",
                      "the access key id does not exist");
    }
    return secret.status();
  }
  VerifiedRequest verified;
  verified.signing_key = DeriveSigningKey(*secret, claim.credential.scope);
  CanonicalOptions canonical;
  canonical.s3_path = options.service == "s3";
  absl::StatusOr<std::string> canonical_request =
      CanonicalRequest(request, claim.signed_headers, claim.payload_hash, canonical);
  if (!canonical_request.ok()) {
    return AwsError(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                    std::string(canonical_request.status().message()));
  }
  const std::string expected =
      Signature(verified.signing_key,
                StringToSign(claim.amz_date, claim.credential.scope, *canonical_request));
  const std::string given = ToLower(claim.signature);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return AwsError(absl::StatusCode::kPermissionDenied, "SignatureDoesNotMatch",
                    "the request signature does not match the one calculated");
  }
  verified.access_key_id = std::move(claim.credential.access_key_id);
  verified.scope = std::move(claim.credential.scope);
  verified.amz_date = std::move(claim.amz_date);
  verified.signed_at = claim.signed_at;
  verified.signature = given;
  SW_ASSIGN_OR_RETURN(verified.payload_mode, ClassifyPayloadHash(claim.payload_hash));
  if (verified.payload_mode == PayloadMode::kSignedHex) {
    verified.payload_sha256_hex = ToLower(claim.payload_hash);
  }
  return verified;
}

// Rejects a missing signed header before any secret is looked up.
std::optional<std::string> MissingSignedHeader(const RequestView& request,
                                               std::string_view signed_headers) {
  for (std::string_view name : SplitSignedHeaders(signed_headers)) {
    if (FindHeader(request.headers, name) == nullptr) {
      return "signed header \"" + std::string(name) + "\" is not in the request";
    }
  }
  return std::nullopt;
}

absl::StatusOr<VerifiedRequest> VerifyHeaderAuth(const RequestView& request,
                                                 std::string_view authorization,
                                                 const SecretLookup& lookup, TimePoint now,
                                                 const VerifyOptions& options) {
  SW_ASSIGN_OR_RETURN(ParsedAuthorization auth, ParseAuthorization(authorization));
  std::optional<ParsedCredential> credential = ParseCredential(auth.credential);
  if (!credential) return HeaderMalformed("malformed Credential: " + auth.credential);
  if (credential->terminator != kTerminator) {
    return HeaderMalformed("credential must end in aws4_request");
  }
  if (!IsHexDigest(auth.signature)) return HeaderMalformed("Signature must be 64 hex digits");
  if (std::optional<std::string> why = CheckSignedHeaderList(auth.signed_headers)) {
    return HeaderMalformed(*why);
  }

  // The signing time: x-amz-date, else the HTTP Date header.
  SignatureClaim claim;
  std::optional<TimePoint> signed_at;
  if (const std::string* amz_date = FindHeader(request.headers, "x-amz-date")) {
    absl::StatusOr<TimePoint> parsed = ParseAmzDate(Trim(*amz_date));
    if (parsed.ok()) signed_at = *parsed;
  } else if (const std::string* date = FindHeader(request.headers, "date")) {
    signed_at = ParseHttpDate(*date);
    if (!signed_at) {
      absl::StatusOr<TimePoint> parsed = ParseAmzDate(Trim(*date));
      if (parsed.ok()) signed_at = *parsed;
    }
  }
  if (!signed_at) {
    return AccessDenied("AWS authentication requires a valid Date or x-amz-date header");
  }
  claim.signed_at = *signed_at;
  claim.amz_date = FormatAmzDate(*signed_at);
  if (credential->scope.date != claim.amz_date.substr(0, 8)) {
    return HeaderMalformed("credential date " + credential->scope.date +
                           " is not the date of x-amz-date " + claim.amz_date);
  }
  if (credential->scope.service != options.service) {
    return HeaderMalformed("credential service must be " + options.service + ", not " +
                           credential->scope.service);
  }
  if (credential->scope.region.empty()) return HeaderMalformed("credential region is empty");
  if (const std::string* content_sha = FindHeader(request.headers, "x-amz-content-sha256")) {
    claim.payload_hash = std::string(Trim(*content_sha));
    SW_RETURN_IF_ERROR(ClassifyPayloadHash(claim.payload_hash).status());
  } else if (options.service == "s3") {
    return AwsError(absl::StatusCode::kInvalidArgument, "MissingSecurityHeader",
                    "the request is missing x-amz-content-sha256");
  } else {
    claim.payload_hash = request.payload_sha256_hex.empty()
                             ? std::string(kEmptySha256)
                             : std::string(request.payload_sha256_hex);
  }

  if (std::optional<std::string> why = MissingSignedHeader(request, auth.signed_headers)) {
    return HeaderMalformed(*why);
  }

  const auto skew = now > claim.signed_at ? now - claim.signed_at : claim.signed_at - now;
  if (skew > options.max_clock_skew) {
    return AwsError(absl::StatusCode::kPermissionDenied, "RequestTimeTooSkewed",
                    "the difference between the request time " + claim.amz_date +
                        " and the server's time is too large");
  }

  claim.credential = std::move(*credential);
  claim.signed_headers = std::move(auth.signed_headers);
  claim.signature = std::move(auth.signature);
  SW_ASSIGN_OR_RETURN(VerifiedRequest verified,
                      CheckSignature(request, lookup, options, std::move(claim)));
  verified.presigned = false;
  verified.valid_until = verified.signed_at + options.max_clock_skew;
  return verified;
}

absl::StatusOr<VerifiedRequest> VerifyPresigned(
    const RequestView& request, const std::vector<std::pair<std::string, std::string>>& params,
    const SecretLookup& lookup, TimePoint now, const VerifyOptions& options) {
  auto single = [&](std::string_view name) -> absl::StatusOr<std::string> {
    const std::string* found = nullptr;
    for (const auto& [key, value] : params) {
      if (key != name) continue;
      if (found != nullptr) return QueryMalformed("repeated query parameter " + std::string(name));
      found = &value;
    }
    if (found == nullptr) return QueryMalformed("missing query parameter " + std::string(name));
    return *found;
  };
  SW_ASSIGN_OR_RETURN(std::string algorithm, single("X-Amz-Algorithm"));
  SW_ASSIGN_OR_RETURN(std::string credential_text, single("X-Amz-Credential"));
  SW_ASSIGN_OR_RETURN(std::string date_text, single("X-Amz-Date"));
  SW_ASSIGN_OR_RETURN(std::string expires_text, single("X-Amz-Expires"));
  SW_ASSIGN_OR_RETURN(std::string signed_headers, single("X-Amz-SignedHeaders"));
  SW_ASSIGN_OR_RETURN(std::string signature, single("X-Amz-Signature"));

  if (algorithm != kAlgorithm) {
    return QueryMalformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  std::optional<ParsedCredential> credential = ParseCredential(credential_text);
  if (!credential) return QueryMalformed("malformed X-Amz-Credential: " + credential_text);
  if (credential->terminator != kTerminator) {
    return QueryMalformed("X-Amz-Credential must end in aws4_request");
  }
  absl::StatusOr<TimePoint> signed_at = ParseAmzDate(date_text);
  if (!signed_at.ok()) return QueryMalformed("X-Amz-Date must be in the ISO8601 basic format");
  int64_t expires = 0;
  {
    const char* first = expires_text.data();
    const char* last = first + expires_text.size();
    const auto [end, ec] = std::from_chars(first, last, expires);
    if (expires_text.empty() || ec != std::errc() || end != last) {
      if (ec == std::errc::result_out_of_range)
        expires = INT64_MAX;
      else
        return QueryMalformed("X-Amz-Expires must be a whole number of seconds");
    }
  }
  if (expires < 1) return QueryMalformed("X-Amz-Expires must be positive");
  const int64_t max_expires =
      std::min<int64_t>(kMaxPresignSeconds, options.max_presign_expiry.count());
  if (expires > max_expires) {
    return AwsError(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                    "X-Amz-Expires must be less than a week (in seconds) that is " +
                        std::to_string(max_expires));
  }
  if (!IsHexDigest(signature)) return QueryMalformed("X-Amz-Signature must be 64 hex digits");
  if (std::optional<std::string> why = CheckSignedHeaderList(signed_headers)) {
    return QueryMalformed(*why);
  }

  SignatureClaim claim;
  claim.signed_at = *signed_at;
  claim.amz_date = date_text;
  if (credential->scope.date != date_text.substr(0, 8)) {
    return QueryMalformed("credential date " + credential->scope.date +
                          " is not the date of X-Amz-Date " + date_text);
  }
  if (credential->scope.service != options.service) {
    return QueryMalformed("credential service must be " + options.service + ", not " +
                          credential->scope.service);
  }
  if (credential->scope.region.empty()) return QueryMalformed("credential region is empty");
  if (std::optional<std::string> why = MissingSignedHeader(request, signed_headers)) {
    return QueryMalformed(*why);
  }

  // A presigned URL signs UNSIGNED-PAYLOAD unless the request names its payload hash.
  claim.payload_hash = std::string(kUnsignedPayload);
  if (const std::string* content_sha = FindHeader(request.headers, "x-amz-content-sha256")) {
    claim.payload_hash = std::string(Trim(*content_sha));
  } else {
    for (const auto& [key, value] : params) {
      if (key == "X-Amz-Content-Sha256") claim.payload_hash = value;
    }
  }
  SW_RETURN_IF_ERROR(ClassifyPayloadHash(claim.payload_hash).status());

  if (claim.signed_at > now && claim.signed_at - now > options.max_clock_skew) {
    return AccessDenied("request is not valid yet");
  }
  if (now > claim.signed_at + seconds(expires)) return AccessDenied("Request has expired");

  claim.credential = std::move(*credential);
  claim.signed_headers = std::move(signed_headers);
  claim.signature = std::move(signature);
  SW_ASSIGN_OR_RETURN(VerifiedRequest verified,
                      CheckSignature(request, lookup, options, std::move(claim)));
  verified.presigned = true;
  verified.valid_until = verified.signed_at + seconds(expires);
  return verified;
}

}  // namespace

std::string CredentialScope::ToString() const {
  std::string out;
  out.reserve(date.size() + region.size() + service.size() + kTerminator.size() + 3);
  out.append(date).append("/").append(region).append("/").append(service).append("/");
  out.append(kTerminator);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  SW_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
                &size) != nullptr);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

SigningKey DeriveSigningKey(std::string_view secret, const CredentialScope& scope) {
  std::string key = "AWS4";
  key.append(secret);
  key = HmacSha256(key, scope.date);
  key = HmacSha256(key, scope.region);
  key = HmacSha256(key, scope.service);
  key = HmacSha256(key, kTerminator);
  SigningKey out{};
  SW_CHECK(key.size() == out.size());
  std::copy(key.begin(), key.end(), out.begin());
  return out;
}

std::string FormatAmzDate(TimePoint time) {
  const auto secs = std::chrono::floor<seconds>(time);
  const auto days = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss<seconds> hms{secs - days};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

absl::StatusOr<TimePoint> ParseAmzDate(std::string_view text) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z' ||
      !ParseDigits(text.substr(0, 4), year) || !ParseDigits(text.substr(4, 2), month) ||
      !ParseDigits(text.substr(6, 2), day) || !ParseDigits(text.substr(9, 2), hour) ||
      !ParseDigits(text.substr(11, 2), minute) || !ParseDigits(text.substr(13, 2), second)) {
    return absl::InvalidArgumentError("amz date \"" + std::string(text) +
                                      "\" is not YYYYMMDDTHHMMSSZ");
  }
  bool ok = false;
  const TimePoint time = FromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day),
                                   hour, minute, second, ok);
  if (!ok) return absl::InvalidArgumentError("amz date \"" + std::string(text) + "\" is invalid");
  return time;
}

std::string UriEncode(std::string_view bytes, bool encode_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

absl::StatusOr<std::string> CanonicalRequest(const RequestView& request,
                                             std::string_view signed_headers,
                                             std::string_view payload_hash,
                                             const CanonicalOptions& options) {
  std::string_view path;
  std::string_view query;
  SplitTarget(request.target, path, query);

  std::string out;
  out.reserve(256 + request.target.size());
  out.append(request.method).push_back('\n');
  // S3 signs the path exactly as sent; the other services sign the normalized path, encoded
  // once more (so an escape the client sent appears as %25XX).
  if (options.s3_path) {
    out.append(path.empty() ? std::string_view("/") : path);
  } else {
    out.append(UriEncode(NormalizePath(path), /*encode_slash=*/false));
  }
  out.push_back('\n');

  std::optional<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(query);
  if (!params) return absl::InvalidArgumentError("sigv4: malformed percent-escape in the query");
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params->size());
  for (const auto& [name, value] : *params) {
    if (name == "X-Amz-Signature") continue;
    encoded.emplace_back(UriEncode(name, true), UriEncode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (i > 0) out.push_back('&');
    out.append(encoded[i].first).append("=").append(encoded[i].second);
  }
  out.push_back('\n');

  for (std::string_view name : SplitSignedHeaders(signed_headers)) {
    out.append(name).push_back(':');
    bool found = false;
    if (request.headers != nullptr) {
      for (const auto& [header_name, value] : *request.headers) {
        if (!EqualsIgnoreCase(Trim(header_name), name)) continue;
        if (found) out.push_back(',');
        AppendCanonicalValue(value, out);
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError("sigv4: signed header \"" + std::string(name) +
                                        "\" is not in the request");
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  out.append(signed_headers).push_back('\n');
  out.append(payload_hash);
  return out;
}

std::string StringToSign(std::string_view amz_date, const CredentialScope& scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.push_back('\n');
  out.append(amz_date).push_back('\n');
  out.append(scope.ToString()).push_back('\n');
  out.append(Sha256Hex(canonical_request));
  return out;
}

std::string Signature(const SigningKey& key, std::string_view string_to_sign) {
  return HexEncode(HmacSha256(
      std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), string_to_sign));
}

absl::Status SignRequest(std::string_view method, std::string_view target, Headers& headers,
                         const Credentials& credentials, const SignOptions& options) {
  const TimePoint now = FloorSeconds(options.now);
  const std::string amz_date = FormatAmzDate(now);
  RemoveHeader(headers, "authorization");
  RemoveHeader(headers, "x-amz-date");
  headers.emplace_back("x-amz-date", amz_date);
  if (options.service == "s3") {
    RemoveHeader(headers, "x-amz-content-sha256");
    headers.emplace_back("x-amz-content-sha256", options.payload_hash);
  }
  if (!credentials.session_token.empty()) {
    RemoveHeader(headers, "x-amz-security-token");
    headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  SW_RETURN_IF_ERROR(CheckHeaderNames(headers));
  if (HasQueryAuthParameter(target, 3)) {
    return absl::InvalidArgumentError("sigv4: the target already carries query credentials");
  }

  const CredentialScope scope{amz_date.substr(0, 8), options.region, options.service};
  const std::string signed_headers = SignedHeaderNames(headers);
  const RequestView view{method, target, &headers};
  SW_ASSIGN_OR_RETURN(
      std::string canonical_request,
      CanonicalRequest(view, signed_headers, options.payload_hash, options.canonical));
  const std::string signature = Signature(DeriveSigningKey(credentials.secret_access_key, scope),
                                          StringToSign(amz_date, scope, canonical_request));
  std::string authorization(kAlgorithm);
  authorization.append(" Credential=").append(CredentialString(credentials.access_key_id, scope));
  authorization.append(", SignedHeaders=").append(signed_headers);
  authorization.append(", Signature=").append(signature);
  headers.emplace_back("Authorization", std::move(authorization));
  return absl::OkStatus();
}

absl::StatusOr<std::string> PresignTarget(std::string_view method, std::string_view target,
                                          const Headers& headers, const Credentials& credentials,
                                          const SignOptions& options,
                                          std::chrono::seconds expires) {
  if (expires.count() < 1 || expires.count() > kMaxPresignSeconds) {
    return absl::InvalidArgumentError("sigv4: presign expiry must be 1 s to 7 days");
  }
  SW_RETURN_IF_ERROR(CheckHeaderNames(headers));
  if (HasQueryAuthParameter(target, std::size(kQueryAuthParameters))) {
    return absl::InvalidArgumentError(
        "sigv4: the target already carries X-Amz-* presign "
        "parameters");
  }
  const TimePoint now = FloorSeconds(options.now);
  const std::string amz_date = FormatAmzDate(now);
  const CredentialScope scope{amz_date.substr(0, 8), options.region, options.service};
  const std::string signed_headers = SignedHeaderNames(headers);

  std::string presigned(target);
  const size_t question = presigned.find('?');
  if (question == std::string::npos) {
    presigned.push_back('?');
  } else if (question + 1 < presigned.size() && presigned.back() != '&') {
    // A query is there already ("?a=1", or even "?a?"): the parameters join it.
    presigned.push_back('&');
  }
  presigned.append("X-Amz-Algorithm=").append(kAlgorithm);
  presigned.append("&X-Amz-Credential=")
      .append(UriEncode(CredentialString(credentials.access_key_id, scope), true));
  presigned.append("&X-Amz-Date=").append(amz_date);
  presigned.append("&X-Amz-Expires=").append(std::to_string(expires.count()));
  presigned.append("&X-Amz-SignedHeaders=").append(UriEncode(signed_headers, true));
  if (!credentials.session_token.empty()) {
    presigned.append("&X-Amz-Security-Token=").append(UriEncode(credentials.session_token, true));
  }

  std::string payload_hash(kUnsignedPayload);
  if (const std::string* content_sha = FindHeader(&headers, "x-amz-content-sha256")) {
    payload_hash = std::string(Trim(*content_sha));
  }
  const RequestView view{method, presigned, &headers};
  SW_ASSIGN_OR_RETURN(std::string canonical_request,
                      CanonicalRequest(view, signed_headers, payload_hash, options.canonical));
  const std::string signature = Signature(DeriveSigningKey(credentials.secret_access_key, scope),
                                          StringToSign(amz_date, scope, canonical_request));
  presigned.append("&X-Amz-Signature=").append(signature);
  return presigned;
}

absl::StatusOr<VerifiedRequest> VerifyRequest(const RequestView& request,
                                              const SecretLookup& lookup, TimePoint now,
                                              const VerifyOptions& options) {
  std::string_view path;
  std::string_view query;
  SplitTarget(request.target, path, query);
  std::optional<std::vector<std::pair<std::string, std::string>>> params = ParseQuery(query);
  if (!params) {
    return AwsError(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                    "malformed percent-escape in the query");
  }
  const bool query_auth = HasAuthParameter(*params, 3);
  const size_t authorization_count = CountHeader(request.headers, "authorization");
  if (authorization_count > 0 && query_auth) {
    return AwsError(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                    "only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
                    "or the Authorization header should be specified");
  }
  if (authorization_count > 1) return HeaderMalformed("more than one Authorization header");
  if (authorization_count == 1) {
    return VerifyHeaderAuth(request, *FindHeader(request.headers, "authorization"), lookup, now,
                            options);
  }
  if (query_auth) return VerifyPresigned(request, *params, lookup, now, options);
  return AccessDenied("the request carries no credentials");
}

}  // namespace stockwatch::aws
