// A certificate a bastion CA issued (bastionctl cert issue, or a target
// certificate bastiond minted), and where such certificates are recorded.
// Kept apart from the audit store so targets can record what they mint
// without depending on it.
#pragma once
#include <cstdint>
#include <string>

namespace bastion {

struct IssuedCert {
  uint64_t serial = 0;
  std::string key_id;
  std::string principals;  // comma-separated
  std::string valid_after, valid_before, issued_at;  // ISO 8601
  std::string issued_by;   // who ran bastionctl, or which bastiond session minted it
  std::string ca_fingerprint, key_fingerprint;
  std::string source_address, force_command;
};

class IssuedCertLedger {
 public:
  virtual ~IssuedCertLedger() = default;
  // False (with the error) also when the serial was issued before.
  virtual bool cert_issued(const IssuedCert& c, std::string& error) = 0;
};

}  // namespace bastion
