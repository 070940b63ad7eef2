// Deeper checks for `bastiond --check`: every key file actually loads, and
// private keys are not readable by others. Returns one message per problem.
#pragma once
#include <string>
#include <vector>

#include "config/config.h"

namespace bastion {

std::vector<std::string> check_config_files(const Config& cfg);

}  // namespace bastion
