// limits.max_startups: OpenSSH's MaxStartups "start:rate:full" (or "N").
#pragma once
#include <string>
#include <string_view>

namespace bastion {

// Beyond `start` unauthenticated connections, a new one is refused with
// probability rate% rising linearly to 100% at `full`. "N" is "N:100:N".
// The default starts dropping at 30, three times per_source_max_startups'
// default, so no single source (and no two) can make others' connections
// drop; OpenSSH's own default, 10:30:100, lets one source do it.
struct MaxStartups {
  int start = 30;
  int rate = 30;
  int full = 100;
  bool operator==(const MaxStartups&) const = default;
};

// Accepts "N" or "START:RATE:FULL" with 1 <= START < FULL <= 100000 and
// 1 <= RATE <= 100 (N in 1..100000). On failure returns false and says why.
bool parse_max_startups(std::string_view s, MaxStartups& out, std::string& why);

}  // namespace bastion
