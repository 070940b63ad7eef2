#include "policy/shell_words.h"

#include <cctype>

namespace bastion {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

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
      if (!cur.argv.empty() || !cur.redirects.empty()) out_.parts.push_back(cur);
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
        continue;
      }
      if (c == '(') {  // subshell
        ++i_;
        out_.words.push_back("(");
        finish();
        level(depth + 1, ')');
        out_.words.push_back(")");
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
        out_.words.push_back(op);
        cur.redirects.push_back(op);
        redirect_next = true;
        continue;
      }
      const std::size_t before = i_;
      std::string w = word(depth);
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
      out_.words.push_back(w);
      if (redirect_next) {
        cur.redirects.push_back(w);
        redirect_next = false;
      } else {
        cur.argv.push_back(std::move(w));
      }
    }
    if (close && out_.error.empty()) fail(close == '`' ? "unterminated backquote" : "unterminated parenthesis");
    finish();
  }

 private:
  void fail(const char* why) {
    if (out_.error.empty()) out_.error = why;
  }
  bool at_word_start() const { return i_ == 0 || is_blank(s_[i_ - 1]) || s_[i_ - 1] == '\n' || s_[i_ - 1] == ';'; }

  // $( ... ) or ` ... ` inside a word: parse the inside as commands, and
  // keep the raw text in the word so argv shows what was written.
  void substitution(std::string& w, int depth, bool backquote) {
    const std::size_t start = i_;
    if (backquote) {
      ++i_;
      ++in_backquote_;
      level(depth + 1, '`');
      --in_backquote_;
    } else if (i_ + 2 < s_.size() && s_[i_ + 2] == '(') {  // $(( arithmetic ))
      i_ += 3;
      int open = 2;
      while (i_ < s_.size() && open > 0) {
        if (s_[i_] == '(') ++open;
        else if (s_[i_] == ')') --open;
        ++i_;
      }
      if (open > 0) fail("unterminated arithmetic expansion");
    } else {
      i_ += 2;
      level(depth + 1, ')');
    }
    w.append(s_.substr(start, i_ - start));
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
          if (s_[i_ + 1] != '\n') w += s_[i_ + 1];  // backslash-newline joins lines
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
        i_ = end + 1;
        continue;
      }
      if (c == '"') {
        ++i_;
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
            continue;
          }
          if (d == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '(') {
            substitution(w, depth, false);
            continue;
          }
          if (d == '`') {
            substitution(w, depth, true);
            continue;
          }
          w += d;
          ++i_;
        }
        if (!closed) fail("unterminated double quote");
        continue;
      }
      if (c == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '(') {
        substitution(w, depth, false);
        continue;
      }
      w += c;
      ++i_;
    }
    return w;
  }

  std::string_view s_;
  ShellParse& out_;
  std::size_t i_ = 0;
  int in_backquote_ = 0;
};

}  // namespace

ShellParse parse_shell(std::string_view line) {
  ShellParse out;
  if (line.size() > kShellMaxInput) {
    out.error = "command too long to analyse";
    return out;
  }
  Scanner(line, out).level(0, 0);
  return out;
}

}  // namespace bastion
