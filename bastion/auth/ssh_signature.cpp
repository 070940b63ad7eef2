#include "auth/ssh_signature.h"

#include <memory>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "common/ssh_wire.h"

namespace bastion {
namespace {

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct CtxFree { void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
struct BnFree { void operator()(BIGNUM* p) const { BN_free(p); } };
struct BldFree { void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); } };
struct EcSigFree { void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn bn_from_mpint(std::string_view m) {
  // SSH mpints are big-endian two's complement; keys are positive.
  if (!m.empty() && (static_cast<unsigned char>(m[0]) & 0x80)) return nullptr;
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(m.data()),
                      static_cast<int>(m.size()), nullptr));
}

Pkey pkey_fromdata(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pk = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pk, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return nullptr;
  return Pkey(pk);
}

bool digest_verify(EVP_PKEY* key, const EVP_MD* md, std::string_view sig, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

bool verify_ed25519(WireReader& key, std::string_view sig, std::string_view data,
                    std::string& error) {
  std::string_view pk;
  if (!key.string(pk) || pk.size() != 32 || sig.size() != 64)
    return error = "malformed ed25519 key or signature", false;
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                        reinterpret_cast<const unsigned char*>(pk.data()), 32));
  if (!pkey) return error = "invalid ed25519 key", false;
  return digest_verify(pkey.get(), nullptr, sig, data) || (error = "bad signature", false);
}

bool verify_ecdsa(std::string_view key_type, WireReader& key, std::string_view sig_type,
                  std::string_view sig, std::string_view data, std::string& error) {
  std::string_view curve, q;
  if (sig_type != key_type) return error = "signature type does not match key", false;
  if (!key.string(curve) || !key.string(q)) return error = "malformed ecdsa key", false;
  const char* group;
  const EVP_MD* md;
  if (curve == "nistp256") group = "prime256v1", md = EVP_sha256();
  else if (curve == "nistp384") group = "secp384r1", md = EVP_sha384();
  else if (curve == "nistp521") group = "secp521r1", md = EVP_sha512();
  else return error = "unsupported ecdsa curve", false;

  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, q.data(), q.size()))
    return error = "out of memory", false;
  Pkey pkey = pkey_fromdata("EC", bld.get());
  if (!pkey) return error = "invalid ecdsa key", false;

  // SSH carries (mpint r, mpint s); OpenSSL wants DER.
  WireReader sr(sig);
  std::string_view r, s;
  if (!sr.string(r) || !sr.string(s) || !sr.done()) return error = "malformed ecdsa signature", false;
  Bn br = bn_from_mpint(r), bs = bn_from_mpint(s);
  if (!br || !bs) return error = "malformed ecdsa signature", false;
  std::unique_ptr<ECDSA_SIG, EcSigFree> es(ECDSA_SIG_new());
  if (!es || ECDSA_SIG_set0(es.get(), br.get(), bs.get()) != 1) return error = "out of memory", false;
  br.release();
  bs.release();
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(es.get(), &der);
  if (der_len <= 0) return error = "malformed ecdsa signature", false;
  const bool ok = digest_verify(pkey.get(), md,
                                std::string_view(reinterpret_cast<char*>(der), der_len), data);
  OPENSSL_free(der);
  return ok || (error = "bad signature", false);
}

bool verify_rsa(WireReader& key, std::string_view sig_type, std::string_view sig,
                std::string_view data, std::string& error) {
  const EVP_MD* md;
  if (sig_type == "rsa-sha2-256") md = EVP_sha256();
  else if (sig_type == "rsa-sha2-512") md = EVP_sha512();
  else if (sig_type == "ssh-rsa") return error = "SHA-1 RSA signatures (ssh-rsa) are not accepted", false;
  else return error = "unsupported RSA signature type", false;
  std::string_view e, n;
  if (!key.string(e) || !key.string(n)) return error = "malformed rsa key", false;
  Bn be = bn_from_mpint(e), bnn = bn_from_mpint(n);
  if (!be || !bnn) return error = "malformed rsa key", false;
  if (BN_num_bits(bnn.get()) < kMinRsaBits) return error = "RSA key too small", false;
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bnn.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get()))
    return error = "out of memory", false;
  Pkey pkey = pkey_fromdata("RSA", bld.get());
  if (!pkey) return error = "invalid rsa key", false;
  return digest_verify(pkey.get(), md, sig, data) || (error = "bad signature", false);
}

}  // namespace

bool verify_ssh_signature(std::string_view key_blob, std::string_view signature_blob,
                          std::string_view data, std::string& error) {
  WireReader key(key_blob), sigr(signature_blob);
  std::string_view key_type, sig_type, sig;
  if (!key.string(key_type)) return error = "malformed signature key", false;
  if (!sigr.string(sig_type) || !sigr.string(sig) || !sigr.done())
    return error = "malformed signature", false;
  if (key_type == "ssh-ed25519") {
    if (sig_type != "ssh-ed25519") return error = "signature type does not match key", false;
    return verify_ed25519(key, sig, data, error);
  }
  if (key_type.starts_with("ecdsa-sha2-nistp")) return verify_ecdsa(key_type, key, sig_type, sig, data, error);
  if (key_type == "ssh-rsa") return verify_rsa(key, sig_type, sig, data, error);
  error = "unsupported CA key type " + std::string(key_type);
  return false;
}

}  // namespace bastion
