// A Lua 5.4 tokenizer for static checks of Lua text (config duplicate keys,
// `bastionctl policy check`): names, strings decoded as Lua reads them
// (escapes included), numbers, symbols; comments and long brackets skipped.
// It never runs anything; the real parser is Lua's own.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace bastion {

struct LuaToken {
  enum class Kind { name, string, other, end };
  Kind kind = Kind::end;
  std::string text;   // a name, a string's value (decoded as Lua reads it), a number as "0", or the symbol
  bool plain = true;  // false: the string has an escape Lua refuses, so `text` is not its value
  int line = 1;
};

class LuaLexer {
 public:
  explicit LuaLexer(std::string_view s) : s_(s) {}

  LuaToken next();

 private:
  static constexpr std::size_t npos = std::string_view::npos;

  void advance();

  void skip_space_and_comments();

  // At '[': the number of '=' of a long bracket "[==[", or npos.
  std::size_t long_bracket_level() const;

  void skip_long_bracket(std::size_t level);

  LuaToken& quoted(LuaToken& t, char q);

  static int hex(char c);

  // At the character after a backslash: appends what Lua reads there. One
  // it does not understand leaves the string not plain (never a key).
  void escape(LuaToken& t);

  std::string_view s_;
  std::size_t i_ = 0;
  int line_ = 1;
};

}  // namespace bastion
