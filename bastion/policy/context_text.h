// The context table a policy's on_command receives (`c`), as readable lines
// ("c.parts[1].argv = { "rm", "-rf", "/" }"), built by the very code the
// hooks get it from; printed by `bastionctl policy test`.
#pragma once
#include <string>
#include <vector>

#include "policy/policy.h"

namespace bastion {

// One line per field, sorted by path; strings between double quotes, as
// they are (the caller escapes each line for the terminal). Empty on failure.
std::vector<std::string> command_context_lines(const CommandRequest& req);

}  // namespace bastion
