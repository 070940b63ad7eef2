// Who is on the other end, as established by certificate authentication.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bastion {

struct Identity {
  std::string key_id;  // the identity
  std::vector<std::string> principals;  // the roles
  uint64_t serial = 0;
  std::string ca_fingerprint;
  uint64_t valid_before = 0;
  std::optional<std::string> force_command;
  std::map<std::string, std::string> extensions;  // certificate extensions (permit-pty, ...)
  std::string source_address;
  std::string requested_user;  // the SSH user name: selects the target
  // The certificate as presented, to check it again when the config (CAs,
  // revocations) changes under a live session.
  std::shared_ptr<const struct SshCertificate> certificate;
};

}  // namespace bastion
