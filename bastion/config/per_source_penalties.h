// limits.per_source_penalties: OpenSSH's PerSourcePenalties. A source whose
// connections end without authenticating collects penalty seconds; once its
// outstanding penalty reaches `min`, its new connections are refused at
// accept until the penalty has run out.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

struct PerSourcePenalties {
  bool enabled = true;
  int authfail = 5;        // a connection that offered credentials and was refused
  int noauth = 1;          // a connection that closed without trying to log in
  int grace_exceeded = 10; // a connection that ran out of login_grace_time
  int max = 600;           // outstanding penalty is capped here
  int min = 15;            // refusals start once the penalty reaches this
  bool operator==(const PerSourcePenalties&) const = default;
};

// Accepts "no", "yes" (the defaults) or space-separated KEY:SECONDS with keys
// authfail, noauth, grace-exceeded, max, min (each 0..86400; min <= max).
// Unknown keys and malformed values are refused with the reason in `why`.
bool parse_per_source_penalties(std::string_view s, PerSourcePenalties& out, std::string& why);

}  // namespace bastion
