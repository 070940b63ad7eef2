// Whether a web session (or a login link being redeemed) may still read:
// the checks an SSH login of the same certificate would meet now, against
// the current config, from the HTTP client's address.
#pragma once
#include <cstdint>
#include <string>

#include "config/config.h"
#include "web/web_auth.h"

namespace bastion {

// Empty when `s` may go on; otherwise why not. The certificate is verified
// again (CA still trusted, not revoked, within its validity, and its
// source-address, if any, admits `peer`) and must still hold one of
// auditor_principals.
std::string web_access_refusal(const WebSession& s, const Config& cur, int64_t now, const std::string& peer);

}  // namespace bastion
