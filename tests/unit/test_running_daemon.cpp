// bastionctl --pid: the listening Unix stream sockets of a process, from
// /proc/PID/net/unix text and the socket inodes of its fds.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "ctl/running_daemon.h"

using namespace bastion;

TEST_CASE("running daemon: only listening, named stream sockets of the process") {
  const std::string text =
      "Num       RefCount Protocol Flags    Type St Inode Path\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 1001 /run/bastion/bastiond.sock\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 1002 /tmp/other process.sock\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 1003 /run/bastion/bastiond.sock\n"
      "0000000000000000: 00000002 00000000 00010000 0002 01 1004 /run/dgram.sock\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 1005 @abstract\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 1006\n"
      "garbage\n"
      "0000000000000000: 00000002 00000000 zz 0001 01 1007 /x.sock\n";
  CHECK(listening_unix_paths(text, {1001, 1003, 1004, 1005, 1006, 1007}) ==
        std::vector<std::string>{"/run/bastion/bastiond.sock"});
  CHECK(listening_unix_paths(text, {1002}) == std::vector<std::string>{"/tmp/other process.sock"});
  CHECK(listening_unix_paths(text, {}).empty());
}

TEST_CASE("running daemon: a process with no listening socket is named") {
  std::string error;
  CHECK(listening_unix_sockets(getpid(), error).empty());
  CHECK(error == "process " + std::to_string(getpid()) + " listens on no Unix socket");
}
