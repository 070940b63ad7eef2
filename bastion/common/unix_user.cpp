#include "common/unix_user.h"

#include <grp.h>
#include <pwd.h>

#include <cstring>

namespace bastion {

std::optional<UnixUser> find_user(const std::string& name, std::string& error) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return error = "cannot look up user \"" + name + "\": " + std::strerror(rc), std::nullopt;
  if (!found) return error = "no such user \"" + name + "\" (create it, e.g. useradd --system " + name + ")", std::nullopt;
  UnixUser u{name, pw.pw_uid, pw.pw_gid, {}};
  int n = 64;
  for (int tries = 0; tries < 4; ++tries) {
    u.groups.resize(static_cast<std::size_t>(n));
    if (getgrouplist(name.c_str(), u.gid, u.groups.data(), &n) >= 0) {
      u.groups.resize(static_cast<std::size_t>(n));
      return u;
    }
  }
  return error = "cannot list the groups of user \"" + name + "\"", std::nullopt;
}

}  // namespace bastion
