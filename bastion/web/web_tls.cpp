#include "web/web_tls.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/loopback_cert.h"
#include "common/secret_file.h"

namespace bastion {
namespace {

constexpr long kSelfSignedDays = 3650;

bool make_self_signed(std::string& cert_pem, std::string& key_pem, std::string& error) {
  LoopbackCertificate c;
  if (!make_loopback_certificate("bastion auditor page", kSelfSignedDays, c, error)) return false;
  cert_pem = c.cert_pem;
  key_pem = c.key_pem;
  return true;
}

bool write_new(const std::string& path, const std::string& text, mode_t mode, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return error = path + ": " + std::strerror(errno), false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return error = path + ": cannot write", false;
  return true;
}

bool read_plain(const std::string& path, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return error = path + ": " + std::strerror(errno), false;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && out.size() < (1u << 20)) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (n < 0) return error = path + ": " + std::strerror(errno), false;
  return true;
}

bool parse_pair(const std::string& cert_path, const std::string& cert_pem, const std::string& key_path,
                std::string& key_pem, WebTlsIdentity& out, std::string& error) {
  BioPtr kin(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  out.key.reset(kin ? PEM_read_bio_PrivateKey(kin.get(), nullptr, nullptr, nullptr) : nullptr);
  explicit_bzero(key_pem.data(), key_pem.size());
  ERR_clear_error();
  if (!out.key) return error = key_path + ": not a PEM private key (without a passphrase)", false;
  BioPtr cin(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  out.chain.clear();
  while (cin) {
    X509Ptr x(PEM_read_bio_X509(cin.get(), nullptr, nullptr, nullptr));
    if (!x) break;
    out.chain.push_back(std::move(x));
  }
  ERR_clear_error();
  if (out.chain.empty()) return error = cert_path + ": not a PEM certificate", false;
  if (X509_check_private_key(out.chain[0].get(), out.key.get()) != 1)
    return ERR_clear_error(), error = cert_path + ": the key " + key_path + " does not match the certificate", false;
  if (X509_cmp_current_time(X509_get0_notAfter(out.chain[0].get())) <= 0)
    return error = cert_path + ": the certificate has expired", false;
  out.cert_path = cert_path;
  return true;
}

}  // namespace

bool load_web_tls_identity(const std::string& cert_file, const std::string& key_file, const std::string& data_dir,
                           WebTlsIdentity& out, std::string& error) {
  std::string cert_path = cert_file, key_path = key_file;
  if (cert_path.empty()) {
    cert_path = data_dir + "/" + kWebSelfSignedCert;
    key_path = data_dir + "/" + kWebSelfSignedKey;
    const bool has_cert = ::access(cert_path.c_str(), F_OK) == 0, has_key = ::access(key_path.c_str(), F_OK) == 0;
    if (has_cert != has_key)
      return error = (has_cert ? key_path : cert_path) + ": missing (remove " + (has_cert ? cert_path : key_path) +
                     " to make a new self-signed pair)", false;
    if (!has_cert) {
      std::string cpem, kpem;
      // The key first and exclusively: a second bastiond on the same
      // data_dir fails here rather than mixing pairs.
      if (!make_self_signed(cpem, kpem, error) || !write_new(key_path, kpem, 0600, error)) {
        explicit_bzero(kpem.data(), kpem.size());
        return false;
      }
      explicit_bzero(kpem.data(), kpem.size());
      if (!write_new(cert_path, cpem, 0644, error)) return false;
    }
  }
  std::string cert_pem, key_pem;
  if (!read_secret_file(key_path, key_pem, error) || !read_plain(cert_path, cert_pem, error)) return false;
  if (!parse_pair(cert_path, cert_pem, key_path, key_pem, out, error)) {
    if (cert_file.empty()) error += " (remove " + cert_path + " and " + key_path + " to make a new self-signed pair)";
    return false;
  }
  return true;
}

bool configure_web_ssl_ctx(SSL_CTX& ctx, const WebTlsIdentity& id) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (id.chain.empty() || SSL_CTX_use_certificate(&ctx, id.chain[0].get()) != 1 ||
      SSL_CTX_use_PrivateKey(&ctx, id.key.get()) != 1)
    return ERR_clear_error(), false;
  for (std::size_t i = 1; i < id.chain.size(); ++i)
    if (SSL_CTX_add1_chain_cert(&ctx, id.chain[i].get()) != 1) return ERR_clear_error(), false;
  return SSL_CTX_check_private_key(&ctx) == 1;
}

}  // namespace bastion
