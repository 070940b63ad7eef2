#include "policy/policy_library.h"
#include "common/parse_number.h"
#include "common/time_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>

#include <openssl/sha.h>
#include <re2/re2.h>

#include "common/log.h"
#include "lua/sandboxed_lua.h"
#include "policy/glob.h"
#include "policy/lua_policy.h"
#include "policy/shell_parse.h"
#include "policy/time_window.h"

namespace bastion {
namespace {

constexpr const char* kDecisionMeta = "bastion.decision";
constexpr std::size_t kMaxRegexCache = 64;
constexpr int kMaxRegexMemory = 1 << 20;
// Mask patterns are checked through the same cache: the same bound as the filter's.
static_assert(kMaxRegexMemory == kMaskRegexMaxMem);

// ---- read-only context tables -------------------------------------------

int ro_newindex(lua_State* L) { return luaL_error(L, "context tables are read-only"); }
int ro_len(lua_State* L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__index");
  lua_pushinteger(L, static_cast<lua_Integer>(lua_rawlen(L, -1)));
  return 1;
}
// next() over a proxy's data, given the proxy: pairs() never hands the
// writable data table to the script (the session's tables are shared by
// every decision of the session).
int ro_next(lua_State* L) {
  lua_settop(L, 2);
  if (!lua_getmetatable(L, 1)) return 0;
  lua_getfield(L, -1, "__index");
  if (!lua_istable(L, -1)) return 0;
  lua_pushvalue(L, 2);
  return lua_next(L, -2) ? 2 : 0;
}
int ro_pairs(lua_State* L) {
  complete_context(L, 1);  // every field is listed, also those built on first use
  lua_pushcfunction(L, ro_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

// Replaces the table on top of the stack by a read-only proxy of it.
void make_readonly(lua_State* L) {
  lua_newtable(L);             // data, proxy
  lua_createtable(L, 0, 5);    // data, proxy, mt (sized: a context builds dozens per decision)
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ro_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, ro_len);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, ro_pairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushliteral(L, "read-only");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);     // data, proxy
  lua_remove(L, -2);           // proxy
}

// One read-only empty table per state, shared: most lists in a context are
// empty (an SQL statement's writes, functions, settings...). Read-only and
// never handed out raw (ro_next), so sharing it is not observable but as ==.
void push_empty(lua_State* L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "bastion.empty") == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  make_readonly(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "bastion.empty");
}

void push_list(lua_State* L, const std::vector<std::string>& v) {
  if (v.empty()) return push_empty(L);
  lua_createtable(L, static_cast<int>(v.size()), 0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    lua_pushlstring(L, v[i].data(), v[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  make_readonly(L);
}

void push_map(lua_State* L, const std::map<std::string, std::string>& m) {
  if (m.empty()) return push_empty(L);
  lua_createtable(L, 0, static_cast<int>(m.size()));
  for (const auto& [k, v] : m) {
    lua_pushlstring(L, v.data(), v.size());
    lua_setfield(L, -2, k.c_str());
  }
  make_readonly(L);
}

void set_str(lua_State* L, const char* k, const std::string& v) {
  lua_pushlstring(L, v.data(), v.size());
  lua_setfield(L, -2, k);
}
void set_int(lua_State* L, const char* k, int64_t v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}
void set_bool(lua_State* L, const char* k, bool v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

// c.<field>: what the target kind parsed, as read-only tables (records:
// a read-only list of read-only tables).
class LuaFactWriter : public FactWriter {
 public:
  explicit LuaFactWriter(lua_State* L) : L_(L) {}
  void text(const char* key, std::string_view v) override {
    lua_pushlstring(L_, v.data(), v.size());
    set(key);
  }
  void flag(const char* key, bool v) override {
    lua_pushboolean(L_, v);
    set(key);
  }
  void list(const char* key, const std::vector<std::string>& v) override {
    push_list(L_, v);
    set(key);
  }
  void map(const char* key, const std::map<std::string, std::string>& v) override {
    push_map(L_, v);
    set(key);
  }
  void begin_records(const char* key) override {
    records_.push_back({key, 0});
    lua_createtable(L_, 0, 0);
  }
  void begin_record() override { lua_createtable(L_, 0, 3); }
  void end_record() override {
    make_readonly(L_);
    lua_rawseti(L_, -2, ++records_.back().count);
  }
  void end_records() override {
    if (records_.back().count == 0) {
      lua_pop(L_, 1);
      push_empty(L_);
    } else {
      make_readonly(L_);
    }
    const std::string key = records_.back().key;
    records_.pop_back();
    set(key.c_str());
  }

 private:
  void set(const char* key) { lua_setfield(L_, -2, key); }
  struct Records {
    std::string key;
    lua_Integer count;
  };
  lua_State* L_;
  std::vector<Records> records_;
};

void push_parts(lua_State* L, const ShellParse& p) {
  lua_createtable(L, static_cast<int>(p.parts.size()), 0);
  for (std::size_t i = 0; i < p.parts.size(); ++i) {
    const SimpleCommand& part = p.parts[i];
    lua_createtable(L, 0, 16);
    push_list(L, part.argv);
    lua_setfield(L, -2, "argv");
    push_list(L, part.redirects);
    lua_setfield(L, -2, "redirects");
    set_int(L, "depth", part.depth);
    // Analysis (policy/shell_parse): nil/false fields are simply absent.
    if (part.opaque.empty() && !part.program.empty()) set_str(L, "program", part.program);
    if (!part.args.empty()) {
      push_list(L, part.args);
      lua_setfield(L, -2, "args");
    }
    push_list(L, part.wrappers);
    lua_setfield(L, -2, "wrappers");
    if (part.sudo) {
      lua_createtable(L, 0, 1);
      set_str(L, "user", part.sudo_user);
      make_readonly(L);
      lua_setfield(L, -2, "sudo");
    }
    // The first reason only: a Lua table would be truthy even when empty.
    if (!part.opaque.empty()) set_str(L, "opaque", part.opaque.front());
    push_list(L, part.writes);
    lua_setfield(L, -2, "writes");
    if (!part.via.empty()) set_str(L, "via", part.via);
    if (part.dynamic_args) set_bool(L, "dynamic_args", true);
    if (part.globs) set_bool(L, "globs", true);
    if (part.interpreter) set_bool(L, "interpreter", true);
    if (part.reads_script) set_bool(L, "reads_script", true);
    if (part.pipe_into_shell) set_bool(L, "pipe_into_shell", true);
    if (part.changes_shell) set_bool(L, "changes_shell", true);
    make_readonly(L);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  make_readonly(L);
}

// c.programs: each distinct program once, in order; "?" for an opaque part.
void push_programs(lua_State* L, const ShellParse& p) {
  std::vector<std::string> programs;
  for (const auto& part : p.parts) {
    std::string name = part_is_opaque(part) ? "?" : part.program;
    if (!name.empty() && std::find(programs.begin(), programs.end(), name) == programs.end())
      programs.push_back(std::move(name));
  }
  push_list(L, programs);
}

// The session's tables, built once per session (and again when what they
// show changes): every decision of a session would otherwise build the same
// dozen read-only tables. Kept in the registry with the bytes they show.
constexpr const char* kSessionTables[] = {"principals", "certificate", "target", "session", "grant"};

void append_field(std::string& key, std::string_view v) {
  key += std::to_string(v.size());
  key += ':';
  key += v;
}

std::string session_tables_key(const SessionRequest& r) {
  std::string k;
  for (const auto& p : r.principals) append_field(k, p);
  k += '|';
  append_field(k, std::to_string(r.cert_serial) + "/" + std::to_string(r.cert_valid_before));
  for (const auto& [n, v] : r.cert_extensions) append_field(k, n), append_field(k, v);
  k += '|';
  append_field(k, r.target);
  append_field(k, r.target_type);
  for (const auto& [n, v] : r.target_labels) append_field(k, n), append_field(k, v);
  k += '|';
  append_field(k, r.session_id);
  append_field(k, std::to_string(r.started_at));
  k += r.tty ? 'T' : 't';
  k += r.listing ? 'L' : 'l';
  append_field(k, r.credential);
  if (r.grant) {
    k += 'G';
    append_field(k, std::to_string(r.grant->id) + "/" + std::to_string(r.grant->expires_at));
    append_field(k, r.grant->approver);
    append_field(k, r.grant->reason);
  }
  return k;
}

// Builds the session's tables into the table on top (fields kSessionTables).
void build_session_tables(lua_State* L, const SessionRequest& r) {
  push_list(L, r.principals);
  lua_setfield(L, -2, "principals");
  lua_createtable(L, 0, 3);
  set_int(L, "serial", static_cast<int64_t>(r.cert_serial));
  set_int(L, "valid_before", static_cast<int64_t>(std::min<uint64_t>(r.cert_valid_before, INT64_MAX)));
  push_map(L, r.cert_extensions);
  lua_setfield(L, -2, "extensions");
  make_readonly(L);
  lua_setfield(L, -2, "certificate");
  lua_createtable(L, 0, 3);
  set_str(L, "name", r.target);
  set_str(L, "type", r.target_type);
  push_map(L, r.target_labels);
  lua_setfield(L, -2, "labels");
  make_readonly(L);
  lua_setfield(L, -2, "target");
  lua_createtable(L, 0, 3);
  set_str(L, "id", r.session_id);
  set_int(L, "started_at", r.started_at);
  set_bool(L, "tty", r.tty);
  set_bool(L, "listing", r.listing);  // s.session.listing: only listing targets
  if (!r.credential.empty()) set_str(L, "credential", r.credential);  // c.session.credential
  make_readonly(L);
  lua_setfield(L, -2, "session");
  if (r.grant) {  // s.grant / c.grant: the just-in-time access this session relies on
    lua_createtable(L, 0, 4);
    set_int(L, "id", r.grant->id);
    set_str(L, "approver", r.grant->approver);
    set_str(L, "reason", r.grant->reason);
    set_int(L, "expires_at", r.grant->expires_at);
    make_readonly(L);
    lua_setfield(L, -2, "grant");
  }
}

// Fills the table on top with the session fields.
void fill_session(lua_State* L, const SessionRequest& r) {
  set_str(L, "identity", r.identity);
  set_str(L, "source_address", r.source_address);
  {
    // The only C++ object alive across a call that may raise (Lua errors longjmp).
    const std::string key = session_tables_key(r);
    lua_pushlstring(L, key.data(), key.size());  // ctx, key
  }
  lua_getfield(L, LUA_REGISTRYINDEX, "bastion.session_tables");  // ctx, key, cached
  bool fresh = lua_istable(L, -1);
  if (fresh) {
    lua_getfield(L, -1, "\x01key");
    fresh = lua_rawequal(L, -1, -3);
    lua_pop(L, 1);
  }
  if (!fresh) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 6);
    build_session_tables(L, r);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "\x01key");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "bastion.session_tables");
  }
  lua_remove(L, -2);  // ctx, cached
  for (const char* f : kSessionTables) {
    lua_getfield(L, -1, f);
    lua_setfield(L, -3, f);  // nil (no grant) sets nothing
  }
  lua_pop(L, 1);
  const int64_t now = r.now ? r.now : static_cast<int64_t>(std::time(nullptr));
  set_int(L, "time", now);
  // bastion.within() evaluates at the same instant as c.time.
  lua_pushinteger(L, now);
  lua_setfield(L, LUA_REGISTRYINDEX, "bastion.now");
}

// ---- decision helpers ---------------------------------------------------

// Lua errors longjmp past C++ destructors: library functions keep no object
// with a destructor alive while they call into Lua (which may raise, e.g. on
// the memory cap) and raise their own errors only after such objects are gone.

// A decision is a userdata whose fields live in its user value, out of the
// script's reach: a policy can read d.verdict but cannot change or remove
// what the decoder will read (a mutable table let `d.args = nil` crash it).
int make_decision(lua_State* L, const char* verdict) {
  const bool has_args = lua_gettop(L) >= 1;
  lua_Debug ar;
  char where[LUA_IDSIZE + 24] = "?";
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
    std::snprintf(where, sizeof where, "%s:%d", ar.short_src, ar.currentline);
  lua_newuserdatauv(L, 1, 1);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, verdict);
  lua_setfield(L, -2, "verdict");
  if (has_args) lua_pushvalue(L, 1);
  else lua_pushnil(L);
  lua_setfield(L, -2, "args");
  lua_pushstring(L, where);
  lua_setfield(L, -2, "source");
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, kDecisionMeta);
  return 1;
}
int decision_index(lua_State* L) {
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}
int decision_newindex(lua_State* L) { return luaL_error(L, "decisions are read-only"); }
int l_allow(lua_State* L) {
  luaL_argexpected(L, lua_isnoneornil(L, 1) || lua_istable(L, 1), 1, "nil or table");
  return make_decision(L, "allow");
}
int l_deny(lua_State* L) {
  luaL_checkstring(L, 1);
  return make_decision(L, "deny");
}
int l_review(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  return make_decision(L, "review");
}

// ---- bastion.* ----------------------------------------------------------

int shell_parse_gc(lua_State* L) {
  static_cast<ShellParse*>(lua_touserdata(L, 1))->~ShellParse();
  return 0;
}

// A ShellParse owned by a Lua userdata (freed by the collector even if a
// later allocation raises). Left on the stack.
const ShellParse& push_shell_parse(lua_State* L, std::string_view text) {
  void* mem = lua_newuserdatauv(L, sizeof(ShellParse), 0);
  auto* p = new (mem) ShellParse(parse_command(text));
  if (luaL_newmetatable(L, "bastion.shellparse")) {
    lua_pushcfunction(L, shell_parse_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return *p;
}

int l_split(lua_State* L) {
  size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  const ShellParse& p = push_shell_parse(L, {s, n});
  push_list(L, p.words);
  return 1;
}
int l_parts(lua_State* L) {
  size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  const ShellParse& p = push_shell_parse(L, {s, n});
  push_parts(L, p);
  if (p.error.empty()) lua_pushnil(L);
  else lua_pushstring(L, p.error.c_str());
  return 2;
}
int l_glob(lua_State* L) {
  size_t pl, sl;
  const char* pat = luaL_checklstring(L, 1, &pl);
  const char* s = luaL_checklstring(L, 2, &sl);
  if (pl * (sl + 1) > 50'000'000) return luaL_error(L, "bastion.glob: input too large");
  lua_pushboolean(L, glob_match({pat, pl}, {s, sl}));
  return 1;
}

// RE2 programs are compiled once per state (bounded cache).
struct RegexCache {
  std::map<std::string, std::unique_ptr<RE2>> map;
};
int regex_cache_gc(lua_State* L) {
  static_cast<RegexCache*>(lua_touserdata(L, 1))->~RegexCache();
  return 0;
}
// Returns the compiled regex, or null with `error` set.
RE2* cached_regex(lua_State* L, const char* pattern, std::size_t len, std::string& error) {
  lua_getfield(L, LUA_REGISTRYINDEX, "bastion.regex");
  auto* cache = static_cast<RegexCache*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  if (!cache) return error = "no regex cache in this Lua state", nullptr;
  const std::string key(pattern, len);
  auto it = cache->map.find(key);
  if (it != cache->map.end()) return it->second.get();
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kMaxRegexMemory);
  auto re = std::make_unique<RE2>(key, o);
  if (!re->ok()) {
    error = re->error();
    return nullptr;
  }
  if (cache->map.size() >= kMaxRegexCache) cache->map.clear();
  return cache->map.emplace(key, std::move(re)).first->second.get();
}

int l_match(lua_State* L) {
  size_t pl, sl;
  const char* pattern = luaL_checklstring(L, 1, &pl);
  const char* s = luaL_checklstring(L, 2, &sl);
  int result = -1;
  {
    std::string err;
    RE2* re = cached_regex(L, pattern, pl, err);
    if (re) result = RE2::PartialMatch(re2::StringPiece(s, sl), *re) ? 1 : 0;
    else lua_pushstring(L, ("bastion.match: bad regex: " + err).c_str());
  }
  if (result < 0) return lua_error(L);  // the message is on the stack; no C++ object is alive
  lua_pushboolean(L, result);
  return 1;
}
int l_within(lua_State* L) {
  const char* spec = luaL_checkstring(L, 1);
  const char* zone = luaL_optstring(L, 2, "UTC");
  lua_getfield(L, LUA_REGISTRYINDEX, "bastion.now");
  const int64_t now = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : static_cast<int64_t>(std::time(nullptr));
  lua_pop(L, 1);
  int r;
  {
    std::string err;
    r = within_time_window(spec, zone, now, err);
    if (r < 0) lua_pushfstring(L, "bastion.within: %s", err.c_str());
  }
  if (r < 0) return lua_error(L);  // the message is on the stack; no C++ object is alive
  lua_pushboolean(L, r);
  return 1;
}
int l_log(lua_State* L) {
  // Build the message in a Lua buffer: it is collected if anything raises.
  const int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&b, ' ');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_Debug ar;
  char where[LUA_IDSIZE + 24] = "";
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
    std::snprintf(where, sizeof where, "%s:%d", ar.short_src, ar.currentline);
  log_info("policy log", {{"at", where}, {"message", lua_tostring(L, -1)}});
  return 0;
}
int l_import(lua_State* L) {
  size_t n;
  const char* name = luaL_checklstring(L, 1, &n);
  if (n == 0 || n > 64 || std::string_view(name, n).find_first_not_of(
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string_view::npos)
    return luaL_error(L, "import: module names are letters, digits and _ (got \"%s\")", name);
  bool ok;
  {
    std::string err;
    ok = static_cast<LuaPolicy*>(SandboxedLua::owner(L))->import_module(L, std::string(name, n), err);
    if (!ok) lua_pushstring(L, err.c_str());
  }
  if (!ok) return lua_error(L);  // the message is on the stack; no C++ object is alive
  return 1;
}

// ---- setmetatable without finalizers -------------------------------------

// Lua runs __gc finalizers with debug hooks off, so the time budget cannot
// stop one (a `while true do end` in __gc hung the reload thread or a
// session's end). Lua marks an object for finalization only when its
// metatable has __gc at setmetatable time (a raw lookup), so refusing such
// a metatable here is enough.
int safe_setmetatable(lua_State* L) {
  if (lua_istable(L, 2)) {
    lua_pushliteral(L, "__gc");
    const bool has_gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (has_gc) return luaL_error(L, "finalizers (__gc) are not available to policies");
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// ---- cost-guarded pattern functions ----------------------------------------

int guarded(lua_State* L) {
  size_t sl = 0, pl = 0;
  const char* s = luaL_checklstring(L, 1, &sl);
  const char* p = luaL_checklstring(L, 2, &pl);
  // string.find(s, p, init, plain=true) does no pattern matching.
  const bool plain = lua_gettop(L) >= 4 && lua_toboolean(L, 4) &&
                     lua_tointeger(L, lua_upvalueindex(2)) == 1;
  // A plain find is a naive substring search: subject times needle.
  if (plain && (static_cast<double>(sl) + 1) * (static_cast<double>(pl) + 1) > kMaxPatternCost)
    return luaL_error(L, "plain find too costly for a %d-byte subject and a %d-byte needle",
                      static_cast<int>(sl), static_cast<int>(pl));
  if (!plain && pattern_cost({s, sl}, {p, pl}) > kMaxPatternCost)
    return luaL_error(L, "pattern too costly for a %d-byte subject; use bastion.match (RE2) instead",
                      static_cast<int>(sl));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

void guard_string_function(lua_State* L, const char* name, bool is_find) {
  lua_getglobal(L, "string");
  lua_getfield(L, -1, name);
  lua_pushinteger(L, is_find ? 1 : 0);
  lua_pushcclosure(L, guarded, 2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

}  // namespace

double pattern_cost(std::string_view s, std::string_view p) {
  // Each quantifier (* + - ?) can make the matcher retry every remaining
  // position; an unanchored pattern is also tried at every start position.
  int quantifiers = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%') {
      ++i;
      if (i < p.size() && (p[i] == 'b')) i += 2;  // %bxy: linear
      continue;
    }
    if (p[i] == '*' || p[i] == '+' || p[i] == '-' || p[i] == '?') ++quantifiers;
  }
  const double n = static_cast<double>(s.size()) + 1;
  const bool anchored = !p.empty() && p[0] == '^';
  return (anchored ? 1.0 : n) * std::pow(n, quantifiers) * (static_cast<double>(p.size()) + 1);
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  std::string out;
  char b[3];
  for (unsigned char c : md) {
    std::snprintf(b, sizeof b, "%02x", c);
    out += b;
  }
  return out;
}

void open_policy_sandbox(lua_State* L) {
  const std::pair<const char*, lua_CFunction> libs[] = {
      {"_G", luaopen_base}, {"string", luaopen_string}, {"table", luaopen_table},
      {"math", luaopen_math}, {"utf8", luaopen_utf8}};
  for (const auto& [name, open] : libs) {
    luaL_requiref(L, name, open, 1);
    lua_pop(L, 1);
  }
  for (const char* name : {"load", "loadfile", "dofile", "require", "collectgarbage", "rawset", "print"}) {
    lua_pushnil(L);
    lua_setglobal(L, name);
  }
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, safe_setmetatable, 1);
  lua_setglobal(L, "setmetatable");
  // From the real string table, so strings' metatable cannot reach it either.
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  guard_string_function(L, "find", true);
  guard_string_function(L, "match", false);
  guard_string_function(L, "gmatch", false);
  guard_string_function(L, "gsub", false);

  luaL_newmetatable(L, kDecisionMeta);
  lua_pushliteral(L, "decision");
  lua_setfield(L, -2, "__metatable");
  lua_pushcfunction(L, decision_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, decision_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pop(L, 1);
  lua_register(L, "allow", l_allow);
  lua_register(L, "deny", l_deny);
  lua_register(L, "review", l_review);
  lua_register(L, "import", l_import);

  void* mem = lua_newuserdatauv(L, sizeof(RegexCache), 0);
  new (mem) RegexCache();
  lua_newtable(L);
  lua_pushcfunction(L, regex_cache_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "bastion.regex");

  const luaL_Reg lib[] = {{"split", l_split}, {"parts", l_parts}, {"glob", l_glob}, {"match", l_match},
                          {"within", l_within}, {"log", l_log}, {nullptr, nullptr}};
  luaL_newlib(L, lib);
  lua_setglobal(L, "bastion");
}

void push_session_context(lua_State* L, const SessionRequest& req) {
  lua_createtable(L, 0, 10);
  fill_session(L, req);
  make_readonly(L);
}

namespace {

// The context's shell fields, read as a shell line (argv, parts, programs,
// opaque, complete, parse_error). Built on first use: a policy for SQL,
// kubectl or HTTP rarely reads them, and building them costs more than most
// decisions. Any one of them builds them all, into the data table.
constexpr const char* kShellFields[] = {"argv", "parts", "programs", "opaque", "complete", "parse_error"};

// __index of a context's data table until its shell fields exist: (data, key).
int lazy_shell_fields(lua_State* L) {
  const char* key = lua_tostring(L, 2);
  if (!key || std::none_of(std::begin(kShellFields), std::end(kShellFields),
                           [key](const char* f) { return std::strcmp(f, key) == 0; }))
    return 0;
  lua_settop(L, 2);
  std::size_t n = 0;
  const char* text = lua_tolstring(L, lua_upvalueindex(1), &n);
  const ShellParse& p = push_shell_parse(L, {text, n});  // owned by the userdata on the stack
  lua_pushvalue(L, 1);
  push_list(L, p.words);
  lua_setfield(L, -2, "argv");
  push_parts(L, p);
  lua_setfield(L, -2, "parts");
  if (!p.error.empty()) set_str(L, "parse_error", p.error);
  push_programs(L, p);
  lua_setfield(L, -2, "programs");
  set_bool(L, "opaque", !p.error.empty() || std::any_of(p.parts.begin(), p.parts.end(), part_is_opaque));
  set_bool(L, "complete", shell_text_complete({text, n}));
  // Only now, all built: a build that ran out of memory half-way (and was
  // caught by the script's pcall) left this in place, so a field it did not
  // reach (opaque, say) is built again or raises again, never reads nil.
  lua_pushnil(L);
  lua_setmetatable(L, 1);
  lua_pushvalue(L, 2);
  lua_rawget(L, 1);
  return 1;
}

}  // namespace

void complete_context(lua_State* L, int idx) {
  // The proxy's data table carries a metatable only while fields wait to be built.
  if (!lua_getmetatable(L, idx)) return;
  lua_getfield(L, -1, "__index");
  lua_remove(L, -2);
  if (lua_istable(L, -1) && lua_getmetatable(L, -1)) {
    lua_getfield(L, -1, "__index");
    if (lua_tocfunction(L, -1) == lazy_shell_fields) {
      lua_pushvalue(L, -3);
      lua_pushliteral(L, "argv");
      lua_call(L, 2, 1);
      lua_pop(L, 1);
    } else {
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

void push_command_context(lua_State* L, const CommandRequest& req) {
  lua_createtable(L, 0, 16);
  fill_session(L, req.session);
  set_str(L, "kind", req.kind);
  set_str(L, "text", req.text);
  set_bool(L, "lines_decided", req.lines_decided);
  if (req.facts) {
    lua_createtable(L, 0, 16);
    LuaFactWriter w(L);
    req.facts->describe(w);
    make_readonly(L);
    lua_setfield(L, -2, req.facts->field());
  }
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, req.text.data(), req.text.size());
  lua_pushcclosure(L, lazy_shell_fields, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  make_readonly(L);
}

namespace {

// The decoder reads the script's tables raw: a metamethod could raise (and
// unwind past C++ objects) or lie. Pushes t[k].
void raw_field(lua_State* L, int t, const char* k) {
  t = lua_absindex(L, t);
  lua_pushstring(L, k);
  lua_rawget(L, t);
}

bool opt_int_field(lua_State* L, int t, const char* k, std::optional<int>& out, std::string& error) {
  raw_field(L, t, k);
  if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 && lua_tointeger(L, -1) < (1 << 30))
    out = static_cast<int>(lua_tointeger(L, -1));
  else if (!lua_isnil(L, -1)) return lua_pop(L, 1), error = std::string(k) + " must be a non-negative integer", false;
  lua_pop(L, 1);
  return true;
}

// A time in a decision: integer seconds, or a duration string as the config
// takes them ("90s", "5m", "8h"), so one spelling works everywhere.
bool opt_seconds_field(lua_State* L, int t, const char* k, std::optional<int>& out, std::string& error) {
  raw_field(L, t, k);
  if (lua_type(L, -1) == LUA_TSTRING) {
    const int64_t s = parse_duration(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (s < 0 || s >= (1 << 30))
      return error = std::string(k) + " must be seconds or a duration such as \"90s\", \"5m\", \"8h\"", false;
    out = static_cast<int>(s);
    return true;
  }
  lua_pop(L, 1);
  return opt_int_field(L, t, k, out, error);
}

// allow{ credential = "readonly" }: a credential name as the config spells
// them (an identifier); anything else is a malformed decision.
bool credential_field(lua_State* L, int args, Decision& d, std::string& error) {
  raw_field(L, args, "credential");
  const int type = lua_type(L, -1);
  if (type == LUA_TSTRING) d.credential = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (type == LUA_TNIL) return true;
  const bool ident = !d.credential.empty() && d.credential.size() <= 64 &&
                     !std::isdigit(static_cast<unsigned char>(d.credential[0])) &&
                     std::all_of(d.credential.begin(), d.credential.end(),
                                 [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
  if (type != LUA_TSTRING || !ident) {
    d.credential.clear();
    return error = "credential must be the name of one of the target's credentials (an identifier)", false;
  }
  return true;
}

// The whole Lua string: a reason quoting input may hold a NUL, where the
// char* of lua_tostring would end it early.
std::string whole_string(lua_State* L, int idx) {
  std::size_t n = 0;
  const char* s = lua_tolstring(L, idx, &n);
  return s ? std::string(s, n) : std::string();
}

bool string_list(lua_State* L, int t, std::vector<std::string>& out) {
  if (lua_type(L, t) == LUA_TSTRING) {
    out.emplace_back(lua_tostring(L, t));
    return true;
  }
  if (!lua_istable(L, t)) return false;
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, t));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, t, i);
    if (lua_type(L, -1) != LUA_TSTRING) return lua_pop(L, 1), false;
    out.emplace_back(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return true;
}

// mask = "re" | { "re", ... } | { patterns = {...}, replacement = "...",
//         columns = { "email", ["users.ssn"] = "last:4", card = "hash" }, derived = "mask"|"keep",
//         allow_derived_objects = true|false }

bool parse_column_masks(lua_State* L, int t, Decision& d, std::string& error) {
  if (!lua_istable(L, t)) return error = "mask.columns must be a table", false;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    std::string name, method = "full";
    if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TSTRING) {
      name = lua_tostring(L, -1);
    } else if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
      name = lua_tostring(L, -2);
      method = lua_tostring(L, -1);
    } else {
      lua_pop(L, 2);
      return error = "mask.columns entries are \"column\" or [\"column\"] = \"full\"|\"hash\"|\"last:N\"", false;
    }
    lua_pop(L, 1);
    ColumnMaskRule r;
    const auto dot = name.rfind('.');
    r.column = dot == std::string::npos ? name : name.substr(dot + 1);
    if (dot != std::string::npos) r.table = name.substr(0, dot);
    if (r.column.empty() || (dot != std::string::npos && r.table.empty())) {
      lua_pop(L, 1);
      return error = "mask.columns: bad column name \"" + name + "\"", false;
    }
    if (!parse_column_mask_method(method, r)) {
      lua_pop(L, 1);
      return error = "mask.columns: unknown method \"" + method + "\" (full, hash, last:N)", false;
    }
    d.column_masks.push_back(std::move(r));
  }
  return true;
}

bool parse_mask(lua_State* L, int t, Decision& d, std::string& error) {
  std::vector<std::string> patterns;
  std::string replacement = "****";
  bool has_columns = false;
  if (lua_istable(L, t)) {
    raw_field(L, t, "patterns");
    const bool has = !lua_isnil(L, -1);
    if (has && !string_list(L, lua_gettop(L), patterns)) return lua_pop(L, 1), error = "mask.patterns must be strings", false;
    lua_pop(L, 1);
    raw_field(L, t, "replacement");
    if (lua_type(L, -1) == LUA_TSTRING) replacement = lua_tostring(L, -1);
    lua_pop(L, 1);
    raw_field(L, t, "columns");
    has_columns = !lua_isnil(L, -1);
    const bool cols_ok = !has_columns || parse_column_masks(L, lua_gettop(L), d, error);
    lua_pop(L, 1);
    if (!cols_ok) return false;
    raw_field(L, t, "allow_derived_objects");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
      return lua_pop(L, 1), error = "mask.allow_derived_objects must be true or false", false;
    d.allow_derived_objects = lua_toboolean(L, -1);
    lua_pop(L, 1);
    raw_field(L, t, "derived");
    if (lua_type(L, -1) == LUA_TSTRING) {
      const std::string v = lua_tostring(L, -1);
      if (v != "mask" && v != "keep") return lua_pop(L, 1), error = "mask.derived must be \"mask\" or \"keep\"", false;
      d.mask_derived = v == "mask";
    }
    lua_pop(L, 1);
    if (!has && !has_columns && !string_list(L, t, patterns)) return error = "mask must list patterns", false;
  } else if (!string_list(L, t, patterns)) {
    return error = "mask must be a pattern or a list of patterns", false;
  }
  // A mask that names nothing is a mistake, not "mask nothing": refuse it.
  if (patterns.empty() && d.column_masks.empty()) return error = "mask must list patterns or columns", false;
  for (const auto& p : patterns) {
    // Compiled as the masking filter compiles it (the same memory bound),
    // once per state: a policy masking every statement alike would
    // otherwise compile its patterns for every decision.
    std::string why;
    if (!cached_regex(L, p.data(), p.size(), why)) return error = "bad mask pattern \"" + p + "\": " + why, false;
    d.mask.push_back({p, replacement});
  }
  return true;
}

}  // namespace

std::string mask_pattern_error(const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kMaskRegexMaxMem);
  const RE2 re(pattern, o);
  return re.ok() ? "" : re.error();
}

bool decision_from_lua(lua_State* L, int idx, Decision& d, std::string& error) {
  idx = lua_absindex(L, idx);
  if (!luaL_testudata(L, idx, kDecisionMeta)) {
    error = "a hook must return allow(...), deny(reason), review{...} or nil";
    return false;
  }
  lua_getiuservalue(L, idx, 1);
  const int fields = lua_gettop(L);
  raw_field(L, fields, "verdict");
  const std::string verdict = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  raw_field(L, fields, "source");
  d.source = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  raw_field(L, fields, "args");
  const int args = lua_gettop(L);
  // Whatever the script did to the argument table since, a bad value denies.
  const bool bad = (verdict == "deny" && lua_type(L, args) != LUA_TSTRING && lua_type(L, args) != LUA_TNUMBER) ||
                   (verdict == "review" && !lua_istable(L, args)) ||
                   (verdict == "allow" && !lua_isnil(L, args) && !lua_istable(L, args)) ||
                   (verdict != "deny" && verdict != "review" && verdict != "allow");
  if (bad) {
    lua_settop(L, fields - 1);
    error = "a hook returned a malformed decision";
    return false;
  }
  bool ok = true;
  if (verdict == "deny") {
    d.verdict = Decision::Verdict::deny;
    d.reason = whole_string(L, args);
  } else if (verdict == "allow") {
    d.verdict = Decision::Verdict::allow;
    if (lua_istable(L, args)) {
      raw_field(L, args, "mask");
      if (!lua_isnil(L, -1)) ok = parse_mask(L, lua_gettop(L), d, error);
      lua_pop(L, 1);
      raw_field(L, args, "reason");
      if (lua_type(L, -1) == LUA_TSTRING) d.reason = whole_string(L, -1);
      lua_pop(L, 1);
      raw_field(L, args, "record_input");
      if (lua_isboolean(L, -1)) d.options.record_input = lua_toboolean(L, -1);
      lua_pop(L, 1);
      ok = ok && credential_field(L, args, d, error);
      std::optional<int> row_limit;
      ok = ok && opt_seconds_field(L, args, "idle_timeout", d.options.idle_timeout, error) &&
           opt_seconds_field(L, args, "max_session_length", d.options.max_session_length, error) &&
           opt_int_field(L, args, "row_limit", row_limit, error);
      if (row_limit) d.row_limit = *row_limit;
      if (d.masks()) d.verdict = Decision::Verdict::mask;
    }
  } else {
    d.verdict = Decision::Verdict::review;
    raw_field(L, args, "reason");
    d.reason = lua_type(L, -1) == LUA_TSTRING ? whole_string(L, -1) : "approval required";
    lua_pop(L, 1);
    raw_field(L, args, "approvers");
    if (!lua_isnil(L, -1) && !string_list(L, lua_gettop(L), d.approvers))
      ok = false, error = "review approvers must be principals (strings)";
    lua_pop(L, 1);
    std::optional<int> timeout;
    ok = ok && opt_seconds_field(L, args, "timeout", timeout, error);
    d.review_timeout = timeout.value_or(0);
    std::optional<int> min_approvals;
    ok = ok && opt_int_field(L, args, "min_approvals", min_approvals, error);
    d.min_approvals = std::max(1, min_approvals.value_or(1));
  }
  lua_settop(L, fields - 1);
  return ok;
}

bool parse_column_mask_method(const std::string& m, ColumnMaskRule& r) {
  if (m == "full") return r.method = ColumnMaskRule::Method::full, true;
  if (m == "hash") return r.method = ColumnMaskRule::Method::hash, true;
  if (m.starts_with("last:")) {
    const auto n = parse_unsigned(std::string_view(m).substr(5), 0, 999);
    if (!n) return false;
    r.method = ColumnMaskRule::Method::keep_last;
    r.keep = static_cast<int>(*n);
    return true;
  }
  return false;
}

}  // namespace bastion
