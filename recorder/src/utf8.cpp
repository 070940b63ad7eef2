#include "recorder/utf8.h"

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace recorder {
namespace {

// Length of a valid UTF-8 sequence at `p` (1..4), 0 when invalid, or -1 when
// the sequence is a valid start that runs past the end of the buffer.
int utf8_sequence_length(const unsigned char* p, std::size_t avail) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  int len;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds for the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;       // no overlongs
    if (c == 0xED) hi = 0x9F;       // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;       // <= U+10FFFF
  } else {
    return 0;
  }
  for (int i = 1; i < len; ++i) {
    if (static_cast<std::size_t>(i) >= avail) return -1;
    const unsigned char b = p[i];
    const unsigned char l = (i == 1) ? lo : 0x80, h = (i == 1) ? hi : 0xBF;
    if (b < l || b > h) return 0;
  }
  return len;
}

}  // namespace

std::size_t utf8_complete_prefix(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  // Only the last 3 bytes can start an unfinished sequence.
  const std::size_t from = n > 3 ? n - 3 : 0;
  for (std::size_t i = from; i < n; ++i) {
    if (p[i] >= 0xC0 && utf8_sequence_length(p + i, n - i) == -1) return i;
  }
  return n;
}

namespace {

// How many bytes from `p` (at most n) are plain printable ASCII for JSON
// (0x20-0x7e, not '"' or '\\'): 16 at a time with SSE2 where there is one.
std::size_t plain_ascii_prefix(const unsigned char* p, std::size_t n) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f), quote = _mm_set1_epi8('"'),
                backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Signed compare: bytes 0x80 and above are negative, so below 0x20 too.
    const __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    if (const int mask = _mm_movemask_epi8(bad)) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i) {
    const unsigned char c = p[i];
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
  }
  return i;
}

}  // namespace

bool append_json_escaped(std::string& out, std::string_view bytes, bool lf_as_crlf) {
  static constexpr char hex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  bool replaced = false;
  out.reserve(out.size() + n + n / 8 + 16);
  std::size_t i = 0;
  while (i < n) {
    // Fast path: copy a whole run of bytes that need no escaping at once
    // (printable ASCII and valid multi-byte UTF-8), the bulk of terminal output.
    std::size_t run = i;
    while (run < n) {
      // Plain ASCII in bulk first: most of what terminals show.
      run += plain_ascii_prefix(p + run, n - run);
      if (run >= n) break;
      const unsigned char c = p[run];
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        ++run;
      } else if (c >= 0x80) {
        const int len = utf8_sequence_length(p + run, n - run);
        if (len <= 0) break;
        run += static_cast<std::size_t>(len);
      } else {
        break;
      }
    }
    if (run > i) {
      out.append(bytes.data() + i, run - i);
      i = run;
      if (i == n) break;
    }
    const unsigned char c = p[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += lf_as_crlf ? "\\r\\n" : "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x80) {  // other control characters and DEL
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {  // invalid UTF-8 byte
          out += "\xEF\xBF\xBD";
          replaced = true;
        }
    }
    ++i;
  }
  return replaced;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char tbl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = p[i] << 16;
    if (i + 1 < bytes.size()) v |= p[i + 1] << 8;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += (i + 1 < bytes.size()) ? tbl[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  std::array<int, 256> rev{};
  rev.fill(-1);
  const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) rev[static_cast<unsigned char>(tbl[i])] = i;
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char ch : text) {
    if (ch == '=') {
      ++pad;
      continue;
    }
    if (pad) return false;  // data after padding
    const int v = rev[static_cast<unsigned char>(ch)];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (pad > 2 || (text.size() % 4) != 0) return false;
  return true;
}

}  // namespace recorder
