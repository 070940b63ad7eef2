#include "policy/context_text.h"

#include <algorithm>
#include <chrono>
#include <variant>

#include "lua/sandboxed_lua.h"
#include "policy/policy_library.h"

namespace bastion {
namespace {

constexpr int kMaxDepth = 8;  // the context nests three or four deep

// The table at `idx`, or the table a read-only proxy stands for.
void push_data(lua_State* L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_getmetatable(L, idx)) {
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_istable(L, -1)) return;
    lua_pop(L, 1);
  }
  lua_pushvalue(L, idx);
}

std::string scalar(lua_State* L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      std::size_t n = 0;
      const char* s = lua_tolstring(L, idx, &n);
      // As is: the caller escapes the whole line for the terminal
      // (display_escape), which would double any escaping done here.
      return "\"" + std::string(s, n) + "\"";
    }
    case LUA_TBOOLEAN: return lua_toboolean(L, idx) ? "true" : "false";
    case LUA_TNUMBER: {
      if (lua_isinteger(L, idx)) return std::to_string(lua_tointeger(L, idx));
      return std::to_string(lua_tonumber(L, idx));
    }
    case LUA_TNIL: return "nil";
    default: return lua_typename(L, lua_type(L, idx));
  }
}

using Key = std::variant<lua_Integer, std::string>;

// Keys of the table on top, integers first (in order), then names sorted.
std::vector<Key> keys_of(lua_State* L) {
  std::vector<Key> keys;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) keys.emplace_back(lua_tointeger(L, -2));
    else if (lua_type(L, -2) == LUA_TSTRING) keys.emplace_back(std::string(lua_tostring(L, -2)));
    lua_pop(L, 1);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

void push_key(lua_State* L, const Key& k) {
  if (const auto* i = std::get_if<lua_Integer>(&k)) lua_pushinteger(L, *i);
  else lua_pushlstring(L, std::get<std::string>(k).data(), std::get<std::string>(k).size());
}

std::string path_of(const std::string& path, const Key& k) {
  if (const auto* i = std::get_if<lua_Integer>(&k)) return path + "[" + std::to_string(*i) + "]";
  return path + "." + std::get<std::string>(k);
}

// Dumps the table (or proxy) on top of the stack.
void dump(lua_State* L, const std::string& path, int depth, std::vector<std::string>& out) {
  push_data(L, -1);
  const std::vector<Key> keys = keys_of(L);
  // A list of scalars reads best on one line.
  bool flat = true;
  for (std::size_t i = 0; i < keys.size() && flat; ++i) {
    const auto* n = std::get_if<lua_Integer>(&keys[i]);
    push_key(L, keys[i]);
    lua_rawget(L, -2);
    flat = n && *n == static_cast<lua_Integer>(i + 1) && !lua_istable(L, -1);
    lua_pop(L, 1);
  }
  if (flat) {
    std::string line = path + " = {";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      push_key(L, keys[i]);
      lua_rawget(L, -2);
      line += (i ? ", " : " ") + scalar(L, -1);
      lua_pop(L, 1);
    }
    out.push_back(line + (keys.empty() ? "}" : " }"));
    lua_pop(L, 1);
    return;
  }
  for (const auto& k : keys) {
    push_key(L, k);
    lua_rawget(L, -2);
    if (lua_istable(L, -1) && depth < kMaxDepth) dump(L, path_of(path, k), depth + 1, out);
    else out.push_back(path_of(path, k) + " = " + scalar(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

}  // namespace

std::vector<std::string> command_context_lines(const CommandRequest& req) {
  SandboxedLua lua(16u << 20);
  lua_State* L = lua.get();
  if (!L) return {};
  open_policy_sandbox(L);
  lua_settop(L, 0);
  // Built in a protected call (an allocation failure raises), read
  // outside it with raw accesses only, so no C++ object lives on a frame a
  // Lua error could jump over.
  lua_pushcfunction(L, [](lua_State* S) -> int {
    const auto* req = static_cast<const CommandRequest*>(lua_touserdata(S, 1));
    push_command_context(S, *req);
    complete_context(S, -1);  // the dump below reads raw
    return 1;
  });
  lua_pushlightuserdata(L, const_cast<CommandRequest*>(&req));
  std::string err;
  if (!lua.call(1, 1, std::chrono::milliseconds(1000), err)) return {};
  std::vector<std::string> out;
  dump(L, "c", 0, out);
  return out;
}

}  // namespace bastion
