#include "ca/target_cert_minter.h"

namespace bastion {

std::string key_id_field(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (const char ch : value) {
    const auto b = static_cast<unsigned char>(ch);
    if (b > 0x20 && b < 0x7f && b != '%' && b != ':' && b != '=') {
      out += ch;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

std::string minted_key_id(const std::string& identity, const std::string& session_id, const std::string& target) {
  return "bastion:" + key_id_field(identity) + ":session=" + key_id_field(session_id) +
         ":target=" + key_id_field(target);
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
  if (!p.source_address.empty()) r.source_address = p.source_address;
  return r;
}

}  // namespace bastion
