#include "ctl/policy_test_cert.h"

#include "auth/cert_problem_text.h"
#include "auth/public_key.h"
#include "common/file_util.h"

namespace bastion {

std::optional<SshCertificate> read_certificate_file(const std::string& path, std::string& error) {
  std::string text, why;
  if (!read_file(path, text, why)) return error = path + ": " + why, std::nullopt;
  const auto key = parse_public_key_line(text.substr(0, text.find('\n')), error);
  if (!key) return error = path + ": " + error, std::nullopt;
  SshCertificate cert;
  if (!parse_ssh_certificate(key->blob, cert, error))
    return error = path + ": not an OpenSSH certificate (give the -cert.pub file): " + error, std::nullopt;
  return cert;
}

void apply_certificate(const SshCertificate& cert, SessionRequest& s, bool identity_given, bool principals_given) {
  s.cert_serial = cert.serial;
  s.cert_valid_before = cert.valid_before;
  s.cert_extensions = {cert.extensions.begin(), cert.extensions.end()};
  if (!identity_given) s.identity = cert.key_id;
  if (!principals_given) s.principals = cert.principals;
}

std::string certificate_summary(const SshCertificate& cert) {
  return "serial " + std::to_string(cert.serial) + ", key ID " + cert.key_id + ", valid " +
         utc_minute(cert.valid_after) + " to " + utc_minute(cert.valid_before);
}

}  // namespace bastion
