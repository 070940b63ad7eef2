// Deeper checks for `bastiond --check`: every key file actually loads, and
// private keys are not readable by others. Returns one message per problem.
#pragma once
#include <string>
#include <vector>

#include "config/config.h"

namespace bastion {

std::vector<std::string> check_config_files(const Config& cfg);
// Worth saying, not failing: e.g. a program a target kind runs is not the
// version the bastion's tables for it were generated from.
std::vector<std::string> check_config_warnings(const Config& cfg);

}  // namespace bastion
