#include "filters/regex_max_length.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace bastion {

namespace {

constexpr std::uint64_t kInf = UINT64_MAX;  // unbounded
constexpr char32_t kMaxRune = 0x10FFFF;

std::uint64_t add(std::uint64_t a, std::uint64_t b) { return a > kInf - b ? kInf : a + b; }

std::uint64_t times(std::uint64_t a, std::uint64_t n) {
  if (a == 0 || n == 0) return 0;  // a repeated empty-width atom stays empty
  if (a == kInf || n == kInf || a > kInf / n) return kInf;
  return a * n;
}

std::uint64_t utf8_length(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

// One UTF-8 character, strictly (RE2 refuses a pattern that is not UTF-8).
std::optional<char32_t> next_rune(std::string_view p, std::size_t& i) {
  if (i >= p.size()) return std::nullopt;
  const auto b0 = static_cast<unsigned char>(p[i]);
  if (b0 < 0x80) return ++i, b0;
  const int n = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
  if (n == 0 || i + n > p.size()) return std::nullopt;
  char32_t c = b0 & (0x7F >> n);
  for (int k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(p[i + k]);
    if ((b & 0xC0) != 0x80) return std::nullopt;
    c = (c << 6) | (b & 0x3F);
  }
  if (utf8_length(c) != static_cast<std::uint64_t>(n) || c > kMaxRune) return std::nullopt;
  i += n;
  return c;
}

// A literal character. Under (?i) RE2 also matches the character's case
// variants, and some are longer than it: k and K match KELVIN SIGN (U+212A,
// 3 bytes), s and S match LONG S (U+017F, 2 bytes), and a non-ASCII letter of
// the BMP may have a 3-byte variant. Case variants never leave their plane.
std::uint64_t literal_bytes(char32_t c, bool fold) {
  if (!fold) return utf8_length(c);
  if (c == 'k' || c == 'K') return 3;
  if (c == 's' || c == 'S') return 2;
  if (c < 0x80) return 1;
  return c < 0x10000 ? 3 : 4;
}

// What a character class can hold, as far as its longest member goes.
struct CharSet {
  char32_t max = 0;
  bool k = false;  // holds k or K (a 3-byte variant under (?i))
  bool s = false;  // holds s or S (a 2-byte variant under (?i))
  bool negated = false;

  void add(char32_t lo, char32_t hi) {
    max = std::max(max, hi);
    const auto in = [&](char32_t c) { return lo <= c && c <= hi; };
    k = k || in('k') || in('K');
    s = s || in('s') || in('S');
  }
  std::uint64_t bytes(bool fold) const {
    if (negated) return 4;
    std::uint64_t n = utf8_length(max);
    if (fold) {
      if (max >= 0x80 && max < 0x10000) n = std::max<std::uint64_t>(n, 3);
      if (k) n = std::max<std::uint64_t>(n, 3);
      if (s) n = std::max<std::uint64_t>(n, 2);
    }
    return n;
  }
};

// The ASCII classes RE2 knows; a negated one holds every character.
bool add_posix_class(std::string_view name, CharSet& set) {
  struct Entry {
    std::string_view name;
    char32_t max;
    bool letters;
  };
  static constexpr Entry kClasses[] = {
      {"alnum", 'z', true}, {"alpha", 'z', true},  {"ascii", 0x7F, true}, {"blank", ' ', false},
      {"cntrl", 0x7F, false}, {"digit", '9', false}, {"graph", '~', true}, {"lower", 'z', true},
      {"print", '~', true}, {"punct", '~', false}, {"space", ' ', false}, {"upper", 'Z', true},
      {"word", 'z', true},  {"xdigit", 'f', false},
  };
  const bool negated = name.starts_with('^');
  if (negated) name.remove_prefix(1);
  for (const auto& e : kClasses) {
    if (e.name != name) continue;
    if (negated) set.add(0, kMaxRune);
    else if (e.letters) set.add('A', e.max);  // the range covers k, K, s and S
    else set.add(e.max, e.max);
    return true;
  }
  return false;
}

// \d \s \w (ASCII) and their negations; false if `c` names none of them.
bool add_perl_class(char c, CharSet& set) {
  switch (c) {
    case 'd': set.add('9', '9'); return true;
    case 's': set.add(' ', ' '); return true;
    case 'w': set.add('A', 'z'); return true;
    case 'D': case 'S': case 'W': set.add(0, kMaxRune); return true;
    default: return false;
  }
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A single-character escape at p[i] == '\\' (RE2's ParseEscape).
std::optional<char32_t> parse_escape(std::string_view p, std::size_t& i) {
  ++i;  // backslash
  const auto c = next_rune(p, i);
  if (!c || *c >= 0x80) return std::nullopt;
  switch (*c) {
    case '1': case '2': case '3': case '4': case '5': case '6': case '7':
      if (i >= p.size() || !is_octal(p[i])) return std::nullopt;  // a backreference
      [[fallthrough]];
    case '0': {
      char32_t code = *c - '0';
      for (int k = 0; k < 2 && i < p.size() && is_octal(p[i]); ++k) code = code * 8 + (p[i++] - '0');
      return code;
    }
    case 'x': {
      if (i < p.size() && p[i] == '{') {
        char32_t code = 0;
        std::size_t j = i + 1, digits = 0;
        for (; j < p.size() && hex_value(p[j]) >= 0; ++j, ++digits) {
          code = code * 16 + hex_value(p[j]);
          if (code > kMaxRune) return std::nullopt;
        }
        if (digits == 0 || j >= p.size() || p[j] != '}') return std::nullopt;
        i = j + 1;
        return code;
      }
      if (i + 2 > p.size() || hex_value(p[i]) < 0 || hex_value(p[i + 1]) < 0) return std::nullopt;
      const char32_t code = hex_value(p[i]) * 16 + hex_value(p[i + 1]);
      i += 2;
      return code;
    }
    case 'n': return U'\n';
    case 'r': return U'\r';
    case 't': return U'\t';
    case 'a': return U'\a';
    case 'f': return U'\f';
    case 'v': return U'\v';
    default: {
      const char a = static_cast<char>(*c);
      const bool word = (a >= '0' && a <= '9') || (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z');
      if (word) return std::nullopt;
      return *c;  // escaped punctuation is itself
    }
  }
}

// \pN, \p{Greek}, \PN, \p{^Greek} at p[i] == '\\': skips it. Any such class
// may hold 4-byte characters.
bool skip_unicode_class(std::string_view p, std::size_t& i) {
  i += 2;  // '\\', 'p'
  if (i < p.size() && p[i] == '{') {
    const std::size_t end = p.find('}', i);
    if (end == std::string_view::npos) return false;
    i = end + 1;
    return true;
  }
  return next_rune(p, i).has_value();
}

// A class [...] at p[i] == '[' (RE2's ParseCharClass): its longest member.
std::optional<std::uint64_t> parse_class(std::string_view p, std::size_t& i, bool fold) {
  ++i;  // '['
  CharSet set;
  if (i < p.size() && p[i] == '^') {
    set.negated = true;
    ++i;
  }
  const auto one_char = [&]() -> std::optional<char32_t> {
    if (i < p.size() && p[i] == '\\') return parse_escape(p, i);
    return next_rune(p, i);
  };
  for (bool first = true; i < p.size() && (p[i] != ']' || first); first = false) {
    if (p.size() - i > 2 && p[i] == '[' && p[i + 1] == ':') {
      const std::size_t close = p.find(":]", i + 2);
      if (close != std::string_view::npos) {
        if (!add_posix_class(p.substr(i + 2, close - i - 2), set)) return std::nullopt;
        i = close + 2;
        continue;
      }
    }
    if (p.size() - i > 2 && p[i] == '\\' && (p[i + 1] == 'p' || p[i + 1] == 'P')) {
      if (!skip_unicode_class(p, i)) return std::nullopt;
      set.add(0, kMaxRune);
      continue;
    }
    if (p.size() - i >= 2 && p[i] == '\\' && add_perl_class(p[i + 1], set)) {
      i += 2;
      continue;
    }
    const auto lo = one_char();
    if (!lo) return std::nullopt;
    char32_t hi = *lo;
    if (p.size() - i >= 2 && p[i] == '-' && p[i + 1] != ']') {
      ++i;
      const auto h = one_char();
      if (!h || *h < *lo) return std::nullopt;
      hi = *h;
    }
    set.add(*lo, hi);
  }
  if (i >= p.size()) return std::nullopt;  // missing ]
  ++i;
  return set.bytes(fold);
}

// RE2's ParseInteger: no leading zeros, and a huge number is not a number.
bool parse_count(std::string_view p, std::size_t& j, std::uint64_t& n) {
  if (j >= p.size() || p[j] < '0' || p[j] > '9') return false;
  if (p[j] == '0' && j + 1 < p.size() && p[j + 1] >= '0' && p[j + 1] <= '9') return false;
  n = 0;
  for (; j < p.size() && p[j] >= '0' && p[j] <= '9'; ++j) {
    if (n >= 100000000) return false;
    n = n * 10 + (p[j] - '0');
  }
  return true;
}

// {n} {n,} {n,m} at p[i] == '{': the upper bound (kInf for {n,}). Anything
// else is a literal '{' to RE2, and nullopt here.
std::optional<std::uint64_t> parse_counted(std::string_view p, std::size_t& i) {
  std::size_t j = i + 1;
  std::uint64_t lo = 0, hi = 0;
  if (!parse_count(p, j, lo) || j >= p.size()) return std::nullopt;
  if (p[j] == ',') {
    ++j;
    if (j >= p.size()) return std::nullopt;
    if (p[j] == '}') hi = kInf;
    else if (!parse_count(p, j, hi)) return std::nullopt;
  } else {
    hi = lo;
  }
  if (j >= p.size() || p[j] != '}') return std::nullopt;
  i = j + 1;
  return hi;
}

// One alternation level: a group, or the whole pattern.
struct Frame {
  std::uint64_t longest = 0;  // the longest finished alternative
  std::uint64_t concat = 0;   // the current alternative, without its last atom
  std::uint64_t atom = 0;     // the last atom: what a repetition applies to
  bool has_atom = false;
  bool fold_before = false;   // (?i) in force where the group opened
  std::uint64_t current() const { return add(concat, atom); }
};

}  // namespace

RegexLength regex_max_length(std::string_view p) {
  const RegexLength unknown{false, 0, true};
  std::vector<Frame> stack(1);
  bool fold = false;
  bool past_end = false;
  const auto push_atom = [&](std::uint64_t n) {
    Frame& f = stack.back();
    f.concat = f.current();
    f.atom = n;
    f.has_atom = true;
  };
  const auto open_group = [&](bool fold_inside) {
    Frame f;
    f.fold_before = fold;
    stack.push_back(f);
    fold = fold_inside;
  };
  const auto repeat = [&](std::uint64_t upto, std::size_t& i) {
    Frame& f = stack.back();
    if (!f.has_atom) return false;  // "missing argument to repetition operator"
    f.atom = times(f.atom, upto);
    if (i < p.size() && p[i] == '?') ++i;  // lazy
    return true;
  };

  std::size_t i = 0;
  while (i < p.size()) {
    switch (p[i]) {
      case '(': {
        if (p.substr(i, 2) != "(?") {
          open_group(fold);
          ++i;
          break;
        }
        if (p.size() - i > 4 && p.substr(i, 4) == "(?P<") {
          const std::size_t end = p.find('>', i + 4);
          if (end == std::string_view::npos) return unknown;
          open_group(fold);
          i = end + 1;
          break;
        }
        // (?flags) or (?flags:...): only i changes what can match's length.
        bool negated = false, saw = false, next_fold = fold;
        std::size_t j = i + 2;
        for (;;) {
          if (j >= p.size()) return unknown;
          const char c = p[j++];
          if (c == 'i') {
            saw = true;
            next_fold = !negated;
          } else if (c == 'm' || c == 's' || c == 'U') {
            saw = true;
          } else if (c == '-') {
            if (negated) return unknown;
            negated = true;
            saw = false;
          } else if (c == ':' || c == ')') {
            if (negated && !saw) return unknown;
            if (c == ':') open_group(next_fold);
            else fold = next_fold;  // to the end of the enclosing group
            break;
          } else {
            return unknown;
          }
        }
        i = j;
        break;
      }
      case ')': {
        if (stack.size() == 1) return unknown;
        const Frame f = stack.back();
        stack.pop_back();
        fold = f.fold_before;
        push_atom(std::max(f.longest, f.current()));
        ++i;
        break;
      }
      case '|': {
        Frame& f = stack.back();
        f.longest = std::max(f.longest, f.current());
        f.concat = f.atom = 0;
        f.has_atom = false;
        ++i;
        break;
      }
      case '^': push_atom(0); ++i; break;
      case '$': push_atom(0); past_end = true; ++i; break;
      case '.': push_atom(4); ++i; break;
      case '[': {
        const auto n = parse_class(p, i, fold);
        if (!n) return unknown;
        push_atom(*n);
        break;
      }
      case '*': case '+': case '?': {
        const std::uint64_t upto = p[i] == '?' ? 1 : kInf;
        ++i;
        if (!repeat(upto, i)) return unknown;
        break;
      }
      case '{': {
        const auto upto = parse_counted(p, i);
        if (!upto) {
          push_atom(1);  // a literal '{'
          ++i;
        } else if (!repeat(*upto, i)) {
          return unknown;
        }
        break;
      }
      case '\\': {
        if (i + 1 >= p.size()) return unknown;  // trailing backslash
        const char e = p[i + 1];
        if (e == 'b' || e == 'B' || e == 'z' || e == 'A') {
          push_atom(0);
          past_end = past_end || e != 'A';
          i += 2;
        } else if (e == 'C') {  // any byte
          push_atom(1);
          i += 2;
        } else if (e == 'Q') {  // literal text up to \E or the end
          for (i += 2; i < p.size();) {
            if (p.substr(i, 2) == "\\E") {
              i += 2;
              break;
            }
            const auto c = next_rune(p, i);
            if (!c) return unknown;
            push_atom(literal_bytes(*c, fold));
          }
        } else if (e == 'p' || e == 'P') {
          if (!skip_unicode_class(p, i)) return unknown;
          push_atom(4);
        } else if (CharSet set; add_perl_class(e, set)) {
          push_atom(set.bytes(fold));
          i += 2;
        } else {
          const auto c = parse_escape(p, i);
          if (!c) return unknown;
          push_atom(literal_bytes(*c, fold));
        }
        break;
      }
      default: {
        const auto c = next_rune(p, i);
        if (!c) return unknown;
        push_atom(literal_bytes(*c, fold));
      }
    }
  }
  if (stack.size() != 1) return unknown;  // missing )
  const std::uint64_t longest = std::max(stack.back().longest, stack.back().current());
  if (longest == kInf) return {false, 0, past_end};
  return {true, static_cast<std::size_t>(longest), past_end};
}

}  // namespace bastion
