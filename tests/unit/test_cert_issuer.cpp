// The bastion CA's certificates pass the bastion's own parser and verifier,
// for every CA key type, and a bit flip anywhere is caught.
#include <catch2/catch.hpp>

#include "auth/cert_verifier.h"
#include "auth/ssh_certificate.h"
#include "ca/ca_key.h"
#include "ca/cert_issuer.h"
#include "test_util.h"

using namespace bastion;
using namespace testutil;

TEST_CASE("issued certificates verify, for every CA type", "[ca]") {
  TempDir d;
  const std::string user = keygen(d, "user", "ed25519");
  std::string err;
  const std::string line = slurp(user + ".pub");
  auto subject = parse_public_key_line(line.substr(0, line.find('\n')), err);
  REQUIRE(subject);
  for (const auto& [type, bits] : std::vector<std::pair<std::string, int>>{{"ed25519", 0}, {"ecdsa", 256},
                                                                          {"ecdsa", 384}, {"ecdsa", 521},
                                                                          {"rsa", 2048}}) {
    INFO(type << " " << bits);
    auto ca = CaKey::generate(type, bits, err);
    REQUIRE(ca);
    const std::string path = d / ("ca_" + type + std::to_string(bits));
    REQUIRE(ca->save(path, "test", err));
    auto loaded = CaKey::load(path, err);
    REQUIRE(loaded);
    CHECK(loaded->public_blob() == ca->public_blob());
    CertRequest req;
    req.subject = *subject;
    req.serial = 42;
    req.key_id = "alice";
    req.principals = {"ops", "dba"};
    req.valid_after = 1000;
    req.valid_before = 5000;
    req.source_address = "10.0.0.0/8";
    const std::string blob = issue_user_certificate(req, *loaded, err);
    REQUIRE_FALSE(blob.empty());
    SshCertificate cert;
    REQUIRE(parse_ssh_certificate(blob, cert, err));
    CHECK(cert.serial == 42);
    CHECK(cert.key_id == "alice");
    CHECK(cert.principals == std::vector<std::string>{"ops", "dba"});
    TrustAnchors anchors;
    anchors.user_cas.push_back(PublicKey{loaded->ssh_type(), loaded->public_blob(), ""});
    auto v = verify_user_certificate(cert, anchors, 2000, "10.1.2.3");
    CHECK(v.accepted);
    CHECK(v.reason == "");
    CHECK(v.source_address == std::optional<std::string>("10.0.0.0/8"));
    CHECK_FALSE(verify_user_certificate(cert, anchors, 6000, "10.1.2.3").accepted);
    // A flipped bit in the signed part breaks the signature.
    std::string bad = blob;
    bad[bad.size() / 3] ^= 0x01;
    SshCertificate tampered;
    if (parse_ssh_certificate(bad, tampered, err)) CHECK_FALSE(verify_user_certificate(tampered, anchors, 2000, "10.1.2.3").accepted);
  }
  CHECK_FALSE(CaKey::generate("dsa", 0, err));
  CHECK_FALSE(CaKey::generate("rsa", 1024, err));
}

TEST_CASE("mpint encoding", "[ca]") {
  CHECK(ssh_mpint(std::string("\x00\x00\x7f", 3)) == std::string("\x00\x00\x00\x01\x7f", 5));
  CHECK(ssh_mpint(std::string("\x80", 1)) == std::string("\x00\x00\x00\x02\x00\x80", 6));
  CHECK(ssh_mpint(std::string()) == std::string("\x00\x00\x00\x00", 4));
}
