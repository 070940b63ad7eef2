#include "config/config_reader.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/secret_file.h"

namespace bastion {

int ConfigReader::line_of(const std::string& key, int from) const {
  std::istringstream in(src_);
  std::string line;
  const std::regex re("(^|[^A-Za-z0-9_])(" + std::regex_replace(key, std::regex(R"([.^$|()\[\]{}*+?\\-])"), R"(\$&)") +
                      R"()\s*=([^=]|$)|\[\s*["'])" + key + R"(["']\s*\]\s*=)");
  for (int n = 1; std::getline(in, line); ++n)
    if (n >= from && std::regex_search(line, re)) return n;
  return from;
}

void ConfigReader::fail(int line, const std::string& key, const std::string& msg) const {
  throw ConfigError(path_ + ":" + std::to_string(line) + ": " + key + ": " + msg);
}

std::optional<std::string> ConfigReader::str_or_integer(const char* field, int line, const std::string& qual) {
  lua_getfield(L_, -1, field);
  std::optional<std::string> v;
  if (lua_isinteger(L_, -1)) v = std::to_string(lua_tointeger(L_, -1));
  else if (lua_type(L_, -1) == LUA_TSTRING) v = lua_tostring(L_, -1);
  else if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected a string or an integer");
  lua_pop(L_, 1);
  return v;
}

std::optional<std::string> ConfigReader::str(const char* field, int line, const std::string& qual) {
  lua_getfield(L_, -1, field);
  std::optional<std::string> v;
  if (lua_type(L_, -1) == LUA_TSTRING) v = lua_tostring(L_, -1);
  else if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected a string");
  lua_pop(L_, 1);
  return v;
}

std::optional<int64_t> ConfigReader::integer(const char* field, int line, const std::string& qual, int64_t lo,
                                             int64_t hi) {
  lua_getfield(L_, -1, field);
  std::optional<int64_t> v;
  if (lua_isinteger(L_, -1)) {
    v = lua_tointeger(L_, -1);
    if (*v < lo || *v > hi)
      fail(line, qual + field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  } else if (!lua_isnil(L_, -1)) {
    fail(line, qual + field, "expected an integer");
  }
  lua_pop(L_, 1);
  return v;
}

std::optional<bool> ConfigReader::boolean(const char* field, int line, const std::string& qual) {
  lua_getfield(L_, -1, field);
  std::optional<bool> v;
  if (lua_isboolean(L_, -1)) v = lua_toboolean(L_, -1);
  else if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected true or false");
  lua_pop(L_, 1);
  return v;
}

std::vector<std::string> ConfigReader::str_list(const char* field, int line, const std::string& qual) {
  lua_getfield(L_, -1, field);
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
  lua_pop(L_, 1);
  return out;
}

std::map<std::string, std::string> ConfigReader::str_map(const char* field, int line, const std::string& qual) {
  lua_getfield(L_, -1, field);
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
  lua_pop(L_, 1);
  return out;
}

void ConfigReader::only_keys(const std::set<std::string>& known, int line, const std::string& qual) {
  lua_pushnil(L_);
  while (lua_next(L_, -2)) {
    lua_pop(L_, 1);
    if (lua_type(L_, -1) != LUA_TSTRING) fail(line, qual, "unexpected non-string key");
    const std::string k = lua_tostring(L_, -1);
    if (!known.count(k)) fail(line_of(k, line), qual + k, "unknown key");
  }
}

bool ConfigReader::has_any(const std::set<std::string>& keys) const {
  for (const auto& k : keys) {
    lua_getfield(L_, -1, k.c_str());
    const bool set = !lua_isnil(L_, -1);
    lua_pop(L_, 1);
    if (set) return true;
  }
  return false;
}

std::string ConfigReader::resolve(const std::string& p) const {
  if (p.empty() || p[0] == '/') return p;
  return (std::filesystem::path(dir_) / p).lexically_normal().string();
}

void ConfigReader::read_secret(int line, const std::string& key, const std::string& path, HeldSecret& out) const {
  std::string err;
  if (!read_secret_file(path, out.bytes, err)) fail(line, key, err);
}

void ConfigReader::check_readable(int line, const std::string& key, const std::string& path) const {
  std::ifstream f(path);
  if (!f) fail(line, key, "cannot read " + path);
}

std::string TableReader::need(const char* f) const {
  auto v = str(f);
  if (!v || v->empty()) fail(f, "required");
  return *v;
}

std::string TableReader::path(const char* f) const {
  const auto v = str(f);
  return v ? r_.resolve(*v) : std::string();
}

}  // namespace bastion
