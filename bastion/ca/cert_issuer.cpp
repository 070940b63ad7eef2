#include "ca/cert_issuer.h"

#include <openssl/rand.h>

#include "auth/ssh_certificate.h"
#include "common/ssh_wire.h"

namespace bastion {

std::string certificate_type_for(const std::string& key_type) {
  if (key_type == "ssh-ed25519" || key_type == "ssh-rsa" || key_type == "ecdsa-sha2-nistp256" ||
      key_type == "ecdsa-sha2-nistp384" || key_type == "ecdsa-sha2-nistp521")
    return key_type + "-cert-v01@openssh.com";
  return "";
}

uint64_t random_serial() {
  unsigned char r[8];
  if (RAND_bytes(r, sizeof r) != 1) return 0;
  uint64_t serial = 0;
  for (unsigned char b : r) serial = serial << 8 | b;
  return (serial >> 1) | 1;
}

std::string issue_user_certificate(const CertRequest& req, const CaKey& ca, std::string& error) {
  const std::string cert_type = certificate_type_for(req.subject.type);
  if (cert_type.empty()) return error = "cannot certify a " + req.subject.type + " key", "";
  if (req.principals.empty()) return error = "at least one principal is required", "";
  if (req.valid_before <= req.valid_after) return error = "the validity period is empty", "";
  // The subject key's fields follow the nonce: its blob without the type string.
  WireReader r(req.subject.blob);
  std::string_view type;
  if (!r.string(type) || type != req.subject.type) return error = "malformed public key", "";
  const std::string_view key_fields = std::string_view(req.subject.blob).substr(r.pos());

  unsigned char nonce[32];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return error = "no randomness available", "";
  std::string c;
  wire_put_string(c, cert_type);
  wire_put_string(c, std::string_view(reinterpret_cast<char*>(nonce), sizeof nonce));
  c.append(key_fields);
  for (int shift = 56; shift >= 0; shift -= 8) c += static_cast<char>(req.serial >> shift);
  for (int shift = 24; shift >= 0; shift -= 8) c += static_cast<char>(kSshCertTypeUser >> shift);
  wire_put_string(c, req.key_id);
  std::string principals;
  for (const auto& p : req.principals) wire_put_string(principals, p);
  wire_put_string(c, principals);
  for (int shift = 56; shift >= 0; shift -= 8) c += static_cast<char>(req.valid_after >> shift);
  for (int shift = 56; shift >= 0; shift -= 8) c += static_cast<char>(req.valid_before >> shift);
  // Options and extensions in lexical order, each value wrapped in a string.
  std::string crit;
  auto put_opt = [](std::string& out, std::string_view name, std::optional<std::string_view> value) {
    wire_put_string(out, name);
    std::string v;
    if (value) wire_put_string(v, *value);
    wire_put_string(out, v);
  };
  if (req.force_command) put_opt(crit, "force-command", *req.force_command);
  if (req.source_address) put_opt(crit, "source-address", *req.source_address);
  wire_put_string(c, crit);
  std::string ext;
  for (const auto& e : req.extensions) put_opt(ext, e, std::nullopt);
  wire_put_string(c, ext);
  wire_put_string(c, "");  // reserved
  wire_put_string(c, ca.public_blob());
  std::string sig;
  if (!ca.sign(c, sig, error)) return "";
  wire_put_string(c, sig);
  return c;
}

}  // namespace bastion
