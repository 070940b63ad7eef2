#include "admission/startup_limits.h"

#include <arpa/inet.h>

#include <cstring>

namespace bastion {

int startup_drop_percent(const MaxStartups& m, int unauthenticated) {
  if (unauthenticated >= m.full) return 100;
  if (unauthenticated < m.start) return 0;
  // full > start here (parse_max_startups guarantees it when start < full,
  // and "N" has start == full, handled above).
  return m.rate + (100 - m.rate) * (unauthenticated - m.start) / (m.full - m.start);
}

bool startup_dropped(const MaxStartups& m, int unauthenticated, unsigned random_below_100) {
  return random_below_100 < static_cast<unsigned>(startup_drop_percent(m, unauthenticated));
}

std::string source_group(const std::string& peer) {
  in6_addr a6{};
  if (inet_pton(AF_INET6, peer.c_str(), &a6) != 1) return peer;  // IPv4 (or unknown) as is
  char buf[INET6_ADDRSTRLEN] = {};
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    in_addr a4{};
    std::memcpy(&a4, a6.s6_addr + 12, 4);
    return inet_ntop(AF_INET, &a4, buf, sizeof buf) ? buf : peer;
  }
  std::memset(a6.s6_addr + 8, 0, 8);
  return inet_ntop(AF_INET6, &a6, buf, sizeof buf) ? std::string(buf) + "/64" : peer;
}

}  // namespace bastion
