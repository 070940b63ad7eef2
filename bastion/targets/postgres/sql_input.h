// Splits SQL typed or piped by the user into what psql would send, one
// statement at a time, and the backslash commands between them. It is
// psql's lexer (src/fe_utils/psqlscan.l, PostgreSQL 15) for the parts that
// decide where a statement ends: quotes (with standard_conforming_strings
// as the server reports it), E'' strings, dollar quotes, nested comments,
// parentheses, CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC ... END, "\;",
// backslash commands, and psql variables (:name, :'name', :"name",
// :{?name}) interpolated before anything is decided.
//
// It is a policy boundary: each statement it hands out is decided on its
// own, so it must never join what psql (and the server) would run as two.
// The text of a statement is exactly psql's query buffer: lines joined by
// "\n", without the leading blanks and "--" comments, up to and including
// the ';' that ends it.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

struct SqlInputItem {
  enum class Kind { statement, meta };
  Kind kind = Kind::statement;
  std::string text;  // a statement as psql sends it, or "\cmd args" (without the line end)
};

class SqlInputBuffer {
 public:
  using Variables = std::map<std::string, std::string>;

  // standard_conforming_strings: off makes '...' treat backslash as an
  // escape (psql takes it from the server's ParameterStatus).
  void set_standard_strings(bool on) { std_strings_ = on; }
  bool standard_strings() const { return std_strings_; }

  // One input line (without its line end). Complete statements and
  // backslash commands are appended to `out` in input order.
  void feed_line(std::string_view line, const Variables& vars, std::vector<SqlInputItem>& out);
  // Variables can make a short line long: past kMaxText of text the line
  // stops there and this is true until clear() (the caller refuses it).
  static constexpr std::size_t kMaxText = 1 << 20;
  bool too_long() const { return too_long_; }
  // At the end of input: what psql still sends (empty if nothing).
  std::string take_all();
  void clear();
  // Nothing in the query buffer (a backslash command may start here).
  bool blank() const { return query_.empty(); }
  std::size_t size() const { return query_.size(); }
  // What an unfinished statement waits for, as psql shows it in its
  // continuation prompt: '-' (more text), '\'' , '"', '$', '*' (comment), '('.
  char pending() const;

 private:
  enum class State { normal, squote, escaped, bits, dquote, dollar, block_comment };
  void end_statement(std::vector<SqlInputItem>& out);
  void identifier(std::string_view word);

  std::string query_;  // psql's query buffer
  State state_ = State::normal;
  bool std_strings_ = true;
  std::string tag_;  // dollar-quote tag, e.g. "$fn$"
  int comment_depth_ = 0;
  int paren_depth_ = 0;
  // psql's heuristic for BEGIN ATOMIC bodies: the statement's first
  // identifiers, lower-cased initials of create/or/replace/function/procedure.
  char idents_[4] = {0, 0, 0, 0};
  std::size_t ident_count_ = 0;
  int begin_depth_ = 0;
  bool too_long_ = false;
};

// psql's quoting of a variable's value: :'name' (PQescapeLiteral) and
// :"name" (PQescapeIdentifier).
std::string psql_quote_literal(std::string_view v);
std::string psql_quote_identifier(std::string_view v);

// `sql` with E before each '...' literal, for a parser that always reads
// standard strings to read it as a server with standard_conforming_strings
// off does. `national_backslash`: an N'...' literal holds a backslash (its
// meaning then differs and cannot be spelled for that parser).
std::string with_escape_string_literals(std::string_view sql, bool& national_backslash);

}  // namespace bastion
