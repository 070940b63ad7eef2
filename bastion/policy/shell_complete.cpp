// shell_text_complete: would a POSIX/bash shell run this text now, or print
// PS2 and read another line? A small scanner of its own: parse_shell is
// forgiving (best-effort parts for a policy), while this one must know
// exactly which construct is still open. Hard errors count as complete so
// the caller submits the text and the error surfaces as parse_error.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "policy/shell_parse.h"

namespace bastion {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_meta(char c) {
  return is_blank(c) || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' || c == '>';
}

class Completeness {
 public:
  explicit Completeness(std::string_view s) : s_(s) {}

  bool complete() {
    if (s_.size() > kShellMaxInput) return true;  // parse_shell reports it
    list(0);
    if (state_ == State::kOk && !heredocs_.empty()) state_ = State::kMore;  // body not read yet
    return state_ != State::kMore;
  }

 private:
  enum class State { kOk, kMore, kError };
  enum class Frame { kIf, kLoop, kDo, kBrace, kCaseWord, kCaseIn, kCasePattern, kCaseBody };
  struct Heredoc {
    std::string delimiter;
    bool strip_tabs;
  };

  // Every recursive step counts: `$(( $(( ...` or `${x:-${y:-...` nest
  // without a command level in between.
  struct Nest {
    explicit Nest(Completeness& c) : c_(c) {
      if (++c_.depth_ > kMaxNesting) c_.error();
    }
    ~Nest() { --c_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    Completeness& c_;
  };
  static constexpr int kMaxNesting = 4 * kShellMaxDepth;

  bool ok() const { return state_ == State::kOk; }
  void more() {
    if (ok()) state_ = State::kMore;
  }
  void error() {
    if (ok()) state_ = State::kError;
  }
  bool at_end() const { return i_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }

  static bool is_case(Frame f) {
    return f == Frame::kCaseWord || f == Frame::kCaseIn || f == Frame::kCasePattern || f == Frame::kCaseBody;
  }

  // One command list up to `close` (')' or '`'; 0 for the whole text).
  void list(char close) {
    const Nest nest(*this);
    if (!ok()) return;
    std::vector<Frame> frames;
    bool keyword_pos = true;  // a reserved word would be recognised here
    bool need_cmd = true;     // a separator here is a syntax error
    bool continues = false;   // the last operator (| && || |&) needs a command after it
    bool func_name = false;   // `function NAME`: the word after NAME is in command position
    bool after_for = false;   // `for ((i=0; i<n; i++))`: arithmetic, not two subshells
    bool cmd_word = false;    // the last token was a command's first word (a function's name?)
    bool need_body = false;   // after `name()`: the function body must follow
    auto top = [&]() { return frames.empty() ? Frame::kIf : frames.back(); };
    auto in_pattern = [&]() { return !frames.empty() && frames.back() == Frame::kCasePattern; };
    while (!at_end() && ok()) {
      const char c = peek();
      if (in_pattern() && c == ')') {  // `pat)` ends a case pattern, whatever the level
        ++i_;
        frames.back() = Frame::kCaseBody;
        keyword_pos = need_cmd = true;
        continue;
      }
      if (close && c == close) {
        ++i_;
        if (!frames.empty() || continues) return error();  // `$(if a)`, `$(a |)`
        return;
      }
      if (is_blank(c)) {
        ++i_;
        continue;
      }
      const bool for_arith = after_for;
      const bool after_name = cmd_word;
      after_for = cmd_word = false;
      if (c == '\\' && peek(1) == '\n') {  // line continuation between words
        i_ += 2;
        if (at_end()) return more();
        continue;
      }
      if (c == '#') {  // word start here: a comment to the end of the line
        while (!at_end() && peek() != '\n') ++i_;
        continue;
      }
      if (c == '\n') {
        ++i_;
        read_heredocs();
        if (!frames.empty() && frames.back() == Frame::kCaseWord) return error();
        keyword_pos = true;
        if (!continues) need_cmd = true;
        continue;
      }
      if (c == ';' || c == '&' || c == '|') {
        if (c == '&' && peek(1) == '>') {  // &> and &>> redirect
          i_ += peek(2) == '>' ? 3 : 2;
          redirect_target();
          need_cmd = false;
          continue;
        }
        if (in_pattern() && c == '|') {  // a|b) alternatives
          ++i_;
          continue;
        }
        std::string op(1, c);
        ++i_;
        if (peek() == c || (c == '|' && peek() == '&') || (c == ';' && peek() == '&')) op += s_[i_++];
        if (op == ";;" && peek() == '&') op += s_[i_++];
        if (op == ";;" || op == ";&" || op == ";;&") {
          if (frames.empty() || frames.back() != Frame::kCaseBody) return error();
          frames.back() = Frame::kCasePattern;
          continues = false;
          continue;
        }
        if (need_cmd || (!frames.empty() && is_case(frames.back()) && frames.back() != Frame::kCaseBody))
          return error();
        continues = op != ";" && op != "&";
        need_cmd = keyword_pos = true;
        continue;
      }
      if (c == '<' || c == '>') {
        if (peek(1) == '(') {  // process substitution
          i_ += 2;
          list(')');
          keyword_pos = need_cmd = continues = false;
          continue;
        }
        redirect(c);
        // `>f fi`: a reserved word only counts as a command's first word.
        keyword_pos = need_cmd = continues = false;
        continue;
      }
      if (c == '(') {
        if (in_pattern()) {  // `(pat)`: the optional opening parenthesis
          ++i_;
          continue;
        }
        need_body = false;
        if ((keyword_pos || for_arith) && peek(1) == '(') {  // (( arithmetic ))
          i_ += 2;
          arithmetic(2);
        } else {
          const std::size_t open = ++i_;
          list(')');
          // `name()`: a function definition; its body follows, `{` in command position.
          if (after_name && s_.substr(open, i_ - open).find_first_not_of(" \t)") == std::string_view::npos)
            need_body = true;
        }
        keyword_pos = true;
        need_cmd = continues = false;
        continue;
      }
      if (c == ')') return error();  // a stray closer
      // A word.
      bool plain = true;
      const bool was_keyword_pos = keyword_pos;
      const std::string w = word(close, plain);
      if (!ok()) return;
      continues = need_body = false;
      cmd_word = was_keyword_pos && !(plain && (w == "!" || w == "time"));
      if (!frames.empty() && frames.back() == Frame::kCaseWord) {
        frames.back() = Frame::kCaseIn;
        continue;
      }
      if (!frames.empty() && frames.back() == Frame::kCaseIn) {
        if (!plain || w != "in") return error();
        frames.back() = Frame::kCasePattern;
        continue;
      }
      if (in_pattern()) {
        if (plain && w == "esac") {
          frames.pop_back();
          keyword_pos = need_cmd = false;
        }
        continue;
      }
      if (func_name) {
        func_name = false;
        keyword_pos = true;
        need_cmd = false;
        continue;
      }
      if (!plain || !keyword_pos) {
        keyword_pos = need_cmd = false;
        continue;
      }
      if (w == "if" || w == "while" || w == "until" || w == "{") {
        frames.push_back(w == "if" ? Frame::kIf : w == "{" ? Frame::kBrace : Frame::kLoop);
        need_cmd = true;
      } else if (w == "for" || w == "select") {
        frames.push_back(Frame::kLoop);
        keyword_pos = need_cmd = false;
        after_for = w == "for";
      } else if (w == "case") {
        frames.push_back(Frame::kCaseWord);
      } else if (w == "then" || w == "elif" || w == "else") {
        if (frames.empty() || top() != Frame::kIf) return error();
        need_cmd = true;
      } else if (w == "do") {
        if (frames.empty() || top() != Frame::kLoop) return error();
        frames.back() = Frame::kDo;
        need_cmd = true;
      } else if (w == "fi" || w == "done" || w == "}" || w == "esac") {
        const Frame want = w == "fi" ? Frame::kIf : w == "done" ? Frame::kDo : w == "}" ? Frame::kBrace : Frame::kCaseBody;
        if (frames.empty() || top() != want) return error();
        frames.pop_back();
        keyword_pos = need_cmd = false;
      } else if (w == "function") {
        func_name = true;
        keyword_pos = false;
      } else if (w != "!" && w != "time") {
        keyword_pos = need_cmd = false;
      }
    }
    if (!ok()) return;
    if (close || !frames.empty() || continues || func_name || need_body) more();
  }

  // After an opening backquote. Bash first reads up to the next unescaped
  // backquote, then parses what is between: without one it waits for more,
  // whatever the text in between.
  void backquote() {
    for (std::size_t k = i_; k < s_.size(); ++k) {
      if (s_[k] == '\\') ++k;
      else if (s_[k] == '`') return list('`');
    }
    more();
  }

  // A word (quotes and expansions included) at i_; `plain` stays true only
  // for unquoted literal text, the only form a reserved word can take.
  std::string word(char close, bool& plain) {
    std::string w;
    while (!at_end() && ok()) {
      const char c = peek();
      if (is_meta(c)) break;
      if (c == '`') {
        if (close == '`') break;  // closes this level
        ++i_;
        plain = false;
        backquote();
        continue;
      }
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) {  // trailing backslash: joins the next line
          more();
          break;
        }
        if (peek(1) == '\n') {
          i_ += 2;
          if (at_end()) more();
          continue;
        }
        w += peek(1);
        plain = false;
        i_ += 2;
        continue;
      }
      if (c == '\'') {
        plain = false;
        const std::size_t end = s_.find('\'', i_ + 1);
        if (end == std::string_view::npos) {
          more();
          break;
        }
        w.append(s_.substr(i_ + 1, end - i_ - 1));
        i_ = end + 1;
        continue;
      }
      if (c == '"') {
        plain = false;
        ++i_;
        double_quoted(w);
        continue;
      }
      if (c == '$' && dollar()) {
        plain = false;
        continue;
      }
      w += c;
      ++i_;
    }
    return w;
  }

  // After the opening ": up to the closing one.
  void double_quoted(std::string& w) {
    const Nest nest(*this);
    while (ok()) {
      if (at_end()) return more();
      const char d = peek();
      if (d == '"') {
        ++i_;
        return;
      }
      if (d == '\\') {
        if (i_ + 1 >= s_.size()) return more();
        w += peek(1);
        i_ += 2;
        continue;
      }
      if (d == '`') {
        ++i_;
        backquote();
        continue;
      }
      if (d == '$' && peek(1) != '\'' && peek(1) != '"' && dollar()) continue;
      w += d;
      ++i_;
    }
  }

  // $'..', $"..", $( ), $(( )), ${ } at i_: consumes it and returns true;
  // false for a plain $ (the caller keeps it as a character).
  bool dollar() {
    const char n = peek(1);
    if (n == '\'') {  // ANSI-C: backslash escapes a quote
      for (i_ += 2; ok(); ++i_) {
        if (at_end()) return more(), true;
        if (peek() == '\\') {
          ++i_;
          if (at_end()) return more(), true;
        } else if (peek() == '\'') {
          ++i_;
          return true;
        }
      }
      return true;
    }
    if (n == '"') {
      i_ += 2;
      std::string ignored;
      double_quoted(ignored);
      return true;
    }
    if (n == '(' && peek(2) == '(') {
      i_ += 3;
      arithmetic(2);
      return true;
    }
    if (n == '(') {
      i_ += 2;
      list(')');
      return true;
    }
    if (n == '{') {
      i_ += 2;
      parameter();
      return true;
    }
    return false;
  }

  // Inside ${ }: up to the matching brace.
  void parameter() {
    const Nest nest(*this);
    int open = 1;
    while (ok()) {
      if (at_end()) return more();
      const char c = peek();
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return more();
        i_ += 2;
      } else if (c == '\'') {
        const std::size_t end = s_.find('\'', i_ + 1);
        if (end == std::string_view::npos) return more();
        i_ = end + 1;
      } else if (c == '"') {
        ++i_;
        std::string ignored;
        double_quoted(ignored);
      } else if (c == '$' && dollar()) {
      } else if (c == '`') {
        ++i_;
        backquote();
      } else {
        if (c == '{') ++open;
        if (c == '}' && --open == 0) {
          ++i_;
          return;
        }
        ++i_;
      }
    }
  }

  // Arithmetic after `((` or `$((`: parentheses balance, quotes and
  // substitutions nest; `<<` here is a shift, not a here-document.
  void arithmetic(int open) {
    const Nest nest(*this);
    while (ok()) {
      if (at_end()) return more();
      const char c = peek();
      if (c == '(') {
        ++open;
        ++i_;
      } else if (c == ')') {
        ++i_;
        if (--open == 0) return;
      } else if (c == '$' && dollar()) {
      } else if (c == '`') {
        ++i_;
        backquote();
      } else if (c == '\'' || c == '"') {
        bool plain = true;
        word(0, plain);
      } else {
        ++i_;
      }
    }
  }

  // A redirection operator starting with c at i_, then its target word.
  void redirect(char c) {
    ++i_;
    if (c == '<' && peek() == '<' && peek(1) != '<') {  // here-document
      ++i_;
      const bool strip = peek() == '-';
      if (strip) ++i_;
      while (!at_end() && is_blank(peek())) ++i_;
      if (at_end() || is_meta(peek())) return error();  // `cat <<` alone
      bool plain = true;
      std::string delimiter = word(0, plain);
      if (!ok()) return;
      heredocs_.push_back({std::move(delimiter), strip});
      return;
    }
    while (!at_end() && (peek() == '<' || peek() == '>' || peek() == '&' || peek() == '|')) ++i_;
    redirect_target();
  }

  void redirect_target() {
    while (!at_end() && is_blank(peek())) ++i_;
    if (at_end() || is_meta(peek())) return error();  // `echo >` then newline
    bool plain = true;
    word(0, plain);
  }

  // After a newline: the bodies of here-documents opened on that line.
  void read_heredocs() {
    for (const Heredoc& h : heredocs_) {
      while (true) {
        if (at_end()) return more();
        const std::size_t eol = s_.find('\n', i_);
        std::string_view line = s_.substr(i_, eol == std::string_view::npos ? std::string_view::npos : eol - i_);
        if (h.strip_tabs) line.remove_prefix(std::min(line.find_first_not_of('\t'), line.size()));
        i_ = eol == std::string_view::npos ? s_.size() : eol + 1;
        if (line == h.delimiter) break;
        if (eol == std::string_view::npos) return more();
      }
    }
    heredocs_.clear();
  }

  std::string_view s_;
  std::size_t i_ = 0;
  State state_ = State::kOk;
  std::vector<Heredoc> heredocs_;
  int depth_ = 0;
};

}  // namespace

bool shell_text_complete(std::string_view text) { return Completeness(text).complete(); }

}  // namespace bastion
