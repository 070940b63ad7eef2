#include "config/duplicate_keys.h"

#include <cctype>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>

namespace bastion {
namespace {

enum class Tok { name, string, other, end };

struct Token {
  Tok kind = Tok::end;
  std::string text;  // a name, a string's contents (when plain), or the symbol
  bool plain = true;  // a string without escapes: its text is its value
  int line = 1;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Token next() {
    skip_space_and_comments();
    Token t;
    t.line = line_;
    if (i_ >= s_.size()) return t;
    const char c = s_[i_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const std::size_t b = i_;
      while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
      t.kind = Tok::name;
      t.text = s_.substr(b, i_ - b);
      return t;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      // Numbers (hex, exponents with signs, fractions): none of it is a key.
      while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                                ((s_[i_] == '+' || s_[i_] == '-') && (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E' ||
                                                                      s_[i_ - 1] == 'p' || s_[i_ - 1] == 'P'))))
        ++i_;
      t.kind = Tok::other;
      t.text = "0";
      return t;
    }
    if (c == '"' || c == '\'') return quoted(t, c);
    if (c == '[') {
      const std::size_t level = long_bracket_level();
      if (level != npos) {
        // A long string has no escapes: its contents are its value (less a
        // first newline, as Lua drops it).
        t.kind = Tok::string;
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
    t.kind = Tok::other;
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

 private:
  static constexpr std::size_t npos = std::string_view::npos;

  void advance() {
    if (s_[i_] == '\n') ++line_;
    ++i_;
  }

  void skip_space_and_comments() {
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

  // At '[': the number of '=' of a long bracket "[==[", or npos.
  std::size_t long_bracket_level() const {
    std::size_t j = i_ + 1;
    while (j < s_.size() && s_[j] == '=') ++j;
    return j < s_.size() && s_[j] == '[' ? j - i_ - 1 : npos;
  }

  void skip_long_bracket(std::size_t level) {
    i_ += level + 2;
    const std::string close = "]" + std::string(level, '=') + "]";
    const std::size_t end = s_.find(close, std::min(i_, s_.size()));
    const std::size_t stop = end == npos ? s_.size() : end + close.size();
    for (; i_ < stop; ++i_) line_ += s_[i_] == '\n';
  }

  Token& quoted(Token& t, char q) {
    t.kind = Tok::string;
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

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // At the character after a backslash: appends what Lua reads there. One
  // it does not understand leaves the string not plain (never a key).
  void escape(Token& t) {
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

  std::string_view s_;
  std::size_t i_ = 0;
  int line_ = 1;
};

// One open construct: a table constructor (with the keys set in it so
// far), a bracket or parenthesis, or a block (function, do, then, repeat).
struct Frame {
  enum Kind { table, paren, bracket, block } kind;
  std::string path;                 // qualified name of a table ("targets.a")
  std::map<std::string, int> keys;  // key -> line first set
  bool field_start = true;          // next tokens begin a field
  bool anchored = false;            // path names it from the top level (not inside an unnamed table)
};

bool opens_block(const std::string& w) { return w == "function" || w == "do" || w == "then" || w == "repeat"; }
// "elseif" closes the "then" before it; its own "then" opens again.
bool closes_block(const std::string& w) { return w == "end" || w == "until" || w == "elseif"; }

// `["" ] = ...` is a key too: shown as "" rather than as nothing.
std::string join(const std::string& path, const std::string& key) {
  const std::string k = key.empty() ? "\"\"" : key;
  return path.empty() ? k : path + "." + k;
}

}  // namespace

std::vector<DuplicateKey> find_duplicate_keys(std::string_view src) {
  std::vector<Token> toks;
  for (Lexer lex(src);;) {
    toks.push_back(lex.next());
    if (toks.back().kind == Tok::end) break;
  }
  auto is = [&](std::size_t i, const char* sym) {
    return i < toks.size() && toks[i].kind == Tok::other && toks[i].text == sym;
  };
  std::vector<DuplicateKey> out;
  std::vector<Frame> stack;
  std::map<std::string, int> top_keys;  // assignments at the top level, outside any block
  // The key whose value starts at token `pending_at`, so a table
  // constructor there is named after it.
  std::string pending;
  std::size_t pending_at = 0;
  // Every qualified key set so far ("targets.web1"), for the top-level
  // `targets.web1 = ...` / `targets["web1"] = ...` that would replace it.
  std::map<std::string, int> paths;
  // `anchored`: q names the key from the top (not inside an unnamed table).
  auto record = [&](std::map<std::string, int>& seen, const std::string& k, const std::string& q, int line,
                    bool anchored) {
    const auto [it, fresh] = seen.emplace(k, line);
    if (!fresh) out.push_back({q, it->second, line});
    if (anchored && q.find('?') == std::string::npos) paths.emplace(q, line);
  };
  for (std::size_t i = 0; i < toks.size() && toks[i].kind != Tok::end;) {
    const Token& t = toks[i];
    Frame* top = stack.empty() ? nullptr : &stack.back();
    const bool in_table = top && top->kind == Frame::table;
    const bool field_start = in_table && top->field_start;
    // `NAME.KEY... =` / `NAME["KEY"]... =` as a top-level statement: the
    // key it sets, qualified, may be one a table constructor set already
    // (`targets = { web1 = ... }` then `targets.web1 = ...` replaces it).
    if (!top && t.kind == Tok::name && !is(i + 1, "=")) {
      const Token* p = i ? &toks[i - 1] : nullptr;
      const bool head = !(p && p->kind == Tok::other && (p->text == "." || p->text == ":" || p->text == "::")) &&
                        !(p && p->kind == Tok::name && (p->text == "local" || p->text == "for"));
      std::string q = t.text;
      std::size_t j = i + 1;
      bool plain = true, chain = false;
      while (head) {
        if (is(j, ".") && j + 1 < toks.size() && toks[j + 1].kind == Tok::name) {
          q += "." + toks[j + 1].text;
          j += 2;
        } else if (is(j, "[") && j + 1 < toks.size() && toks[j + 1].kind == Tok::string && is(j + 2, "]")) {
          plain = plain && toks[j + 1].plain;
          q = join(q, toks[j + 1].plain ? toks[j + 1].text : "?");
          j += 3;
        } else {
          break;
        }
        chain = true;
      }
      if (chain && is(j, "=")) {
        // Only over a key a constructor set: `t = {}; t.x = 1; t.x = 2` builds
        // a table step by step, which is not checked.
        if (const auto it = paths.find(q); plain && it != paths.end()) out.push_back({q, it->second, toks[j].line});
        pending = q;
        pending_at = j + 1;
        i = j + 1;
        continue;
      }
    }
    // `NAME =` at the start of a field, or as a top-level statement (not
    // `a.b =`, `local a =`, `a, b =`, `for a =`).
    if (t.kind == Tok::name && is(i + 1, "=")) {
      const Token* p = i ? &toks[i - 1] : nullptr;
      const bool statement = !top && !(p && p->kind == Tok::other &&
                                       (p->text == "." || p->text == ":" || p->text == "," || p->text == "::")) &&
                             !(p && p->kind == Tok::name && (p->text == "local" || p->text == "for"));
      if (field_start || statement) {
        const std::string q = in_table ? join(top->path, t.text) : t.text;
        record(in_table ? top->keys : top_keys, t.text, q, t.line, !in_table || top->anchored);
        if (in_table) top->field_start = false;
        pending = q;
        pending_at = i + 2;
        i += 2;
        continue;
      }
    }
    // `["NAME"] =` at the start of a field.
    if (field_start && is(i, "[") && i + 1 < toks.size() && toks[i + 1].kind == Tok::string && is(i + 2, "]") &&
        is(i + 3, "=")) {
      const Token& k = toks[i + 1];
      const std::string q = join(top->path, k.plain ? k.text : "?");
      if (k.plain) record(top->keys, k.text, q, k.line, top->anchored);
      top->field_start = false;
      pending = q;
      pending_at = i + 4;
      i += 4;
      continue;
    }
    if (t.kind == Tok::other) {
      const std::string& s = t.text;
      if (s == "{") {
        std::string path = pending_at == i ? pending : std::string();
        if (path.empty() && in_table) path = join(top->path, "?");
        const bool anchored = pending_at == i && (!top || (in_table && top->anchored));
        if (in_table) top->field_start = false;
        stack.push_back({Frame::table, path, {}, true, anchored});
      } else if (s == "(" || s == "[") {
        if (in_table) top->field_start = false;
        stack.push_back({s == "(" ? Frame::paren : Frame::bracket, "", {}, false, false});
      } else if (s == "}" || s == ")" || s == "]") {
        const Frame::Kind want = s == "}" ? Frame::table : s == ")" ? Frame::paren : Frame::bracket;
        // Pop to the matching opener (unbalanced input: whatever is open).
        while (!stack.empty() && stack.back().kind != want) stack.pop_back();
        if (!stack.empty()) stack.pop_back();
      } else if ((s == "," || s == ";") && in_table) {
        top->field_start = true;
      } else if (in_table) {
        top->field_start = false;
      }
    } else if (t.kind == Tok::name && opens_block(t.text)) {
      if (in_table) top->field_start = false;
      stack.push_back({Frame::block, "", {}, false, false});
    } else if (t.kind == Tok::name && closes_block(t.text)) {
      while (!stack.empty() && stack.back().kind != Frame::block) stack.pop_back();
      if (!stack.empty()) stack.pop_back();
    } else if (in_table) {
      top->field_start = false;
    }
    ++i;
  }
  return out;
}

}  // namespace bastion
