#include "auth/ssh_certificate.h"

#include "common/ssh_wire.h"

namespace bastion {
namespace {

constexpr std::string_view kCertSuffix = "-cert-v01@openssh.com";
// Caps on attacker-controlled counts; OpenSSH's limits are of the same order.
constexpr std::size_t kMaxPrincipals = 256;
constexpr std::size_t kMaxOptions = 64;

// Reads the key-type-specific public fields; returns false when malformed.
bool skip_key_fields(WireReader& r, std::string_view key_type, std::string& error) {
  std::string_view a, b;
  if (key_type == "ssh-ed25519") {
    if (!r.string(a) || a.size() != 32) return error = "bad ed25519 key", false;
  } else if (key_type == "ssh-rsa") {
    if (!r.string(a) || !r.string(b)) return error = "bad rsa key", false;  // e, n
  } else if (key_type.starts_with("ecdsa-sha2-nistp")) {
    if (!r.string(a) || !r.string(b)) return error = "bad ecdsa key", false;  // curve, Q
    if (key_type.substr(11) != a) return error = "ecdsa curve does not match key type", false;
  } else {
    error = "unsupported certificate key type " + std::string(key_type);
    return false;
  }
  return true;
}

// Critical options and extensions: a string holding (name, data) pairs, where
// data is itself a string wrapping the value (empty for flags).
bool parse_options(std::string_view packed, std::vector<std::pair<std::string, std::string>>& out,
                   const char* what, std::string& error) {
  WireReader r(packed);
  std::string prev;
  while (!r.done()) {
    std::string_view name, data;
    if (!r.string(name) || !r.string(data)) return error = std::string("malformed ") + what, false;
    if (!prev.empty() && std::string(name) <= prev)
      return error = std::string(what) + " not in strict order", false;
    prev = std::string(name);
    std::string value;
    if (!data.empty()) {
      WireReader inner(data);
      std::string_view v;
      if (!inner.string(v) || !inner.done())
        return error = std::string("malformed value of ") + what + " " + prev, false;
      value = std::string(v);
    }
    if (out.size() >= kMaxOptions) return error = std::string("too many ") + what, false;
    out.emplace_back(prev, std::move(value));
  }
  return true;
}

}  // namespace

bool parse_ssh_certificate(std::string_view blob, SshCertificate& c, std::string& error) {
  WireReader r(blob);
  std::string_view type, nonce;
  if (!r.string(type)) return error = "truncated certificate type", false;
  if (!type.ends_with(kCertSuffix)) return error = "not a certificate", false;
  c.cert_type_name = std::string(type);
  c.key_type = std::string(type.substr(0, type.size() - kCertSuffix.size()));
  if (!r.string(nonce)) return error = "truncated nonce", false;

  const std::size_t key_start = r.pos();
  if (!skip_key_fields(r, c.key_type, error)) return false;
  c.public_key_blob.clear();
  wire_put_string(c.public_key_blob, c.key_type);
  c.public_key_blob.append(blob.substr(key_start, r.pos() - key_start));

  std::string_view key_id, principals, crit, ext, reserved, sigkey, sig;
  if (!r.u64(c.serial) || !r.u32(c.type) || !r.string(key_id) || !r.string(principals) ||
      !r.u64(c.valid_after) || !r.u64(c.valid_before) || !r.string(crit) || !r.string(ext) ||
      !r.string(reserved) || !r.string(sigkey))
    return error = "truncated certificate body", false;
  const std::size_t signed_len = r.pos();
  if (!r.string(sig)) return error = "truncated signature", false;
  if (!r.done()) return error = "trailing data after signature", false;

  c.key_id = std::string(key_id);
  c.principals.clear();
  WireReader pr(principals);
  while (!pr.done()) {
    std::string_view p;
    if (!pr.string(p)) return error = "malformed principals", false;
    if (c.principals.size() >= kMaxPrincipals) return error = "too many principals", false;
    c.principals.emplace_back(p);
  }
  c.critical_options.clear();
  c.extensions.clear();
  if (!parse_options(crit, c.critical_options, "critical options", error)) return false;
  if (!parse_options(ext, c.extensions, "extensions", error)) return false;
  if (sigkey.empty()) return error = "missing signature key", false;
  c.signature_key = std::string(sigkey);
  c.signature = std::string(sig);
  c.signed_data = std::string(blob.substr(0, signed_len));
  return true;
}

}  // namespace bastion
