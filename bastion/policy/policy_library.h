// What a policy script can see: the sandboxed standard library, the decision
// helpers (allow, deny, review), the bastion.* library, import(), and the
// read-only context tables passed to the hooks.
#pragma once
#include <string>
#include <string_view>

#include <lua.hpp>

#include "policy/policy.h"

namespace bastion {

// Opens base (without load, loadfile, dofile, require, collectgarbage,
// rawset, print), string (without dump; pattern functions cost-guarded),
// table, math, utf8; adds the helpers and the bastion library.
void open_policy_sandbox(lua_State* L);

void push_session_context(lua_State* L, const SessionRequest& req);
void push_command_context(lua_State* L, const CommandRequest& req);
// Builds the fields of the command context at `idx` that are built on first
// use (its shell fields), for readers that see the tables raw. May raise.
void complete_context(lua_State* L, int idx);

// Converts a value returned by a hook into a Decision; false + error when it
// is not one made by allow()/deny()/review() or its arguments are invalid.
bool decision_from_lua(lua_State* L, int idx, Decision& out, std::string& error);

// "" when `pattern` compiles as a mask pattern (with the memory bound the
// masking filter uses, as a decision checks it), else RE2's error.
std::string mask_pattern_error(const std::string& pattern);

// Worst-case step estimate for Lua pattern matching, exposed for tests.
double pattern_cost(std::string_view subject, std::string_view pattern);
constexpr double kMaxPatternCost = 5e7;

std::string sha256_hex(std::string_view data);

// A column mask method as mask.columns spells it: "full", "hash", "last:N"
// (N 0..999); false when it is none of them. Shared with `policy check`.
bool parse_column_mask_method(const std::string& m, ColumnMaskRule& r);

}  // namespace bastion
