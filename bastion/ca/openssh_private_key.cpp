#include "ca/openssh_private_key.h"

#include <string.h>

#include "common/base64.h"
#include "common/ssh_wire.h"

namespace bastion {
namespace {

constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::string_view kMagic("openssh-key-v1\0", 15);

// Wipes a string holding key material when it goes out of scope.
struct Wiped {
  std::string s;
  ~Wiped() { explicit_bzero(s.data(), s.size()); }
};

}  // namespace

OpensshPrivateKey::~OpensshPrivateKey() {
  for (std::string* s : {&ed25519_seed, &rsa_d, &rsa_iqmp, &rsa_p, &rsa_q}) explicit_bzero(s->data(), s->size());
}

bool is_openssh_private_key(std::string_view text) {
  const auto p = text.find_first_not_of(" \t\r\n");
  return p != std::string_view::npos && text.substr(p).starts_with(kBegin);
}

bool parse_openssh_private_key(std::string_view text, OpensshPrivateKey& out, std::string& error) {
  const auto b = text.find(kBegin);
  const auto e = text.find(kEnd);
  if (b == std::string_view::npos || e == std::string_view::npos || e < b)
    return error = "not an OpenSSH private key", false;
  std::string b64;
  for (char c : text.substr(b + kBegin.size(), e - b - kBegin.size()))
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64 += c;
  Wiped raw;
  if (!base64_decode(b64, raw.s)) return error = "OpenSSH private key: bad base64", false;
  std::string_view data(raw.s);
  if (!data.starts_with(kMagic)) return error = "OpenSSH private key: not openssh-key-v1", false;
  WireReader r(data.substr(kMagic.size()));
  std::string_view cipher, kdf, kdf_opts, pub, priv;
  uint32_t nkeys = 0;
  if (!r.string(cipher) || !r.string(kdf) || !r.string(kdf_opts) || !r.u32(nkeys))
    return error = "OpenSSH private key: truncated header", false;
  if (nkeys != 1) return error = "OpenSSH private key: expected one key", false;
  if (!r.string(pub) || !r.string(priv) || !r.done()) return error = "OpenSSH private key: malformed", false;
  out.cipher = std::string(cipher);
  if (cipher != "none") return true;  // the rest is ciphertext
  if (kdf != "none") return error = "OpenSSH private key: unencrypted key with a KDF", false;
  WireReader p(priv);
  uint32_t check1 = 0, check2 = 0;
  std::string_view type;
  if (!p.u32(check1) || !p.u32(check2) || check1 != check2 || !p.string(type))
    return error = "OpenSSH private key: malformed private section", false;
  out.key_type = std::string(type);
  if (type == "ssh-rsa") {
    std::string_view n, e, d, iqmp, p1, q;
    if (!p.string(n) || !p.string(e) || !p.string(d) || !p.string(iqmp) || !p.string(p1) || !p.string(q) ||
        n.empty() || e.empty() || d.empty() || p1.empty() || q.empty())
      return error = "OpenSSH private key: malformed RSA key", false;
    out.rsa_n = n, out.rsa_e = e, out.rsa_d = d, out.rsa_iqmp = iqmp, out.rsa_p = p1, out.rsa_q = q;
    return true;
  }
  if (type != "ssh-ed25519") return true;
  std::string_view pk, sk, comment;
  if (!p.string(pk) || !p.string(sk) || !p.string(comment) || pk.size() != 32 || sk.size() != 64 ||
      sk.substr(32) != pk)
    return error = "OpenSSH private key: malformed Ed25519 key", false;
  out.ed25519_seed = std::string(sk.substr(0, 32));
  return true;
}

}  // namespace bastion
