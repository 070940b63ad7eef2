#include "audit/audit_signer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/pem.h>

#include "common/base64.h"
#include "common/file_util.h"
#include "common/secret_file.h"

namespace bastion {
namespace {

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslFree<EVP_MD_CTX, EVP_MD_CTX_free>>;

std::string bio_text(BIO* b) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  return n > 0 ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

std::unique_ptr<AuditVerifier> AuditVerifier::from_key(PkeyPtr key, std::string& error) {
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) return error = "not an Ed25519 key", nullptr;
  unsigned char raw[32];
  std::size_t n = sizeof raw;
  unsigned char digest[32];
  unsigned int dn = 0;
  if (EVP_PKEY_get_raw_public_key(key.get(), raw, &n) != 1 || n != 32 ||
      EVP_Digest(raw, n, digest, &dn, EVP_sha256(), nullptr) != 1)
    return error = "cannot read the public key", nullptr;
  std::string fp = base64_encode(std::string_view(reinterpret_cast<const char*>(digest), dn));
  while (!fp.empty() && fp.back() == '=') fp.pop_back();
  std::unique_ptr<AuditVerifier> v(new AuditVerifier(std::move(key)));
  v->fingerprint_ = "SHA256:" + fp;
  return v;
}

std::unique_ptr<AuditVerifier> AuditVerifier::from_pem_file(const std::string& path, std::string& error) {
  std::string pem, why;
  if (!read_file(path, pem, why)) return error = path + ": " + why, nullptr;
  auto v = from_pem(pem, error);
  if (!v) error = path + ": " + error;
  return v;
}

std::unique_ptr<AuditVerifier> AuditVerifier::from_pem(const std::string& pem, std::string& error) {
  BioPtr b(pem.size() < 4096 ? BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())) : nullptr);
  PkeyPtr key(b ? PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return error = "not a PEM public key", nullptr;
  return from_key(std::move(key), error);
}

bool AuditVerifier::verify(std::string_view text, std::string_view signature) const {
  std::string sig;
  if (!base64_decode(signature, sig) || sig.size() != 64) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1;
}

std::string AuditVerifier::public_pem() const {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_PUBKEY(b.get(), key_.get()) != 1) return "";
  return bio_text(b.get());
}

bool is_audit_key_fingerprint(std::string_view s) { return is_sha256_fingerprint(s); }

std::optional<std::string> audit_private_key_fingerprint(const std::string& path, std::string& error) {
  if (::access(path.c_str(), F_OK) != 0) return error = path + ": " + std::strerror(errno), std::nullopt;
  HeldSecret pem;
  if (!read_secret_file(path, pem.bytes, error)) return std::nullopt;
  BioPtr b(BIO_new_mem_buf(pem.bytes.data(), static_cast<int>(pem.bytes.size())));
  PkeyPtr key(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return error = path + ": not a PEM private key", std::nullopt;
  const auto v = AuditVerifier::from_key(std::move(key), error);
  if (!v) return error = path + ": " + error, std::nullopt;
  return v->fingerprint();
}

std::optional<std::string> audit_key_pin_warning(const std::string& key_path, const std::string& pinned) {
  // Before the first start there is no key yet, nothing to pin.
  if (!pinned.empty() || ::access(key_path.c_str(), F_OK) != 0) return std::nullopt;
  // Unpinned, `verify --config` trusts the public key file in DATA_DIR.
  std::string why;
  const auto fp = audit_private_key_fingerprint(key_path, why);
  return fp ? "pin the audit key: audit_key_fingerprint = \"" + *fp + "\""
            : "pin the audit key: audit_key_fingerprint = \"SHA256:...\" (as bastiond logs at start; " + why + ")";
}

std::unique_ptr<AuditVerifier> load_pinned_public_key(const std::string& pub_path, const std::string& pinned,
                                                      bool& unpinned, std::string& error) {
  unpinned = pinned.empty();
  auto v = AuditVerifier::from_pem_file(pub_path, error);
  if (!v) return nullptr;
  if (!unpinned && v->fingerprint() != pinned)
    return error = "the audit key in DATA_DIR is not the pinned one (" + pub_path + " is " + v->fingerprint() +
                   ", audit_key_fingerprint is " + pinned + ")",
           nullptr;
  return v;
}

std::unique_ptr<AuditSigner> AuditSigner::load_or_create(const std::string& path, std::string& error) {
  PkeyPtr key;
  if (::access(path.c_str(), F_OK) == 0) {
    HeldSecret pem;
    if (!read_secret_file(path, pem.bytes, error)) return nullptr;
    BioPtr b(BIO_new_mem_buf(pem.bytes.data(), static_cast<int>(pem.bytes.size())));
    key.reset(b ? PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key) return error = path + ": not a PEM private key", nullptr;
  } else {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    BioPtr b(BIO_new(BIO_s_mem()));
    if (!key || !b || PEM_write_bio_PrivateKey(b.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return error = "cannot generate an Ed25519 key", nullptr;
    HeldSecret pem;
    pem.bytes = bio_text(b.get());
    // O_EXCL: two processes starting at once must not both write a key.
    if (!write_file_atomic(path, pem.bytes, 0600, true, error)) return nullptr;
  }
  // Share the key object: the verifier only reads its public half.
  if (EVP_PKEY_up_ref(key.get()) != 1) return error = "cannot reference the key", nullptr;
  auto verifier = AuditVerifier::from_key(PkeyPtr(key.get()), error);
  if (!verifier) return error = path + ": " + error, nullptr;
  const std::string pub_path = audit_public_key_path(path);
  const std::string pub = verifier->public_pem();
  std::string have;
  if (pub.empty()) return error = path + ": cannot export the public key", nullptr;
  if ((!read_file(pub_path, have) || have != pub) && !write_file_atomic(pub_path, pub, 0644, false, error))
    return nullptr;
  return std::unique_ptr<AuditSigner>(new AuditSigner(std::move(key), std::move(verifier)));
}

std::string AuditSigner::sign(std::string_view text) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  std::size_t n = sizeof sig;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &n, reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1)
    return "";
  return base64_encode(std::string_view(reinterpret_cast<const char*>(sig), n));
}

}  // namespace bastion
