// Accumulates SQL typed or piped by the user and hands out complete input:
// everything up to the last semicolon that ends a statement, the way psql
// decides when to send (not inside quotes, dollar quotes, comments or
// parentheses). The real split into statements is then done by the
// PostgreSQL parser (sql_classifier); this only decides "send now".
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace bastion {

class SqlInputBuffer {
 public:
  void append(std::string_view data);
  // Text up to and including the last statement-ending ';' (empty if none).
  std::string take_complete();
  // Everything left (at end of input).
  std::string take_all();
  void clear();
  // Only whitespace so far (a backslash command may start here).
  bool blank() const;
  std::size_t size() const { return buf_.size(); }
  // What an unfinished statement waits for, as psql shows it in its
  // continuation prompt: '-' (more text), '\'' , '"', '$', '*' (comment), '('.
  char pending() const;

 private:
  enum class State { normal, squote, dquote, dollar, line_comment, block_comment };
  void scan(bool eof);

  std::string buf_;
  std::size_t pos_ = 0;       // scanned up to here
  std::size_t complete_ = 0;  // end of the last top-level ';'
  State state_ = State::normal;
  bool escapes_ = false;      // inside E'...': backslash escapes the next byte
  std::string tag_;           // dollar-quote tag, e.g. "$fn$"
  int comment_depth_ = 0;
  int paren_depth_ = 0;
};

}  // namespace bastion
