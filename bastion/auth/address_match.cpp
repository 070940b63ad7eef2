#include "auth/address_match.h"
#include "common/parse_number.h"

#include <cstring>

#include <arpa/inet.h>

namespace bastion {
namespace {

struct Addr {
  int family = 0;
  unsigned char bytes[16] = {};
};

bool parse_addr(std::string_view s, Addr& a) {
  const std::string str(s);
  if (inet_pton(AF_INET, str.c_str(), a.bytes) == 1) return a.family = AF_INET, true;
  if (inet_pton(AF_INET6, str.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
    // Treat IPv4-mapped IPv6 peers as IPv4.
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes, mapped, 12) == 0) {
      std::memmove(a.bytes, a.bytes + 12, 4);
      a.family = AF_INET;
    }
    return true;
  }
  return false;
}

bool prefix_match(const Addr& a, const Addr& net, int bits) {
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a.bytes[i] & mask) != (net.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace

int address_in_cidr_list(std::string_view peer, std::string_view list) {
  Addr p;
  if (!parse_addr(peer, p)) return 0;
  bool match = false;
  while (true) {
    const std::size_t comma = list.find(',');
    std::string_view entry = list.substr(0, comma);
    Addr net;
    const std::size_t slash = entry.find('/');
    if (!parse_addr(entry.substr(0, slash), net)) return -1;
    const int max_bits = net.family == AF_INET ? 32 : 128;
    int bits = max_bits;
    if (slash != std::string_view::npos) {
      const auto b = parse_unsigned(entry.substr(slash + 1), 0, static_cast<uint64_t>(max_bits));
      if (!b) return -1;
      bits = static_cast<int>(*b);
    }
    if (net.family == p.family && prefix_match(p, net, bits)) match = true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return match ? 1 : 0;
}

bool is_loopback_address(std::string_view host) {
  if (host == "localhost") return true;
  return address_in_cidr_list(host, "127.0.0.0/8,::1/128") == 1;
}

}  // namespace bastion
