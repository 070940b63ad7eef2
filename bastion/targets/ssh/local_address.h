// The bastion's own address on a connected socket (getsockname), as
// OpenSSH's source-address critical option names it.
#pragma once
#include <string>

namespace bastion {

// "127.0.0.1", "2001:db8::1" (an IPv4-mapped IPv6 address as IPv4, as the
// target's sshd sees it); empty when the socket has no IP address.
std::string socket_local_address(int fd);

}  // namespace bastion
