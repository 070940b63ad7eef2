#include "auth/cert_verifier.h"

#include "auth/address_match.h"
#include "auth/ssh_signature.h"

namespace bastion {

CertVerdict verify_user_certificate(const SshCertificate& cert, const TrustAnchors& anchors,
                                    int64_t now, std::string_view peer) {
  CertVerdict v;
  auto refuse = [&v](std::string why) {
    v.accepted = false;
    v.reason = std::move(why);
    return v;
  };
  if (cert.type != kSshCertTypeUser) return refuse("not a user certificate");

  const PublicKey* ca = nullptr;
  for (const auto& k : anchors.user_cas)
    if (k.blob == cert.signature_key) ca = &k;
  v.ca_fingerprint = sha256_fingerprint(cert.signature_key);
  if (!ca) return refuse("certificate signed by untrusted CA " + v.ca_fingerprint);

  std::string err;
  if (!verify_ssh_signature(cert.signature_key, cert.signature, cert.signed_data, err))
    return refuse("certificate signature invalid: " + err);

  // valid_after/valid_before are unsigned; compare without overflow.
  const auto n = static_cast<uint64_t>(now);
  const auto skew = static_cast<uint64_t>(anchors.clock_skew);
  if (n + skew < cert.valid_after) return refuse("certificate not yet valid");
  // Expiry is exact: a short-lived certificate must not outlive its stated end.
  if (cert.valid_before <= n) return refuse("certificate expired");
  if (cert.principals.empty()) return refuse("certificate has no principals");

  for (const auto& [name, value] : cert.critical_options) {
    if (name == "force-command") {
      v.force_command = value;
    } else if (name == "source-address") {
      const int m = address_in_cidr_list(peer, value);
      if (m < 0) return refuse("malformed source-address \"" + value + "\"");
      if (m == 0) return refuse("source address " + std::string(peer) + " not in \"" + value + "\"");
      v.source_address = value;
    } else {
      return refuse("unsupported critical option \"" + name + "\"");
    }
  }
  if (anchors.revoked) {
    std::string why;
    if (anchors.revoked->is_revoked(cert, why)) return refuse(why);
  }
  v.accepted = true;
  return v;
}

}  // namespace bastion
