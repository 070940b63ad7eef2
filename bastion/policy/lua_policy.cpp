#include "policy/lua_policy.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>

#include <openssl/rand.h>

#include "common/file_util.h"
#include "common/log.h"
#include "common/time_util.h"
#include "policy/policy_library.h"

namespace bastion {
namespace {

constexpr std::size_t kMaxModules = 32;

std::string new_ref() {
  unsigned char b[4];
  RAND_bytes(b, sizeof b);
  char out[9];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
  return out;
}

std::string basename_of(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

LuaPolicy::LuaPolicy(std::shared_ptr<const PolicySource> src) : src_(std::move(src)), lua_(src_->limits.memory) {
  lua_.set_owner(this);
}

std::unique_ptr<LuaPolicy> LuaPolicy::create(std::shared_ptr<const PolicySource> src, std::string& error,
                                             PolicySource* loading) {
  std::unique_ptr<LuaPolicy> p(new LuaPolicy(std::move(src)));
  p->loading_ = loading;
  const bool ok = p->setup(error);
  p->loading_ = nullptr;
  if (!ok) return nullptr;
  return p;
}

bool LuaPolicy::setup(std::string& error) {
  lua_State* L = lua_.get();
  if (!L) return error = "cannot create Lua state", false;
  open_policy_sandbox(L);
  if (!lua_.load_text(src_->text, "@" + src_->path, error)) return false;
  if (!lua_.call(0, 0, std::chrono::milliseconds(1000), error)) {
    if (!error.starts_with(src_->path)) error = src_->path + ": " + error;
    return false;
  }
  for (const char* hook : {"on_session", "on_command"}) {
    lua_getglobal(L, hook);
    const int t = lua_type(L, -1);
    lua_pop(L, 1);
    if (t != LUA_TNIL && t != LUA_TFUNCTION)
      return error = src_->path + ": " + hook + " must be a function", false;
  }
  return true;
}

bool LuaPolicy::import_module(lua_State* L, const std::string& name, std::string& error) {
  // Cache: registry["bastion.modules"][name]
  lua_getfield(L, LUA_REGISTRYINDEX, "bastion.modules");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "bastion.modules");
  }
  lua_getfield(L, -1, name.c_str());
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return true;
  }
  lua_pop(L, 1);

  std::string text;
  const std::string path = (std::filesystem::path(src_->dir) / (name + ".lua")).string();
  if (loading_) {
    if (loading_->modules.size() >= kMaxModules) return lua_pop(L, 1), error = "too many modules", false;
    std::string why;
    if (!read_file(path, text, why)) return lua_pop(L, 1), error = "import: cannot read module " + path + ": " + why, false;
    loading_->modules[name] = text;
  } else {
    const auto it = src_->modules.find(name);
    if (it == src_->modules.end()) {
      lua_pop(L, 1);
      error = "import: module " + name + " was not imported when the policy was loaded (import modules at the top level)";
      return false;
    }
    text = it->second;
  }
  if (luaL_loadbufferx(L, text.data(), text.size(), ("@" + path).c_str(), "t") != LUA_OK ||
      lua_pcall(L, 0, 1, 0) != LUA_OK) {
    error = lua_tostring(L, -1) ? lua_tostring(L, -1) : "import failed";
    lua_pop(L, 2);
    return false;
  }
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name.c_str());
  lua_remove(L, -2);
  return true;
}

namespace {
// State shared between call_hook and run_hook; owned outside the protected
// call so that nothing with a destructor lives on the frames Lua may longjmp over.
struct HookCall {
  const char* hook;
  const std::function<void(lua_State*)>* push;
  bool has_hook = false;
  bool has_result = false;
  Decision decision;
  std::string convert_error;
};
}  // namespace

// Runs inside lua_pcall: builds the context, calls the hook, converts the result.
int LuaPolicy::run_hook(lua_State* L) {
  auto* c = static_cast<HookCall*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  lua_getglobal(L, c->hook);
  if (!lua_isfunction(L, -1)) return 0;
  c->has_hook = true;
  (*c->push)(L);
  lua_call(L, 1, 1);
  if (!lua_isnil(L, -1)) {
    c->has_result = true;
    decision_from_lua(L, -1, c->decision, c->convert_error);
  }
  return 0;
}

namespace {
Decision::Hook hook_of(const char* hook) {
  return std::string_view(hook) == "on_session" ? Decision::Hook::on_session : Decision::Hook::on_command;
}
}  // namespace

std::optional<Decision> LuaPolicy::call_hook(const char* hook, PolicyTrace* trace,
                                             const std::function<void(lua_State*)>& push_ctx) {
  lua_State* L = lua_.get();
  const std::string file = basename_of(src_->path);
  HookCall call;
  call.hook = hook;
  call.push = &push_ctx;
  lua_settop(L, 0);
  lua_pushcfunction(L, &LuaPolicy::run_hook);
  lua_pushlightuserdata(L, &call);
  std::string err;
  const bool ok = lua_.call(1, 0, src_->limits.time, err);
  lua_settop(L, 0);
  if (ok && !call.has_hook) {
    if (trace) trace->lines.push_back(file + ": no " + hook + " hook");
    return std::nullopt;
  }
  if (ok && !call.convert_error.empty()) err = call.convert_error;
  // The credential is chosen once, when the session starts: a command
  // decision naming one would look like it switches role, and it does not.
  if (ok && err.empty() && call.has_result && !call.decision.credential.empty() && std::string(hook) != "on_session")
    call.convert_error = err = "credential can only be chosen by on_session";
  if (!ok || !call.convert_error.empty()) {
    const std::string ref = new_ref();
    log_error("policy error", {{"ref", ref}, {"policy", src_->path}, {"hook", hook}, {"error", err}});
    if (trace) trace->lines.push_back(file + ": " + hook + " failed: " + err + " (ref " + ref + ")");
    Decision d = Decision::deny("policy error (ref " + ref + ")");
    d.hook = hook_of(hook);
    d.policy_hash = src_->hash;
    d.source = file;
    return d;
  }
  std::optional<Decision> d;
  if (call.has_result) {
    d = std::move(call.decision);
    d->hook = hook_of(hook);
    d->policy_hash = src_->hash;
  }
  if (trace)
    trace->lines.push_back(file + ": " + hook + " returned " +
                           (d ? std::string(d->name()) + (d->reason.empty() ? "" : " (" + d->reason + ")") +
                                    " at " + d->source
                              : std::string("nil (no opinion)")));
  return d;
}

std::vector<std::string> LuaPolicy::script_functions() {
  std::vector<std::string> out;
  lua_State* L = lua_.get();
  lua_pushglobaltable(L);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    // lua_type before lua_tostring: converting a number key would break lua_next.
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TFUNCTION && !lua_iscfunction(L, -1))
      out.emplace_back(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<Decision> LuaPolicy::on_session(const SessionRequest& req, PolicyTrace* trace) {
  return call_hook("on_session", trace, [&](lua_State* L) { push_session_context(L, req); });
}

std::optional<Decision> LuaPolicy::on_command(const CommandRequest& req, PolicyTrace* trace) {
  return call_hook("on_command", trace, [&](lua_State* L) { push_command_context(L, req); });
}

std::shared_ptr<const PolicySource> load_policy_source(const std::string& path, const PolicyLimits& limits,
                                                       std::string& error) {
  auto src = std::make_shared<PolicySource>();
  src->path = path;
  src->dir = std::filesystem::absolute(path).parent_path().string();
  src->limits = limits;
  std::string why;
  if (!read_file(path, src->text, why)) return error = path + ": cannot read policy: " + why, nullptr;
  src->hash = sha256_hex(src->text);
  // Compile and run once, collecting imports into the snapshot.
  PolicySource collecting = *src;
  std::shared_ptr<const PolicySource> probe_src = src;
  auto probe = LuaPolicy::create(probe_src, error, &collecting);
  if (!probe) return nullptr;
  src->modules = std::move(collecting.modules);
  return src;
}

}  // namespace bastion
