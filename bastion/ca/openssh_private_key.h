// The OpenSSH private key format ("-----BEGIN OPENSSH PRIVATE KEY-----",
// what ssh-keygen writes; PROTOCOL.key in openssh-portable): enough of it to
// tell whether a key is encrypted and to take an unencrypted Ed25519 or RSA
// key's private parts out. Decryption (bcrypt_pbkdf + the cipher) is libssh's.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

// True when `text` is an OpenSSH private key (by its armour line).
bool is_openssh_private_key(std::string_view text);

struct OpensshPrivateKey {
  std::string cipher;    // "none" when unencrypted
  std::string key_type;  // "ssh-ed25519", ... (only read when unencrypted)
  std::string ed25519_seed;  // 32 bytes, when unencrypted and Ed25519
  // When unencrypted and RSA: the big-endian magnitudes (mpints as stored).
  std::string rsa_n, rsa_e, rsa_d, rsa_iqmp, rsa_p, rsa_q;
  ~OpensshPrivateKey();  // wipes the private parts
};

// Parses the armour and the outer structure; when unencrypted, the one
// key's type and (Ed25519) seed. False + error on any malformed field.
bool parse_openssh_private_key(std::string_view text, OpensshPrivateKey& out, std::string& error);

}  // namespace bastion
