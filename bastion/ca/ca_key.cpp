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
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "ca/openssh_private_key.h"
#include "common/base64.h"
#include "common/secret_file.h"
#include "common/ssh_handles.h"
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

std::unique_ptr<CaKey> CaKey::load(const std::string& path, const PassphraseSource& passphrase,
                                   std::string& error) {
  std::string text;
  if (!read_secret_file(path, text, error)) return nullptr;
  auto ca = from_text(text, path, passphrase, error);
  explicit_bzero(text.data(), text.size());
  return ca;
}

namespace {

struct PassphraseCall {
  const CaKey::PassphraseSource* source;
  bool asked = false;
};

// OpenSSL's PEM passphrase callback, asked only for an encrypted key. Never
// OpenSSL's default one: that would read the terminal inside bastiond.
int pem_passphrase(char* buf, int size, int, void* u) {
  auto* call = static_cast<PassphraseCall*>(u);
  call->asked = true;
  if (!*call->source) return -1;
  std::optional<std::string> p = (*call->source)();
  if (!p || p->size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, p->data(), p->size());
  const int n = static_cast<int>(p->size());
  explicit_bzero(p->data(), p->size());
  return n;
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

Bn bn(const std::string& magnitude) {
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(magnitude.data()), static_cast<int>(magnitude.size()),
                      nullptr));
}

// OpenSSH stores n, e, d, iqmp, p, q; OpenSSL also wants d mod (p-1) and d mod (q-1).
EVP_PKEY* rsa_from_parts(const OpensshPrivateKey& k) {
  Bn n = bn(k.rsa_n), e = bn(k.rsa_e), d = bn(k.rsa_d), iqmp = bn(k.rsa_iqmp), p = bn(k.rsa_p), q = bn(k.rsa_q);
  Bn dmp1(BN_new()), dmq1(BN_new()), t(BN_new());
  std::unique_ptr<BN_CTX, BnCtxFree> ctx(BN_CTX_new());
  if (!n || !e || !d || !iqmp || !p || !q || !dmp1 || !dmq1 || !t || !ctx) return nullptr;
  if (!BN_sub(t.get(), p.get(), BN_value_one()) || !BN_mod(dmp1.get(), d.get(), t.get(), ctx.get()) ||
      !BN_sub(t.get(), q.get(), BN_value_one()) || !BN_mod(dmq1.get(), d.get(), t.get(), ctx.get()))
    return nullptr;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp.get()))
    return nullptr;
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> pctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !pctx || EVP_PKEY_fromdata_init(pctx.get()) != 1 ||
      EVP_PKEY_fromdata(pctx.get(), &key, EVP_PKEY_KEYPAIR, params.get()) != 1)
    return nullptr;
  // A key whose parts do not fit together (a corrupted file) signs garbage: check it.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new(key, nullptr));
  if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return key;
}

// An unencrypted OpenSSH-format key, parsed here (Ed25519, RSA); null for other types.
EVP_PKEY* from_openssh_parts(const OpensshPrivateKey& k) {
  if (k.key_type == "ssh-ed25519")
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                        reinterpret_cast<const unsigned char*>(k.ed25519_seed.data()), 32);
  if (k.key_type == "ssh-rsa") return rsa_from_parts(k);
  return nullptr;
}

// An OpenSSH-format key as OpenSSL's key: unencrypted Ed25519 and RSA keys
// parsed here; the rest decrypted by libssh and handed over in the format
// libssh 0.10 exports (OpenSSH for Ed25519, PEM for ECDSA; it cannot
// export RSA keys it read from this format).
EVP_PKEY* from_openssh(std::string_view text, const std::string& name, const CaKey::PassphraseSource& source,
                       std::string& error) {
  OpensshPrivateKey parsed;
  if (!parse_openssh_private_key(text, parsed, error)) return error = name + ": " + error, nullptr;
  if (parsed.cipher == "none" && (parsed.key_type == "ssh-ed25519" || parsed.key_type == "ssh-rsa")) {
    EVP_PKEY* k = from_openssh_parts(parsed);
    if (!k) error = name + ": a malformed " + parsed.key_type + " key";
    return k;
  }
  std::optional<std::string> pass;
  if (parsed.cipher != "none") {
    if (source) pass = source();
    if (!pass) return error = name + ": the key is encrypted and no passphrase was given", nullptr;
  }
  std::string armoured(text);  // libssh wants it NUL-terminated
  ssh_key raw = nullptr;
  const int rc = ssh_pki_import_privkey_base64(armoured.c_str(), pass ? pass->c_str() : nullptr, nullptr, nullptr, &raw);
  explicit_bzero(armoured.data(), armoured.size());
  if (pass) explicit_bzero(pass->data(), pass->size());
  if (rc != SSH_OK)
    return error = name + (parsed.cipher != "none" ? ": wrong passphrase, or a key libssh cannot load"
                                                  : ": a key libssh cannot load"), nullptr;
  SshKey key(raw);
  char* out = nullptr;
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &out) != SSH_OK || !out)
    return error = name + ": libssh cannot hand this key over (an encrypted RSA key in OpenSSH format? convert it "
                          "with ssh-keygen -p -m PEM -f FILE)",
           nullptr;
  std::string plain(out);
  explicit_bzero(out, plain.size());
  ssh_string_free_char(out);
  EVP_PKEY* k = nullptr;
  if (is_openssh_private_key(plain)) {
    OpensshPrivateKey p2;
    if (parse_openssh_private_key(plain, p2, error)) k = from_openssh_parts(p2);
  } else {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(plain.data(), static_cast<int>(plain.size())));
    if (bio) k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  }
  explicit_bzero(plain.data(), plain.size());
  if (!k) error = name + ": unsupported key type (Ed25519, ECDSA or RSA)";
  return k;
}

}  // namespace

std::unique_ptr<CaKey> CaKey::from_text(std::string_view text, const std::string& name,
                                        const PassphraseSource& passphrase, std::string& error) {
  EVP_PKEY* k = nullptr;
  if (is_openssh_private_key(text)) {
    k = from_openssh(text, name, passphrase, error);
    if (!k) return nullptr;
  } else {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    PassphraseCall call{&passphrase, false};
    if (bio) k = PEM_read_bio_PrivateKey(bio.get(), nullptr, pem_passphrase, &call);
    if (!k)
      return error = name + (call.asked ? ": encrypted, and the passphrase was missing or wrong"
                                        : ": not a CA key (bastionctl ca init's PEM, or an OpenSSH private key)"),
             nullptr;
  }
  std::unique_ptr<CaKey> ca(new CaKey(k));
  if (!ca->init(error)) return error = name + ": " + error, nullptr;
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
  // Neither half replaces an existing file (the O_EXCL opens below hold
  // against races; this keeps a refused FILE.pub from leaving FILE behind).
  if (::access((path + ".pub").c_str(), F_OK) == 0) return error = path + ".pub: exists (not overwritten)", false;
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
  // The public half is public, but an existing FILE.pub is not replaced either.
  const int pfd = ::open((path + ".pub").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  FILE* pub = pfd < 0 ? nullptr : ::fdopen(pfd, "w");
  if (!pub) {
    if (pfd >= 0) ::close(pfd);
    return error = path + ".pub: " + std::strerror(errno) + (errno == EEXIST ? " (not overwritten)" : ""), false;
  }
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
