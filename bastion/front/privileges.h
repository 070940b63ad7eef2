// Privilege separation of the one bastiond process: what needs root (the
// listening socket on a low port, host keys, held credentials read at load)
// happens first, then the process becomes the configured unprivileged user
// for good. Core dumps are off from the start so no credential reaches a core
// file, and the process is not dumpable so same-user processes cannot ptrace it.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/unix_user.h"
#include "config/config.h"

namespace bastion {

// RLIMIT_CORE 0 (hard and soft) and PR_SET_DUMPABLE 0. Call before any
// credential is read.
bool disable_core_dumps(std::string& error);

// What `user` needs of data_dir, checked as that user (in a short-lived child
// that takes the user's identity): data_dir writable, and audit.db, mask.key
// and recordings/ (when they exist) usable. Empty when fine.
std::string data_dir_problem(const Config& cfg, const UnixUser& user);

// What `bastiond --check` reports about `user`: missing user, started as
// another non-root user, data_dir not usable by the user.
std::vector<std::string> run_as_problems(const Config& cfg);

// Before binding: decides who bastiond will run as. Empty `drop_to` means
// stay as started (no `user`, or `user` is the user already running). As
// root with `user`, creates data_dir owned by the user when missing, and
// refuses a data_dir the user cannot write. Started as another non-root
// user with `user` set: an error.
bool plan_privilege_drop(const Config& cfg, std::optional<UnixUser>& drop_to, std::string& error);

// After binding: groups, gid, uid (in that order), then verifies that root
// cannot be regained and that all four ids are the user's. Also clears any
// capability left (e.g. CAP_NET_BIND_SERVICE given by systemd) when no uid
// change is needed.
bool drop_privileges(const std::optional<UnixUser>& drop_to, std::string& error);

}  // namespace bastion
