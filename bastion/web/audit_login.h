// The reserved target `audit`: `ssh audit@bastion login` gives an auditor
// (a certificate principal listed in auditor_principals) a one-time URL for
// the web page; anyone else gets "not an auditor" and no token exists.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "targets/target.h"
#include "web/web_auth.h"

namespace bastion {

struct AuditLoginOutcome {
  bool allowed = false;  // the audit row's decision
  std::string reason;    // the audit row's reason
  std::string out, err;  // what the user sees
  int status = 1;
};

// True when one of `principals` is in auditor_principals.
bool is_auditor(const WebConfig& web, const std::vector<std::string>& principals);

// `cert`: the certificate the SSH login presented (the token carries it, to
// be checked again on every web request); `ssh_peer`: where that login came
// from. `command`: the channel's exec line. `auth` is null when the listener
// is not running; the link names where it runs (auth->base_url()).
AuditLoginOutcome audit_login(const WebConfig& web, WebAuth* auth, std::shared_ptr<const SshCertificate> cert,
                              const std::string& ssh_peer, const std::string& command, int64_t now);

// "https://HOST:PORT" for a listener on web_listen's address (the machine's
// name when that is a wildcard address).
std::string web_base_url(const WebConfig& web);

// A channel that shows fixed text and exits: the reserved target's answer.
std::unique_ptr<Executor> fixed_output_executor(std::string out, std::string err, int status);

}  // namespace bastion
