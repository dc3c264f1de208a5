#include "aws/aws_chunked.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "aws/aws_error.h"
#include "aws/checksums.h"
#include "base/status.h"

namespace stockwatch::aws {
namespace {

// A chunk-size line is "<hex>;chunk-signature=<64 hex>" (about 90 bytes); anything much
// longer is not a client we talk to.
constexpr size_t kMaxSizeLineBytes = 1024;
// At most 16 hex digits, so that the size fits a uint64_t (max_chunk_bytes is far lower).
constexpr size_t kMaxSizeDigits = 16;
constexpr std::string_view kChunkSignatureKey = "chunk-signature";
constexpr std::string_view kTrailerSignatureName = "x-amz-trailer-signature";

absl::Status Framing(std::string_view message) {
  return AwsError(absl::StatusCode::kInvalidArgument, "InvalidArgument",
                  "aws-chunked: " + std::string(message));
}
absl::Status Incomplete(std::string_view message) {
  return AwsError(absl::StatusCode::kInvalidArgument, "IncompleteBody",
                  "aws-chunked: " + std::string(message));
}
absl::Status BadSignature(std::string_view message) {
  return AwsError(absl::StatusCode::kPermissionDenied, "SignatureDoesNotMatch",
                  "aws-chunked: " + std::string(message));
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHexDigest(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return HexValue(c) >= 0; });
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The decoder's state (AwsChunkedDecoder::State derives from it, so that the helpers below
// can name it).
struct DecoderState {
  enum class Phase { kSizeLine, kData, kDataCrlf, kTrailer, kDone, kFailed };

  DecoderState() = default;
  DecoderState(const DecoderState&) = delete;
  DecoderState& operator=(const DecoderState&) = delete;
  ~DecoderState() { EVP_MD_CTX_free(sha); }

  Phase phase = Phase::kSizeLine;
  absl::Status failure;    // sticky once phase is kFailed
  std::string line;        // a size or trailer line split across feeds
  uint64_t remaining = 0;  // data bytes left in the current chunk
  int crlf_seen = 0;       // bytes of the CRLF after chunk data seen so far
  uint64_t decoded = 0;
  bool is_signed = false;
  std::string scope;               // options.scope.ToString(), computed once
  std::string chunk_signature;     // claimed signature of the current chunk, lower case
  std::string previous_signature;  // seed, then each verified chunk's
  EVP_MD_CTX* sha = nullptr;       // SHA-256 of the current chunk's data (signed modes)
  size_t trailer_bytes = 0;
  bool trailer_separator_seen = false;
  bool trailer_line_seen = false;
  bool trailer_signature_seen = false;
  std::vector<std::pair<std::string, std::string>> trailers;
};

using State = DecoderState;

bool HasTrailers(PayloadMode mode) {
  return mode == PayloadMode::kStreamingSignedTrailer ||
         mode == PayloadMode::kStreamingUnsignedTrailer;
}

std::string ChunkSignature(const AwsChunkedOptions& options, const State& state,
                           std::string_view data_sha256_hex) {
  std::string to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n";
  to_sign.append(options.amz_date).push_back('\n');
  to_sign.append(state.scope).push_back('\n');
  to_sign.append(state.previous_signature).push_back('\n');
  to_sign.append(kEmptySha256).push_back('\n');
  to_sign.append(data_sha256_hex);
  return Signature(options.signing_key, to_sign);
}

// Checks the claimed signature of the chunk just read, whose data hashed to `sha256_hex`.
absl::Status VerifyChunk(const AwsChunkedOptions& options, State& state,
                         std::string_view sha256_hex) {
  const std::string expected = ChunkSignature(options, state, sha256_hex);
  if (!ConstantTimeEquals(expected, state.chunk_signature)) {
    return BadSignature("chunk signature does not match");
  }
  state.previous_signature = expected;
  return absl::OkStatus();
}

absl::Status OnSizeLine(const AwsChunkedOptions& options, State& state, std::string_view line) {
  if (line.empty() || line.back() != '\r') return Framing("chunk-size line must end in CRLF");
  line.remove_suffix(1);
  size_t digits = 0;
  uint64_t size = 0;
  while (digits < line.size() && HexValue(line[digits]) >= 0) {
    if (digits == kMaxSizeDigits) return Framing("chunk size is too long");
    size = size * 16 + static_cast<uint64_t>(HexValue(line[digits]));
    ++digits;
  }
  if (digits == 0) return Framing("chunk-size line does not start with a hex size");
  std::string_view extensions = Trim(line.substr(digits));
  std::optional<std::string_view> signature;
  if (!extensions.empty()) {
    if (extensions.front() != ';') return Framing("garbage after the chunk size");
    extensions.remove_prefix(1);
    while (true) {
      const size_t semi = extensions.find(';');
      const std::string_view extension = Trim(extensions.substr(0, semi));
      const size_t eq = extension.find('=');
      if (Trim(extension.substr(0, eq)) == kChunkSignatureKey) {
        if (signature) return Framing("repeated chunk-signature");
        signature =
            eq == std::string_view::npos ? std::string_view() : Trim(extension.substr(eq + 1));
      }
      if (semi == std::string_view::npos) break;
      extensions.remove_prefix(semi + 1);
    }
  }
  if (size > options.max_chunk_bytes) {
    return Framing("a chunk of " + std::to_string(size) + " bytes is over the limit of " +
                   std::to_string(options.max_chunk_bytes));
  }
  if (state.is_signed) {
    if (!signature || !IsHexDigest(*signature)) {
      return Framing("signed chunk without a valid chunk-signature");
    }
    state.chunk_signature.assign(signature->begin(), signature->end());
    for (char& c : state.chunk_signature) c = AsciiLower(c);
  }
  // Unsigned mode ignores every chunk extension, a stray chunk-signature included.
  if (size == 0) {
    if (state.is_signed) SW_RETURN_IF_ERROR(VerifyChunk(options, state, kEmptySha256));
    state.phase = State::Phase::kTrailer;
    return absl::OkStatus();
  }
  if (state.is_signed) SW_CHECK(EVP_DigestInit_ex(state.sha, EVP_sha256(), nullptr) == 1);
  state.remaining = size;
  state.phase = State::Phase::kData;
  return absl::OkStatus();
}

absl::Status CheckTrailersComplete(const AwsChunkedOptions& options, const State& state) {
  for (const std::string& declared : options.declared_trailers) {
    const bool received = std::any_of(state.trailers.begin(), state.trailers.end(),
                                      [&](const auto& t) { return t.first == declared; });
    if (!received) return Incomplete("declared trailer " + declared + " was not sent");
  }
  if (options.mode == PayloadMode::kStreamingSignedTrailer && !state.trailer_signature_seen) {
    return Incomplete("the trailer has no x-amz-trailer-signature");
  }
  return absl::OkStatus();
}

absl::Status VerifyTrailerSignature(const AwsChunkedOptions& options, State& state,
                                    std::string_view claimed) {
  if (!IsHexDigest(claimed)) return Framing("x-amz-trailer-signature is not 64 hex digits");
  // The signed form of the trailer is its fields as "name:value\n" lines, sorted by name.
  std::vector<std::pair<std::string, std::string>> sorted = state.trailers;
  std::sort(sorted.begin(), sorted.end());
  std::string canonical;
  for (const auto& [name, value] : sorted) canonical.append(name + ":" + value + "\n");
  std::string to_sign = "AWS4-HMAC-SHA256-TRAILER\n";
  to_sign.append(options.amz_date).push_back('\n');
  to_sign.append(state.scope).push_back('\n');
  to_sign.append(state.previous_signature).push_back('\n');
  to_sign.append(Sha256Hex(canonical));
  const std::string expected = Signature(options.signing_key, to_sign);
  std::string given(claimed);
  for (char& c : given) c = AsciiLower(c);
  if (!ConstantTimeEquals(expected, given)) {
    return BadSignature("trailer signature does not match");
  }
  state.previous_signature = expected;
  state.trailer_signature_seen = true;
  return absl::OkStatus();
}

// One line of the trailer section, without its line end.
absl::Status OnTrailerLine(const AwsChunkedOptions& options, State& state, std::string_view line) {
  if (line.empty()) {
    // Some clients put an empty line between the final chunk and the trailer fields
    // ("0;chunk-signature=...\r\n\r\nx-amz-checksum-crc32c:...\r\n"); accept one there when
    // trailer fields are still due. Otherwise the empty line ends the body.
    if (!state.trailer_line_seen && !state.trailer_separator_seen && HasTrailers(options.mode) &&
        !CheckTrailersComplete(options, state).ok()) {
      state.trailer_separator_seen = true;
      return absl::OkStatus();
    }
    SW_RETURN_IF_ERROR(CheckTrailersComplete(options, state));
    state.phase = State::Phase::kDone;
    return absl::OkStatus();
  }
  state.trailer_line_seen = true;
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Framing("trailer line without ':'");
  std::string name(Trim(line.substr(0, colon)));
  for (char& c : name) c = AsciiLower(c);
  const std::string_view value = Trim(line.substr(colon + 1));
  if (name.empty()) return Framing("trailer line with an empty name");
  if (state.trailer_signature_seen) return Framing("trailer field after the trailer signature");
  if (name == kTrailerSignatureName) {
    if (options.mode != PayloadMode::kStreamingSignedTrailer) {
      return Framing("x-amz-trailer-signature in a body without a signed trailer");
    }
    return VerifyTrailerSignature(options, state, value);
  }
  if (!HasTrailers(options.mode)) return Framing("trailer field " + name + " was not expected");
  if (std::find(options.declared_trailers.begin(), options.declared_trailers.end(), name) ==
      options.declared_trailers.end()) {
    return Framing("trailer field " + name + " was not declared in x-amz-trailer");
  }
  for (const auto& [seen, unused] : state.trailers) {
    if (seen == name) return Framing("repeated trailer field " + name);
  }
  state.trailers.emplace_back(std::move(name), std::string(value));
  return absl::OkStatus();
}

enum class LineResult { kLine, kPartial, kTooLong };

// Finds the end of the line starting at data[pos], assembling it in state.line when it
// began in an earlier feed; a line (with what came before it in state.line) may hold at most
// `limit` bytes. kPartial keeps the partial line for the next feed.
LineResult TakeLine(State& state, std::string_view data, size_t& pos, size_t limit,
                    std::string_view& line) {
  const char* start = data.data() + pos;
  const size_t available = data.size() - pos;
  const size_t room = limit >= state.line.size() ? limit - state.line.size() : 0;
  const auto* nl =
      static_cast<const char*>(std::memchr(start, '\n', std::min(available, room + 1)));
  if (nl == nullptr) {
    if (available > room) return LineResult::kTooLong;
    state.line.append(start, available);
    pos = data.size();
    return LineResult::kPartial;
  }
  const size_t length = static_cast<size_t>(nl - start);
  pos += length + 1;
  if (state.line.empty()) {
    line = std::string_view(start, length);
  } else {
    state.line.append(start, length);
    line = state.line;
  }
  return LineResult::kLine;
}

}  // namespace

struct AwsChunkedDecoder::State : DecoderState {};

AwsChunkedDecoder::AwsChunkedDecoder(AwsChunkedOptions options)
    : options_(std::move(options)), state_(std::make_shared<State>()) {
  state_->is_signed = options_.mode == PayloadMode::kStreamingSigned ||
                      options_.mode == PayloadMode::kStreamingSignedTrailer;
  if (state_->is_signed) {
    state_->sha = EVP_MD_CTX_new();
    SW_CHECK(state_->sha != nullptr);
    state_->scope = options_.scope.ToString();
    state_->previous_signature = options_.seed_signature;
    for (char& c : state_->previous_signature) c = AsciiLower(c);
  }
  if (!state_->is_signed && options_.mode != PayloadMode::kStreamingUnsignedTrailer) {
    state_->phase = State::Phase::kFailed;
    state_->failure = Framing("the payload mode is not a streaming one");
  }
}

absl::Status AwsChunkedDecoder::Feed(std::string_view encoded, std::string& out) {
  State& s = *state_;
  if (s.phase == State::Phase::kFailed) return s.failure;
  absl::Status status;
  size_t pos = 0;
  while (pos < encoded.size() && status.ok()) {
    switch (s.phase) {
      case State::Phase::kSizeLine: {
        std::string_view line;
        const LineResult result = TakeLine(s, encoded, pos, kMaxSizeLineBytes, line);
        if (result == LineResult::kTooLong) status = Framing("chunk-size line is too long");
        if (result != LineResult::kLine) break;
        status = OnSizeLine(options_, s, line);
        s.line.clear();
        break;
      }
      case State::Phase::kData: {
        const size_t take =
            static_cast<size_t>(std::min<uint64_t>(s.remaining, encoded.size() - pos));
        const char* data = encoded.data() + pos;
        out.append(data, take);
        if (s.is_signed) SW_CHECK(EVP_DigestUpdate(s.sha, data, take) == 1);
        pos += take;
        s.remaining -= take;
        s.decoded += take;
        if (s.remaining == 0) {
          if (s.is_signed) {
            unsigned char digest[EVP_MAX_MD_SIZE];
            unsigned int size = 0;
            SW_CHECK(EVP_DigestFinal_ex(s.sha, digest, &size) == 1);
            status = VerifyChunk(
                options_, s, HexEncode(std::string_view(reinterpret_cast<char*>(digest), size)));
          }
          s.phase = State::Phase::kDataCrlf;
          s.crlf_seen = 0;
        }
        break;
      }
      case State::Phase::kDataCrlf: {
        if (encoded[pos] != "\r\n"[s.crlf_seen]) {
          status = Framing("chunk data is not followed by CRLF");
          break;
        }
        ++pos;
        if (++s.crlf_seen == 2) s.phase = State::Phase::kSizeLine;
        break;
      }
      case State::Phase::kTrailer: {
        // Each byte of the trailer section counts against max_trailer_bytes.
        const size_t room = options_.max_trailer_bytes - s.trailer_bytes + s.line.size();
        const size_t before = pos;
        std::string_view line;
        const LineResult result = TakeLine(s, encoded, pos, room, line);
        s.trailer_bytes += pos - before;
        if (result == LineResult::kTooLong || s.trailer_bytes > options_.max_trailer_bytes) {
          status = Framing("the trailer section is over " +
                           std::to_string(options_.max_trailer_bytes) + " bytes");
        }
        if (result != LineResult::kLine) break;
        if (line.empty() || line.back() != '\r') {
          status = Framing("trailer line must end in CRLF");
          break;
        }
        line.remove_suffix(1);
        status = OnTrailerLine(options_, s, line);
        s.line.clear();
        break;
      }
      case State::Phase::kDone:
        status = Framing("data after the end of the body");
        break;
      case State::Phase::kFailed:
        status = s.failure;
        break;
    }
  }
  if (!status.ok()) {
    s.phase = State::Phase::kFailed;
    s.failure = status;
  }
  return status;
}

absl::Status AwsChunkedDecoder::Finish() {
  State& s = *state_;
  absl::Status status;
  switch (s.phase) {
    case State::Phase::kDone:
      return absl::OkStatus();
    case State::Phase::kFailed:
      return s.failure;
    case State::Phase::kTrailer: {
      // Clients differ on the last line end after the trailer: accept a final field line
      // without its CRLF, and a body that stops right after its last CRLF.
      if (!s.line.empty()) {
        std::string line = std::move(s.line);
        s.line.clear();
        if (line.back() == '\r') line.pop_back();
        status = line.empty() ? absl::OkStatus() : OnTrailerLine(options_, s, line);
      }
      if (status.ok() && s.phase == State::Phase::kTrailer) {
        status = CheckTrailersComplete(options_, s);
      }
      if (status.ok()) {
        s.phase = State::Phase::kDone;
        return status;
      }
      break;
    }
    case State::Phase::kSizeLine:
    case State::Phase::kData:
    case State::Phase::kDataCrlf:
      status = Incomplete("the body ended before its final chunk");
      break;
  }
  s.phase = State::Phase::kFailed;
  s.failure = status;
  return status;
}

bool AwsChunkedDecoder::done() const { return state_->phase == State::Phase::kDone; }

uint64_t AwsChunkedDecoder::decoded_bytes() const { return state_->decoded; }

const std::vector<std::pair<std::string, std::string>>& AwsChunkedDecoder::trailers() const {
  return state_->trailers;
}

}  // namespace stockwatch::aws
