#include "policy/shell_words.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "common/strings.h"

namespace bastion {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Unquoted text of a word (quoted characters are \x01): brace expansion
// needs an unquoted '{' with an unquoted ',' or '..' before its '}'.
bool has_brace_expansion(const std::string& shadow) {
  for (std::size_t open = shadow.find('{'); open != std::string::npos; open = shadow.find('{', open + 1)) {
    int level = 0;
    for (std::size_t k = open; k < shadow.size(); ++k) {
      if (shadow[k] == '{') ++level;
      else if (shadow[k] == '}' && --level == 0) break;
      else if (level == 1 && (shadow[k] == ',' || shadow.compare(k, 2, "..") == 0)) {
        if (shadow.find('}', k) != std::string::npos) return true;
      }
    }
  }
  return false;
}

bool is_assignment(const std::string& shadow) {
  if (shadow.empty() || !is_name_start(shadow[0])) return false;
  std::size_t k = 1;
  while (k < shadow.size() && is_name_char(shadow[k])) ++k;
  if (k < shadow.size() && shadow[k] == '[') {  // a[i]=x
    k = shadow.find(']', k);
    if (k == std::string::npos) return false;
    ++k;
  }
  if (k < shadow.size() && shadow[k] == '+') ++k;
  return k < shadow.size() && shadow[k] == '=';
}

// Recursive-descent scanner over one nesting level. Stops at `close` (')' or
// '`') when nested; appends finished simple commands to `out.parts`.
class Scanner {
 public:
  Scanner(std::string_view s, ShellParse& out) : s_(s), out_(out) {}

  // Parses until end of input or the closing character of this level.
  void level(int depth, char close) {
    if (depth > kShellMaxDepth) return fail("nesting too deep");
    SimpleCommand cur;
    cur.depth = depth;
    bool redirect_next = false;
    auto finish = [&]() {
      if (!cur.argv.empty() || !cur.redirects.empty()) {
        for (Heredoc& h : heredocs_)  // here-documents this command opened
          if (h.part == kNoPart && h.depth == depth) h.part = out_.parts.size();
        out_.parts.push_back(cur);
      }
      cur = SimpleCommand{};
      cur.depth = depth;
      redirect_next = false;
    };
    while (i_ < s_.size() && out_.error.empty()) {
      const char c = s_[i_];
      if (close && c == close) {
        ++i_;
        finish();
        return;
      }
      if (is_blank(c)) {
        ++i_;
        continue;
      }
      if (c == '#' && at_word_start()) {  // comment to end of line
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
        continue;
      }
      if (c == '\n' || c == ';' || c == '&' || c == '|') {
        std::string op(1, c);
        ++i_;
        if (i_ < s_.size() && (s_[i_] == c || (c == '|' && s_[i_] == '&') || (c == ';' && s_[i_] == ';'))) op += s_[i_++];
        if (op != "\n") out_.words.push_back(op);
        finish();
        cur.piped_in = op == "|" || op == "|&";
        if (op == "\n" && !heredocs_.empty()) read_heredocs();
        continue;
      }
      if (c == '(') {  // subshell
        // Bash reads `@(..)`, `!(..)` etc. as one extglob word, `name()` as a
        // function definition and `((..))` as arithmetic on variables' values.
        if (i_ > 0 && std::string_view("@!+*?").find(s_[i_ - 1]) != std::string_view::npos)
          cur.scan_opaque.push_back("extglob pattern");
        std::size_t after = i_ + 1;
        while (after < s_.size() && is_blank(s_[after])) ++after;
        if (after < s_.size() && s_[after] == ')' && cur.argv.size() == 1) cur.defines_function = true;
        const bool arith = i_ + 1 < s_.size() && s_[i_ + 1] == '(';
        ++i_;
        out_.words.push_back("(");
        finish();
        const std::size_t first = out_.parts.size();
        if (arith) ++in_arith_;  // `((x << 2))`: a shift, not a here-document
        level(depth + 1, ')');
        if (arith) --in_arith_;
        out_.words.push_back(")");
        if (arith) {
          for (std::size_t k = first; k < out_.parts.size(); ++k)
            out_.parts[k].scan_opaque.push_back("arithmetic command (( ))");
          if (first == out_.parts.size()) cur.scan_opaque.push_back("arithmetic command (( ))");
        }
        continue;
      }
      if (c == ')' ) {  // stray: treat as a separator
        ++i_;
        out_.words.push_back(")");
        finish();
        continue;
      }
      if (c == '<' || c == '>') {
        // <( ) and >( ) are process substitutions: commands in their own right.
        if (i_ + 1 < s_.size() && s_[i_ + 1] == '(') {
          i_ += 2;
          level(depth + 1, ')');
          continue;
        }
        std::string op(1, c);
        ++i_;
        while (i_ < s_.size() && (s_[i_] == '>' || s_[i_] == '&' || s_[i_] == '<' || s_[i_] == '|')) op += s_[i_++];
        if (op == "<<" && i_ < s_.size() && s_[i_] == '-') op += s_[i_++];
        out_.words.push_back(op);
        cur.redirects.push_back(op);
        redirect_next = true;
        if ((op == "<<" || op == "<<-") && in_arith_ == 0) {
          while (i_ < s_.size() && is_blank(s_[i_])) ++i_;
          if (i_ >= s_.size() || std::string_view("\n;&|()<>").find(s_[i_]) != std::string_view::npos) {
            fail("here-document without a delimiter");
            break;
          }
          heredoc_next_ = op == "<<-" ? 2 : 1;
        }
        continue;
      }
      const std::size_t before = i_;
      const int heredoc = heredoc_next_;  // this word is a delimiter (not a word of a $( ) in it)
      heredoc_next_ = 0;
      flags_ = 0;
      shadow_.clear();
      std::string w = word(depth);
      unsigned flags = flags_;
      if (has_brace_expansion(shadow_)) flags |= kWordBrace;
      if (is_assignment(shadow_)) flags |= kWordAssign;
      if (!out_.error.empty()) break;
      if (i_ == before) {
        // Nothing consumed: a backquote closing an outer level while an inner
        // one is open (`a >(b` c`). Stop rather than loop.
        fail("unbalanced backquote");
        break;
      }
      // "2>file": a word of digits directly followed by a redirection.
      if (i_ < s_.size() && (s_[i_] == '>' || s_[i_] == '<') && !w.empty() &&
          w.find_first_not_of("0123456789") == std::string::npos) {
        cur.redirects.push_back(w);
        continue;
      }
      if (heredoc) {
        const std::string_view raw = s_.substr(before, i_ - before);
        // bash decodes $'..' in a delimiter, dash does not; none expands
        // $( ) or backquotes there: refuse rather than guess where it ends.
        if (raw.find("$'") != std::string_view::npos || raw.find("$\"") != std::string_view::npos ||
            raw.find("$(") != std::string_view::npos || raw.find('`') != std::string_view::npos) {
          fail("here-document delimiter with $'..', $\"..\", $( ) or backquotes");
          break;
        }
        // Any quoting in the delimiter makes the body literal.
        const bool quoted = raw.find_first_of("'\"\\") != std::string_view::npos;
        heredocs_.push_back({w, heredoc == 2, quoted, depth, kNoPart});
      }
      out_.words.push_back(w);
      if (redirect_next) {
        cur.redirects.push_back(w);
        redirect_next = false;
      } else {
        cur.argv.push_back(std::move(w));
        cur.word_flags.push_back(flags);
      }
    }
    if (close && out_.error.empty()) fail(close == '`' ? "unterminated backquote" : "unterminated parenthesis");
    finish();
  }

 public:
  bool heredoc_pending() const { return !heredocs_.empty(); }

  // An unquoted here-document body (the whole of s_): expanded like a
  // double-quoted string, but quotes are plain characters. Returns the
  // WordFlag bits seen; substitutions become parts at depth + 1.
  unsigned heredoc_body(int depth) {
    flags_ = 0;
    std::string sink;
    while (i_ < s_.size() && out_.error.empty()) {
      const char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size() && std::string_view("$`\\\n").find(s_[i_ + 1]) != std::string_view::npos) {
        i_ += 2;
        continue;
      }
      if (c == '`' || (c == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '(')) {
        substitution(sink, depth, c == '`');
        continue;
      }
      if (c == '$') dollar();
      if (c == '!') bang(true);  // an interactive bash expands history in body lines too
      ++i_;
    }
    if (heredoc_pending()) fail("unterminated here-document");
    return flags_;
  }

 private:
  static constexpr std::size_t kNoPart = static_cast<std::size_t>(-1);
  struct Heredoc {
    std::string delimiter;  // quotes removed
    bool strip_tabs;        // <<-
    bool quoted;            // the body is literal
    int depth;              // of the command that opened it
    std::size_t part;       // its index in out_.parts once finished
  };

  // The end of the body that starts at `from` (the start of its delimiter
  // line, and the position after that line), or npos. `join`: a line ending
  // in an odd number of backslashes continues on the next one, as bash reads
  // an unquoted body; dash and busybox compare each physical line.
  std::pair<std::size_t, std::size_t> body_end(std::size_t from, const Heredoc& h, bool join) const {
    std::size_t k = from;
    while (k < s_.size()) {
      const std::size_t start = k;
      std::string line;
      while (true) {
        const std::size_t eol = s_.find('\n', k);
        const std::string_view piece = s_.substr(k, eol == std::string_view::npos ? std::string_view::npos : eol - k);
        k = eol == std::string_view::npos ? s_.size() : eol + 1;
        const std::size_t slashes = piece.size() - std::min(piece.size(), piece.find_last_not_of('\\') + 1);
        if (join && slashes % 2 == 1 && eol != std::string_view::npos) {
          line.append(piece.substr(0, piece.size() - 1));
          continue;
        }
        line.append(piece);
        break;
      }
      if (h.strip_tabs) line.erase(0, std::min(line.find_first_not_of('\t'), line.size()));
      if (line == h.delimiter) return {start, k};
    }
    return {std::string_view::npos, std::string_view::npos};
  }

  // After a newline token: the bodies of the here-documents opened on that
  // line, in order. Quoted ones are skipped; unquoted ones are scanned for
  // the substitutions they run.
  void read_heredocs() {
    std::vector<Heredoc> docs;
    docs.swap(heredocs_);
    for (const Heredoc& h : docs) {
      const auto end = body_end(i_, h, !h.quoted);
      if (end.first == std::string_view::npos) return fail("unterminated here-document");
      // The shells differ on a delimiter split by backslash-newline: refuse
      // rather than guess which lines are commands.
      if (!h.quoted && body_end(i_, h, false) != end) return fail("here-document delimiter split by a backslash-newline");
      const std::string_view body = s_.substr(i_, end.first - i_);
      i_ = end.second;
      if (h.quoted) continue;
      Scanner sub(body, out_);
      const unsigned flags = sub.heredoc_body(h.depth);
      if (h.part < out_.parts.size()) out_.parts[h.part].heredoc_flags |= flags;
    }
  }

  void fail(const char* why) {
    if (out_.error.empty()) out_.error = why;
  }
  bool at_word_start() const { return i_ == 0 || is_blank(s_[i_ - 1]) || s_[i_ - 1] == '\n' || s_[i_ - 1] == ';'; }

  // $( ... ) or ` ... ` inside a word: parse the inside as commands, and
  // keep the raw text in the word so argv shows what was written.
  void substitution(std::string& w, int depth, bool backquote) {
    const std::size_t start = i_;
    const unsigned saved_flags = flags_;
    const std::string saved_shadow = shadow_;
    unsigned add = kWordSubst;
    if (backquote) {
      ++i_;
      ++in_backquote_;
      level(depth + 1, '`');
      --in_backquote_;
    } else if (i_ + 2 < s_.size() && s_[i_ + 2] == '(') {  // $(( arithmetic ))
      i_ += 3;
      add = kWordArith;
      int open = 2;
      while (i_ < s_.size() && open > 0) {
        const char a = s_[i_];
        if (a == '(') ++open;
        else if (a == ')') --open;
        // Bash evaluates a named variable's value as an expression, which
        // can hold a[$(cmd)]; so can a substitution here.
        else if (is_name_start(a) || a == '$' || a == '`') add |= kWordArithCode;
        ++i_;
      }
      if (open > 0) fail("unterminated arithmetic expansion");
    } else {
      i_ += 2;
      level(depth + 1, ')');
    }
    w.append(s_.substr(start, i_ - start));
    flags_ = saved_flags | add;
    shadow_ = saved_shadow;
    shadow_.append(i_ - start, '\x01');
  }

  // `$` at s_[i_] not followed by '(': note parameter expansion, $IFS, and
  // the ${x:off} / ${a[i]} forms that evaluate arithmetic.
  void dollar() {
    if (i_ + 1 >= s_.size()) return;
    const char n = s_[i_ + 1];
    if (n == '{') {
      flags_ |= kWordParam;
      const std::size_t end = s_.find('}', i_);
      const std::string_view body = s_.substr(i_ + 2, end == std::string_view::npos ? std::string_view::npos : end - i_ - 2);
      std::size_t k = body.find_first_not_of("#!");
      if (k == std::string_view::npos) k = body.size();
      if (body.substr(k, 3) == "IFS") flags_ |= kWordIfs;
      while (k < body.size() && is_name_char(body[k])) ++k;
      if (k < body.size() && (body[k] == '=' || body.substr(k, 2) == ":=")) flags_ |= kWordParamAssign;
      if (k < body.size() && (body[k] == '[' || (body[k] == ':' && (k + 1 >= body.size() || std::string_view("-=?+").find(body[k + 1]) == std::string_view::npos))))
        flags_ |= kWordArithCode;
    } else if (is_name_start(n) || std::isdigit(static_cast<unsigned char>(n)) ||
               std::string_view("@*#?-$!").find(n) != std::string_view::npos) {
      flags_ |= kWordParam;
      if (s_.substr(i_ + 1, 3) == "IFS") flags_ |= kWordIfs;
    }
  }

  // Bash expands !x anywhere (unquoted or in double quotes) before parsing,
  // except before a blank, '=', '(' or the end.
  void bang(bool in_double) {
    if (i_ + 1 >= s_.size()) return;
    const char n = s_[i_ + 1];
    if (is_blank(n) || n == '\n' || n == '=' || n == '(' || (in_double && n == '"')) return;
    flags_ |= kWordHistory;
  }

  // $'..' at i_: decoded the way bash does, so `rm $'\x2drf'` shows the
  // argument `-rf`. A NUL ends the string (bash keeps C strings).
  void ansi_c(std::string& w) {
    flags_ |= kWordAnsiC;
    const std::size_t start = i_;
    i_ += 2;
    bool cut = false;
    // Escapes give bytes; \u and \U give a character (UTF-8).
    auto put = [&](unsigned long v, bool character = false) {
      if (v == 0) cut = true;
      if (cut) return;
      if (character) append_utf8(w, v);
      else w += static_cast<char>(v & 0xffu);
    };
    // \x, \u, \U without a digit stay as written, as in bash.
    auto hex = [&](char e, int max) {
      const std::size_t at = i_;
      const unsigned long v = number(16, max);
      if (i_ == at) {
        if (!cut) w += std::string("\\") + e;
      } else {
        put(v, e != 'x');
      }
    };
    while (i_ < s_.size() && s_[i_] != '\'') {
      if (s_[i_] != '\\' || i_ + 1 >= s_.size()) {
        if (!cut) w += s_[i_];
        ++i_;
        continue;
      }
      const char e = s_[i_ + 1];
      i_ += 2;
      switch (e) {
        case 'a': put(7); break;
        case 'b': put(8); break;
        case 'e': case 'E': put(27); break;
        case 'f': put(12); break;
        case 'n': put(10); break;
        case 'r': put(13); break;
        case 't': put(9); break;
        case 'v': put(11); break;
        case '\\': case '\'': case '"': case '?': put(static_cast<unsigned char>(e)); break;
        case 'x': hex(e, 2); break;
        case 'u': hex(e, 4); break;
        case 'U': hex(e, 8); break;
        case 'c':
          if (i_ < s_.size()) put(static_cast<unsigned char>(s_[i_++]) & 0x1fu);
          break;
        default:
          if (e >= '0' && e <= '7') {
            --i_;
            put(number(8, 3) & 0xffu);
          } else if (!cut) {
            w += '\\';
            w += e;
          }
      }
    }
    if (i_ >= s_.size()) return fail("unterminated single quote");
    ++i_;
    shadow_.append(i_ - start, '\x01');
  }

  // Up to `max` digits in `base` at i_.
  unsigned long number(int base, int max) {
    unsigned long v = 0;
    for (int k = 0; k < max && i_ < s_.size(); ++k, ++i_) {
      const char d = s_[i_];
      int digit = -1;
      if (d >= '0' && d <= '9') digit = d - '0';
      else if (base == 16 && d >= 'a' && d <= 'f') digit = d - 'a' + 10;
      else if (base == 16 && d >= 'A' && d <= 'F') digit = d - 'A' + 10;
      if (digit < 0 || digit >= base) break;
      v = v * static_cast<unsigned long>(base) + static_cast<unsigned long>(digit);
    }
    return v;
  }

  static void append_utf8(std::string& w, unsigned long v) {
    // An impossible code point becomes its low byte (as bash's $'\U...').
    if (v > 0x10ffff) w += static_cast<char>(v & 0xffu);
    else bastion::append_utf8(w, static_cast<uint32_t>(v));
  }


  std::string word(int depth) {
    std::string w;
    while (i_ < s_.size() && out_.error.empty()) {
      const char c = s_[i_];
      if (is_blank(c) || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' ||
          c == '>')
        break;
      if (c == '`') {
        // Inside `...` an unescaped backquote closes that level (nesting
        // needs \` in the shell too); elsewhere it opens a substitution.
        if (in_backquote_ > 0) break;
        substitution(w, depth, true);
        continue;
      }
      if (c == '\\') {
        if (i_ + 1 < s_.size()) {
          if (s_[i_ + 1] != '\n') {  // backslash-newline joins lines
            w += s_[i_ + 1];
            shadow_ += '\x01';
          }
          i_ += 2;
        } else {
          ++i_;
        }
        continue;
      }
      if (c == '\'') {
        const std::size_t end = s_.find('\'', i_ + 1);
        if (end == std::string_view::npos) {
          fail("unterminated single quote");
          break;
        }
        w.append(s_.substr(i_ + 1, end - i_ - 1));
        shadow_.append(end - i_ + 1, '\x01');
        i_ = end + 1;
        continue;
      }
      if (c == '"') {
        ++i_;
        shadow_ += '\x01';
        bool closed = false;
        while (i_ < s_.size() && out_.error.empty()) {
          const char d = s_[i_];
          if (d == '"') {
            ++i_;
            closed = true;
            break;
          }
          if (d == '\\' && i_ + 1 < s_.size() && std::string_view("$`\"\\\n").find(s_[i_ + 1]) != std::string_view::npos) {
            if (s_[i_ + 1] != '\n') w += s_[i_ + 1];
            i_ += 2;
            shadow_ += '\x01';
            continue;
          }
          if (d == '$') dollar();
          if (d == '!') bang(true);
          if (d == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '(') {
            substitution(w, depth, false);
            continue;
          }
          if (d == '`') {
            substitution(w, depth, true);
            continue;
          }
          w += d;
          shadow_ += '\x01';
          ++i_;
        }
        if (!closed) fail("unterminated double quote");
        continue;
      }
      if (c == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '(') {
        substitution(w, depth, false);
        continue;
      }
      if (c == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '\'') {
        ansi_c(w);
        continue;
      }
      if (c == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '"') {  // then read as "..", flagged
        flags_ |= kWordLocale;
        ++i_;
        continue;
      }
      if (c == '$') dollar();
      if (c == '!') bang(false);
      if (c == '^' && i_ == 0) flags_ |= kWordHistory;  // ^old^new repeats the last line
      if ((c == '*' || c == '?' || c == '[') && !(i_ > 0 && s_[i_ - 1] == '$')) flags_ |= kWordGlob;
      w += c;
      shadow_ += c;
      ++i_;
    }
    return w;
  }

  std::string_view s_;
  ShellParse& out_;
  std::size_t i_ = 0;
  int in_backquote_ = 0;
  int in_arith_ = 0;      // inside (( )): << is a shift
  int heredoc_next_ = 0;  // the next word is a here-document delimiter: 1 for <<, 2 for <<-
  std::vector<Heredoc> heredocs_;  // opened on the current line, bodies not read yet
  unsigned flags_ = 0;   // WordFlag bits of the word being read
  std::string shadow_;   // its unquoted characters, quoted ones as \x01
};

}  // namespace

ShellParse parse_shell(std::string_view line) {
  ShellParse out;
  if (line.size() > kShellMaxInput) {
    out.error = "command too long to analyse";
    return out;
  }
  Scanner scanner(line, out);
  scanner.level(0, 0);
  if (scanner.heredoc_pending()) {
    if (out.error.empty()) out.error = "unterminated here-document";
  }
  return out;
}

}  // namespace bastion
