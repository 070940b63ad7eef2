// What a user is told about their own certificate's refusal (the userauth
// banner, auth_failure_detail = "reason"): one line per problem, times in
// UTC to the minute. Pure; the caller decides when the user may be told.
#pragma once
#include <string>
#include <vector>

#include "auth/cert_verifier.h"

namespace bastion {

// The default renew_hint: names the tool and the usual way, no site detail.
inline constexpr const char* kDefaultRenewHint = "renew it with ssh-keygen -s, or ask your certificate authority";

// "2026-11-29 20:33Z" (seconds dropped; out-of-range times clamp).
std::string utc_minute(uint64_t unix_seconds);

// Each line ends in "\n"; the hint and the certificate's own fields are
// display-escaped (one line each, whatever they hold).
std::string cert_problem_lines(const std::vector<CertProblem>& problems, const std::string& renew_hint);

}  // namespace bastion
