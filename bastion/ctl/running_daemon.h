// Finding a running bastiond's control socket from its pid (bastionctl
// status|reload --pid, and --config's fallback): the Unix stream sockets the
// process listens on, matched by inode between /proc/PID/fd and
// /proc/PID/net/unix. Reading another process's fds takes root or its user
// (bastiond is not dumpable: root, in practice).
#pragma once
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace bastion {

// The paths of listening stream sockets in /proc/net/unix text whose inode
// is in `inodes` (abstract and unnamed sockets left out).
std::vector<std::string> listening_unix_paths(const std::string& proc_net_unix, const std::set<unsigned long>& inodes);

// The paths of the Unix stream sockets `pid` listens on; empty with `error`
// when /proc cannot tell.
std::vector<std::string> listening_unix_sockets(pid_t pid, std::string& error);

// Running processes whose executable is named bastiond.
std::vector<pid_t> running_bastionds();

// `path` as process `pid` meant it: a relative one against its working
// directory (left relative if that cannot be read); then canonical if it
// exists.
std::string path_of(pid_t pid, const std::string& path);

}  // namespace bastion
