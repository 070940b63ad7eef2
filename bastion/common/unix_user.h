// A Unix user as the user database gives it, with its groups: the account
// bastiond runs as (checked when the config is loaded, taken at start).
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace bastion {

struct UnixUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, the primary one included
};

// Looks `name` up in the user database, with its groups.
std::optional<UnixUser> find_user(const std::string& name, std::string& error);

}  // namespace bastion
