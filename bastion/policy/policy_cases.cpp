#include "policy/policy_cases.h"

#include <algorithm>
#include <iterator>
#include <set>

#include <ctime>

#include "common/display_escape.h"
#include "common/file_util.h"
#include "lua/sandboxed_lua.h"
#include "policy/policy_chain.h"
#include "policy/policy_lint.h"

namespace bastion {
namespace {

std::string field_str(lua_State* L, const char* k, const std::string& dflt = "") {
  lua_getfield(L, -1, k);
  std::string v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : dflt;
  lua_pop(L, 1);
  return v;
}

std::vector<std::string> field_list(lua_State* L, const char* k) {
  std::vector<std::string> out;
  lua_getfield(L, -1, k);
  if (lua_type(L, -1) == LUA_TSTRING) out.emplace_back(lua_tostring(L, -1));
  else if (lua_istable(L, -1))
    for (lua_Integer i = 1; i <= static_cast<lua_Integer>(lua_rawlen(L, -1)); ++i) {
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) == LUA_TSTRING) out.emplace_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  lua_pop(L, 1);
  return out;
}

std::map<std::string, std::string> field_map(lua_State* L, const char* k) {
  std::map<std::string, std::string> out;
  lua_getfield(L, -1, k);
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) out[lua_tostring(L, -2)] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return out;
}

// The fields every case may have; a command's parser reads more (its options).
constexpr const char* kCaseFields[] = {"name",  "identity", "principals", "source_address", "target",
                                       "target_type", "labels", "time", "tty", "hook", "expect", "reason",
                                       "credential", "kind", "command", "columns"};

bool common_field(const std::string& k) {
  return std::any_of(std::begin(kCaseFields), std::end(kCaseFields), [&](const char* f) { return k == f; });
}

// "; did you mean F?" for a misspelt field, by the same rule as config keys
// (common/closest_name).
std::string nearest_field(const std::string& key, const std::set<std::string>& known) {
  std::set<std::string> all(std::begin(kCaseFields), std::end(kCaseFields));
  all.insert(known.begin(), known.end());
  const auto best = closest_name(key, all);
  return best ? "; did you mean " + *best + "?" : "";
}

// The case's other fields, for the command's parser: strings as written,
// false as "false", any other value (true, 1, a table) as "true", as Lua
// reads it in a condition. A field neither common nor one of `known` is a
// misspelling (a case that silently tests something else): named in `bad`.
CommandOptions field_options(lua_State* L, const std::set<std::string>& known, std::string& bad) {
  CommandOptions out;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      if (bad.empty()) bad = "a value without a field name";
    } else {
      const std::string key = lua_tostring(L, -2);
      if (!common_field(key) && !known.count(key) && bad.empty())
        bad = "unknown field \"" + key + "\"" + nearest_field(key, known);
      if (lua_type(L, -1) == LUA_TSTRING) out[key] = lua_tostring(L, -1);
      else out[key] = lua_toboolean(L, -1) ? "true" : "false";
    }
    lua_pop(L, 1);
  }
  return out;
}

// "2026-11-30T10:00:00Z" -> unix seconds; 0 when absent or malformed.
int64_t parse_time(const std::string& s) {
  std::tm tm{};
  if (s.empty() || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string join_names(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

int run_policy_cases(const std::string& policy_file, const std::string& cases_file, const CommandParser& parser,
                     std::ostream& out, std::string& error) {
  auto src = load_policy_source(policy_file, PolicyLimits{}, error);
  if (!src) return -1;
  std::string text;
  if (!read_file(cases_file, text)) return error = cases_file + ": cannot open", -1;
  SandboxedLua lua(16 << 20);
  lua_State* L = lua.get();
  luaL_requiref(L, "_G", luaopen_base, 1);
  luaL_requiref(L, "string", luaopen_string, 1);
  lua_settop(L, 0);
  if (!lua.load_text(text, "@" + cases_file, error) || !lua.call(0, 0, std::chrono::milliseconds(1000), error))
    return -1;
  lua_getglobal(L, "cases");
  if (!lua_istable(L, -1)) return error = cases_file + ": expected a global table `cases`", -1;

  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
  // Every case's fields first: a misspelt one refuses the file before any
  // case runs (no half-run with results that look meaningful).
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, -1, i);
    if (!lua_istable(L, -1)) return error = cases_file + ": case " + std::to_string(i) + " is not a table", -1;
    const std::string name = field_str(L, "name", "case " + std::to_string(i));
    const std::string kind = field_str(L, "kind", "exec");
    std::string bad;
    const std::set<std::string> known = parser.option_names(kind);
    field_options(L, known, bad);
    lua_pop(L, 1);
    if (!bad.empty())
      return error = cases_file + ": case " + std::to_string(i) + " (" + name + "): " + bad +
                     (known.empty() ? "" : " (kind " + kind + " also takes: " + join_names(known) + ")"),
             -1;
  }
  int failures = 0, total = 0;
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, -1, i);
    ++total;
    const std::string name = field_str(L, "name", "case " + std::to_string(i));
    SessionRequest s;
    s.session_id = "test";
    s.identity = field_str(L, "identity", "alice");
    s.principals = field_list(L, "principals");
    s.source_address = field_str(L, "source_address", "127.0.0.1");
    s.target = field_str(L, "target", "web1");
    s.target_type = field_str(L, "target_type", parser.default_target_type());
    s.target_labels = field_map(L, "labels");
    s.now = parse_time(field_str(L, "time"));
    lua_getfield(L, -1, "tty");
    s.tty = lua_toboolean(L, -1);
    lua_pop(L, 1);
    const std::string hook = field_str(L, "hook", "on_command");
    const std::string expect = field_str(L, "expect");
    const std::string reason = field_str(L, "reason");
    // on_session: the credential the decision must choose; on_command: the
    // one the session connected with (c.session.credential), as in a session.
    const std::string case_credential = field_str(L, "credential");
    const std::string want_credential = hook == "on_session" ? case_credential : "";
    if (hook != "on_session") s.credential = case_credential.empty() ? "default" : case_credential;
    const std::string kind = field_str(L, "kind", "exec");
    const std::string command = field_str(L, "command");
    std::string unused;  // checked above
    const CommandOptions options = field_options(L, parser.option_names(kind), unused);
    lua_getfield(L, -1, "columns");
    const bool check_columns = lua_istable(L, -1);
    lua_pop(L, 1);
    const std::vector<std::string> columns = field_list(L, "columns");
    lua_pop(L, 1);

    std::string err;
    auto chain = PolicyChain::create(src, nullptr, Decision::Verdict::deny, err);
    if (!chain) return error = err, -1;
    CommandRequest req{.session = s, .kind = kind, .text = command};
    std::string refusal;
    if (const auto parsed = parser.parse(kind, command, options)) {
      req.text = parsed->text;
      req.facts = parsed->facts;
      refusal = parsed->refusal;
    }
    Decision d = hook == "on_session" ? chain->decide_session(s) : chain->decide(req);
    if (!refusal.empty()) d = Decision::deny(refusal);  // the bastion refuses before any policy
    const bool verdict_ok = d.name() == expect;
    const bool reason_ok = reason.empty() || d.reason.find(reason) != std::string::npos;
    const std::string got_credential = d.credential.empty() ? "default" : d.credential;
    if (!want_credential.empty() && verdict_ok && want_credential != got_credential) {
      ++failures;
      out << "FAIL " << display_escape(name) << ": expected credential " << display_escape(want_credential)
          << ", got " << display_escape(got_credential) << "\n";
      continue;
    }
    std::vector<std::string> masked;
    for (const auto& c : d.column_masks) masked.push_back(c.table.empty() ? c.column : c.table + "." + c.column);
    std::sort(masked.begin(), masked.end());
    std::vector<std::string> want = columns;
    std::sort(want.begin(), want.end());
    if (check_columns && masked != want) {
      ++failures;
      std::string got;
      for (const auto& m : masked) got += (got.empty() ? "" : ", ") + m;
      out << "FAIL " << display_escape(name) << ": masked columns are {" << display_escape(got) << "}\n";
      continue;
    }
    if (!verdict_ok || !reason_ok) {
      ++failures;
      out << "FAIL " << display_escape(name) << ": expected " << display_escape(expect)
          << (reason.empty() ? "" : " (\"" + display_escape(reason) + "\")") << ", got " << d.name()
          << (d.reason.empty() ? "" : " (\"" + display_escape(d.reason) + "\")")
          << (d.source.empty() ? "" : " at " + display_escape(d.source)) << "\n";
    }
  }
  out << (total - failures) << " passed, " << failures << " failed\n";
  return failures;
}

}  // namespace bastion
