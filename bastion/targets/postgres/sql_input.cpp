#include "targets/postgres/sql_input.h"

#include <algorithm>
#include <cctype>

namespace bastion {
namespace {

bool ident_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool ident_cont(unsigned char c) { return ident_start(c) || std::isdigit(c) || c == '$'; }
bool var_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }
bool space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// The end of the number starting at i: digits, a fraction, an exponent
// (so "1e5" and "1end" lex as the server's and psql's lexers do).
std::size_t number_end(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) -> unsigned char { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; };
  std::size_t j = i;
  while (std::isdigit(at(j))) ++j;
  if (at(j) == '.' && at(j + 1) != '.') {
    ++j;
    while (std::isdigit(at(j))) ++j;
  }
  if ((at(j) == 'e' || at(j) == 'E') &&
      (std::isdigit(at(j + 1)) || ((at(j + 1) == '+' || at(j + 1) == '-') && std::isdigit(at(j + 2))))) {
    j += 2;
    while (std::isdigit(at(j))) ++j;
  }
  return j;
}

bool iequals(std::string_view a, const char* b) {
  std::size_t i = 0;
  for (; i < a.size() && b[i]; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return i == a.size() && !b[i];
}

}  // namespace

std::string psql_quote_literal(std::string_view v) {
  // PQescapeLiteral: a value with a backslash becomes " E'...'" (with the
  // leading blank) so it means the same whatever standard_conforming_strings is.
  const bool backslash = v.find('\\') != std::string_view::npos;
  std::string out = backslash ? " E'" : "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

std::string psql_quote_identifier(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += c;
    out += c;
  }
  return out + "\"";
}

void SqlInputBuffer::identifier(std::string_view w) {
  // psqlscan.l: remember whether the statement starts CREATE [OR REPLACE]
  // FUNCTION|PROCEDURE; inside one, BEGIN (and CASE within a BEGIN) opens
  // and END closes, and ';' ends the statement only at depth 0.
  if (ident_count_ == 0) idents_[0] = idents_[1] = idents_[2] = idents_[3] = 0;
  if (iequals(w, "create") || iequals(w, "function") || iequals(w, "procedure") || iequals(w, "or") ||
      iequals(w, "replace")) {
    if (ident_count_ < sizeof idents_) idents_[ident_count_] = static_cast<char>(std::tolower(static_cast<unsigned char>(w[0])));
  }
  ++ident_count_;
  const bool routine = idents_[0] == 'c' && (idents_[1] == 'f' || idents_[1] == 'p' ||
                                              (idents_[1] == 'o' && idents_[2] == 'r' &&
                                               (idents_[3] == 'f' || idents_[3] == 'p')));
  if (!routine || paren_depth_ != 0) return;
  if (iequals(w, "begin")) ++begin_depth_;
  else if (iequals(w, "case")) {
    if (begin_depth_ >= 1) ++begin_depth_;
  } else if (iequals(w, "end")) {
    if (begin_depth_ > 0) --begin_depth_;
  }
}

void SqlInputBuffer::end_statement(std::vector<SqlInputItem>& out) {
  out.push_back({SqlInputItem::Kind::statement, std::move(query_)});
  query_.clear();
  ident_count_ = 0;
}

void SqlInputBuffer::feed_line(std::string_view in, const Variables& vars, std::vector<SqlInputItem>& out) {
  // psql joins the lines of a statement with "\n".
  std::size_t added_nl = std::string::npos;
  if (!query_.empty()) query_ += '\n', added_nl = query_.size();
  std::string line(in);
  std::size_t no_interp_below = 0;  // text spliced in from a variable is not expanded again
  std::size_t i = 0;
  const auto at = [&](std::size_t k) -> unsigned char { return k < line.size() ? static_cast<unsigned char>(line[k]) : 0; };
  while (i < line.size()) {
    const unsigned char c = at(i);
    switch (state_) {
      case State::normal: {
        if (space(c) || (c == '-' && at(i + 1) == '-')) {
          // Whitespace, or a "--" comment up to a line end (CR ends it too):
          // dropped at the start of the query buffer (psql 15 keeps it after that).
          std::size_t j = i;
          if (c == '-') j = std::min(line.find('\r', i), line.size());
          else
            while (j < line.size() && space(at(j))) ++j;
          if (!query_.empty()) query_.append(line, i, j - i);
          i = j;
          break;
        }
        if (c == '/' && at(i + 1) == '*') {
          state_ = State::block_comment;
          comment_depth_ = 0;
          query_ += "/*";
          i += 2;
          break;
        }
        if (c == '\'') {
          state_ = std_strings_ ? State::squote : State::escaped;
          query_ += c;
          ++i;
          break;
        }
        if (c == '"') {
          state_ = State::dquote;
          query_ += c;
          ++i;
          break;
        }
        if (c == '$') {
          // $tag$ / $$ opens a dollar quote; $1 is a parameter; "$abc" without
          // the closing '$' is just '$' followed by more text.
          std::size_t j = i + 1;
          if (ident_start(at(j))) {
            ++j;
            while (j < line.size() && (ident_cont(at(j)) && at(j) != '$')) ++j;
          }
          if (at(j) == '$') {
            tag_ = line.substr(i, j - i + 1);
            state_ = State::dollar;
            query_ += tag_;
            i = j + 1;
          } else {
            query_ += '$';
            ++i;
            while (i < line.size() && std::isdigit(at(i))) query_ += line[i++];
          }
          break;
        }
        if (std::isdigit(c) || (c == '.' && std::isdigit(at(i + 1)))) {
          const std::size_t j = number_end(line, i);
          query_.append(line, i, j - i);
          i = j;
          break;
        }
        if (ident_start(c)) {
          std::size_t j = i + 1;
          while (j < line.size() && ident_cont(at(j))) ++j;
          const std::string_view w(line.data() + i, j - i);
          if (w.size() == 1 && at(j) == '\'') {
            // E'...' always takes backslash escapes; N'' follows the plain
            // rules; B'' and X'' end at their first quote.
            const char p = static_cast<char>(std::tolower(c));
            if (p == 'e' || p == 'b' || p == 'x' || p == 'n') {
              state_ = p == 'e'   ? State::escaped
                       : p == 'n' ? (std_strings_ ? State::squote : State::escaped)
                                  : State::bits;
              query_.append(line, i, 2);
              i += 2;
              break;
            }
          }
          if (w.size() == 1 && (c == 'u' || c == 'U') && at(j) == '&' && (at(j + 1) == '\'' || at(j + 1) == '"')) {
            state_ = at(j + 1) == '\'' ? State::squote : State::dquote;  // U&'' takes no backslash escapes
            query_.append(line, i, 3);
            i += 3;
            break;
          }
          identifier(w);
          query_.append(w);
          i = j;
          break;
        }
        if (c == '(') ++paren_depth_;
        if (c == ')' && paren_depth_ > 0) --paren_depth_;
        if (c == ';') {
          query_ += ';';
          ++i;
          if (paren_depth_ == 0 && begin_depth_ == 0) {
            end_statement(out);
            added_nl = std::string::npos;  // a new buffer: its "\n" is not this line's
          }
          break;
        }
        if (c == '\\') {
          if (at(i + 1) == ';' || at(i + 1) == ':') {  // "\;" and "\:" put the character in the buffer
            query_ += line[i + 1];
            if (line[i + 1] == ';') ident_count_ = 0;
            i += 2;
            break;
          }
          // A backslash command: the rest of the line. A line holding only
          // that leaves the query buffer as it was (psql takes back its "\n").
          if (query_.size() == added_nl) query_.pop_back();
          std::string cmd = line.substr(i);
          while (!cmd.empty() && space(static_cast<unsigned char>(cmd.back()))) cmd.pop_back();
          out.push_back({SqlInputItem::Kind::meta, std::move(cmd)});
          i = line.size();
          break;
        }
        if (c == ':' && i >= no_interp_below) {
          if (at(i + 1) == ':') {  // a typecast
            query_ += "::";
            i += 2;
            break;
          }
          // :name, :'name', :"name", :{?name}; anything else is a plain ':'.
          const unsigned char open = at(i + 1);
          const bool quoted = open == '\'' || open == '"';
          const bool test = open == '{' && at(i + 2) == '?';
          const std::size_t s = i + 1 + (quoted ? 1 : test ? 2 : 0);
          std::size_t e = s;
          while (e < line.size() && var_char(at(e))) ++e;
          const unsigned char close = quoted ? open : test ? '}' : 0;
          if (e == s || (close && at(e) != close)) {
            query_ += ':';
            ++i;
            break;
          }
          const auto it = vars.find(line.substr(s, e - s));
          const std::size_t end = close ? e + 1 : e;
          if (it != vars.end() && query_.size() + line.size() + 2 * it->second.size() + 3 > kMaxText) {
            too_long_ = true;
            return;
          }
          // Where psql's lexer and the server's disagree, this follows the
          // server's, so what it hands out as one statement is one to the
          // server: TRUE/FALSE and an unknown :name are lexed on (psql
          // would read "$$" in ":name$$" or ":{?n}$$" as a dollar quote,
          // the server reads a name).
          if (test) {
            const char* value = it != vars.end() ? "TRUE" : "FALSE";
            line.replace(i, end - i, value);
            no_interp_below = i + std::char_traits<char>::length(value);
            break;
          } else if (it == vars.end()) {
            if (quoted) {  // stays as written: a whole quoted token
              query_.append(line, i, end - i);
              i = end;
            } else {  // the name is lexed on, as the server does
              query_ += ':';
              ++i;
            }
            break;
          } else if (quoted) {
            // Quoted: nothing in the value can be syntax.
            query_ += open == '\'' ? psql_quote_literal(it->second) : psql_quote_identifier(it->second);
          } else {
            line.replace(i, end - i, it->second);  // lexed as if typed, like psql
            no_interp_below = i + it->second.size();
            break;
          }
          i = end;
          break;
        }
        query_ += static_cast<char>(c);
        ++i;
        break;
      }
      case State::squote:
      case State::escaped:
        if (c == '\\' && state_ == State::escaped) {
          query_.append(line, i, i + 1 < line.size() ? 2 : 1);
          i += 2;
        } else if (c == '\'') {
          if (at(i + 1) == '\'') {  // '' is a quote inside the string
            query_ += "''";
            i += 2;
          } else {
            query_ += '\'';
            ++i;
            state_ = State::normal;
          }
        } else {
          query_ += static_cast<char>(c);
          ++i;
        }
        break;
      case State::bits:  // B'' and X'': no '' inside ("B'1''0'" is two strings)
        query_ += static_cast<char>(c);
        ++i;
        if (c == '\'') state_ = State::normal;
        break;
      case State::dquote:
        query_ += static_cast<char>(c);
        ++i;
        if (c == '"') state_ = State::normal;  // "" re-enters at once: same result
        break;
      case State::dollar:
        if (c == '$' && line.compare(i, tag_.size(), tag_) == 0) {
          query_ += tag_;
          i += tag_.size();
          state_ = State::normal;
        } else {
          query_ += static_cast<char>(c);
          ++i;
        }
        break;
      case State::block_comment:
        if (c == '*' && at(i + 1) == '/') {
          query_ += "*/";
          i += 2;
          if (comment_depth_-- == 0) state_ = State::normal;
        } else if (c == '/' && at(i + 1) == '*') {
          query_ += "/*";
          i += 2;
          ++comment_depth_;
        } else {
          query_ += static_cast<char>(c);
          ++i;
        }
        break;
    }
  }
}

std::string SqlInputBuffer::take_all() {
  std::string out = std::move(query_);
  clear();
  return out;
}

void SqlInputBuffer::clear() {
  query_.clear();
  state_ = State::normal;
  tag_.clear();
  comment_depth_ = paren_depth_ = begin_depth_ = 0;
  ident_count_ = 0;
  too_long_ = false;
}

char SqlInputBuffer::pending() const {
  switch (state_) {
    case State::squote:
    case State::escaped:
    case State::bits: return '\'';
    case State::dquote: return '"';
    case State::dollar: return '$';
    case State::block_comment: return '*';
    default: return paren_depth_ > 0 ? '(' : '-';
  }
}

std::string with_escape_string_literals(std::string_view sql, bool& national_backslash) {
  // Lexes as the server does with standard_conforming_strings off: '...'
  // takes backslash escapes; E'' always; B'', X'', U&'' and "..." never.
  national_backslash = false;
  std::string out;
  out.reserve(sql.size() + 16);
  const auto at = [&](std::size_t k) -> unsigned char { return k < sql.size() ? static_cast<unsigned char>(sql[k]) : 0; };
  std::size_t i = 0;
  auto copy_until_quote_end = [&](bool escapes, bool doubled = true) {
    // sql[i] is the opening quote (already copied by the caller)
    while (i < sql.size()) {
      const unsigned char c = at(i);
      if (escapes && c == '\\') {
        out.append(sql.substr(i, 2));
        i += 2;
      } else if (c == '\'') {
        out += '\'';
        ++i;
        if (!doubled || at(i) != '\'') return;
        out += '\'';
        ++i;
      } else {
        out += static_cast<char>(c);
        ++i;
      }
    }
  };
  while (i < sql.size()) {
    const unsigned char c = at(i);
    if (c == '-' && at(i + 1) == '-') {
      const auto nl = sql.find_first_of("\r\n", i);
      const std::size_t end = nl == std::string_view::npos ? sql.size() : nl;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '/' && at(i + 1) == '*') {
      int depth = 0;
      out += "/*";
      i += 2;
      while (i < sql.size()) {
        if (at(i) == '*' && at(i + 1) == '/') {
          out += "*/";
          i += 2;
          if (depth-- == 0) break;
        } else if (at(i) == '/' && at(i + 1) == '*') {
          out += "/*";
          i += 2;
          ++depth;
        } else {
          out += sql[i++];
        }
      }
    } else if (c == '"') {
      const auto end = sql.find('"', i + 1);
      const std::size_t e = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, e - i));
      i = e;
    } else if (c == '$') {
      // As the splitter: $tag$ or $$ opens a dollar quote; otherwise only the
      // '$' and the digits of a parameter ($1) are consumed (what follows
      // may be U&'' or a name).
      std::size_t j = i + 1;
      if (ident_start(at(j))) {
        ++j;
        while (j < sql.size() && ident_cont(at(j)) && at(j) != '$') ++j;
      }
      if (at(j) != '$') {
        out += '$';
        ++i;
        while (std::isdigit(at(i))) out += sql[i++];
        continue;
      }
      const std::string_view tag = sql.substr(i, j - i + 1);
      const auto end = sql.find(tag, j + 1);
      const std::size_t e = end == std::string_view::npos ? sql.size() : end + tag.size();
      out.append(sql.substr(i, e - i));
      i = e;
    } else if (c == '\'') {
      // A blank keeps the E a token of its own (after int4 in int4 '1', or ':').
      if (!out.empty() && !space(static_cast<unsigned char>(out.back()))) out += ' ';
      out += "E'";
      ++i;
      copy_until_quote_end(true);
    } else if (ident_start(c)) {
      std::size_t j = i + 1;
      while (j < sql.size() && ident_cont(at(j))) ++j;
      const char p = static_cast<char>(std::tolower(c));
      if (j == i + 1 && at(j) == '\'' && (p == 'e' || p == 'b' || p == 'x' || p == 'n')) {
        const std::size_t start = out.size();
        out.append(sql.substr(i, 2));
        i += 2;
        copy_until_quote_end(p == 'e' || p == 'n', p == 'e' || p == 'n');
        if (p == 'n' && out.find('\\', start) != std::string::npos) national_backslash = true;
      } else if (j == i + 1 && (p == 'u') && at(j) == '&' && at(j + 1) == '\'') {
        out.append(sql.substr(i, 3));
        i += 3;
        copy_until_quote_end(false);
      } else {
        out.append(sql.substr(i, j - i));
        i = j;
      }
    } else if (std::isdigit(c) || (c == '.' && std::isdigit(at(i + 1)))) {
      const std::size_t j = number_end(sql, i);
      out.append(sql.substr(i, j - i));
      i = j;
    } else {
      out += static_cast<char>(c);
      ++i;
    }
  }
  return out;
}

}  // namespace bastion
