#include "metrics/auth_failure_reason.h"

namespace bastion {

AuthFailure classify_auth_failure(std::string_view r) {
  auto starts = [r](std::string_view p) { return r.substr(0, p.size()) == p; };
  auto has = [r](std::string_view p) { return r.find(p) != std::string_view::npos; };
  if (starts("password ") || starts("keyboard-interactive ") || starts("authentication method"))
    return AuthFailure::method;
  if (starts("not a certificate") || starts("no certificate offered")) return AuthFailure::not_certificate;
  if (starts("malformed certificate") || starts("not a user certificate") || starts("certificate has no principals") ||
      starts("unsupported critical option") || starts("malformed source-address"))
    return AuthFailure::malformed_certificate;
  if (starts("certificate signed by untrusted CA")) return AuthFailure::untrusted_ca;
  if (starts("certificate signature invalid") || starts("bad signature") ||
      starts("certificate offered but not signed for"))
    return AuthFailure::bad_signature;
  if (starts("certificate expired")) return AuthFailure::expired;
  if (starts("certificate not yet valid")) return AuthFailure::not_yet_valid;
  if (starts("source address ")) return AuthFailure::source_address;
  if (has("revoked")) return AuthFailure::revoked;
  if (starts("max_sessions reached") || starts("too many sessions")) return AuthFailure::limit;
  return AuthFailure::other;
}

}  // namespace bastion
