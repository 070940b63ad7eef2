// Builds and signs OpenSSH user certificates (draft-miller-ssh-cert), byte
// for byte what ssh-keygen -s makes: ssh-keygen -L reads them and OpenSSH's
// sshd accepts them with TrustedUserCAKeys.
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/public_key.h"
#include "ca/ca_key.h"

namespace bastion {

struct CertRequest {
  PublicKey subject;  // the user's public key
  uint64_t serial = 0;
  std::string key_id;  // the identity
  std::vector<std::string> principals;
  uint64_t valid_after = 0, valid_before = 0;
  std::optional<std::string> force_command;
  std::optional<std::string> source_address;  // "CIDR,CIDR"
  // Extensions (all without a value); std::set keeps the lexical order the
  // format requires. By default what ssh-keygen grants.
  std::set<std::string> extensions{"permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding",
                                   "permit-pty", "permit-user-rc"};
};

// The certificate blob, or empty + error.
std::string issue_user_certificate(const CertRequest& req, const CaKey& ca, std::string& error);

// A random serial (63 bits, never 0): unique without coordination between
// issuers; the audit store's primary key catches the improbable repeat.
// 0 when no randomness is available.
uint64_t random_serial();

// "ssh-ed25519" -> "ssh-ed25519-cert-v01@openssh.com"; empty if unsupported.
std::string certificate_type_for(const std::string& key_type);

}  // namespace bastion
