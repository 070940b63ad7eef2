// Static checks of a loaded policy for `bastionctl policy check`: what would
// load fine yet never do what its author meant (a misspelled hook, no hook
// at all, a column mask method the mask spec refuses at decision time, a
// review with no approvers of its own).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "common/closest_name.h"  // edit_distance, for the hook and case-field suggestions
#include "policy/policy_source.h"

namespace bastion {

// Hook problems among the script's own global functions: none of the
// hooks defined, or a name that is not a hook but close to one
// ("unknown hook on_comand; did you mean on_command?").
std::vector<std::string> hook_problems(const std::vector<std::string>& script_functions);

// Where a Lua text calls review (review{...}, review(...), review "..."),
// and whether the call names its own approvers.
struct ReviewCall {
  int line = 0;
  bool names_approvers = false;
  // `approvers = NAME` with NAME neither a local nor a global this text
  // assigns: most likely nil at run time (a review with no approvers), but
  // a static read cannot tell. Empty otherwise.
  std::string unseen_approvers_variable;
};

// What a static read of one Lua text finds: its review calls, and mask
// column methods written as string literals that are not valid
// ("FILE:LINE: mask column method \"x\" is not full, hash or last:N").
struct LuaTextScan {
  std::vector<ReviewCall> reviews;
  std::vector<std::string> mask_problems;
};
LuaTextScan scan_policy_text(const std::string& text, const std::string& file);

// All of the above for a loaded policy (its text and its modules'), with
// `functions` its script_functions(). Problems as "FILE: ..." lines.
std::vector<std::string> lint_policy(const PolicySource& src, const std::vector<std::string>& functions);

// The review calls of a policy and its modules, as "FILE:LINE", that name
// no approvers (so the target's approvers decide).
std::vector<std::string> reviews_without_approvers(const PolicySource& src);

// Warnings, not errors: "FILE:LINE: approvers is a variable the checker
// cannot see (NAME); make sure it names principals".
std::vector<std::string> review_approver_warnings(const PolicySource& src);

}  // namespace bastion
