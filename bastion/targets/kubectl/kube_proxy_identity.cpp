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

#include "common/loopback_cert.h"
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
  LoopbackCertificate c;
  if (!make_loopback_certificate("bastion kube proxy", valid_days, c, error)) return error = "proxy identity: " + error, false;
  out.cert_pem = c.cert_pem;
  out.key_pem = c.key_pem;
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
