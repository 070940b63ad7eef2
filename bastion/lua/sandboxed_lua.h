// RAII owner of a lua_State with a memory cap and an instruction deadline,
// so evaluating untrusted Lua can neither exhaust memory nor spin forever.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <lua.hpp>

namespace bastion {

class SandboxedLua {
 public:
  explicit SandboxedLua(std::size_t memory_limit);
  ~SandboxedLua();
  SandboxedLua(const SandboxedLua&) = delete;
  SandboxedLua& operator=(const SandboxedLua&) = delete;

  lua_State* get() const { return L_; }
  // Compiles a text-only chunk (binary chunks are refused) named `chunkname`.
  bool load_text(std::string_view code, const std::string& chunkname, std::string& error);
  // Calls the function on top of the stack with a wall-clock budget.
  bool call(int nargs, int nresults, std::chrono::milliseconds budget, std::string& error);

  std::size_t memory_used() const { return used_; }

  // An owner pointer for C functions registered in this state.
  void set_owner(void* p) { owner_ = p; }
  static void* owner(lua_State* L) {
    return (*static_cast<SandboxedLua**>(lua_getextraspace(L)))->owner_;
  }

 private:
  static void* alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize);
  static void hook(lua_State* L, lua_Debug* ar);

  lua_State* L_ = nullptr;
  std::size_t limit_;
  std::size_t used_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  void* owner_ = nullptr;
};

}  // namespace bastion
