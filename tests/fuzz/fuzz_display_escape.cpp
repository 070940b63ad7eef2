// Fuzzes display_escape, which stands between every user-controlled string
// and a person's terminal or a text log. Checks, for any input bytes:
//   * the output is valid UTF-8 with no C0 control, DEL, C1 control, bidi
//     control or zero-width character (an independent list, not the
//     implementation's table);
//   * escaping is injective: decoding the escapes gives the input back, so
//     two different inputs can never be shown the same way;
//   * the multi-line variant differs only by keeping LF;
//   * truncation is a visible prefix of the full escape, never silent.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/display_escape.h"

namespace {

[[noreturn]] void fail() { __builtin_trap(); }

// Strict UTF-8 decoder (RFC 3629), independent of the one under test.
bool next_cp(std::string_view s, std::size_t& i, char32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n;
  if (c < 0x80) return cp = c, ++i, true;
  if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07;
  else return false;
  if (i + n >= s.size()) return false;  // needs bytes i..i+n
  for (std::size_t k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  const char32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  i += n + 1;
  return true;
}

bool forbidden(char32_t c, bool keep_lf) {
  if (c == '\n') return !keep_lf;
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF || c == 0x061C ||
         c == 0x00AD || (c >= 0xFFF9 && c <= 0xFFFB) || (c >= 0xE0000 && c <= 0xE0FFF);
}

void check_clean(std::string_view out, bool keep_lf) {
  for (std::size_t i = 0; i < out.size();) {
    char32_t cp;
    if (!next_cp(out, i, cp)) fail();
    if (forbidden(cp, keep_lf)) fail();
  }
}

void put_utf8(std::string& o, char32_t c) {
  if (c < 0x80) {
    o += static_cast<char>(c);
  } else if (c < 0x800) {
    o += static_cast<char>(0xC0 | (c >> 6));
    o += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    o += static_cast<char>(0xE0 | (c >> 12));
    o += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    o += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    o += static_cast<char>(0xF0 | (c >> 18));
    o += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    o += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    o += static_cast<char>(0x80 | (c & 0x3F));
  }
}

unsigned long hex(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) fail();
  unsigned long v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const char c = s[at + k];
    if (c >= '0' && c <= '9') v = v * 16 + static_cast<unsigned long>(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + static_cast<unsigned long>(c - 'a' + 10);
    else fail();
  }
  return v;
}

// Inverse of display_escape: any ambiguity would make some input fail here.
std::string unescape(std::string_view s) {
  std::string o;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] != '\\') {
      o += s[i++];
      continue;
    }
    if (i + 1 >= s.size()) fail();
    const char e = s[i + 1];
    if (e == '\\') o += '\\', i += 2;
    else if (e == 'n') o += '\n', i += 2;
    else if (e == 'r') o += '\r', i += 2;
    else if (e == 't') o += '\t', i += 2;
    else if (e == 'x') o += static_cast<char>(hex(s, i + 2, 2)), i += 4;
    else if (e == 'u') put_utf8(o, static_cast<char32_t>(hex(s, i + 2, 4))), i += 6;
    else if (e == 'U') put_utf8(o, static_cast<char32_t>(hex(s, i + 2, 8))), i += 10;
    else fail();
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string one = bastion::display_escape(in);
  check_clean(one, false);
  for (unsigned char c : one)
    if (c < 0x20 || c == 0x7F) fail();
  if (unescape(one) != in) fail();

  const std::string multi = bastion::display_escape_multiline(in);
  check_clean(multi, true);
  if (unescape(multi) != in) fail();
  std::string multi_as_one;
  for (char c : multi) multi_as_one += c == '\n' ? std::string("\\n") : std::string(1, c);
  if (multi_as_one != one) fail();

  const std::size_t max = size ? data[0] : 0;
  const std::string cut = bastion::display_escape_truncated(in, max);
  check_clean(cut, false);
  if (cut != one) {
    const std::string tail = "\xE2\x80\xA6 [" + std::to_string(size) + " bytes in all]";
    if (cut.size() < tail.size() || cut.compare(cut.size() - tail.size(), tail.size(), tail) != 0) fail();
    const std::string head = cut.substr(0, cut.size() - tail.size());
    if (one.compare(0, head.size(), head) != 0) fail();  // a prefix of the full escape
    if (head.size() >= one.size()) fail();
  }
  return 0;
}
