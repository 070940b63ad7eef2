// Pre-authentication limits (OpenSSH's MaxStartups and PerSourceMaxStartups):
// the pure arithmetic, so it can be tested without sockets.
#pragma once
#include <string>

#include "config/max_startups.h"

namespace bastion {

// Chance in percent (0..100) that a new connection is refused while
// `unauthenticated` others are open: 0 below start, rate at start, rising
// linearly to 100 at full (OpenSSH's drop_connection()).
int startup_drop_percent(const MaxStartups& m, int unauthenticated);

// The decision for one connection, given a uniform random number in [0, 100).
bool startup_dropped(const MaxStartups& m, int unauthenticated, unsigned random_below_100);

// What counts as one source for per_source_max_startups: an IPv4 address
// (IPv4-mapped IPv6 too), or an IPv6 /64 (one host usually holds a whole
// /64, so counting single addresses would not limit it). Anything else is
// returned unchanged.
std::string source_group(const std::string& peer);

}  // namespace bastion
