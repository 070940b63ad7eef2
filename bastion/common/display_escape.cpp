#include "common/display_escape.h"

#include <cstdint>
#include <cstdio>

namespace bastion {
namespace {

struct Range {
  char32_t lo, hi;
};

// Printable-looking but harmful code points, escaped as \uXXXX. From Unicode
// 15: the general category Cf (format), Zl/Zp (line/paragraph separators),
// Default_Ignorable_Code_Point, and the Zs spaces other than U+0020 (they look
// like a space but are not one to a shell). Sorted, not overlapping.
constexpr Range kHidden[] = {
    {0x00A0, 0x00A0},    // NO-BREAK SPACE
    {0x00AD, 0x00AD},    // SOFT HYPHEN
    {0x034F, 0x034F},    // COMBINING GRAPHEME JOINER
    {0x0600, 0x0605},    // Arabic number signs (Cf)
    {0x061C, 0x061C},    // ARABIC LETTER MARK (bidi)
    {0x06DD, 0x06DD},    // ARABIC END OF AYAH (Cf)
    {0x070F, 0x070F},    // SYRIAC ABBREVIATION MARK (Cf)
    {0x0890, 0x0891},    // Arabic pound/piastre mark above (Cf)
    {0x08E2, 0x08E2},    // ARABIC DISPUTED END OF AYAH (Cf)
    {0x115F, 0x1160},    // HANGUL CHOSEONG/JUNGSEONG FILLER (invisible)
    {0x1680, 0x1680},    // OGHAM SPACE MARK
    {0x17B4, 0x17B5},    // KHMER VOWEL INHERENT AQ/AA (invisible)
    {0x180B, 0x180F},    // Mongolian variation selectors, VOWEL SEPARATOR
    {0x2000, 0x200A},    // EN QUAD .. HAIR SPACE
    {0x200B, 0x200F},    // ZWSP, ZWNJ, ZWJ, LRM, RLM
    {0x2028, 0x202F},    // LINE/PARAGRAPH SEPARATOR, LRE RLE PDF LRO RLO, NNBSP
    {0x205F, 0x206F},    // MMSP, WORD JOINER, invisible operators, LRI RLI FSI PDI, deprecated format
    {0x3000, 0x3000},    // IDEOGRAPHIC SPACE
    {0x3164, 0x3164},    // HANGUL FILLER
    {0xFDD0, 0xFDEF},    // noncharacters
    {0xFE00, 0xFE0F},    // VARIATION SELECTOR-1..16
    {0xFEFF, 0xFEFF},    // ZERO WIDTH NO-BREAK SPACE (BOM)
    {0xFFA0, 0xFFA0},    // HALFWIDTH HANGUL FILLER
    {0xFFF0, 0xFFFB},    // unassigned specials, interlinear annotation (Cf)
    {0x110BD, 0x110BD},  // KAITHI NUMBER SIGN (Cf)
    {0x110CD, 0x110CD},  // KAITHI NUMBER SIGN ABOVE (Cf)
    {0x13430, 0x1343F},  // Egyptian hieroglyph format controls (Cf)
    {0x1BCA0, 0x1BCA3},  // shorthand format controls (Cf)
    {0x1D173, 0x1D17A},  // musical symbol format controls (Cf)
    {0xE0000, 0xE0FFF},  // tag characters, VARIATION SELECTOR-17..256 (invisible; can smuggle text)
};

bool hidden(char32_t c) {
  if ((c & 0xFFFE) == 0xFFFE) return true;  // U+xxFFFE/U+xxFFFF noncharacters on every plane
  for (const Range& r : kHidden) {
    if (c < r.lo) return false;
    if (c <= r.hi) return true;
  }
  return false;
}

void hex_escape(std::string& out, const char* fmt, unsigned long v) {
  char buf[16];
  const int n = std::snprintf(buf, sizeof buf, fmt, v);
  out.append(buf, static_cast<std::size_t>(n));
}

// Decodes one strictly valid UTF-8 sequence (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) at s[i]; returns its length, or 0.
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (i + len > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  return len;
}

// Escapes the character at s[i] into piece; returns the bytes of s consumed.
std::size_t escape_one(std::string_view s, std::size_t i, bool keep_lf, std::string& piece) {
  piece.clear();
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == '\\') return piece = "\\\\", 1;
  if (c == '\n') return piece = keep_lf ? "\n" : "\\n", 1;
  if (c == '\r') return piece = "\\r", 1;
  if (c == '\t') return piece = "\\t", 1;
  if (c < 0x20 || c == 0x7F) return hex_escape(piece, "\\x%02lx", c), 1;
  if (c < 0x80) return piece.assign(1, static_cast<char>(c)), 1;
  char32_t cp = 0;
  const std::size_t len = decode_utf8(s, i, cp);
  if (len == 0) return hex_escape(piece, "\\x%02lx", c), 1;
  if ((cp >= 0x80 && cp <= 0x9F) || hidden(cp))
    hex_escape(piece, cp > 0xFFFF ? "\\U%08lx" : "\\u%04lx", static_cast<unsigned long>(cp));
  else
    piece.assign(s.substr(i, len));
  return len;
}

std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string escape(std::string_view s, bool keep_lf) {
  std::string out, piece;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    i += escape_one(s, i, keep_lf, piece);
    out += piece;
  }
  return out;
}

}  // namespace

std::string display_escape(std::string_view text) { return escape(text, false); }

std::string display_escape_multiline(std::string_view text) { return escape(text, true); }

std::string display_escape_truncated(std::string_view text, std::size_t max_chars) {
  std::string out, piece;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t used = escape_one(text, i, false, piece);
    const std::size_t n = utf8_chars(piece);
    if (chars + n > max_chars) return out + "\xE2\x80\xA6 [" + std::to_string(text.size()) + " bytes in all]";
    out += piece;
    chars += n;
    i += used;
  }
  return out;
}

}  // namespace bastion
