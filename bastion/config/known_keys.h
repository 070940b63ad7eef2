// Every key bastion.conf(5) knows outside a target, in one place: the loader
// refuses any other key and suggests the nearest of these for a typo. A new
// key is added here (and read in config_loader.cpp, documented in the page).
// A target's keys are its kind's (TargetSchema::keys) plus target_common_keys.
#pragma once
#include <set>
#include <string>

namespace bastion::known_keys {

const std::set<std::string>& top_level();
const std::set<std::string>& limits();
const std::set<std::string>& approvals();
const std::set<std::string>& policy_limits();
const std::set<std::string>& recordings_store();
// What every target takes, whatever its kind.
const std::set<std::string>& target_common();

}  // namespace bastion::known_keys
