// Fuzzes certificate parsing and, when it parses, verification (the path an
// unauthenticated client reaches with a crafted certificate).
#include <cstdint>
#include <string>

#include "auth/cert_verifier.h"
#include "auth/ssh_certificate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string blob(reinterpret_cast<const char*>(data), size);
  bastion::SshCertificate c;
  std::string err;
  if (!bastion::parse_ssh_certificate(blob, c, err)) return 0;
  // Trust the certificate's own signing key so the signature code runs too.
  bastion::TrustAnchors anchors;
  anchors.user_cas.push_back({"fuzz", c.signature_key, ""});
  bastion::verify_user_certificate(c, anchors, 1700000000, "127.0.0.1");
  return 0;
}
