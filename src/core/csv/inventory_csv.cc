#include "core/csv/inventory_csv.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "base/status.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace stockwatch::core {
namespace {

// Longest value quoted in a message, in bytes of the original text.
constexpr size_t kMaxQuotedBytes = 40;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// Returns the first byte in [p, end) equal to `a` or `b`, or `end`. This is the inner loop
// of the parser: fields are short, so it must be cheap to enter as well as fast to run.
inline const char* FindEither(const char* p, const char* end, char a, char b) {
#if defined(__SSE2__)
  const __m128i va = _mm_set1_epi8(a);
  const __m128i vb = _mm_set1_epi8(b);
  while (end - p >= 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)));
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#else
  // SWAR: a byte of (w ^ pattern) is zero where w matches; the lowest flagged byte of
  // HasZero() is exact (only bytes above a true zero can be false positives).
  const uint64_t pa = 0x0101010101010101ULL * static_cast<uint8_t>(a);
  const uint64_t pb = 0x0101010101010101ULL * static_cast<uint8_t>(b);
  auto has_zero = [](uint64_t v) { return (v - 0x0101010101010101ULL) & ~v & kHighBits; };
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    const uint64_t m = has_zero(w ^ pa) | has_zero(w ^ pb);
    if (m != 0) {
      // Little-endian byte order assumed for the index; fall back to bytes otherwise.
      if constexpr (std::endian::native == std::endian::little) {
        return p + (__builtin_ctzll(m) >> 3);
      }
      break;
    }
    p += 8;
  }
#endif
  while (p < end && *p != a && *p != b) ++p;
  return p;
}

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

inline std::string_view Trim(std::string_view v) {
  // Bytes above ' ' are never blank: one compare per end in the common case.
  if (v.empty() ||
      (static_cast<unsigned char>(v.front()) > ' ' && static_cast<unsigned char>(v.back()) > ' ')) {
    return v;
  }
  while (!v.empty() && IsBlank(v.front())) v.remove_prefix(1);
  while (!v.empty() && IsBlank(v.back())) v.remove_suffix(1);
  return v;
}

// Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
inline size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
  if (c < 0xC2) return 0;  // a continuation byte, or an overlong 2-byte form
  if (c < 0xE0) return n >= 2 && cont(s[1]) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || !cont(s[2])) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F would be overlong
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;  // ED A0..BF would be surrogates
    return s[1] >= lo && s[1] <= hi ? 3 : 0;
  }
  if (c < 0xF5) {
    if (n < 4 || !cont(s[2]) || !cont(s[3])) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;  // F0 80..8F would be overlong
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;  // F4 90.. would be > U+10FFFF
    return s[1] >= lo && s[1] <= hi ? 4 : 0;
  }
  return 0;
}

// True if no byte has its high bit set. Branch-light for short names: whole words, then one
// overlapping load for the tail.
inline bool IsAscii(const char* s, size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    __m128i acc = _mm_setzero_si128();
    for (size_t i = 0; i + 16 <= n; i += 16) {
      acc = _mm_or_si128(acc, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
    }
    acc = _mm_or_si128(acc, _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16)));
    return _mm_movemask_epi8(acc) == 0;
  }
#endif
  uint64_t acc = 0;
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      acc |= w;
    }
    uint64_t last;
    std::memcpy(&last, s + n - 8, 8);
    acc |= last;
  } else if (n >= 4) {
    uint32_t a;
    uint32_t b;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + n - 4, 4);
    acc = a | b;
  } else {
    for (size_t i = 0; i < n; ++i) acc |= static_cast<unsigned char>(s[i]);
  }
  return (acc & kHighBits) == 0;
}

bool IsValidUtf8Slow(std::string_view v) {
  const auto* s = reinterpret_cast<const unsigned char*>(v.data());
  const size_t n = v.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time, between non-ASCII characters.
    while (n - i >= 8) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if ((w & kHighBits) != 0) break;
      i += 8;
    }
    if (i == n) break;
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

inline bool IsValidUtf8(std::string_view v) {
  return IsAscii(v.data(), v.size()) || IsValidUtf8Slow(v);
}

// The value as it appears in a message: in double quotes, with `"` and `\` escaped,
// control characters and bytes that are not valid UTF-8 written as \n, \r, \t or \xHH, and
// cut after kMaxQuotedBytes bytes of the value (at a character boundary) with "...".
// Messages therefore stay short and valid UTF-8 whatever the file holds.
std::string QuoteForMessage(std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  const auto* s = reinterpret_cast<const unsigned char*>(v.data());
  size_t i = 0;
  while (i < v.size()) {
    size_t len = Utf8SequenceLength(s + i, v.size() - i);
    const size_t take = len == 0 ? 1 : len;
    if (i + take > kMaxQuotedBytes) break;
    const unsigned char c = s[i];
    if (len > 1) {
      out.append(v.data() + i, len);
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (len == 0 || c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    i += take;
  }
  if (i < v.size()) out += "...";
  out += '"';
  return out;
}

// Parses a whole number in 0..kMaxCount by hand: no locale, no errno, no allocation.
enum class CountResult { kOk, kEmpty, kNotWholeNumber, kOutOfRange };

CountResult ParseCount(std::string_view v, int64_t& count) {
  if (v.empty()) return CountResult::kEmpty;
  bool negative = false;
  if (v.front() == '-') {
    negative = true;
    v.remove_prefix(1);
    if (v.empty()) return CountResult::kNotWholeNumber;
  }
  int64_t value = 0;
  bool overflow = false;
  for (char c : v) {
    const unsigned digit = static_cast<unsigned char>(c) - static_cast<unsigned>('0');
    if (digit > 9) return CountResult::kNotWholeNumber;
    if (!overflow) {
      value = value * 10 + digit;
      overflow = value > kMaxCount;
    }
  }
  if (negative || overflow) return CountResult::kOutOfRange;
  count = value;
  return CountResult::kOk;
}

// ParseCount() for the common case: 1 to 10 digits and nothing else. False means "ask
// ParseCount() why", not necessarily that the count is bad. `readable_from` is the start of
// the buffer holding `v`: when the 8 bytes ending at the value lie inside it, up to
// 8 digits are converted at once (SWAR) with no loop whose length varies by row.
inline bool ParseCountFast(std::string_view v, const char* readable_from, int64_t& count) {
  const size_t n = v.size();
  if constexpr (std::endian::native == std::endian::little) {
    if (n - 1 < 8 && static_cast<size_t>(v.data() - readable_from) + n >= 8) {
      uint64_t w;
      std::memcpy(&w, v.data() + n - 8, 8);
      // The value is in the high n bytes; the low ones become '0'.
      const uint64_t keep = ~uint64_t{0} << (8 * (8 - n));
      w = (w & keep) | (0x3030303030303030ULL & ~keep);
      if (((w & 0xF0F0F0F0F0F0F0F0ULL) |
           (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) != 0x3333333333333333ULL) {
        return false;  // not all digits
      }
      w = ((w & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
      w = ((w & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
      count = static_cast<int64_t>(((w & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32);
      return true;
    }
  }
  if (n == 0 || n > 10) return false;
  uint64_t value = 0;
  for (char c : v) {
    const unsigned digit = static_cast<unsigned char>(c) - static_cast<unsigned>('0');
    if (digit > 9) return false;
    value = value * 10 + digit;
  }
  if (value > static_cast<uint64_t>(kMaxCount)) return false;
  count = static_cast<int64_t>(value);
  return true;
}

// `ascii`: the caller knows the value is ASCII (so valid UTF-8).
inline bool IsValidName(std::string_view v, bool ascii) {
  return !v.empty() && v.size() <= kMaxNameBytes && (ascii || IsValidUtf8(v));
}

// Undoes the "" escapes of a quoted value, copying the runs between quotes.
std::string_view Unescape(std::string_view raw, std::string& scratch) {
  scratch.clear();
  while (!raw.empty()) {
    const size_t quote = raw.find('"');
    if (quote == std::string_view::npos) {
      scratch.append(raw);
      break;
    }
    scratch.append(raw.data(), quote + 1);  // keeps one quote of the pair
    raw.remove_prefix(std::min(quote + 2, raw.size()));
  }
  return scratch;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

constexpr std::string_view kRoleNames[3] = {"store", "item", "count"};

}  // namespace

InventoryCsvParser::InventoryCsvParser(std::string file_name, BadRowPolicy policy)
    : file_name_(std::move(file_name)), policy_(policy) {
  ResetRecord();
}

absl::Status InventoryCsvParser::Feed(std::string_view chunk, RowSink& sink) {
  SW_CHECK(!finished_);
  if (rejected_) return status_;
  if (!bom_done_) {
    // A UTF-8 BOM may itself arrive split across chunks, so hold back a matching prefix.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    while (!chunk.empty() && bom_prefix_.size() < kBom.size() &&
           chunk.front() == kBom[bom_prefix_.size()]) {
      bom_prefix_ += chunk.front();
      chunk.remove_prefix(1);
    }
    if (bom_prefix_.size() == kBom.size()) {
      bom_done_ = true;
      bom_prefix_.clear();
    } else if (chunk.empty()) {
      return absl::OkStatus();
    } else {
      bom_done_ = true;
      const std::string held = std::move(bom_prefix_);
      bom_prefix_.clear();
      SW_RETURN_IF_ERROR(FeedBytes(held.data(), held.data() + held.size(), sink));
    }
  }
  return FeedBytes(chunk.data(), chunk.data() + chunk.size(), sink);
}

absl::Status InventoryCsvParser::FeedBytes(const char* p, const char* end, RowSink& sink) {
  if (p == end) return absl::OkStatus();
  if (record_bytes_ > 0) {
    // A record started in an earlier chunk: scan on, copying into carry_ (bounded).
    const char* next = Scan(p, end);
    const char* stop = next != nullptr ? next - 1 : end;
    const size_t room = kMaxRecordBytes + 1 - std::min(carry_.size(), kMaxRecordBytes + 1);
    carry_.append(p, std::min(room, static_cast<size_t>(stop - p)));
    if (next == nullptr) return absl::OkStatus();
    FinishRecord(carry_.data(), record_bytes_, /*at_eof=*/false, sink);
    carry_.clear();
    if (rejected_) return status_;
    p = next;
  }
  // Fast path: records complete inside the chunk are parsed where they lie.
  while (p < end) {
    if (fast_rows_) {
      const char* next = ParseSimpleRow(p, end, sink);
      if (next != nullptr) {
        p = next;
        continue;
      }
    }
    const char* const record = p;
    const char* next = Scan(p, end);
    if (next == nullptr) {
      carry_.assign(record, std::min(static_cast<size_t>(end - record), kMaxRecordBytes + 1));
      return absl::OkStatus();
    }
    FinishRecord(record, record_bytes_, /*at_eof=*/false, sink);
    if (rejected_) return status_;
    p = next;
  }
  return absl::OkStatus();
}

absl::Status InventoryCsvParser::Finish(RowSink& sink) {
  SW_CHECK(!finished_);
  finished_ = true;
  if (rejected_) return status_;
  if (!bom_prefix_.empty()) {
    const std::string held = std::move(bom_prefix_);
    bom_prefix_.clear();
    SW_RETURN_IF_ERROR(FeedBytes(held.data(), held.data() + held.size(), sink));
  }
  if (record_bytes_ > 0) {
    // The last record has no line break: close its last field as a LF would.
    switch (state_) {
      case ScanState::kQuoted:
        SetRecordError(RecordError::kUnterminatedQuote);
        EndField(record_bytes_);
        break;
      default:
        EndField(record_bytes_);
        break;
    }
    end_state_ = state_;
    FinishRecord(carry_.data(), record_bytes_, /*at_eof=*/true, sink);
    carry_.clear();
    if (rejected_) return status_;
  }
  if (!header_done_) {
    AddIssue(0, 0, "missing header", /*reject_file=*/true);
  } else if (rows_read_ == 0) {
    AddIssue(0, 0, "file has no data rows", /*reject_file=*/true);
  }
  return rejected_ ? status_ : absl::OkStatus();
}

void InventoryCsvParser::ResetRecord() {
  state_ = ScanState::kFieldStart;
  end_state_ = ScanState::kFieldStart;
  record_bytes_ = 0;
  record_lines_ = 0;
  line_begin_ = 0;
  field_count_ = 0;
  too_long_ = false;
  record_error_ = RecordError::kNone;
  fields_.clear();
  StartField(0);
}

inline void InventoryCsvParser::StartField(size_t offset) {
  field_.start = offset;
  field_.value_begin = offset;
  field_.value_end = offset;
  field_.line = record_lines_;
  field_.column = static_cast<int64_t>(offset - line_begin_) + 1;
  field_.quoted = false;
  field_.escaped = false;
}

inline void InventoryCsvParser::EndField(size_t end_offset) {
  if (!field_.quoted) field_.value_end = end_offset;
  if (end_offset > kMaxRecordBytes + 1) too_long_ = true;
  // Fields past the record limit are never used, so memory stays bounded.
  if (!too_long_ && field_count_ < keep_fields_) fields_.push_back(field_);
  ++field_count_;
}

void InventoryCsvParser::SetRecordError(RecordError error) {
  if (record_error_ != RecordError::kNone) return;
  record_error_ = error;
  error_field_ = field_;
}

namespace {

// Bit i of each mask is set when byte i of a 64-byte window is a comma, LF or quote.
struct WindowMasks {
  uint64_t comma;
  uint64_t newline;
  uint64_t quote;
  uint64_t high;  // bytes with the high bit set (not ASCII)
};

#if defined(__SSE2__)
inline uint64_t Mask16(__m128i x, __m128i c, int shift) {
  return static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, c))))
         << shift;
}
#endif

// Masks of 64 readable bytes at `src`.
inline WindowMasks MasksOf(const char* src) {
  WindowMasks m{0, 0, 0, 0};
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i quote = _mm_set1_epi8('"');
  for (int i = 0; i < 4; ++i) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * i));
    m.comma |= Mask16(x, comma, 16 * i);
    m.newline |= Mask16(x, newline, 16 * i);
    m.quote |= Mask16(x, quote, 16 * i);
    m.high |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(x))) << (16 * i);
  }
#else
  for (int i = 0; i < 64; ++i) {
    const uint64_t bit = uint64_t{1} << i;
    m.comma |= src[i] == ',' ? bit : 0;
    m.newline |= src[i] == '\n' ? bit : 0;
    m.quote |= src[i] == '"' ? bit : 0;
    m.high |= static_cast<unsigned char>(src[i]) >= 0x80 ? bit : 0;
  }
#endif
  return m;
}

// The masks of a window reaching past `end`, from a zero-padded copy (zero bytes set no
// bit). Kept out of line: it is only for the last record of a chunk.
[[gnu::noinline]] WindowMasks PaddedMasks(const char* w, const char* end) {
  char padded[64] = {};
  std::memcpy(padded, w, static_cast<size_t>(end - w));
  return MasksOf(padded);
}

inline WindowMasks LoadMasks(const char* w, const char* end) {
  if (end - w < 64) return PaddedMasks(w, end);
  return MasksOf(w);
}

// Bit i of the result is the parity of bits 0..i of x: 1 from an opening quote up to (not
// including) its closing quote.
inline uint64_t PrefixXor(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

}  // namespace

const char* InventoryCsvParser::ParseSimpleRow(const char* p, const char* end, RowSink& sink) {
  // The record is classified 64 bytes at a time with bit masks, without a branch per byte
  // or per field boundary: quote parity gives the quoted regions, separators are commas
  // and the LF outside them. The quoting must be plain RFC 4180 (a quoted field opens at
  // the field's first byte and its closing quote is followed by a separator) and the
  // record one line; anything else goes to the general path, which reports errors.
  // bounds[i + 1]: offset of the separator after field i; bounds[0] = -1, so field i is
  // [bounds[i] + 1, bounds[i + 1]).
  uint32_t bounds[kFastFields + 2];
  bounds[0] = static_cast<uint32_t>(-1);
  size_t index = 0;
  uint64_t first_pairs = 0;       // second quotes of "" pairs in the first window
  uint64_t later_pairs = 0;       // any in later windows
  uint64_t inside_carry = 0;      // all ones when a window starts inside quotes
  uint64_t separator_before = 1;  // 1 when the byte before the window ends a field
  uint64_t closing_before = 0;    // 1 when the byte before the window is a closing quote
  uint64_t non_ascii = 0;         // high-bit bytes seen in the record
  const char* w = p;
  const char* next;
  for (;;) {
    if (w >= end || static_cast<size_t>(w - p) > kMaxRecordBytes) return nullptr;
    const WindowMasks m = LoadMasks(w, end);
    const uint64_t newline = m.newline & (0 - m.newline);  // this record's LF, if here
    const uint64_t before_newline = newline != 0 ? newline - 1 : ~uint64_t{0};
    const uint64_t quotes = m.quote & before_newline;
    const uint64_t inside = PrefixXor(quotes) ^ inside_carry;
    if ((inside & newline) != 0) return nullptr;  // a line break inside quotes
    const uint64_t separators = (m.comma & before_newline & ~inside) | newline;
    const uint64_t opening = quotes & inside;
    const uint64_t closing = quotes & ~inside;
    const uint64_t field_starts = (separators << 1) | separator_before;
    const uint64_t pairs = opening & ((closing << 1) | closing_before);  // second of ""
    // Quotes must open a field (or be the second of a pair) and close right before a
    // separator (or the second of a pair). A closing quote in bit 63 is checked against
    // bit 0 of the next window via closing_before.
    if ((opening & ~(field_starts | pairs)) != 0) return nullptr;
    if ((closing & ~((separators | pairs) >> 1) & ~(uint64_t{1} << 63)) != 0) return nullptr;
    if (closing_before != 0 && ((separators | pairs) & 1) == 0) return nullptr;
    const auto base = static_cast<uint32_t>(w - p);
    for (uint64_t seps = separators; seps != 0; seps &= seps - 1) {
      // Fields past kFastFields share the last slot: only the first keep_fields_ are read.
      bounds[std::min(index, kFastFields) + 1] =
          base + static_cast<uint32_t>(__builtin_ctzll(seps));
      ++index;
    }
    non_ascii |= m.high & before_newline;
    if (w == p) {
      first_pairs = pairs;
    } else {
      later_pairs |= pairs;
    }
    if (newline != 0) {
      next = w + __builtin_ctzll(newline) + 1;
      break;
    }
    inside_carry = (inside >> 63) != 0 ? ~uint64_t{0} : 0;
    separator_before = separators >> 63;
    closing_before = closing >> 63;
    w += 64;
  }
  if (index != column_count_ || static_cast<size_t>(next - 1 - p) > kMaxRecordBytes) {
    return nullptr;
  }
  std::string_view values[3];
  bool count_unescaped = false;  // values[2] lives in scratch_[2]
  const size_t cols[3] = {store_col_, item_col_, count_col_};
  for (int role = 0; role < 3; ++role) {
    const size_t start = bounds[cols[role]] + 1;  // wraps -1 to 0 for the first field
    const size_t stop = bounds[cols[role] + 1];
    // Arithmetic rather than a branch: whether a field is quoted is unpredictable.
    const size_t quoted = p[start] == '"' ? 1 : 0;
    values[role] = std::string_view(p + start + quoted, stop - start - 2 * quoted);
  }
  if ((first_pairs | later_pairs) != 0) {
    // Some field holds "" pairs. In a well-formed quoted value every quote is half of one.
    for (int role = 0; role < 3; ++role) {
      const size_t start = static_cast<size_t>(bounds[cols[role]] + 1);
      const size_t stop = bounds[cols[role] + 1];
      if (p[start] != '"') continue;
      const bool escaped =
          stop < 64
              ? (first_pairs & ((uint64_t{1} << stop) - 1) & ~((uint64_t{1} << start) - 1)) != 0
              : values[role].find('"') != std::string_view::npos;
      if (escaped) {
        values[role] = Unescape(values[role], scratch_[role]);
        count_unescaped = count_unescaped || role == 2;
      }
    }
  }
  if (next - 1 > p && next[-2] == '\r') {
    // A CR before the LF belongs to the line ending. The last field is unquoted here (a
    // closing quote must be followed by a separator), so the CR ends its value.
    for (int role = 0; role < 3; ++role) {
      if (cols[role] == column_count_ - 1) values[role].remove_suffix(1);
    }
  }
  InventoryRow row;
  row.store = Trim(values[0]);
  row.item = Trim(values[1]);
  // The ASCII check of the whole record, free from the masks, usually spares the per-name
  // UTF-8 validation.
  const bool ascii = non_ascii == 0;
  const std::string_view count = Trim(values[2]);
  const char* readable_from = count_unescaped ? scratch_[2].data() : p;
  if (!ParseCountFast(count, readable_from, row.count) || !IsValidName(row.store, ascii) ||
      !IsValidName(row.item, ascii)) {
    return nullptr;
  }
  row.line = line_;
  ++rows_read_;
  ++line_;
  sink.OnRow(row);
  return next;
}

const char* InventoryCsvParser::Scan(const char* p, const char* end) {
  const char* const begin = p;
  const size_t base = record_bytes_;
  auto offset = [&](const char* q) { return base + static_cast<size_t>(q - begin); };
  ScanState state = state_;
  const char* next = nullptr;
  while (p < end) {
    switch (state) {
      case ScanState::kFieldStart: {
        const char c = *p;
        if (c == '"') {
          field_.quoted = true;
          field_.value_begin = offset(p) + 1;
          state = ScanState::kQuoted;
          ++p;
          break;
        }
        if (IsBlank(c)) {
          ++p;
          break;
        }
        state = ScanState::kUnquoted;
        [[fallthrough]];
      }
      case ScanState::kUnquoted: {
        const char* q = FindEither(p, end, ',', '\n');
        if (q == end) {
          p = end;
          break;
        }
        EndField(offset(q));
        if (*q == '\n') {
          next = q + 1;
          p = q;
          goto record_end;
        }
        p = q + 1;
        StartField(offset(p));
        state = ScanState::kFieldStart;
        break;
      }
      case ScanState::kQuoted: {
        const char* q = FindEither(p, end, '"', '\n');
        if (q == end) {
          p = end;
          break;
        }
        p = q + 1;
        if (*q == '\n') {
          ++record_lines_;
          line_begin_ = offset(p);
        } else {
          field_.value_end = offset(q);
          state = ScanState::kQuotedQuote;
        }
        break;
      }
      case ScanState::kQuotedQuote:
      case ScanState::kAfterQuote:
      case ScanState::kAfterQuoteCr: {
        const char c = *p;
        if (state == ScanState::kQuotedQuote && c == '"') {
          field_.escaped = true;
          state = ScanState::kQuoted;
          ++p;
          break;
        }
        if (state == ScanState::kAfterQuoteCr && c != '\n') {
          // The CR was not part of a line ending: it is the unexpected character. Resync
          // by treating the rest of the field as unquoted; `c` is scanned as such.
          SetRecordError(RecordError::kAfterClosingQuote);
          state = ScanState::kUnquoted;
          break;
        }
        if (c == ',' || c == '\n') {
          EndField(offset(p));
          if (c == '\n') {
            next = p + 1;
            goto record_end;
          }
          ++p;
          StartField(offset(p));
          state = ScanState::kFieldStart;
        } else if (IsBlank(c)) {
          state = ScanState::kAfterQuote;
          ++p;
        } else if (c == '\r') {
          state = ScanState::kAfterQuoteCr;
          ++p;
        } else {
          SetRecordError(RecordError::kAfterClosingQuote);
          state = ScanState::kUnquoted;
          ++p;
        }
        break;
      }
    }
  }
  // [begin, end) ended inside the record.
  state_ = state;
  record_bytes_ = offset(end);
  if (record_bytes_ > kMaxRecordBytes + 1) too_long_ = true;
  return nullptr;

record_end:
  // p is at the LF.
  end_state_ = state;
  state_ = state;
  record_bytes_ = offset(p);
  return next;
}

void InventoryCsvParser::FinishRecord(const char* data, size_t size, bool at_eof, RowSink& sink) {
  // A CR directly before the LF (or the end of the input) belongs to the line ending.
  bool cr_ending = false;
  if (end_state_ == ScanState::kAfterQuoteCr) {
    cr_ending = true;
  } else if (end_state_ == ScanState::kUnquoted && size > 0 && size <= kMaxRecordBytes + 1 &&
             data[size - 1] == '\r') {
    cr_ending = true;
    if (!fields_.empty() && fields_.size() == field_count_ && !fields_.back().quoted) {
      --fields_.back().value_end;
    }
  }
  const size_t length = size - (cr_ending ? 1 : 0);
  const int64_t line = line_;
  const int64_t lines = record_lines_;
  if (length == 0) {
    // A blank line: skipped, not counted.
  } else if (!header_done_) {
    if (too_long_ || length > kMaxRecordBytes) {
      AddIssue(line, 1, "record is longer than " + std::to_string(kMaxRecordBytes) + " bytes",
               /*reject_file=*/true);
    } else {
      ProcessHeader(data);
    }
  } else {
    ++rows_read_;
    if (too_long_ || length > kMaxRecordBytes) {
      ++rows_rejected_;
      AddIssue(line, 1, "record is longer than " + std::to_string(kMaxRecordBytes) + " bytes",
               false);
    } else {
      ProcessRow(data, sink);
    }
  }
  if (!at_eof) line_ = line + lines + 1;
  ResetRecord();
}

void InventoryCsvParser::ProcessHeader(const char* data) {
  if (record_error_ != RecordError::kNone) {
    AddIssue(line_ + error_field_.line, error_field_.column,
             record_error_ == RecordError::kUnterminatedQuote
                 ? "unterminated quoted field"
                 : "unexpected character after closing quote",
             /*reject_file=*/true);
    return;
  }
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t cols[3] = {kNone, kNone, kNone};
  std::string scratch;
  for (size_t i = 0; i < fields_.size(); ++i) {
    const FieldSpan& field = fields_[i];
    const std::string_view name = Trim(FieldValue(data, field, scratch));
    bool known = false;
    for (int role = 0; role < 3; ++role) {
      if (!EqualsIgnoreCase(name, kRoleNames[role])) continue;
      known = true;
      if (cols[role] != kNone) {
        ignored_columns_.clear();
        AddIssue(line_ + field.line, field.column,
                 "duplicate column \"" + std::string(kRoleNames[role]) + "\"",
                 /*reject_file=*/true);
        return;
      }
      cols[role] = i;
    }
    if (!known) {
      // Kept as written when printable UTF-8 of reasonable size, else in escaped form, so
      // reports built from it stay valid UTF-8.
      bool plain = name.size() <= kMaxNameBytes && IsValidUtf8(name);
      for (char c : name) plain = plain && static_cast<unsigned char>(c) >= 0x20 && c != 0x7F;
      if (plain) {
        ignored_columns_.emplace_back(name);
      } else {
        const std::string quoted = QuoteForMessage(name);
        ignored_columns_.push_back(quoted.substr(1, quoted.size() - 2));
      }
    }
  }
  for (int role = 0; role < 3; ++role) {
    if (cols[role] == kNone) {
      ignored_columns_.clear();
      AddIssue(line_, 1, "missing column \"" + std::string(kRoleNames[role]) + "\"",
               /*reject_file=*/true);
      return;
    }
  }
  header_done_ = true;
  column_count_ = field_count_;
  store_col_ = cols[0];
  item_col_ = cols[1];
  count_col_ = cols[2];
  std::copy(std::begin(cols), std::end(cols), role_cols_);
  std::sort(std::begin(role_cols_), std::end(role_cols_));
  keep_fields_ = role_cols_[2] + 1;
  fast_rows_ = keep_fields_ <= kFastFields;
}

inline std::string_view InventoryCsvParser::FieldValue(const char* data, const FieldSpan& field,
                                                       std::string& scratch) {
  const std::string_view raw(data + field.value_begin, field.value_end - field.value_begin);
  // Only quoted values holding quotes pay for a copy.
  return field.escaped ? Unescape(raw, scratch) : raw;
}

void InventoryCsvParser::ProcessRow(const char* data, RowSink& sink) {
  // Hot path: a well-formed row is checked in straight-line code. The fast checks may give
  // up on unusual but valid values (a count with many leading zeros), so any failure goes
  // to ProcessRowSlow(), which decides with the full checks, in column order.
  if (record_error_ == RecordError::kNone && field_count_ == column_count_) {
    InventoryRow row;
    row.line = line_;
    row.store = Trim(FieldValue(data, fields_[store_col_], scratch_[0]));
    row.item = Trim(FieldValue(data, fields_[item_col_], scratch_[1]));
    const std::string_view count = Trim(FieldValue(data, fields_[count_col_], scratch_[2]));
    if (ParseCountFast(count, count.data(), row.count) && IsValidName(row.store, false) &&
        IsValidName(row.item, false)) {
      sink.OnRow(row);
      return;
    }
  }
  ProcessRowSlow(data, sink);
}

void InventoryCsvParser::ProcessRowSlow(const char* data, RowSink& sink) {
  if (record_error_ != RecordError::kNone) {
    ++rows_rejected_;
    AddIssue(line_ + error_field_.line, error_field_.column,
             record_error_ == RecordError::kUnterminatedQuote
                 ? "unterminated quoted field"
                 : "unexpected character after closing quote",
             false);
    return;
  }
  if (field_count_ != column_count_) {
    ++rows_rejected_;
    AddIssue(line_, 1,
             "expected " + std::to_string(column_count_) + " fields, found " +
                 std::to_string(field_count_),
             false);
    return;
  }
  // Check the fields left to right, so the error reported is the leftmost one.
  InventoryRow row;
  row.line = line_;
  for (size_t col : role_cols_) {
    const FieldSpan& field = fields_[col];
    const int64_t line = line_ + field.line;
    std::string reason;
    if (col == count_col_) {
      const std::string_view value = Trim(FieldValue(data, field, scratch_[2]));
      switch (ParseCount(value, row.count)) {
        case CountResult::kOk:
          break;
        case CountResult::kEmpty:
          reason = "count is empty";
          break;
        case CountResult::kNotWholeNumber:
          reason = "count " + QuoteForMessage(value) + " is not a whole number";
          break;
        case CountResult::kOutOfRange:
          reason = "count " + QuoteForMessage(value) + " is out of range 0.." +
                   std::to_string(kMaxCount);
          break;
      }
    } else {
      const bool is_store = col == store_col_;
      const std::string_view value = Trim(FieldValue(data, field, scratch_[is_store ? 0 : 1]));
      if (value.empty()) {
        reason = " is empty";
      } else if (value.size() > kMaxNameBytes) {
        reason = " is longer than 256 bytes";
      } else if (!IsValidUtf8(value)) {
        reason = " is not valid UTF-8";
      } else {
        (is_store ? row.store : row.item) = value;
      }
      if (!reason.empty()) reason.insert(0, is_store ? "store" : "item");
    }
    if (!reason.empty()) {
      ++rows_rejected_;
      AddIssue(line, field.column, std::move(reason), false);
      return;
    }
  }
  sink.OnRow(row);
}

void InventoryCsvParser::AddIssue(int64_t line, int64_t column, std::string reason,
                                  bool reject_file) {
  ++error_count_;
  RowIssue issue;
  issue.severity = Severity::kError;
  issue.line = line;
  issue.column = column;
  issue.reason = std::move(reason);
  if (reject_file || policy_ == BadRowPolicy::kReject) {
    rejected_ = true;
    status_ = absl::InvalidArgumentError(issue.Format(file_name_));
  }
  if (errors_.size() < kMaxReportedIssues) errors_.push_back(std::move(issue));
}

}  // namespace stockwatch::core
