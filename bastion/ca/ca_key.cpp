#include "ca/ca_key.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/base64.h"
#include "common/ssh_wire.h"

namespace bastion {
namespace {

std::string ossl_error() {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return buf;
}

std::string bn_bytes(const BIGNUM* bn) {
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

}  // namespace

std::string ssh_mpint(std::string_view magnitude) {
  std::size_t i = 0;
  while (i < magnitude.size() && magnitude[i] == '\0') ++i;
  std::string v(magnitude.substr(i));
  if (!v.empty() && (static_cast<unsigned char>(v[0]) & 0x80)) v.insert(v.begin(), '\0');
  std::string out;
  wire_put_string(out, v);
  return out;
}

std::unique_ptr<CaKey> CaKey::generate(const std::string& type, int bits, std::string& error) {
  EVP_PKEY* k = nullptr;
  if (type.empty() || type == "ed25519") {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  } else if (type == "ecdsa") {
    const char* curve = bits == 0 || bits == 256 ? "P-256" : bits == 384 ? "P-384" : bits == 521 ? "P-521" : nullptr;
    if (!curve) return error = "ECDSA keys are 256, 384 or 521 bits", nullptr;
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
  } else if (type == "rsa") {
    if (bits == 0) bits = 3072;
    if (bits < 2048 || bits > 16384) return error = "RSA keys are 2048 to 16384 bits", nullptr;
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  } else {
    return error = "unknown key type \"" + type + "\" (ed25519, ecdsa, rsa)", nullptr;
  }
  if (!k) return error = "key generation failed: " + ossl_error(), nullptr;
  std::unique_ptr<CaKey> ca(new CaKey(k));
  if (!ca->init(error)) return nullptr;
  return ca;
}

std::unique_ptr<CaKey> CaKey::load(const std::string& path, std::string& error) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return error = path + ": " + std::strerror(errno), nullptr;
  EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!k) return error = path + ": not a CA key made by bastionctl ca init (PKCS#8 PEM)", nullptr;
  std::unique_ptr<CaKey> ca(new CaKey(k));
  if (!ca->init(error)) return error = path + ": " + error, nullptr;
  return ca;
}

bool CaKey::init(std::string& error) {
  EVP_PKEY* k = key_.get();
  blob_.clear();
  switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_ED25519: {
      unsigned char pk[32];
      size_t len = sizeof pk;
      if (EVP_PKEY_get_raw_public_key(k, pk, &len) != 1 || len != 32) return error = "bad Ed25519 key", false;
      type_ = "ssh-ed25519";
      wire_put_string(blob_, type_);
      wire_put_string(blob_, std::string_view(reinterpret_cast<char*>(pk), len));
      return true;
    }
    case EVP_PKEY_EC: {
      char group[64];
      size_t glen = 0;
      if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) != 1)
        return error = "bad ECDSA key", false;
      const std::string g(group, glen);
      curve_ = g == "prime256v1" || g == "P-256" ? "nistp256" : g == "secp384r1" || g == "P-384" ? "nistp384"
             : g == "secp521r1" || g == "P-521" ? "nistp521" : "";
      if (curve_.empty()) return error = "unsupported curve " + g, false;
      unsigned char q[200];
      size_t qlen = 0;
      if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, q, sizeof q, &qlen) != 1)
        return error = "bad ECDSA key", false;
      type_ = "ecdsa-sha2-" + curve_;
      wire_put_string(blob_, type_);
      wire_put_string(blob_, curve_);
      wire_put_string(blob_, std::string_view(reinterpret_cast<char*>(q), qlen));
      return true;
    }
    case EVP_PKEY_RSA: {
      BIGNUM *n = nullptr, *e = nullptr;
      if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
          EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        BN_free(n);
        BN_free(e);
        return error = "bad RSA key", false;
      }
      if (BN_num_bits(n) < 2048) {
        BN_free(n);
        BN_free(e);
        return error = "RSA CA keys must have at least 2048 bits", false;
      }
      type_ = "ssh-rsa";
      wire_put_string(blob_, type_);
      blob_ += ssh_mpint(bn_bytes(e));
      blob_ += ssh_mpint(bn_bytes(n));
      BN_free(n);
      BN_free(e);
      return true;
    }
    default:
      return error = "unsupported key type (Ed25519, ECDSA or RSA)", false;
  }
}

bool CaKey::save(const std::string& path, const std::string& comment, std::string& error) const {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return error = path + ": " + std::strerror(errno) + (errno == EEXIST ? " (not overwritten)" : ""), false;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ::close(fd);
    ::unlink(path.c_str());
    return error = "cannot encode the key: " + ossl_error(), false;
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  const bool ok = ::write(fd, data, static_cast<size_t>(len)) == len && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return error = path + ": write failed", false;
  }
  FILE* pub = std::fopen((path + ".pub").c_str(), "w");
  if (!pub) return error = path + ".pub: " + std::strerror(errno), false;
  std::fprintf(pub, "%s %s %s\n", type_.c_str(), base64_encode(blob_).c_str(), comment.c_str());
  return std::fclose(pub) == 0 || (error = path + ".pub: write failed", false);
}

bool CaKey::sign(std::string_view data, std::string& signature, std::string& error) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return error = "out of memory", false;
  const EVP_MD* md = nullptr;
  std::string alg = type_;
  if (type_ == "ssh-rsa") md = EVP_sha512(), alg = "rsa-sha2-512";
  else if (curve_ == "nistp256") md = EVP_sha256();
  else if (curve_ == "nistp384") md = EVP_sha384();
  else if (curve_ == "nistp521") md = EVP_sha512();
  size_t len = 0;
  bool ok = EVP_DigestSignInit(ctx, nullptr, md, nullptr, key_.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  std::string sig(len, '\0');
  ok = ok && EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                            reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return error = "signing failed: " + ossl_error(), false;
  sig.resize(len);
  std::string body = sig;
  if (!curve_.empty()) {
    // DER ECDSA-Sig-Value -> mpint r, mpint s.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (!es) return error = "bad ECDSA signature", false;
    body = ssh_mpint(bn_bytes(ECDSA_SIG_get0_r(es))) + ssh_mpint(bn_bytes(ECDSA_SIG_get0_s(es)));
    ECDSA_SIG_free(es);
  }
  signature.clear();
  wire_put_string(signature, alg);
  wire_put_string(signature, body);
  return true;
}

}  // namespace bastion
