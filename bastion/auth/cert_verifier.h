// Decides whether a user certificate may log in. Pure: bytes, trusted CAs,
// revocations, peer address and the time go in; a verdict and reason come out.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/public_key.h"
#include "auth/revocation_list.h"
#include "auth/ssh_certificate.h"

namespace bastion {

struct TrustAnchors {
  std::vector<PublicKey> user_cas;
  const RevocationList* revoked = nullptr;  // may be null
  int64_t clock_skew = 60;  // seconds a certificate may be used before valid_after
};

// A refusal the certificate's holder can fix (renew, check the clock, log in
// from the allowed network). Reported only for a certificate that is
// otherwise trusted: known CA, valid signature, not revoked, known options.
struct CertProblem {
  enum class Kind { not_yet_valid, expired, no_principals, source_address };
  Kind kind;
  uint64_t at = 0;            // not_yet_valid: valid_after; expired: valid_before
  std::string allowed_from;   // source_address: the certificate's list
  std::string peer;           // source_address: the address the login came from
};

struct CertVerdict {
  bool accepted = false;
  std::string reason;          // why refused (for the log, never the client)
  // Set (non-empty) only when every refusal is one of these: the lines a
  // user may be told once they proved they hold the key (cert_problem_lines).
  std::vector<CertProblem> problems;
  std::string ca_fingerprint;  // set once the CA is known
  std::optional<std::string> force_command;
  std::optional<std::string> source_address;
};

CertVerdict verify_user_certificate(const SshCertificate& cert, const TrustAnchors& anchors,
                                    int64_t now, std::string_view peer_address);

}  // namespace bastion
