#include "targets/ssh/local_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace bastion {

std::string socket_local_address(int fd) {
  if (fd < 0) return {};
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    if (!inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf)) return {};
  } else if (ss.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    const bool mapped = IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr);
    if (!inet_ntop(mapped ? AF_INET : AF_INET6, mapped ? static_cast<const void*>(&a6->sin6_addr.s6_addr[12])
                                                       : static_cast<const void*>(&a6->sin6_addr),
                   buf, sizeof buf))
      return {};
  } else {
    return {};
  }
  return buf;
}

}  // namespace bastion
