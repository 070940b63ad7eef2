#include "lua/sandboxed_lua.h"

#include <cstdlib>

namespace bastion {

SandboxedLua::SandboxedLua(std::size_t memory_limit) : limit_(memory_limit) {
  L_ = lua_newstate(&SandboxedLua::alloc, this);
  if (L_) {
    // Lets the hook find its owner without global state.
    *static_cast<SandboxedLua**>(lua_getextraspace(L_)) = this;
  }
}

SandboxedLua::~SandboxedLua() {
  if (L_) lua_close(L_);
}

void* SandboxedLua::alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
  auto* self = static_cast<SandboxedLua*>(ud);
  if (ptr == nullptr) osize = 0;  // osize is a type tag for new blocks
  if (nsize == 0) {
    self->used_ -= osize;
    std::free(ptr);
    return nullptr;
  }
  if (nsize > osize && self->used_ + (nsize - osize) > self->limit_) return nullptr;
  void* p = std::realloc(ptr, nsize);
  if (p) self->used_ = self->used_ - osize + nsize;
  return p;
}

void SandboxedLua::hook(lua_State* L, lua_Debug*) {
  auto* self = *static_cast<SandboxedLua**>(lua_getextraspace(L));
  if (std::chrono::steady_clock::now() > self->deadline_) luaL_error(L, "time budget exceeded");
}

bool SandboxedLua::load_text(std::string_view code, const std::string& chunkname,
                             std::string& error) {
  if (!L_) return error = "cannot create Lua state", false;
  const int rc = luaL_loadbufferx(L_, code.data(), code.size(), chunkname.c_str(), "t");
  if (rc != LUA_OK) {
    error = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "load failed";
    lua_pop(L_, 1);
    return false;
  }
  return true;
}

bool SandboxedLua::call(int nargs, int nresults, std::chrono::milliseconds budget,
                        std::string& error) {
  deadline_ = std::chrono::steady_clock::now() + budget;
  lua_sethook(L_, &SandboxedLua::hook, LUA_MASKCOUNT, 1000);
  const int rc = lua_pcall(L_, nargs, nresults, 0);
  lua_sethook(L_, nullptr, 0, 0);
  if (rc != LUA_OK) {
    if (rc == LUA_ERRMEM) error = "memory limit exceeded";
    else error = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "error";
    lua_pop(L_, 1);
    return false;
  }
  return true;
}

}  // namespace bastion
