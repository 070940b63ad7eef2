// Evaluates the config file as Lua data in a sandbox, then validates every
// key. Errors name file, line and key; the line is found by locating the key
// in the source, since Lua tables do not remember where a field was set.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "auth/address_match.h"
#include "common/base64.h"
#include "common/brace_template.h"
#include "common/closest_name.h"
#include "common/file_util.h"
#include "common/parse_number.h"
#include "common/secret_file.h"
#include "common/time_util.h"
#include "common/unix_user.h"
#include "config/config.h"
#include "config/config_reader.h"
#include "config/duplicate_keys.h"
#include "config/known_keys.h"
#include "config/store_uri.h"
#include "config/s3_store_names.h"
#include "lua/sandboxed_lua.h"
#include "policy/lua_policy.h"
#include "policy/policy_store.h"

namespace bastion {
namespace {

namespace fs = std::filesystem;
constexpr std::size_t kConfigMemory = 16 << 20;
constexpr std::chrono::milliseconds kConfigBudget{1000};

using Reader = ConfigReader;


bool parse_listen(const std::string& s, std::string& host, int& port) {
  std::size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string p = s.substr(colon + 1);
  if (host.empty() || p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const auto n = parse_unsigned(p, 1, 65535);
  if (!n) return false;
  port = static_cast<int>(*n);
  return true;
}

// Metrics listener, control socket, pid file (bastiond(8)). A metrics
// listener beyond loopback is refused unless asked for: it needs no login.
void load_operators(Reader& r, Config& c) {
  OperatorsConfig& o = c.operators;
  const int ml = r.line_of("metrics_listen");
  o.metrics_allow_remote = r.boolean("metrics_allow_remote", r.line_of("metrics_allow_remote"), "").value_or(false);
  if (auto l = r.str("metrics_listen", ml, "")) {
    if (!parse_listen(*l, o.metrics_host, o.metrics_port)) r.fail(ml, "metrics_listen", "expected \"HOST:PORT\"");
    else if (!o.metrics_allow_remote && !is_loopback_address(o.metrics_host))
      r.fail(ml, "metrics_listen",
             "\"" + o.metrics_host + "\" is not a loopback address; metrics need no login, so listening beyond "
             "this host needs metrics_allow_remote = true");
  }
  const int cl = r.line_of("control_socket");
  if (auto s = r.str("control_socket", cl, "")) o.control_socket = s->empty() ? "" : r.resolve(*s);
  else o.control_socket = c.data_dir + "/bastiond.sock";
  // sun_path holds 107 bytes and a NUL.
  if (o.control_socket.size() > 107)
    r.fail(cl, "control_socket", "path too long for a Unix socket (at most 107 bytes): " + o.control_socket);
  const int pl = r.line_of("pid_file");
  if (auto p = r.str("pid_file", pl, "")) {
    if (p->empty()) r.fail(pl, "pid_file", "expected a path (leave the key out for no pid file)");
    o.pid_file = r.resolve(*p);
  }
}

// The auditors' web listener (bastion-web(7)).
void load_web(Reader& r, WebConfig& w) {
  const int ll = r.line_of("web_listen");
  if (auto l = r.str("web_listen", ll, ""))
    if (!parse_listen(*l, w.listen_host, w.listen_port)) r.fail(ll, "web_listen", "expected \"HOST:PORT\"");
  const int cl = r.line_of("web_cert"), kl = r.line_of("web_key");
  if (auto f = r.str("web_cert", cl, "")) w.cert_file = r.resolve(*f);
  if (auto f = r.str("web_key", kl, "")) w.key_file = r.resolve(*f);
  if (w.cert_file.empty() != w.key_file.empty())
    r.fail(w.cert_file.empty() ? kl : cl, w.cert_file.empty() ? "web_key" : "web_cert",
           "web_cert and web_key go together (neither: a self-signed certificate in data_dir)");
  if (auto d = r.str("web_assets_dir", r.line_of("web_assets_dir"), "")) w.assets_dir = r.resolve(*d);
  const int pl = r.line_of("auditor_principals");
  lua_getfield(r.lua(), -1, "auditor_principals");
  const bool set = !lua_isnil(r.lua(), -1);
  lua_pop(r.lua(), 1);
  if (set) {
    w.auditor_principals = r.str_list("auditor_principals", pl, "");
    for (const auto& p : w.auditor_principals)
      if (p.empty()) r.fail(pl, "auditor_principals", "expected principal names");
  }
  if (auto s = r.duration("web_session_ttl", r.line_of("web_session_ttl"), "", 60, 7 * 86400)) w.session_ttl = *s;
}

// recordings_store = { type = "s3", ... } (bastion.conf(5)): checked whole
// at load, so a typo never leaves recordings silently local.
void load_recordings_store(Reader& r, RecordingsStoreConfig& s, bool check_files) {
  lua_getfield(r.lua(), -1, "recordings_store");
  if (lua_isnil(r.lua(), -1)) return lua_pop(r.lua(), 1);
  const int sl = r.line_of("recordings_store");
  if (!lua_istable(r.lua(), -1)) r.fail(sl, "recordings_store", "expected a table");
  const std::string q = "recordings_store.";
  r.only_keys(known_keys::recordings_store(), sl, q);
  const TableReader t(r, sl, q);
  s.type = t.need("type");
  if (s.type != "s3") t.fail("type", "expected \"s3\"");
  s.endpoint = t.need("endpoint");
  if (auto why = s3_endpoint_problem(s.endpoint)) t.fail("endpoint", *why);
  while (s.endpoint.ends_with('/')) s.endpoint.pop_back();
  s.bucket = t.need("bucket");
  if (auto why = s3_bucket_problem(s.bucket)) t.fail("bucket", *why);
  s.region = t.str_or("region", s.region);
  if (s.region.empty() || s.region.size() > 64 || s.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    t.fail("region", "expected a region name such as \"us-east-1\"");
  s.prefix = t.str_or("prefix", "");
  if (auto why = s3_prefix_problem(s.prefix)) t.fail("prefix", *why);
  s.access_key_file = t.path("access_key_file");
  if (s.access_key_file.empty()) t.fail("access_key_file", "required");
  s.secret_key_file = t.path("secret_key_file");
  if (s.secret_key_file.empty()) t.fail("secret_key_file", "required");
  if (check_files) {
    t.read_secret("access_key_file", s.access_key_file, s.access_key);
    t.read_secret("secret_key_file", s.secret_key_file, s.secret_key);
    // One line of text each: a trailing newline is the editor's, not the key's.
    for (HeldSecret* k : {&s.access_key, &s.secret_key})
      while (!k->bytes.empty() && (k->bytes.back() == '\n' || k->bytes.back() == '\r')) k->bytes.pop_back();
    if (s.access_key.empty()) t.fail("access_key_file", "the file is empty");
    if (s.secret_key.empty()) t.fail("secret_key_file", "the file is empty");
    if (s.access_key.bytes.find_first_of(":\r\n") != std::string::npos)
      t.fail("access_key_file", "an access key is one line without \":\"");
  }
  lua_pop(r.lua(), 1);
}

// `policy = "store:NAME"` as this load resolves it: from the reader, once
// per name (the global and a target's policy naming one version share it).
struct StorePolicies {
  PolicyStoreReader* reader = nullptr;
  bool required = false;  // check_files: the configuration is about to run
  std::map<std::string, std::shared_ptr<const PolicySource>> loaded;
};

std::shared_ptr<const PolicySource> load_stored_policy(Reader& r, Config& cfg, int line, const std::string& key,
                                                      const std::string& name, StorePolicies& store) {
  if (auto why = policy_name_problem(name)) r.fail(line, key, "store:" + name + ": " + *why);
  // Whoever can write the store's tables is not trusted to say what runs:
  // only versions signed by a key named here do (audit/policy_signature.h).
  if (cfg.policy_signers.empty())
    r.fail(line, key,
           "store:" + name + ": a stored policy needs policy_signers, the fingerprints of the keys that may sign "
           "pushes (bastionctl policy keygen prints the line)");
  cfg.store_policies.emplace(name, 0);
  if (const auto it = store.loaded.find(name); it != store.loaded.end()) return it->second;
  if (!store.reader) {
    // Fail closed: a configuration about to run never goes without the
    // policy it names. Tools that only read the audit are told it was not read.
    if (store.required) r.fail(line, key, "store:" + name + ": the policy store was not read");
    cfg.store_policies_unread = true;
    return nullptr;
  }
  StoredPolicy p;
  std::string err;
  if (!store.reader->active_policy(name, cfg.policy_signers, p, err)) r.fail(line, key, "store:" + name + ": " + err);
  auto src = policy_source_from_store(p, cfg.policy_limits, err);
  if (!src) r.fail(line, key, err);
  store.loaded[name] = src;
  cfg.store_policies[name] = p.version;
  return src;
}

std::shared_ptr<const PolicySource> load_policy(Reader& r, Config& cfg, int line, const std::string& key,
                                               const std::string& file, StorePolicies& store) {
  if (file.starts_with(kStorePolicyPrefix))
    return load_stored_policy(r, cfg, line, key, file.substr(kStorePolicyPrefix.size()), store);
  std::string err;
  auto src = load_policy_source(r.resolve(file), cfg.policy_limits, err);
  if (!src) r.fail(line, key, err);
  return src;
}

std::string key_list(const std::set<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

bool is_identifier(const std::string& s) {
  static const std::regex re("[A-Za-z_][A-Za-z0-9_]*");
  return s.size() <= 64 && std::regex_match(s, re);
}

// The target's held credentials: "default" from its top-level fields (when
// it has them, or when it has no `credentials` table: then they are
// required), and each entry of `credentials = { NAME = {...} }`.
void load_credentials(Reader& r, lua_State* L, TargetConfig& t, int tline, bool check_files) {
  const std::string q = "targets." + t.name + ".";
  const TargetSchema& kind = *t.schema;
  const auto keys = kind.credential_keys();
  lua_getfield(L, -1, "credentials");
  const bool has_named = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!has_named || kind.settings_make_default_credential(*t.settings) || r.has_any(kind.default_credential_keys()))
    t.credentials["default"] = kind.read_credential(TableReader(r, tline, q), *t.settings, true, check_files);
  if (!has_named) return;
  const int cl = r.line_of("credentials", tline);
  lua_getfield(L, -1, "credentials");
  if (!lua_istable(L, -1))
    r.fail(cl, q + "credentials", "expected a table of NAME = { " + key_list(keys) + " }");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING) r.fail(cl, q + "credentials", "credential names must be strings");
    const std::string name = lua_tostring(L, -2);
    const int line = r.line_of(name, cl);
    const std::string cq = q + "credentials." + name;
    if (!is_identifier(name))
      r.fail(line, cq, "a credential name must be an identifier (letters, digits, '_'; not starting with a digit)");
    if (t.credentials.count(name))
      r.fail(line, cq, "the target's top-level " + key_list(keys) + " already are the credential \"default\"");
    if (!lua_istable(L, -1))
      r.fail(line, cq, "expected a table { " + key_list(keys) + " } (a credential of a " + t.type + " target)");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      const std::string k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
      if (!keys.count(k))
        r.fail(r.line_of(k, line), cq + "." + k,
               "unknown key" + did_you_mean(k, keys) + " (" + t.type + " credentials take " + key_list(keys) + ")");
    }
    t.credentials[name] = kind.read_credential(TableReader(r, line, cq + "."), *t.settings, false, check_files);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (t.credentials.empty()) r.fail(cl, q + "credentials", "the target holds no credential");
}

void load_target(Reader& r, lua_State* L, Config& cfg, const TargetSchemas& kinds, const std::string& name, int tline,
                 bool check_files, StorePolicies& store) {
  const std::string q = "targets." + name + ".";
  if (!lua_istable(L, -1)) r.fail(tline, "targets." + name, "expected a table");
  TargetConfig t;
  t.name = name;
  if (name.empty() || name.find_first_of("@:/ \t") != std::string::npos)
    r.fail(tline, "targets." + name, "target names may not contain '@', ':', '/' or spaces");
  t.type = r.str("type", r.line_of("type", tline), q).value_or("");
  t.schema = kinds.schema(t.type);
  if (!t.schema) {
    std::string supported;
    for (const auto& k : kinds.types()) supported += (supported.empty() ? "" : ", ") + k;
    r.fail(r.line_of("type", tline), q + "type",
           "unsupported target type \"" + t.type + "\" (supported: " + supported + ")");
  }
  std::set<std::string> keys = t.schema->keys();
  keys.insert(known_keys::target_common().begin(), known_keys::target_common().end());
  r.only_keys(keys, tline, q);
  if (auto pf = r.str("policy", r.line_of("policy", tline), q))
    t.policy = load_policy(r, cfg, r.line_of("policy", tline), q + "policy", *pf, store);
  t.allow = r.str_list("allow", r.line_of("allow", tline), q);
  if (t.allow.empty()) r.fail(r.line_of("allow", tline), q + "allow", "at least one principal is required");
  t.labels = r.str_map("labels", r.line_of("labels", tline), q);
  t.approvers = r.str_list("approvers", r.line_of("approvers", tline), q);
  const TableReader tr(r, tline, q);
  t.settings = t.schema->read_settings(tr);
  load_credentials(r, L, t, tline, check_files);
  if (check_files) t.schema->check_setting_files(tr, *t.settings);
  cfg.targets[name] = std::move(t);
}

void load_limits(Reader& r, Config& cfg) {
  const int l = r.line_of("limits");
  const std::string q = "limits.";
  r.only_keys(known_keys::limits(), l, q);
  auto& lim = cfg.limits;
  auto get = [&](const char* f, int64_t lo, int64_t hi, auto& dst) {
    if (auto v = r.integer(f, r.line_of(f, l), q, lo, hi)) dst = static_cast<std::remove_reference_t<decltype(dst)>>(*v);
  };
  get("max_sessions", 1, 100000, lim.max_sessions);
  get("max_sessions_per_identity", 1, 100000, lim.max_sessions_per_identity);
  auto seconds = [&](const char* f, int64_t lo, int64_t hi, auto& dst) {
    if (auto v = r.duration(f, r.line_of(f, l), q, lo, hi)) dst = static_cast<std::remove_reference_t<decltype(dst)>>(*v);
  };
  seconds("login_grace_time", 1, 600, lim.login_grace_time);
  seconds("idle_timeout", 0, 7 * 86400, lim.idle_timeout);
  seconds("max_session_length", 0, 30 * 86400, lim.max_session_length);
  get("recording_max_bytes", 0, int64_t{1} << 50, lim.recording_max_bytes);
  get("max_channels_per_session", 1, 1000, lim.max_channels_per_session);
  get("max_targets_per_session", 1, 100, lim.max_targets_per_session);
  get("per_source_max_startups", 1, 100000, lim.per_source_max_startups);
  if (auto v = r.str_or_integer("max_startups", r.line_of("max_startups", l), q)) {
    std::string why;
    if (!parse_max_startups(*v, lim.max_startups, why)) r.fail(r.line_of("max_startups", l), q + "max_startups", why);
  }
  if (auto v = r.str("per_source_penalties", r.line_of("per_source_penalties", l), q)) {
    std::string why;
    if (!parse_per_source_penalties(*v, lim.per_source_penalties, why))
      r.fail(r.line_of("per_source_penalties", l), q + "per_source_penalties", why);
  }
  if (auto v = r.str("per_source_penalty_exempt", r.line_of("per_source_penalty_exempt", l), q)) {
    if (address_in_cidr_list("127.0.0.1", *v) < 0)
      r.fail(r.line_of("per_source_penalty_exempt", l), q + "per_source_penalty_exempt",
             "expected comma-separated addresses or CIDR blocks");
    lim.per_source_penalty_exempt = *v;
  }
}

// Safe helpers a config may use (e.g. string.format); nothing that touches the host.
void push_sandbox_env(lua_State* L) {
  luaL_requiref(L, "_G", luaopen_base, 0);
  lua_pop(L, 1);
  const std::pair<const char*, lua_CFunction> libs[] = {
      {"string", luaopen_string}, {"table", luaopen_table}, {"math", luaopen_math}};
  for (const auto& [name, open] : libs) {
    luaL_requiref(L, name, open, 1);
    lua_pop(L, 1);
  }
  // Strings reach the real string table through their metatable, so the
  // dangerous member goes from the table itself, not from a copy.
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  lua_newtable(L);  // env
  lua_newtable(L);  // its metatable
  lua_newtable(L);  // safe globals
  for (const char* name : {"string", "table", "math", "tostring", "tonumber", "ipairs", "pairs",
                           "type", "select", "error", "assert", "next"}) {
    lua_getglobal(L, name);
    lua_setfield(L, -2, name);
  }
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
}

}  // namespace

std::vector<std::string> Config::policy_files() const {
  std::vector<std::string> out;
  auto add = [&out](const std::shared_ptr<const PolicySource>& p) {
    if (!p || !p->version.empty()) return;  // a stored version: no file (its store is watched instead)
    out.push_back(p->path);
    for (const auto& [name, text] : p->modules) out.push_back(p->dir + "/" + name + ".lua");
  };
  add(policy);
  for (const auto& [name, t] : targets) add(t.policy);
  return out;
}

std::shared_ptr<const Config> load_config(const std::string& path, std::string& error, const TargetSchemas& kinds,
                                          bool check_files, PolicyStoreReader* policy_store) {
  std::string src, why;
  if (!read_file(path, src, why)) {
    error = path + ": cannot read the config file: " + why;
    return nullptr;
  }
  auto cfg = std::make_shared<Config>();
  cfg->path = path;
  cfg->dir = fs::absolute(fs::path(path)).parent_path().string();

  SandboxedLua lua(kConfigMemory);
  lua_State* L = lua.get();
  std::string err;
  if (!L) {
    error = "cannot create Lua state";
    return nullptr;
  }
  if (!lua.load_text(src, "@" + path, err)) {
    error = err;
    return nullptr;
  }
  // Compiled, so the text is Lua: a key set twice would silently lose its
  // first value (a second target of the same name replaces the first).
  if (const auto dups = find_duplicate_keys(src); !dups.empty()) {
    const auto& d = dups.front();
    error = path + ":" + std::to_string(d.line) + ": " + d.key + ": defined twice (lines " +
            std::to_string(d.first_line) + " and " + std::to_string(d.line) + "); Lua would keep only the last";
    return nullptr;
  }
  push_sandbox_env(L);
  lua_pushvalue(L, -1);
  lua_insert(L, -3);                 // env, chunk, env
  lua_setupvalue(L, -2, 1);          // chunk's _ENV = env
  if (!lua.call(0, 0, kConfigBudget, err)) {
    error = err.starts_with(path + ":") ? err : path + ": " + err;
    return nullptr;
  }
  // Stack: env
  Reader r(L, path, src, cfg->dir);
  StorePolicies store{.reader = policy_store, .required = check_files, .loaded = {}};
  try {
    r.only_keys(known_keys::top_level(), 1, "");
    auto& c = *cfg;
    const int ul = r.line_of("user");
    if (auto u = r.str("user", ul, "")) {
      std::string e;
      if (u->empty() || !find_user(*u, e)) r.fail(ul, "user", u->empty() ? "expected a user name" : e);
      c.user = *u;
    }
    const int ll = r.line_of("listen");
    if (auto l = r.str("listen", ll, ""))
      if (!parse_listen(*l, c.listen_host, c.listen_port)) r.fail(ll, "listen", "expected \"HOST:PORT\"");
    const int hl = r.line_of("host_keys");
    for (auto& k : r.str_list("host_keys", hl, "")) c.host_keys.push_back(r.resolve(k));
    if (c.host_keys.empty()) r.fail(hl, "host_keys", "at least one host key is required");
    const int cl = r.line_of("user_ca_keys");
    for (auto& k : r.str_list("user_ca_keys", cl, "")) c.user_ca_key_files.push_back(r.resolve(k));
    if (c.user_ca_key_files.empty()) r.fail(cl, "user_ca_keys", "at least one CA public key file is required");
    for (auto& f : c.user_ca_key_files) {
      std::string e;
      if (!load_public_keys(f, c.user_cas, e)) r.fail(cl, "user_ca_keys", e);
    }
    if (c.user_cas.empty()) r.fail(cl, "user_ca_keys", "no CA keys found in the listed files");
    const int rl = r.line_of("revoked_keys");
    if (auto rk = r.str("revoked_keys", rl, "")) {
      c.revoked_keys_file = r.resolve(*rk);
      auto rev = std::make_shared<RevocationList>();
      std::string e;
      if (!rev->load(c.revoked_keys_file, e)) r.fail(rl, "revoked_keys", e);
      c.revoked = rev;
    }
    const int dl = r.line_of("data_dir");
    c.data_dir = r.resolve(r.str("data_dir", dl, "").value_or("data"));
    const int stl = r.line_of("store");
    c.store = r.str("store", stl, "").value_or("");
    if (!c.store.empty()) {
      std::string why;
      if (!valid_store_uri(c.store, why)) r.fail(stl, "store", why);
    }
    const int spl = r.line_of("store_password_file");
    if (auto pf = r.str("store_password_file", spl, "")) {
      c.store_password_file = r.resolve(*pf);
      if (c.store.empty()) r.fail(spl, "store_password_file", "goes with store = \"postgresql://...\"");
    }
    if (auto hb = r.duration("heartbeat_interval", r.line_of("heartbeat_interval"), "", 1, 300)) {
      c.heartbeat_interval = *hb;
      if (c.store.empty()) r.fail(r.line_of("heartbeat_interval"), "heartbeat_interval", "goes with store = \"postgresql://...\"");
    }
    const int fl = r.line_of("log_format");
    c.log_format = r.str("log_format", fl, "").value_or("text");
    if (c.log_format != "text" && c.log_format != "json") r.fail(fl, "log_format", "expected \"text\" or \"json\"");
    const int lvl = r.line_of("log_level");
    c.log_level = r.str("log_level", lvl, "").value_or("info");
    if (!std::set<std::string>{"trace", "debug", "info", "warn", "error"}.count(c.log_level))
      r.fail(lvl, "log_level", "expected trace, debug, info, warn or error");
    c.cert_clock_skew = r.duration("cert_clock_skew", r.line_of("cert_clock_skew"), "", 0, 3600).value_or(60);
    c.cert_max_ttl = r.duration("cert_max_ttl", r.line_of("cert_max_ttl"), "", 60, 365 * 86400).value_or(86400);
    c.record_input = r.boolean("record_input", r.line_of("record_input"), "").value_or(false);
    const int afl = r.line_of("auth_failure_detail");
    const std::string afd = r.str("auth_failure_detail", afl, "").value_or("reason");
    if (afd != "reason" && afd != "none") r.fail(afl, "auth_failure_detail", "expected \"reason\" or \"none\"");
    c.auth_failure_detail = afd == "reason";
    const int rhl = r.line_of("renew_hint");
    c.renew_hint = r.str("renew_hint", rhl, "").value_or("");
    if (c.renew_hint.size() > 200 || c.renew_hint.find_first_of("\r\n") != std::string::npos)
      r.fail(rhl, "renew_hint", "expected one line of at most 200 characters");
    const int ol = r.line_of("on_recording_failure");
    const std::string orf = r.str("on_recording_failure", ol, "").value_or("close");
    if (orf != "close" && orf != "continue") r.fail(ol, "on_recording_failure", "expected \"close\" or \"continue\"");
    c.close_on_recording_failure = orf == "close";
    const int akl = r.line_of("audit_signing_key");
    c.audit_signing_key = r.resolve(r.str("audit_signing_key", akl, "").value_or(c.data_dir + "/audit_signing_key"));
    const int akf = r.line_of("audit_key_fingerprint");
    c.audit_key_fingerprint = r.str("audit_key_fingerprint", akf, "").value_or("");
    if (!c.audit_key_fingerprint.empty() && !is_sha256_fingerprint(c.audit_key_fingerprint))
      r.fail(akf, "audit_key_fingerprint",
             "expected \"SHA256:\" and 43 base64 characters, as bastiond logs at start and `bastiond --check` prints");
    if (auto ret = r.duration("retention", r.line_of("retention"), "", 1, int64_t{36500} * 86400)) c.retention = *ret;

    lua_getfield(L, -1, "policy_limits");
    if (lua_istable(L, -1)) {
      const int pl = r.line_of("policy_limits");
      r.only_keys(known_keys::policy_limits(), pl, "policy_limits.");
      c.policy_limits.memory = static_cast<std::size_t>(
          r.integer("memory_mb", r.line_of("memory_mb", pl), "policy_limits.", 1, 1024).value_or(16)) << 20;
      c.policy_limits.time = std::chrono::milliseconds(
          r.integer("time_ms", r.line_of("time_ms", pl), "policy_limits.", 1, 10000).value_or(50));
    } else if (!lua_isnil(L, -1)) {
      r.fail(r.line_of("policy_limits"), "policy_limits", "expected a table");
    }
    lua_pop(L, 1);
    const int pdl = r.line_of("policy_default");
    const std::string pd = r.str("policy_default", pdl, "").value_or("deny");
    if (pd != "deny" && pd != "allow") r.fail(pdl, "policy_default", "expected \"deny\" or \"allow\"");
    c.policy_default = pd == "allow" ? Decision::Verdict::allow : Decision::Verdict::deny;
    const int psl = r.line_of("policy_signers");
    for (auto& fp : r.str_list("policy_signers", psl, "")) {
      if (!is_sha256_fingerprint(fp))
        r.fail(psl, "policy_signers",
               "expected fingerprints: \"SHA256:\" and 43 base64 characters each, as bastionctl policy keygen prints");
      c.policy_signers.push_back(std::move(fp));
    }
    const int pol = r.line_of("policy");
    if (auto pf = r.str("policy", pol, "")) c.policy = load_policy(r, c, pol, "policy", *pf, store);

    lua_getfield(L, -1, "approvals");
    if (lua_istable(L, -1)) {
      const int al = r.line_of("approvals");
      const std::string q = "approvals.";
      r.only_keys(known_keys::approvals(), al, q);
      auto& a = c.approvals;
      a.target = r.str("target", r.line_of("target", al), q).value_or(a.target);
      a.access_target = r.str("access_target", r.line_of("access_target", al), q).value_or(a.access_target);
      a.timeout = static_cast<int>(r.duration("timeout", r.line_of("timeout", al), q, 1, 7 * 86400).value_or(a.timeout));
      a.request_ttl = static_cast<int>(r.duration("request_ttl", r.line_of("request_ttl", al), q, 1, 30 * 86400).value_or(a.request_ttl));
      a.max_grant = static_cast<int>(r.duration("max_grant", r.line_of("max_grant", al), q, 60, 30 * 86400).value_or(a.max_grant));
      a.webhook = r.str("webhook", r.line_of("webhook", al), q).value_or("");
      const int wtl = r.line_of("webhook_text", al);
      a.webhook_text = r.str("webhook_text", wtl, q).value_or("");
      const std::vector<std::string_view> names(std::begin(kWebhookTextNames), std::end(kWebhookTextNames));
      if (const std::string e = brace_template_error(a.webhook_text, names); !e.empty()) r.fail(wtl, q + "webhook_text", e);
      if (!a.webhook_text.empty() && a.webhook.empty()) r.fail(wtl, q + "webhook_text", "needs approvals.webhook (the URL)");
      if (a.target == a.access_target) r.fail(al, q + "access_target", "must differ from approvals.target");
    } else if (!lua_isnil(L, -1)) {
      r.fail(r.line_of("approvals"), "approvals", "expected a table");
    }
    lua_pop(L, 1);

    load_web(r, c.web);
    load_recordings_store(r, c.recordings_store, check_files);
    load_operators(r, c);

    lua_getfield(L, -1, "limits");
    if (lua_istable(L, -1)) load_limits(r, c);
    else if (!lua_isnil(L, -1)) r.fail(r.line_of("limits"), "limits", "expected a table");
    lua_pop(L, 1);

    const int tl = r.line_of("targets");
    lua_getfield(L, -1, "targets");
    if (!lua_istable(L, -1)) r.fail(tl, "targets", "expected a table of targets");
    // In name order, so a config with several problems reports the same one
    // every time (Lua's own table order changes from run to run).
    std::vector<std::string> names;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING) r.fail(tl, "targets", "target names must be strings");
      names.emplace_back(lua_tostring(L, -2));
      lua_pop(L, 1);
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      lua_pushlstring(L, name.data(), name.size());
      lua_rawget(L, -2);  // the entry lua_next saw, whatever a metatable says
      load_target(r, L, c, kinds, name, r.line_of(name, tl), check_files, store);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (c.targets.empty()) r.fail(tl, "targets", "no targets defined");
    for (const auto& reserved : {c.approvals.target, c.approvals.access_target})
      if (c.targets.count(reserved))
        r.fail(r.line_of(reserved, tl), "targets." + reserved, "this name is reserved (see approvals.target / approvals.access_target)");
    if (c.targets.count(WebConfig::kLoginTarget))
      r.fail(r.line_of(WebConfig::kLoginTarget, tl), std::string("targets.") + WebConfig::kLoginTarget,
             "this name is reserved (auditors' web login)");
    for (const auto& reserved : {c.approvals.target, c.approvals.access_target})
      if (reserved == WebConfig::kLoginTarget)
        r.fail(r.line_of("approvals"), "approvals", "\"audit\" is reserved (auditors' web login)");
    if (check_files)
      for (auto& k : c.host_keys) {
        // The host key is the bastion's identity: held like any credential.
        std::string held, why;
        if (!read_secret_file(k, held, why)) r.fail(hl, "host_keys", why);
        explicit_bzero(held.data(), held.size());
      }
  } catch (const ConfigError& e) {
    error = e.what();
    return nullptr;
  }
  return cfg;
}

}  // namespace bastion
