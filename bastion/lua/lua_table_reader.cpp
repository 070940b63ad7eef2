#include "lua/lua_table_reader.h"

#include <regex>
#include <sstream>

#include "common/closest_name.h"

namespace bastion {

int LuaTableReader::line_of(const std::string& key, int from) const {
  std::istringstream in(src_);
  std::string line;
  const std::regex re("(^|[^A-Za-z0-9_])(" + std::regex_replace(key, std::regex(R"([.^$|()\[\]{}*+?\\-])"), R"(\$&)") +
                      R"()\s*=([^=]|$)|\[\s*["'])" + key + R"(["']\s*\]\s*=)");
  for (int n = 1; std::getline(in, line); ++n)
    if (n >= from && std::regex_search(line, re)) return n;
  return from;
}

void LuaTableReader::fail(int line, const std::string& key, const std::string& msg) const {
  throw LuaTableError(path_ + ":" + std::to_string(line) + ": " + key + ": " + msg);
}

namespace {

// Puts the stack back as it was, also when a read fails (throws), so a
// caller that catches the error may go on reading.
class StackGuard {
 public:
  explicit StackGuard(lua_State* L) : L_(L), top_(lua_gettop(L)) {}
  ~StackGuard() { lua_settop(L_, top_); }
  StackGuard(const StackGuard&) = delete;
  StackGuard& operator=(const StackGuard&) = delete;

 private:
  lua_State* L_;
  int top_;
};

// Runs `read` with field `field` of the table on top pushed.
template <class F>
auto with_field(lua_State* L, const char* field, F&& read) {
  const StackGuard guard(L);
  lua_getfield(L, -1, field);
  return read();
}

}  // namespace

std::optional<std::string> LuaTableReader::str_or_integer(const char* field, int line, const std::string& qual) {
  return with_field(L_, field, [&]() -> std::optional<std::string> {
    if (lua_isinteger(L_, -1)) return std::to_string(lua_tointeger(L_, -1));
    if (lua_type(L_, -1) == LUA_TSTRING) return lua_tostring(L_, -1);
    if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected a string or an integer");
    return std::nullopt;
  });
}

std::optional<std::string> LuaTableReader::str(const char* field, int line, const std::string& qual) {
  return with_field(L_, field, [&]() -> std::optional<std::string> {
    if (lua_type(L_, -1) == LUA_TSTRING) return lua_tostring(L_, -1);
    if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected a string");
    return std::nullopt;
  });
}

std::optional<int64_t> LuaTableReader::integer(const char* field, int line, const std::string& qual, int64_t lo,
                                               int64_t hi) {
  return with_field(L_, field, [&]() -> std::optional<int64_t> {
    if (lua_isnil(L_, -1)) return std::nullopt;
    if (!lua_isinteger(L_, -1)) fail(line, qual + field, "expected an integer");
    const int64_t v = lua_tointeger(L_, -1);
    if (v < lo || v > hi)
      fail(line, qual + field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
  });
}

std::optional<bool> LuaTableReader::boolean(const char* field, int line, const std::string& qual) {
  return with_field(L_, field, [&]() -> std::optional<bool> {
    if (lua_isboolean(L_, -1)) return lua_toboolean(L_, -1) != 0;
    if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected true or false");
    return std::nullopt;
  });
}

std::vector<std::string> LuaTableReader::str_list(const char* field, int line, const std::string& qual) {
  return with_field(L_, field, [&] {
    std::vector<std::string> out;
    if (lua_type(L_, -1) == LUA_TSTRING) {
      out.emplace_back(lua_tostring(L_, -1));
    } else if (lua_istable(L_, -1)) {
      const lua_Integer n = luaL_len(L_, -1);
      for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L_, -1, i);
        if (lua_type(L_, -1) != LUA_TSTRING) fail(line, qual + field, "expected a list of strings");
        out.emplace_back(lua_tostring(L_, -1));
        lua_pop(L_, 1);
      }
    } else if (!lua_isnil(L_, -1)) {
      fail(line, qual + field, "expected a string or a list of strings");
    }
    return out;
  });
}

std::map<std::string, std::string> LuaTableReader::str_map(const char* field, int line, const std::string& qual) {
  return with_field(L_, field, [&] {
    std::map<std::string, std::string> out;
    if (lua_istable(L_, -1)) {
      lua_pushnil(L_);
      while (lua_next(L_, -2)) {
        if (lua_type(L_, -2) != LUA_TSTRING || lua_type(L_, -1) != LUA_TSTRING)
          fail(line, qual + field, "expected a table of string = string");
        out[lua_tostring(L_, -2)] = lua_tostring(L_, -1);
        lua_pop(L_, 1);
      }
    } else if (!lua_isnil(L_, -1)) {
      fail(line, qual + field, "expected a table");
    }
    return out;
  });
}

void LuaTableReader::only_keys(const std::set<std::string>& known, int line, const std::string& qual) {
  const StackGuard guard(L_);
  lua_pushnil(L_);
  while (lua_next(L_, -2)) {
    lua_pop(L_, 1);
    if (lua_type(L_, -1) != LUA_TSTRING) fail(line, qual, "unexpected non-string key");
    const std::string k = lua_tostring(L_, -1);
    if (!known.count(k)) fail(line_of(k, line), qual + k, "unknown key" + did_you_mean(k, known));
  }
}

bool LuaTableReader::has_any(const std::set<std::string>& keys) const {
  for (const auto& k : keys)
    if (with_field(L_, k.c_str(), [&] { return !lua_isnil(L_, -1); })) return true;
  return false;
}

}  // namespace bastion
