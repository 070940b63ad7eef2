#include "web/web_access.h"

#include "auth/cert_verifier.h"
#include "web/audit_login.h"

namespace bastion {

std::string web_access_refusal(const WebSession& s, const Config& cur, int64_t now, const std::string& peer) {
  if (!s.certificate) return "no certificate";  // never made so; fail closed
  const TrustAnchors anchors{cur.user_cas, cur.revoked.get(), cur.cert_clock_skew};
  const CertVerdict v = verify_user_certificate(*s.certificate, anchors, now, peer);
  if (!v.accepted) return "certificate not accepted: " + v.reason;
  if (!is_auditor(cur.web, s.certificate->principals)) return "not an auditor";
  return {};
}

}  // namespace bastion
