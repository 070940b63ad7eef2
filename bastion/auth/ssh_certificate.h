// OpenSSH certificates (draft-miller-ssh-cert): the parsed fields.
// Parsing is pure and checks structure only; trust is decided by cert_verifier.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bastion {

constexpr uint32_t kSshCertTypeUser = 1;
constexpr uint32_t kSshCertTypeHost = 2;

struct SshCertificate {
  std::string cert_type_name;  // e.g. "ssh-ed25519-cert-v01@openssh.com"
  std::string key_type;        // e.g. "ssh-ed25519"
  std::string public_key_blob; // the certified key as a plain key blob
  uint64_t serial = 0;
  uint32_t type = 0;           // kSshCertTypeUser / kSshCertTypeHost
  std::string key_id;
  std::vector<std::string> principals;
  uint64_t valid_after = 0;
  uint64_t valid_before = 0;
  std::vector<std::pair<std::string, std::string>> critical_options;  // value unwrapped
  std::vector<std::pair<std::string, std::string>> extensions;        // value unwrapped
  std::string signature_key;   // CA public key blob
  std::string signature;       // signature blob
  std::string signed_data;     // bytes covered by the signature
};

// Parses a certificate blob (the base64-decoded second field of a -cert.pub
// line). Returns false with a reason on any structural problem.
bool parse_ssh_certificate(std::string_view blob, SshCertificate& out, std::string& error);

}  // namespace bastion
