#include "lua/lua_lexer.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace bastion {

LuaToken LuaLexer::next() {
  skip_space_and_comments();
  LuaToken t;
  t.line = line_;
  if (i_ >= s_.size()) return t;
  const char c = s_[i_];
  if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
    const std::size_t b = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
    t.kind = LuaToken::Kind::name;
    t.text = s_.substr(b, i_ - b);
    return t;
  }
  if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
    // Numbers (hex, exponents with signs, fractions): none of it is a key.
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                              ((s_[i_] == '+' || s_[i_] == '-') && (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E' ||
                                                                    s_[i_ - 1] == 'p' || s_[i_ - 1] == 'P'))))
      ++i_;
    t.kind = LuaToken::Kind::other;
    t.text = "0";
    return t;
  }
  if (c == '"' || c == '\'') return quoted(t, c);
  if (c == '[') {
    const std::size_t level = long_bracket_level();
    if (level != npos) {
      // A long string has no escapes: its contents are its value (less a
      // first newline, as Lua drops it).
      t.kind = LuaToken::Kind::string;
      const std::size_t b = std::min(i_ + level + 2, s_.size());
      skip_long_bracket(level);
      const std::size_t e = i_ >= b + level + 2 ? i_ - level - 2 : b;
      t.text = std::string(s_.substr(b, e - b));
      if (t.text.starts_with("\r\n") || t.text.starts_with("\n\r")) t.text.erase(0, 2);
      else if (!t.text.empty() && (t.text[0] == '\n' || t.text[0] == '\r')) t.text.erase(0, 1);
      return t;
    }
  }
  // Two-character symbols that matter: "==" is not "=", "::" not ":".
  t.kind = LuaToken::Kind::other;
  if (i_ + 1 < s_.size() && ((c == '=' && s_[i_ + 1] == '=') || (c == '~' && s_[i_ + 1] == '=') ||
                             (c == '<' && s_[i_ + 1] == '=') || (c == '>' && s_[i_ + 1] == '=') ||
                             (c == ':' && s_[i_ + 1] == ':') || (c == '.' && s_[i_ + 1] == '.'))) {
    t.text = s_.substr(i_, 2);
    i_ += 2;
    return t;
  }
  t.text = std::string(1, c);
  ++i_;
  return t;
}

void LuaLexer::advance() {
  if (s_[i_] == '\n') ++line_;
  ++i_;
}

void LuaLexer::skip_space_and_comments() {
  while (i_ < s_.size()) {
    if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
      advance();
    } else if (s_.substr(i_, 2) == "--") {
      i_ += 2;
      const std::size_t level = i_ < s_.size() && s_[i_] == '[' ? long_bracket_level() : npos;
      if (level != npos) {
        skip_long_bracket(level);
      } else {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      }
    } else {
      return;
    }
  }
}

std::size_t LuaLexer::long_bracket_level() const {
  std::size_t j = i_ + 1;
  while (j < s_.size() && s_[j] == '=') ++j;
  return j < s_.size() && s_[j] == '[' ? j - i_ - 1 : npos;
}

void LuaLexer::skip_long_bracket(std::size_t level) {
  i_ += level + 2;
  const std::string close = "]" + std::string(level, '=') + "]";
  const std::size_t end = s_.find(close, std::min(i_, s_.size()));
  const std::size_t stop = end == npos ? s_.size() : end + close.size();
  for (; i_ < stop; ++i_) line_ += s_[i_] == '\n';
}

LuaToken& LuaLexer::quoted(LuaToken& t, char q) {
  t.kind = LuaToken::Kind::string;
  ++i_;
  while (i_ < s_.size() && s_[i_] != q && s_[i_] != '\n') {
    if (s_[i_] == '\\') {
      advance();
      if (i_ >= s_.size()) break;
      escape(t);  // "web\49" is "web1": decoded, so it is the same key
      continue;
    }
    t.text += s_[i_];
    advance();
  }
  if (i_ < s_.size() && s_[i_] == q) ++i_;
  return t;
}

int LuaLexer::hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void LuaLexer::escape(LuaToken& t) {
  const char c = s_[i_];
  static const std::string_view from = "abfnrtv\\\"'", to = "\a\b\f\n\r\t\v\\\"'";
  if (const std::size_t k = from.find(c); k != std::string_view::npos) {
    t.text += to[k];
    advance();
  } else if (c == '\n' || c == '\r') {
    t.text += '\n';
    advance();
    if (i_ < s_.size() && (s_[i_] == '\n' || s_[i_] == '\r') && s_[i_] != c) advance();
  } else if (c == 'z') {
    advance();
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) advance();
  } else if (c == 'x' && i_ + 2 < s_.size() && hex(s_[i_ + 1]) >= 0 && hex(s_[i_ + 2]) >= 0) {
    t.text += static_cast<char>(hex(s_[i_ + 1]) * 16 + hex(s_[i_ + 2]));
    i_ += 3;
  } else if (std::isdigit(static_cast<unsigned char>(c))) {
    int v = 0;
    for (int n = 0; n < 3 && i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])); ++n, ++i_)
      v = v * 10 + (s_[i_] - '0');
    if (v > 255) t.plain = false;
    t.text += static_cast<char>(v);
  } else if (c == 'u' && i_ + 1 < s_.size() && s_[i_ + 1] == '{') {
    uint32_t v = 0;
    std::size_t j = i_ + 2;
    bool ok = j < s_.size() && hex(s_[j]) >= 0;
    for (; ok && j < s_.size() && hex(s_[j]) >= 0; ++j) {
      v = v * 16 + static_cast<uint32_t>(hex(s_[j]));
      if (v > 0x7FFFFFFFu) ok = false;
    }
    ok = ok && j < s_.size() && s_[j] == '}';
    if (!ok) {
      t.plain = false;
      return;
    }
    i_ = j + 1;
    // UTF-8 as Lua 5.4 writes it (up to 6 bytes).
    if (v < 0x80) {
      t.text += static_cast<char>(v);
    } else {
      char buf[8];
      int n = 0;
      uint32_t mfb = 0x3f;
      do {
        buf[7 - n++] = static_cast<char>(0x80 | (v & 0x3f));
        v >>= 6;
        mfb >>= 1;
      } while (v > mfb);
      buf[7 - n] = static_cast<char>((~mfb << 1) | v);
      t.text.append(buf + 7 - n, static_cast<std::size_t>(n + 1));
    }
  } else {
    t.plain = false;
    t.text += c;
    advance();
  }
}

}  // namespace bastion
