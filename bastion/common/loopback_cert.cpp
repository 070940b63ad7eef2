#include "common/loopback_cert.h"

#include <string.h>

#include <memory>
#include <utility>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/openssl_handles.h"

namespace bastion {
namespace {

std::string bio_text(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

LoopbackCertificate::~LoopbackCertificate() { explicit_bzero(key_pem.data(), key_pem.size()); }

bool make_loopback_certificate(const std::string& common_name, int valid_days, LoopbackCertificate& out,
                               std::string& error) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr x(X509_new());
  if (!key || !x) return ERR_clear_error(), error = "cannot make a key", false;
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return error = "no randomness", false;
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, OpensslFree<BIGNUM, BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn) return error = "out of memory", false;
  X509_set_version(x.get(), 2);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()));
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(valid_days) * 86400);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                                   std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
                                   std::pair{NID_ext_key_usage, "serverAuth"},
                                   std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"}}) {
    std::unique_ptr<X509_EXTENSION, OpensslFree<X509_EXTENSION, X509_EXTENSION_free>> ext(
        X509V3_EXT_conf_nid(nullptr, &v3, nid, value));
    if (!ext || !X509_add_ext(x.get(), ext.get(), -1)) return ERR_clear_error(), error = "cannot make the certificate", false;
  }
  if (!X509_sign(x.get(), key.get(), EVP_sha256())) return ERR_clear_error(), error = "cannot sign the certificate", false;
  BioPtr cert(BIO_new(BIO_s_mem())), priv(BIO_new(BIO_s_mem()));
  if (!cert || !priv || PEM_write_bio_X509(cert.get(), x.get()) != 1 ||
      PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return ERR_clear_error(), error = "cannot write the certificate", false;
  out.cert_pem = bio_text(cert.get());
  out.key_pem = bio_text(priv.get());
  return true;
}

}  // namespace bastion
