// Typed reads of the fields of a Lua table (a config file evaluated as Lua
// data), with errors that say where: "FILE:LINE: KEY: problem". Lua tables
// do not remember where a field was set, so the line is found by locating
// the key in the source text.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <lua.hpp>

namespace bastion {

// Thrown by LuaTableReader::fail: the message is "FILE:LINE: KEY: problem".
class LuaTableError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Every accessor reads field `field` of the table on top of the stack and
// leaves the stack as it was, also when it fails. `line` is where errors point (usually
// line_of(field, the table's line)); `qual` prefixes the key in errors
// ("targets.db."). An absent (nil) field gives nullopt or an empty result;
// a field of the wrong type is an error, never a default.
class LuaTableReader {
 public:
  LuaTableReader(lua_State* L, std::string path, std::string src)
      : L_(L), path_(std::move(path)), src_(std::move(src)) {}

  lua_State* lua() const { return L_; }

  // Line of the first `key =` (or `["key"] =`) at or after line `from`
  // (1-based); `from` when there is none.
  int line_of(const std::string& key, int from = 1) const;

  // Throws LuaTableError("FILE:LINE: KEY: msg").
  [[noreturn]] void fail(int line, const std::string& key, const std::string& msg) const;

  std::optional<std::string> str(const char* field, int line, const std::string& qual);
  // A string, or an integer given as its decimal text (for keys like
  // max_startups that take "10:30:100" or 50).
  std::optional<std::string> str_or_integer(const char* field, int line, const std::string& qual);
  // An integer in [lo, hi]; out of range is an error.
  std::optional<int64_t> integer(const char* field, int line, const std::string& qual, int64_t lo, int64_t hi);
  std::optional<bool> boolean(const char* field, int line, const std::string& qual);
  // A string or a list of strings.
  std::vector<std::string> str_list(const char* field, int line, const std::string& qual);
  // A table of string = string.
  std::map<std::string, std::string> str_map(const char* field, int line, const std::string& qual);
  // Refuses keys of the table on top that are not in `known` (typos).
  void only_keys(const std::set<std::string>& known, int line, const std::string& qual);
  // Whether the table on top sets any of `keys`.
  bool has_any(const std::set<std::string>& keys) const;

 private:
  lua_State* L_;
  std::string path_, src_;
};

}  // namespace bastion
