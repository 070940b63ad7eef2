// Evaluates the config file as Lua data in a sandbox, then validates every
// key. Errors name file, line and key; the line is found by locating the key
// in the source, since Lua tables do not remember where a field was set.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "auth/address_match.h"
#include "common/file_util.h"
#include "common/parse_number.h"
#include "common/secret_file.h"
#include "config/config.h"
#include "config/lua_state.h"
#include "front/privileges.h"
#include "policy/lua_policy.h"

namespace bastion {
namespace {

namespace fs = std::filesystem;
constexpr std::size_t kConfigMemory = 16 << 20;
constexpr std::chrono::milliseconds kConfigBudget{1000};

class ConfigError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  Reader(lua_State* L, std::string path, std::string src)
      : L_(L), path_(std::move(path)), src_(std::move(src)) {}

  // Line of the first `key =` at or after `from` (1-based); `from` if not found.
  int line_of(const std::string& key, int from = 1) const {
    std::istringstream in(src_);
    std::string line;
    const std::regex re("(^|[^A-Za-z0-9_])(" + std::regex_replace(key, std::regex(R"([.^$|()\[\]{}*+?\\-])"), R"(\$&)") +
                        R"()\s*=([^=]|$)|\[\s*["'])" + key + R"(["']\s*\]\s*=)");
    for (int n = 1; std::getline(in, line); ++n)
      if (n >= from && std::regex_search(line, re)) return n;
    return from;
  }

  [[noreturn]] void fail(int line, const std::string& key, const std::string& msg) const {
    throw ConfigError(path_ + ":" + std::to_string(line) + ": " + key + ": " + msg);
  }

  // Field accessors for the table on top of the stack.
  // A string, or an integer given as its decimal text (for keys like
  // max_startups that take "10:30:100" or 50).
  std::optional<std::string> str_or_integer(const char* field, int line, const std::string& qual) {
    lua_getfield(L_, -1, field);
    std::optional<std::string> v;
    if (lua_isinteger(L_, -1)) v = std::to_string(lua_tointeger(L_, -1));
    else if (lua_type(L_, -1) == LUA_TSTRING) v = lua_tostring(L_, -1);
    else if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected a string or an integer");
    lua_pop(L_, 1);
    return v;
  }
  std::optional<std::string> str(const char* field, int line, const std::string& qual) {
    lua_getfield(L_, -1, field);
    std::optional<std::string> v;
    if (lua_type(L_, -1) == LUA_TSTRING) v = lua_tostring(L_, -1);
    else if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected a string");
    lua_pop(L_, 1);
    return v;
  }
  std::optional<int64_t> integer(const char* field, int line, const std::string& qual, int64_t lo,
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
  std::optional<bool> boolean(const char* field, int line, const std::string& qual) {
    lua_getfield(L_, -1, field);
    std::optional<bool> v;
    if (lua_isboolean(L_, -1)) v = lua_toboolean(L_, -1);
    else if (!lua_isnil(L_, -1)) fail(line, qual + field, "expected true or false");
    lua_pop(L_, 1);
    return v;
  }
  // A string or a list of strings.
  std::vector<std::string> str_list(const char* field, int line, const std::string& qual) {
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
  std::map<std::string, std::string> str_map(const char* field, int line, const std::string& qual) {
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
  // Refuses keys of the table on top that are not in `known` (typos).
  void only_keys(const std::set<std::string>& known, int line, const std::string& qual) {
    lua_pushnil(L_);
    while (lua_next(L_, -2)) {
      lua_pop(L_, 1);
      if (lua_type(L_, -1) != LUA_TSTRING) fail(line, qual, "unexpected non-string key");
      const std::string k = lua_tostring(L_, -1);
      if (!known.count(k)) fail(line_of(k, line), qual + k, "unknown key");
    }
  }

 private:
  lua_State* L_;
  std::string path_, src_;
};

std::string resolve(const std::string& dir, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return (fs::path(dir) / p).lexically_normal().string();
}

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

void check_readable(Reader& r, int line, const std::string& key, const std::string& path) {
  std::ifstream f(path);
  if (!f) r.fail(line, key, "cannot read " + path);
}

// A held credential: read now, once; refused when group/other may read it.
void read_secret(Reader& r, int line, const std::string& key, const std::string& path, HeldSecret& out) {
  std::string err;
  if (!read_secret_file(path, out.bytes, err)) r.fail(line, key, err);
}

std::shared_ptr<const PolicySource> load_policy(Reader& r, const Config& cfg, int line, const std::string& key,
                                               const std::string& file) {
  std::string err;
  auto src = load_policy_source(resolve(cfg.dir, file), cfg.policy_limits, err);
  if (!src) r.fail(line, key, err);
  return src;
}

// A kubeconfig user entry with `exec:` (credential plugin) or
// `auth-provider:` makes kubectl run a program: refused at load, whatever
// the sandbox. A line scan, so YAML and JSON forms are both caught; a false
// positive fails closed with this message.
std::string kubeconfig_runs_programs(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    for (const char* key : {"exec", "auth-provider"}) {
      const std::string k = key;
      auto b = line.find_first_not_of(" \t-");
      if (b != std::string::npos && line.compare(b, k.size() + 1, k + ":") == 0)
        return "its user entry has \"" + k + ":\"";
      if (line.find("\"" + k + "\"") != std::string::npos && line.find(':', line.find("\"" + k + "\"")) != std::string::npos)
        return "its user entry has \"" + k + "\"";
    }
  }
  return "";
}

// The keys a credential of each target type is made of: inside `credentials`
// exactly these, at the target's top level these are the credential "default".
const std::set<std::string>& credential_keys(const std::string& type) {
  static const std::set<std::string> ssh{"user", "identity", "certificate"};
  static const std::set<std::string> postgres{"user", "password_file", "passfile"};
  static const std::set<std::string> kubectl{"kubeconfig", "context"};
  return type == "ssh" ? ssh : type == "postgres" ? postgres : kubectl;
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

// Reads one credential from the table on top (a target's top level, or one
// entry of its `credentials`): the same keys, files and mode checks for both.
// `q` qualifies keys in errors ("targets.db." or "targets.db.credentials.ro.").
void load_credential(Reader& r, const Config& cfg, const std::string& type, int line, const std::string& q,
                     bool user_optional, bool check_files, HeldCredential& c) {
  auto need = [&](const char* f) {
    auto v = r.str(f, r.line_of(f, line), q);
    if (!v || v->empty()) r.fail(r.line_of(f, line), q + f, "required");
    return *v;
  };
  auto path = [&](const char* f) {
    const auto v = r.str(f, r.line_of(f, line), q);
    return v ? resolve(cfg.dir, *v) : std::string();
  };
  if (type == "kubectl") {
    c.kubeconfig = resolve(cfg.dir, need("kubeconfig"));
    c.context = r.str("context", r.line_of("context", line), q).value_or("");
    if (!check_files) return;
    read_secret(r, r.line_of("kubeconfig", line), q + "kubeconfig", c.kubeconfig, c.kubeconfig_text);
    // kubectl would run an exec credential plugin or auth provider on the bastion host.
    if (const std::string why = kubeconfig_runs_programs(c.kubeconfig_text.bytes); !why.empty())
      r.fail(r.line_of("kubeconfig", line), q + "kubeconfig",
             c.kubeconfig + ": " + why + " (credential plugins would run on the bastion host; give the target a "
             "bearer token or a client certificate)");
    return;
  }
  if (type == "postgres") {
    c.user = user_optional ? r.str("user", r.line_of("user", line), q).value_or("") : need("user");
    c.password_file = path("password_file");
    c.passfile = path("passfile");
    if (check_files && !c.password_file.empty()) {
      read_secret(r, r.line_of("password_file", line), q + "password_file", c.password_file, c.password);
      auto& pw = c.password.bytes;  // the first line is the password
      const auto eol = pw.find_first_of("\r\n");
      if (eol != std::string::npos) std::fill(pw.begin() + static_cast<std::ptrdiff_t>(eol), pw.end(), '\0'), pw.resize(eol);
    }
    if (check_files && !c.passfile.empty())
      read_secret(r, r.line_of("passfile", line), q + "passfile", c.passfile, c.passfile_text);
    return;
  }
  c.user = need("user");
  c.identity = resolve(cfg.dir, need("identity"));
  c.certificate = path("certificate");
  if (!check_files) return;
  read_secret(r, r.line_of("identity", line), q + "identity", c.identity, c.identity_key);
  // A certificate is public (the target sees it), so any mode will do; it
  // is still read once, with its key.
  if (!c.certificate.empty() && !read_file(c.certificate, c.certificate_text))
    r.fail(r.line_of("certificate", line), q + "certificate", "cannot read " + c.certificate);
}

// True when the table on top sets any of `keys`.
bool has_any(lua_State* L, const std::set<std::string>& keys) {
  for (const auto& k : keys) {
    lua_getfield(L, -1, k.c_str());
    const bool set = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (set) return true;
  }
  return false;
}

// The target's held credentials: "default" from its top-level fields (when
// it has them, or when it has no `credentials` table: then they are
// required, as before), and each entry of `credentials = { NAME = {...} }`.
void load_credentials(Reader& r, lua_State* L, const Config& cfg, TargetConfig& t, int tline, bool check_files) {
  const std::string q = "targets." + t.name + ".";
  const auto& keys = credential_keys(t.type);
  lua_getfield(L, -1, "credentials");
  const bool has_named = !lua_isnil(L, -1);
  lua_pop(L, 1);
  // A libpq service may name the user: then the default needs nothing more.
  const bool service = t.type == "postgres" && !t.postgres.service.empty();
  // kubectl's top-level `context` is also the name kubectl is given: only a
  // kubeconfig there makes a default credential.
  const bool has_default = t.type == "kubectl" ? has_any(L, {"kubeconfig"}) : has_any(L, keys);
  if (!has_named || service || has_default)
    load_credential(r, cfg, t.type, tline, q, service, check_files, t.credentials["default"]);
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
        r.fail(r.line_of(k, line), cq + "." + k, "unknown key (" + t.type + " credentials take " + key_list(keys) + ")");
    }
    load_credential(r, cfg, t.type, line, cq + ".", false, check_files, t.credentials[name]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (t.credentials.empty()) r.fail(cl, q + "credentials", "the target holds no credential");
}

void load_target(Reader& r, lua_State* L, Config& cfg, const std::string& name, int tline,
                 bool check_files) {
  const std::string q = "targets." + name + ".";
  if (!lua_istable(L, -1)) r.fail(tline, "targets." + name, "expected a table");
  TargetConfig t;
  t.name = name;
  if (name.empty() || name.find_first_of("@:/ \t") != std::string::npos)
    r.fail(tline, "targets." + name, "target names may not contain '@', ':', '/' or spaces");
  t.type = r.str("type", r.line_of("type", tline), q).value_or("");
  if (t.type != "ssh" && t.type != "postgres" && t.type != "kubectl")
    r.fail(r.line_of("type", tline), q + "type",
           "unsupported target type \"" + t.type + "\" (supported: ssh, postgres, kubectl)");
  if (t.type == "kubectl")
    r.only_keys({"type", "kubeconfig", "context", "namespace", "kubectl", "kubectl_sandbox", "bwrap", "decision_timeout",
                 "allow", "labels", "policy", "approvers", "credentials"},
                tline, q);
  else if (t.type == "ssh")
    r.only_keys({"type", "host", "port", "user", "identity", "certificate", "known_hosts", "allow",
                 "labels", "connect_timeout", "policy", "approvers", "credentials"},
                tline, q);
  else
    r.only_keys({"type", "host", "port", "dbname", "user", "password_file", "service", "passfile", "sslmode",
                 "sslrootcert", "allow", "labels", "connect_timeout", "row_limit", "statement_timeout", "policy", "approvers",
                 "credentials"},
                tline, q);
  if (auto pf = r.str("policy", r.line_of("policy", tline), q))
    t.policy = load_policy(r, cfg, r.line_of("policy", tline), q + "policy", *pf);
  t.allow = r.str_list("allow", r.line_of("allow", tline), q);
  if (t.allow.empty()) r.fail(r.line_of("allow", tline), q + "allow", "at least one principal is required");
  t.labels = r.str_map("labels", r.line_of("labels", tline), q);
  t.approvers = r.str_list("approvers", r.line_of("approvers", tline), q);
  auto need = [&](const char* f) {
    auto v = r.str(f, r.line_of(f, tline), q);
    if (!v || v->empty()) r.fail(r.line_of(f, tline), q + f, "required");
    return *v;
  };
  auto opt = [&](const char* f) { return r.str(f, r.line_of(f, tline), q).value_or(""); };
  const int timeout =
      static_cast<int>(r.integer("connect_timeout", r.line_of("connect_timeout", tline), q, 1, 300).value_or(10));
  if (t.type == "kubectl") {
    auto& k = t.kubectl;
    k.context = opt("context");
    if (auto ns = r.str("namespace", r.line_of("namespace", tline), q)) k.namespace_name = *ns;
    if (auto kc = r.str("kubectl", r.line_of("kubectl", tline), q)) k.kubectl = resolve(cfg.dir, *kc);
    k.sandbox = r.boolean("kubectl_sandbox", r.line_of("kubectl_sandbox", tline), q).value_or(true);
    if (auto bw = r.str("bwrap", r.line_of("bwrap", tline), q)) k.bwrap = resolve(cfg.dir, *bw);
    k.decision_timeout = static_cast<int>(
        r.integer("decision_timeout", r.line_of("decision_timeout", tline), q, 1, 600).value_or(30));
    load_credentials(r, L, cfg, t, tline, check_files);
    if (check_files) {
      if (access(k.kubectl.c_str(), X_OK) != 0)
        r.fail(r.line_of("kubectl", tline), q + "kubectl", k.kubectl + " is not an executable (install kubectl, "
               "e.g. Debian's kubernetes-client, or set kubectl = PATH)");
    }
    cfg.targets[name] = std::move(t);
    return;
  }
  if (t.type == "postgres") {
    auto& p = t.postgres;
    p.service = opt("service");
    p.host = p.service.empty() ? need("host") : opt("host");
    if (!p.host.empty() && p.host[0] != '/' && p.host.find_first_of(" \t=") != std::string::npos)
      r.fail(r.line_of("host", tline), q + "host", "expected a host name, an address or a socket folder");
    p.port = static_cast<int>(r.integer("port", r.line_of("port", tline), q, 1, 65535).value_or(5432));
    p.dbname = p.service.empty() ? need("dbname") : opt("dbname");
    if (auto f = r.str("sslrootcert", r.line_of("sslrootcert", tline), q)) p.sslrootcert = resolve(cfg.dir, *f);
    p.sslmode = opt("sslmode");
    if (!p.sslmode.empty() &&
        !std::set<std::string>{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}.count(p.sslmode))
      r.fail(r.line_of("sslmode", tline), q + "sslmode",
             "expected disable, allow, prefer, require, verify-ca or verify-full");
    p.connect_timeout = timeout;
    p.row_limit = r.integer("row_limit", r.line_of("row_limit", tline), q, 0, int64_t{1} << 40).value_or(100000);
    p.statement_timeout = static_cast<int>(
        r.integer("statement_timeout", r.line_of("statement_timeout", tline), q, 0, 7 * 86400).value_or(0));
    load_credentials(r, L, cfg, t, tline, check_files);
    cfg.targets[name] = std::move(t);
    return;
  }
  auto& s = t.ssh;
  s.host = need("host");
  s.port = static_cast<int>(r.integer("port", r.line_of("port", tline), q, 1, 65535).value_or(22));
  s.connect_timeout = timeout;
  s.known_hosts = resolve(cfg.dir, need("known_hosts"));
  load_credentials(r, L, cfg, t, tline, check_files);
  if (check_files) check_readable(r, r.line_of("known_hosts", tline), q + "known_hosts", s.known_hosts);
  cfg.targets[name] = std::move(t);
}

void load_limits(Reader& r, Config& cfg) {
  const int l = r.line_of("limits");
  const std::string q = "limits.";
  r.only_keys({"max_sessions", "max_sessions_per_identity", "login_grace_time", "idle_timeout",
               "max_session_length", "recording_max_bytes", "max_channels_per_session", "max_startups",
               "per_source_max_startups", "per_source_penalties", "per_source_penalty_exempt"},
              l, q);
  auto& lim = cfg.limits;
  auto get = [&](const char* f, int64_t lo, int64_t hi, auto& dst) {
    if (auto v = r.integer(f, r.line_of(f, l), q, lo, hi)) dst = static_cast<std::remove_reference_t<decltype(dst)>>(*v);
  };
  get("max_sessions", 1, 100000, lim.max_sessions);
  get("max_sessions_per_identity", 1, 100000, lim.max_sessions_per_identity);
  get("login_grace_time", 1, 600, lim.login_grace_time);
  get("idle_timeout", 0, 7 * 86400, lim.idle_timeout);
  get("max_session_length", 0, 30 * 86400, lim.max_session_length);
  get("recording_max_bytes", 0, int64_t{1} << 50, lim.recording_max_bytes);
  get("max_channels_per_session", 1, 1000, lim.max_channels_per_session);
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
    if (!p) return;
    out.push_back(p->path);
    for (const auto& [name, text] : p->modules) out.push_back(p->dir + "/" + name + ".lua");
  };
  add(policy);
  for (const auto& [name, t] : targets) add(t.policy);
  return out;
}

std::shared_ptr<const Config> load_config(const std::string& path, std::string& error,
                                          bool check_files) {
  std::string src;
  if (!read_file(path, src)) {
    error = path + ": cannot open config file";
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
  push_sandbox_env(L);
  lua_pushvalue(L, -1);
  lua_insert(L, -3);                 // env, chunk, env
  lua_setupvalue(L, -2, 1);          // chunk's _ENV = env
  if (!lua.call(0, 0, kConfigBudget, err)) {
    error = err.starts_with(path + ":") ? err : path + ": " + err;
    return nullptr;
  }
  // Stack: env
  Reader r(L, path, src);
  try {
    r.only_keys({"user", "listen", "host_keys", "user_ca_keys", "revoked_keys", "data_dir", "log_format",
                 "log_level", "cert_clock_skew", "cert_max_ttl", "record_input", "on_recording_failure", "limits",
                 "targets", "policy", "policy_default", "policy_limits", "approvals"},
                1, "");
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
    for (auto& k : r.str_list("host_keys", hl, "")) c.host_keys.push_back(resolve(c.dir, k));
    if (c.host_keys.empty()) r.fail(hl, "host_keys", "at least one host key is required");
    const int cl = r.line_of("user_ca_keys");
    for (auto& k : r.str_list("user_ca_keys", cl, "")) c.user_ca_key_files.push_back(resolve(c.dir, k));
    if (c.user_ca_key_files.empty()) r.fail(cl, "user_ca_keys", "at least one CA public key file is required");
    for (auto& f : c.user_ca_key_files) {
      std::string e;
      if (!load_public_keys(f, c.user_cas, e)) r.fail(cl, "user_ca_keys", e);
    }
    if (c.user_cas.empty()) r.fail(cl, "user_ca_keys", "no CA keys found in the listed files");
    const int rl = r.line_of("revoked_keys");
    if (auto rk = r.str("revoked_keys", rl, "")) {
      c.revoked_keys_file = resolve(c.dir, *rk);
      auto rev = std::make_shared<RevocationList>();
      std::string e;
      if (!rev->load(c.revoked_keys_file, e)) r.fail(rl, "revoked_keys", e);
      c.revoked = rev;
    }
    const int dl = r.line_of("data_dir");
    c.data_dir = resolve(c.dir, r.str("data_dir", dl, "").value_or("data"));
    const int fl = r.line_of("log_format");
    c.log_format = r.str("log_format", fl, "").value_or("text");
    if (c.log_format != "text" && c.log_format != "json") r.fail(fl, "log_format", "expected \"text\" or \"json\"");
    const int lvl = r.line_of("log_level");
    c.log_level = r.str("log_level", lvl, "").value_or("info");
    if (!std::set<std::string>{"trace", "debug", "info", "warn", "error"}.count(c.log_level))
      r.fail(lvl, "log_level", "expected trace, debug, info, warn or error");
    c.cert_clock_skew = r.integer("cert_clock_skew", r.line_of("cert_clock_skew"), "", 0, 3600).value_or(60);
    c.cert_max_ttl = r.integer("cert_max_ttl", r.line_of("cert_max_ttl"), "", 60, 365 * 86400).value_or(86400);
    c.record_input = r.boolean("record_input", r.line_of("record_input"), "").value_or(false);
    const int ol = r.line_of("on_recording_failure");
    const std::string orf = r.str("on_recording_failure", ol, "").value_or("close");
    if (orf != "close" && orf != "continue") r.fail(ol, "on_recording_failure", "expected \"close\" or \"continue\"");
    c.close_on_recording_failure = orf == "close";

    lua_getfield(L, -1, "policy_limits");
    if (lua_istable(L, -1)) {
      const int pl = r.line_of("policy_limits");
      r.only_keys({"memory_mb", "time_ms"}, pl, "policy_limits.");
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
    const int pol = r.line_of("policy");
    if (auto pf = r.str("policy", pol, "")) c.policy = load_policy(r, c, pol, "policy", *pf);

    lua_getfield(L, -1, "approvals");
    if (lua_istable(L, -1)) {
      const int al = r.line_of("approvals");
      const std::string q = "approvals.";
      r.only_keys({"target", "access_target", "timeout", "request_ttl", "max_grant", "webhook"}, al, q);
      auto& a = c.approvals;
      a.target = r.str("target", r.line_of("target", al), q).value_or(a.target);
      a.access_target = r.str("access_target", r.line_of("access_target", al), q).value_or(a.access_target);
      a.timeout = static_cast<int>(r.integer("timeout", r.line_of("timeout", al), q, 1, 7 * 86400).value_or(a.timeout));
      a.request_ttl = static_cast<int>(r.integer("request_ttl", r.line_of("request_ttl", al), q, 1, 30 * 86400).value_or(a.request_ttl));
      a.max_grant = static_cast<int>(r.integer("max_grant", r.line_of("max_grant", al), q, 60, 30 * 86400).value_or(a.max_grant));
      a.webhook = r.str("webhook", r.line_of("webhook", al), q).value_or("");
      if (a.target == a.access_target) r.fail(al, q + "access_target", "must differ from approvals.target");
    } else if (!lua_isnil(L, -1)) {
      r.fail(r.line_of("approvals"), "approvals", "expected a table");
    }
    lua_pop(L, 1);

    lua_getfield(L, -1, "limits");
    if (lua_istable(L, -1)) load_limits(r, c);
    else if (!lua_isnil(L, -1)) r.fail(r.line_of("limits"), "limits", "expected a table");
    lua_pop(L, 1);

    const int tl = r.line_of("targets");
    lua_getfield(L, -1, "targets");
    if (!lua_istable(L, -1)) r.fail(tl, "targets", "expected a table of targets");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING) r.fail(tl, "targets", "target names must be strings");
      const std::string name = lua_tostring(L, -2);
      load_target(r, L, c, name, r.line_of(name, tl), check_files);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (c.targets.empty()) r.fail(tl, "targets", "no targets defined");
    for (const auto& reserved : {c.approvals.target, c.approvals.access_target})
      if (c.targets.count(reserved))
        r.fail(r.line_of(reserved, tl), "targets." + reserved, "this name is reserved (see approvals.target / approvals.access_target)");
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
