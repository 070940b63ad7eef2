// Keys set twice in one table constructor (`targets = { a = {...}, a = {...} }`)
// or assigned twice at the top level of a config file. Lua keeps the last
// value and cannot tell afterwards, so the source text is scanned: a small
// lexer of Lua tokens (strings, long brackets and comments skipped) that
// follows nesting of braces, brackets, parentheses and blocks.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

struct DuplicateKey {
  std::string key;  // qualified as in config errors: "targets.a", "targets.a.port", "listen"
  int first_line;   // where it was set first
  int line;         // where it was set again
};

// In source order of the second definition. Input that is not valid Lua
// never makes it fail: it finds what it can (the loader compiles first).
std::vector<DuplicateKey> find_duplicate_keys(std::string_view src);

}  // namespace bastion
