// One policy script in its own sandboxed Lua state. Built once per session
// (compile ~tens of µs), then called for each decision.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lua/sandboxed_lua.h"
#include "policy/policy.h"
#include "policy/policy_source.h"

namespace bastion {

// Which hooks ran and what they returned; printed by `bastionctl policy test`.
struct PolicyTrace {
  std::vector<std::string> lines;
};

class LuaPolicy {
 public:
  // Compiles and runs the top level. Null + error ("FILE:LINE: ...") on failure.
  // `loading` lets import() read module files from disk (only while a source
  // is being loaded); otherwise modules come from the source's snapshot.
  static std::unique_ptr<LuaPolicy> create(std::shared_ptr<const PolicySource> src, std::string& error,
                                           PolicySource* loading = nullptr);

  // nullopt: the script has no opinion (no hook, or it returned nil).
  // Errors, timeouts and memory exhaustion come back as a deny whose reason is
  // "policy error (ref XXXXXXXX)"; the full error is logged with that ref.
  std::optional<Decision> on_session(const SessionRequest& req, PolicyTrace* trace = nullptr);
  std::optional<Decision> on_command(const CommandRequest& req, PolicyTrace* trace = nullptr);

  const PolicySource& source() const { return *src_; }

  // The global functions the script itself defined (not the sandbox's C
  // helpers), sorted; `policy check` looks for misspelled hooks among them.
  std::vector<std::string> script_functions();

  // Used by import(): pushes the module's value, or returns false with
  // `error` set (the caller raises it once no C++ object is alive: Lua errors
  // longjmp past destructors).
  bool import_module(lua_State* L, const std::string& name, std::string& error);

 private:
  explicit LuaPolicy(std::shared_ptr<const PolicySource> src);
  bool setup(std::string& error);
  std::optional<Decision> call_hook(const char* hook, PolicyTrace* trace,
                                    const std::function<void(lua_State*)>& push_ctx);
  static int run_hook(lua_State* L);

  std::shared_ptr<const PolicySource> src_;
  SandboxedLua lua_;
  PolicySource* loading_ = nullptr;
};

}  // namespace bastion
