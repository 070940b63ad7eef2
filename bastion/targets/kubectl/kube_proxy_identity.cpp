#include "targets/kubectl/kube_proxy_identity.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/openssl_handles.h"
#include "common/secret_file.h"

namespace bastion {
namespace {

std::string bio_text(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

KubeProxyIdentity::~KubeProxyIdentity() { explicit_bzero(key_pem.data(), key_pem.size()); }

bool make_kube_proxy_identity(int valid_days, KubeProxyIdentity& out, std::string& error) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr x(X509_new());
  if (!key || !x) return ERR_clear_error(), error = "cannot make the proxy's key", false;
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return error = "no randomness", false;
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, OpensslFree<BIGNUM, BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_set_version(x.get(), 2);
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()));
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), static_cast<long>(valid_days) * 86400);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("bastion kube proxy"),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                                   std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
                                   std::pair{NID_ext_key_usage, "serverAuth"},
                                   std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"}}) {
    std::unique_ptr<X509_EXTENSION, OpensslFree<X509_EXTENSION, X509_EXTENSION_free>> ext(
        X509V3_EXT_conf_nid(nullptr, &v3, nid, value));
    if (!ext || !X509_add_ext(x.get(), ext.get(), -1)) return error = "cannot make the proxy's certificate", false;
  }
  if (!X509_sign(x.get(), key.get(), EVP_sha256())) return error = "cannot sign the proxy's certificate", false;
  BioPtr cert(BIO_new(BIO_s_mem())), priv(BIO_new(BIO_s_mem()));
  if (!cert || !priv || PEM_write_bio_X509(cert.get(), x.get()) != 1 ||
      PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return ERR_clear_error(), error = "cannot write the proxy's identity", false;
  out.cert_pem = bio_text(cert.get());
  out.key_pem = bio_text(priv.get());
  return true;
}

bool load_or_create_kube_proxy_identity(const std::string& path, KubeProxyIdentity& out, std::string& error) {
  std::string text;
  if (::access(path.c_str(), F_OK) != 0) {
    if (!make_kube_proxy_identity(3650, out, error)) return false;
    text = out.key_pem + out.cert_pem;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) return error = path + ": " + std::strerror(errno), false;
    if (fd >= 0) {  // else another bastiond made it first: read theirs below
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
      ::close(fd);
      explicit_bzero(text.data(), text.size());
      if (!ok) return error = path + ": cannot write", false;
      return true;
    }
  }
  if (!read_secret_file(path, text, error)) return false;
  BioPtr in(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  PkeyPtr key(in ? PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr) : nullptr);
  BioPtr in2(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  X509Ptr x(in2 ? PEM_read_bio_X509(in2.get(), nullptr, nullptr, nullptr) : nullptr);
  explicit_bzero(text.data(), text.size());
  ERR_clear_error();
  if (!key || !x) return error = path + ": not a PEM private key and certificate", false;
  if (X509_check_private_key(x.get(), key.get()) != 1)
    return ERR_clear_error(), error = path + ": the key does not match the certificate", false;
  if (X509_cmp_current_time(X509_get0_notAfter(x.get())) <= 0)
    return error = path + ": the certificate has expired (remove the file to make a new one, then hand out new kubeconfigs)",
           false;
  BioPtr cert(BIO_new(BIO_s_mem())), priv(BIO_new(BIO_s_mem()));
  if (!cert || !priv || PEM_write_bio_X509(cert.get(), x.get()) != 1 ||
      PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return ERR_clear_error(), error = path + ": cannot read", false;
  out.cert_pem = bio_text(cert.get());
  out.key_pem = bio_text(priv.get());
  return true;
}

std::string kube_tunnel_token(const std::string& key, const std::string& target, const std::string& cert_signed_data) {
  // Length-prefixed: no target and certificate pair reads as another.
  std::string msg = "bastion kube tunnel token v1";
  for (int shift = 24; shift >= 0; shift -= 8) msg += static_cast<char>((target.size() >> shift) & 0xff);
  msg += target;
  msg += cert_signed_data;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
            msg.size(), mac, &len))
    return {};
  std::string out = hex_encode(mac, len);
  explicit_bzero(mac, sizeof mac);
  return out;
}

}  // namespace bastion
