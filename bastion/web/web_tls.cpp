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

#include "common/secret_file.h"

namespace bastion {
namespace {

constexpr long kSelfSignedDays = 3650;

std::string bio_text(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

bool make_self_signed(std::string& cert_pem, std::string& key_pem, std::string& error) {
  PkeyPtr key(EVP_EC_gen("P-256"));  // browsers take P-256 server keys; not all take Ed25519
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
  X509_gmtime_adj(X509_getm_notAfter(x.get()), kSelfSignedDays * 86400);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("bastion auditor page"),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  // CA:TRUE so that clients can name this very file as their trust anchor.
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
  cert_pem = bio_text(cert.get());
  key_pem = bio_text(priv.get());
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
