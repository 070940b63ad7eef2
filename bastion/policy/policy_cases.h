// Table-driven policy tests for admins (`bastionctl policy test --cases`):
// a Lua data file listing requests and the decisions expected for them.
#pragma once
#include <ostream>
#include <string>

#include "policy/command_parser.h"

namespace bastion {

// Runs every case against the policy file; prints each mismatch to `out`.
// A case's command of a kind `parser` knows gets that kind's facts (its
// other string and boolean fields are the parser's options). Returns the
// number of failures, or -1 (with `error`) when a file is broken.
int run_policy_cases(const std::string& policy_file, const std::string& cases_file, const CommandParser& parser,
                     std::ostream& out, std::string& error);

}  // namespace bastion
