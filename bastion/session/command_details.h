// What the command source parsed (kubectl fields, SQL facts), as the JSON
// the audit row's `details` column holds; empty when it parsed nothing.
#pragma once
#include <string>

#include "policy/policy.h"

namespace bastion {

std::string command_details(const CommandRequest& req);

}  // namespace bastion
