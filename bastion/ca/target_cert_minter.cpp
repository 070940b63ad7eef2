#include "ca/target_cert_minter.h"

namespace bastion {

std::string minted_key_id(const std::string& identity, const std::string& session_id, const std::string& target) {
  return "bastion:" + identity + ":session=" + session_id + ":target=" + target;
}

CertRequest minted_cert_request(const PublicKey& subject, const MintParams& p) {
  CertRequest r;
  r.subject = subject;
  r.serial = p.serial;
  r.key_id = minted_key_id(p.identity, p.session_id, p.target);
  r.principals = p.principals;
  r.valid_after = static_cast<uint64_t>(p.now - kMintClockSkew);
  r.valid_before = static_cast<uint64_t>(p.now + p.ttl);
  r.extensions = {"permit-pty"};
  return r;
}

}  // namespace bastion
