// The bastion's user CA key: generated, stored (PKCS#8 PEM, mode 0600, with
// the OpenSSH public key next to it as FILE.pub), loaded (that, or an
// OpenSSH private key as ssh-keygen writes it, either one possibly
// encrypted), and used to make OpenSSH signatures (Ed25519; ECDSA
// P-256/384/521; RSA with rsa-sha2-512).
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace bastion {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

class CaKey {
 public:
  // type: "ed25519" (default), "ecdsa" (bits 256/384/521) or "rsa" (bits >= 2048, default 3072).
  static std::unique_ptr<CaKey> generate(const std::string& type, int bits, std::string& error);
  // Asked for the passphrase only when the key is encrypted; nullopt (or no
  // source at all): there is none, and an encrypted key is refused.
  using PassphraseSource = std::function<std::optional<std::string>()>;
  // The file must be private (read_secret_file: no group or other bits).
  static std::unique_ptr<CaKey> load(const std::string& path, const PassphraseSource& passphrase,
                                     std::string& error);
  static std::unique_ptr<CaKey> load(const std::string& path, std::string& error) { return load(path, {}, error); }
  // The key file's content; `name` (its path) is what errors say.
  static std::unique_ptr<CaKey> from_text(std::string_view text, const std::string& name,
                                          const PassphraseSource& passphrase, std::string& error);
  // Writes `path` (private, 0600, never over an existing file) and `path`.pub.
  bool save(const std::string& path, const std::string& comment, std::string& error) const;

  const std::string& ssh_type() const { return type_; }  // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"
  const std::string& public_blob() const { return blob_; }
  // An OpenSSH signature blob (string algorithm, string signature) over `data`.
  bool sign(std::string_view data, std::string& signature, std::string& error) const;

 private:
  explicit CaKey(EVP_PKEY* k) : key_(k) {}
  bool init(std::string& error);
  std::unique_ptr<EVP_PKEY, EvpPkeyDeleter> key_;
  std::string type_, blob_;
  std::string curve_;  // "nistp256" ... for ECDSA
};

// OpenSSH's mpint encoding of a big-endian unsigned magnitude.
std::string ssh_mpint(std::string_view magnitude);

}  // namespace bastion
