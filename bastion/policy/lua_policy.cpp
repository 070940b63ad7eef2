#include "policy/lua_policy.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include <openssl/rand.h>

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

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
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

int LuaPolicy::import_module(lua_State* L, const std::string& name) {
  // Cache: registry["bastion.modules"][name]
  lua_getfield(L, LUA_REGISTRYINDEX, "bastion.modules");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "bastion.modules");
  }
  lua_getfield(L, -1, name.c_str());
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);

  std::string text;
  const std::string path = (std::filesystem::path(src_->dir) / (name + ".lua")).string();
  if (loading_) {
    if (loading_->modules.size() >= kMaxModules) return luaL_error(L, "too many modules");
    if (!read_file(path, text)) return luaL_error(L, "import: cannot read module %s", path.c_str());
    loading_->modules[name] = text;
  } else {
    const auto it = src_->modules.find(name);
    if (it == src_->modules.end())
      return luaL_error(L, "import: module %s was not imported when the policy was loaded "
                           "(import modules at the top level)", name.c_str());
    text = it->second;
  }
  if (luaL_loadbufferx(L, text.data(), text.size(), ("@" + path).c_str(), "t") != LUA_OK) return lua_error(L);
  lua_call(L, 0, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name.c_str());
  return 1;
}

std::optional<Decision> LuaPolicy::call_hook(const char* hook, PolicyTrace* trace,
                                             const std::function<void(lua_State*)>& push_ctx) {
  lua_State* L = lua_.get();
  const std::string file = basename_of(src_->path);
  lua_getglobal(L, hook);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    if (trace) trace->lines.push_back(file + ": no " + hook + " hook");
    return std::nullopt;
  }
  push_ctx(L);
  std::string err;
  if (!lua_.call(1, 1, src_->limits.time, err)) {
    const std::string ref = new_ref();
    log_error("policy error", {{"ref", ref}, {"policy", src_->path}, {"hook", hook}, {"error", err}});
    if (trace) trace->lines.push_back(file + ": " + hook + " failed: " + err + " (ref " + ref + ")");
    Decision d = Decision::deny("policy error (ref " + ref + ")");
    d.hook = hook;
    d.policy_hash = src_->hash;
    d.source = file;
    lua_settop(L, 0);
    return d;
  }
  std::optional<Decision> d;
  if (!lua_isnil(L, -1)) d = to_decision(L, -1, hook);
  lua_settop(L, 0);
  if (trace)
    trace->lines.push_back(file + ": " + hook + " returned " +
                           (d ? std::string(d->name()) + (d->reason.empty() ? "" : " (" + d->reason + ")") +
                                    " at " + d->source
                              : std::string("nil (no opinion)")));
  return d;
}

Decision LuaPolicy::to_decision(lua_State* L, int idx, const char* hook) {
  std::string err;
  Decision d;
  if (!decision_from_lua(L, idx, d, err)) {
    const std::string ref = new_ref();
    log_error("policy error", {{"ref", ref}, {"policy", src_->path}, {"hook", hook}, {"error", err}});
    d = Decision::deny("policy error (ref " + ref + ")");
    d.source = basename_of(src_->path);
  }
  d.hook = hook;
  d.policy_hash = src_->hash;
  return d;
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
  if (!read_file(path, src->text)) return error = path + ": cannot read policy", nullptr;
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
