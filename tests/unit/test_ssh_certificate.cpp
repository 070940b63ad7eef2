#include <catch2/catch.hpp>

#include "auth/cert_verifier.h"
#include "auth/public_key.h"
#include "auth/ssh_certificate.h"
#include "common/time_util.h"
#include "test_util.h"

using namespace bastion;
using testutil::keygen;
using testutil::sign;

namespace {

struct Fixture {
  testutil::TempDir dir;
  std::string ca = keygen(dir, "ca");
  std::vector<PublicKey> cas;
  Fixture() {
    std::string err;
    REQUIRE(load_public_keys(ca + ".pub", cas, err));
  }
  SshCertificate cert(const std::string& key, const std::string& args, const std::string& with_ca = "") {
    SshCertificate c;
    std::string err;
    REQUIRE(parse_ssh_certificate(sign(with_ca.empty() ? ca : with_ca, key, args), c, err));
    return c;
  }
  CertVerdict verify(const SshCertificate& c, const std::string& peer = "127.0.0.1") {
    TrustAnchors a{cas, nullptr, 60};
    return verify_user_certificate(c, a, unix_now(), peer);
  }
};

}  // namespace

TEST_CASE("parses the fields ssh-keygen wrote", "[cert]") {
  Fixture f;
  const auto key = keygen(f.dir, "user");
  const auto c = f.cert(key, "-I alice@corp -n ops,dev -z 77 -V 20300101:20300102 "
                             "-O force-command=uptime -O source-address=10.0.0.0/8");
  CHECK(c.cert_type_name == "ssh-ed25519-cert-v01@openssh.com");
  CHECK(c.key_type == "ssh-ed25519");
  CHECK(c.key_id == "alice@corp");
  CHECK(c.principals == std::vector<std::string>{"ops", "dev"});
  CHECK(c.serial == 77);
  CHECK(c.type == kSshCertTypeUser);
  REQUIRE(c.critical_options.size() == 2);
  CHECK(c.critical_options[0] == std::pair<std::string, std::string>{"force-command", "uptime"});
  CHECK(c.critical_options[1] == std::pair<std::string, std::string>{"source-address", "10.0.0.0/8"});
  CHECK(c.signature_key == f.cas[0].blob);
  std::vector<PublicKey> user;
  std::string err;
  REQUIRE(load_public_keys(key + ".pub", user, err));
  CHECK(c.public_key_blob == user[0].blob);
}

TEST_CASE("accepts every supported user key and CA type", "[cert]") {
  Fixture f;
  struct Case { const char* type; int bits; const char* sig; };
  for (auto ca_case : {Case{"ed25519", 0, ""}, Case{"ecdsa", 256, ""}, Case{"ecdsa", 384, ""},
                       Case{"ecdsa", 521, ""}, Case{"rsa", 3072, "rsa-sha2-256"},
                       Case{"rsa", 3072, "rsa-sha2-512"}}) {
    const std::string name = std::string("ca_") + ca_case.type + std::to_string(ca_case.bits) + ca_case.sig;
    const auto ca = keygen(f.dir, name, ca_case.type, ca_case.bits);
    std::string err;
    REQUIRE(load_public_keys(ca + ".pub", f.cas, err));
    for (auto user_type : {"ed25519", "ecdsa", "rsa"}) {
      const auto key = keygen(f.dir, name + "_" + user_type, user_type);
      const std::string sig = *ca_case.sig ? std::string(" -t ") + ca_case.sig : "";
      const auto c = f.cert(key, "-I u -n ops -V -5m:+5m" + sig, ca);
      INFO(name << " signing " << user_type);
      const auto v = f.verify(c);
      CHECK(v.accepted);
      CHECK(v.reason == "");
    }
  }
}

TEST_CASE("refuses with a precise reason", "[cert]") {
  Fixture f;
  const auto key = keygen(f.dir, "user");
  auto reason = [&](const std::string& args, const std::string& peer = "127.0.0.1") {
    const auto v = f.verify(f.cert(key, args), peer);
    CHECK_FALSE(v.accepted);
    return v.reason;
  };
  CHECK(reason("-I a -n ops -h -V -5m:+5m") == "not a user certificate");
  CHECK(reason("-I a -n ops -V -2h:-1h") == "certificate expired");
  CHECK(reason("-I a -n ops -V +1h:+2h") == "certificate not yet valid");
  CHECK(reason("-I a -V -5m:+5m") == "certificate has no principals");
  CHECK(reason("-I a -n ops -V -5m:+5m -O critical:foo=bar") == "unsupported critical option \"foo\"");
  CHECK(reason("-I a -n ops -V -5m:+5m -O source-address=10.0.0.0/8") ==
        "source address 127.0.0.1 not in \"10.0.0.0/8\"");
  CHECK(f.verify(f.cert(key, "-I a -n ops -V -5m:+5m -O source-address=10.0.0.0/8"), "10.1.2.3").accepted);
}

TEST_CASE("clock skew applies to valid_after only", "[cert]") {
  Fixture f;
  const auto key = keygen(f.dir, "user");
  const auto c = f.cert(key, "-I a -n ops -V +30s:+1h");  // valid in 30 s
  TrustAnchors strict{f.cas, nullptr, 0}, lenient{f.cas, nullptr, 60};
  CHECK_FALSE(verify_user_certificate(c, strict, unix_now(), "127.0.0.1").accepted);
  CHECK(verify_user_certificate(c, lenient, unix_now(), "127.0.0.1").accepted);
  // Expiry is exact whatever the skew.
  CHECK(verify_user_certificate(c, lenient, static_cast<int64_t>(c.valid_before), "127.0.0.1").reason ==
        "certificate expired");
}

TEST_CASE("refuses untrusted CAs and SHA-1 RSA signatures", "[cert]") {
  Fixture f;
  const auto key = keygen(f.dir, "user");
  const auto other = keygen(f.dir, "other");
  auto v = f.verify(f.cert(key, "-I a -n ops -V -5m:+5m", other));
  CHECK_FALSE(v.accepted);
  CHECK(v.reason.rfind("certificate signed by untrusted CA SHA256:", 0) == 0);

  const auto rsa = keygen(f.dir, "rsa_ca", "rsa", 3072);
  std::string err;
  REQUIRE(load_public_keys(rsa + ".pub", f.cas, err));
  v = f.verify(f.cert(key, "-I a -n ops -V -5m:+5m -t ssh-rsa", rsa));
  CHECK(v.reason == "certificate signature invalid: SHA-1 RSA signatures (ssh-rsa) are not accepted");
}

TEST_CASE("any changed byte in the signed part breaks the signature", "[cert]") {
  Fixture f;
  const auto key = keygen(f.dir, "user");
  const std::string blob = sign(f.ca, key, "-I alice -n ops -V -5m:+5m");
  SshCertificate good;
  std::string err;
  REQUIRE(parse_ssh_certificate(blob, good, err));
  // Flip one bit at a time across the signed part; each must either fail to
  // parse or fail verification, never pass.
  for (std::size_t i = 0; i < good.signed_data.size(); i += 7) {
    std::string bad = blob;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    SshCertificate c;
    std::string e;
    if (!parse_ssh_certificate(bad, c, e)) continue;
    INFO("byte " << i);
    CHECK_FALSE(f.verify(c).accepted);
  }
}

TEST_CASE("truncated and padded blobs are rejected cleanly", "[cert]") {
  Fixture f;
  const auto key = keygen(f.dir, "user");
  const std::string blob = sign(f.ca, key, "-I alice -n ops -V -5m:+5m");
  for (std::size_t n = 0; n < blob.size(); ++n) {
    SshCertificate c;
    std::string err;
    CHECK_FALSE(parse_ssh_certificate(blob.substr(0, n), c, err));
    CHECK_FALSE(err.empty());
  }
  SshCertificate c;
  std::string err;
  CHECK_FALSE(parse_ssh_certificate(blob + "x", c, err));
  CHECK(err == "trailing data after signature");
}

TEST_CASE("public key lines and fingerprints match ssh-keygen", "[cert]") {
  testutil::TempDir d;
  const auto k = keygen(d, "k");
  std::vector<PublicKey> keys;
  std::string err;
  REQUIRE(load_public_keys(k + ".pub", keys, err));
  std::string fp = testutil::capture("ssh-keygen -l -f " + k + ".pub | awk '{print $2}'");
  REQUIRE(fp.size() > 8);
  fp.pop_back();
  CHECK(sha256_fingerprint(keys[0].blob) == fp);

  testutil::spit(d / "bad", "# comment\n\nssh-ed25519 AAAA!!notbase64\n");
  keys.clear();
  CHECK_FALSE(load_public_keys(d / "bad", keys, err));
  CHECK(err == (d / "bad") + ":3: invalid base64 key data");
}
