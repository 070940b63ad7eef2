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

  // Refusals only an issuer or an admin can explain come first, so a
  // certificate with one of them never gets the user-facing problems below
  // (a revoked certificate must not learn it is otherwise fine).
  std::optional<std::string> source_address;
  for (const auto& [name, value] : cert.critical_options) {
    if (name == "force-command") {
      v.force_command = value;
    } else if (name == "source-address") {
      if (address_in_cidr_list(peer, value) < 0) return refuse("malformed source-address \"" + value + "\"");
      source_address = value;
    } else {
      return refuse("unsupported critical option \"" + name + "\"");
    }
  }
  if (anchors.revoked) {
    std::string why;
    if (anchors.revoked->is_revoked(cert, why)) return refuse(why);
  }

  // valid_after/valid_before are unsigned; compare without overflow.
  const auto n = static_cast<uint64_t>(now);
  const auto skew = static_cast<uint64_t>(anchors.clock_skew);
  std::vector<std::string> why;
  auto problem = [&](CertProblem p, std::string text) {
    v.problems.push_back(std::move(p));
    why.push_back(std::move(text));
  };
  if (n + skew < cert.valid_after)
    problem({.kind = CertProblem::Kind::not_yet_valid, .at = cert.valid_after, .allowed_from = {}, .peer = {}},
            "certificate not yet valid");
  // Expiry is exact: a short-lived certificate must not outlive its stated end.
  if (cert.valid_before <= n)
    problem({.kind = CertProblem::Kind::expired, .at = cert.valid_before, .allowed_from = {}, .peer = {}},
            "certificate expired");
  if (cert.principals.empty())
    problem({.kind = CertProblem::Kind::no_principals, .at = 0, .allowed_from = {}, .peer = {}},
            "certificate has no principals");
  if (source_address && address_in_cidr_list(peer, *source_address) == 0)
    problem({.kind = CertProblem::Kind::source_address, .at = 0, .allowed_from = *source_address,
             .peer = std::string(peer)},
            "source address " + std::string(peer) + " not in \"" + *source_address + "\"");
  if (!why.empty()) {
    std::string all;
    for (const auto& w : why) all += (all.empty() ? "" : "; ") + w;
    v.accepted = false;
    v.reason = std::move(all);
    return v;
  }
  v.source_address = source_address;
  v.accepted = true;
  return v;
}

}  // namespace bastion
