// Minted target certificates (ssh targets with `ca = ...`) and the OpenSSH
// private key format CA keys come in: the certificate names user, session
// and target, carries only permit-pty, starts a minute back, ends after the
// ttl, and verifies against the CA; ssh-keygen's keys load (plain,
// encrypted, RSA) as the same key their .pub names.
#include <catch2/catch.hpp>

#include "auth/cert_verifier.h"
#include "auth/ssh_certificate.h"
#include "ca/ca_key.h"
#include "ca/openssh_private_key.h"
#include "ca/target_cert_minter.h"
#include "common/base64.h"
#include "test_util.h"

using namespace bastion;
using namespace testutil;

namespace {

std::string pub_blob(const std::string& path) {
  const std::string line = slurp(path + ".pub");
  const auto a = line.find(' '), b = line.find(' ', a + 1);
  std::string blob;
  REQUIRE(base64_decode(line.substr(a + 1, b - a - 1), blob));
  return blob;
}

PublicKey subject_key(const TempDir& d) {
  const std::string user = keygen(d, "subject", "ed25519");
  std::string err;
  const std::string line = slurp(user + ".pub");
  auto k = parse_public_key_line(line.substr(0, line.find('\n')), err);
  REQUIRE(k);
  return *k;
}

}  // namespace

TEST_CASE("a minted certificate: key ID, principals, validity, only permit-pty", "[ca][mint]") {
  TempDir d;
  std::string err;
  auto ca = CaKey::generate("ed25519", 0, err);
  REQUIRE(ca);
  const MintParams p{.identity = "alice",
                     .session_id = "20261130T120000-00112233aabbccdd",
                     .target = "web1",
                     .principals = {"deploy", "ops"},
                     .now = 1'800'000'000,
                     .ttl = 300,
                     .serial = 77,
                     .source_address = "10.0.0.1"};
  const CertRequest req = minted_cert_request(subject_key(d), p);
  CHECK(req.key_id == "bastion:alice:session=20261130T120000-00112233aabbccdd:target=web1");
  CHECK(req.valid_after == 1'800'000'000 - 60);
  CHECK(req.valid_before == 1'800'000'300);
  CHECK_FALSE(req.force_command);
  CHECK(req.source_address == "10.0.0.1");
  const std::string blob = issue_user_certificate(req, *ca, err);
  REQUIRE_FALSE(blob.empty());
  SshCertificate cert;
  REQUIRE(parse_ssh_certificate(blob, cert, err));
  CHECK(cert.serial == 77);
  CHECK(cert.key_id == "bastion:alice:session=20261130T120000-00112233aabbccdd:target=web1");
  CHECK(cert.principals == std::vector<std::string>{"deploy", "ops"});
  CHECK(cert.valid_after == 1'800'000'000 - 60);
  CHECK(cert.valid_before == 1'800'000'300);
  // Only from the bastion's end of the connection it was minted for.
  CHECK(cert.critical_options == std::vector<std::pair<std::string, std::string>>{{"source-address", "10.0.0.1"}});
  CHECK(cert.extensions == std::vector<std::pair<std::string, std::string>>{{"permit-pty", ""}});
  TrustAnchors anchors;
  anchors.user_cas.push_back(PublicKey{ca->ssh_type(), ca->public_blob(), ""});
  CHECK(verify_user_certificate(cert, anchors, 1'800'000'000, "10.0.0.1").accepted);
  CHECK_FALSE(verify_user_certificate(cert, anchors, 1'800'000'300, "10.0.0.1").accepted);
  CHECK_FALSE(verify_user_certificate(cert, anchors, 1'800'000'000, "10.0.0.2").accepted);
}

TEST_CASE("a minted key ID escapes what would make it misread", "[ca][mint]") {
  // An identity that forges fields (":target=db1"), breaks a log line or
  // is not ASCII stays one field: percent-encoded, and '%' itself too.
  CHECK(key_id_field("alice") == "alice");
  CHECK(key_id_field("alice@example.com/x-y_z.1") == "alice@example.com/x-y_z.1");
  CHECK(key_id_field("x:target=db1") == "x%3Atarget%3Ddb1");
  CHECK(key_id_field("50%") == "50%25");
  CHECK(key_id_field("a b\tc\nd\x7f") == "a%20b%09c%0Ad%7F");
  CHECK(key_id_field("j\xc3\xbcrg") == "j%C3%BCrg");
  CHECK(key_id_field(std::string("a\0b", 3)) == "a%00b");
  CHECK(minted_key_id("eve:session=1:target=db1", "20261130T120000-00112233aabbccdd", "web1") ==
        "bastion:eve%3Asession%3D1%3Atarget%3Ddb1:session=20261130T120000-00112233aabbccdd:target=web1");
  MintParams p;
  p.identity = "eve\r\nbastion:root";
  p.session_id = "s";
  p.target = "web1";
  CHECK(minted_cert_request(PublicKey{}, p).key_id == "bastion:eve%0D%0Abastion%3Aroot:session=s:target=web1");
}

TEST_CASE("cert issue keeps ssh-keygen's default extensions", "[ca]") {
  TempDir d;
  std::string err;
  auto ca = CaKey::generate("ed25519", 0, err);
  REQUIRE(ca);
  CertRequest req;
  req.subject = subject_key(d);
  req.serial = 1;
  req.key_id = "bob";
  req.principals = {"ops"};
  req.valid_after = 1;
  req.valid_before = 2;
  SshCertificate cert;
  REQUIRE(parse_ssh_certificate(issue_user_certificate(req, *ca, err), cert, err));
  std::vector<std::string> names;
  for (const auto& [n, v] : cert.extensions) names.push_back(n);
  CHECK(names == std::vector<std::string>{"permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding",
                                          "permit-pty", "permit-user-rc"});
}

TEST_CASE("random serials are never 0 and fit 63 bits", "[ca]") {
  for (int i = 0; i < 100; ++i) {
    const uint64_t s = random_serial();
    CHECK(s != 0);
    CHECK(s >> 63 == 0);
  }
}

TEST_CASE("CA keys made by ssh-keygen load as the key their .pub names", "[ca][openssh]") {
  TempDir d;
  int asked = 0;
  const CaKey::PassphraseSource none = [&]() -> std::optional<std::string> {
    ++asked;
    return std::nullopt;
  };
  std::string err;
  for (const auto& [type, bits] : std::vector<std::pair<std::string, int>>{{"ed25519", 0}, {"rsa", 2048},
                                                                          {"ecdsa", 256}, {"ecdsa", 384}}) {
    INFO(type << bits);
    const std::string path = keygen(d, "plain_" + type + std::to_string(bits), type, bits);
    REQUIRE(slurp(path).starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    auto ca = CaKey::load(path, none, err);
    REQUIRE(ca);
    CHECK(ca->public_blob() == pub_blob(path));
    CHECK(asked == 0);  // not encrypted: no passphrase asked for
    std::string sig;
    REQUIRE(ca->sign("data", sig, err));
    if (type == "rsa") CHECK(sig.substr(4, 12) == "rsa-sha2-512");
  }
}

TEST_CASE("encrypted OpenSSH CA keys: the passphrase is asked for once, and checked", "[ca][openssh]") {
  TempDir d;
  std::string err;
  for (const std::string type : {"ed25519", "ecdsa"}) {
    INFO(type);
    const std::string path = d / ("enc_" + type);
    sh("ssh-keygen -q -t " + type + " -N 'open sesame' -f " + path);
    int asked = 0;
    auto ca = CaKey::load(path, [&]() -> std::optional<std::string> { return ++asked, "open sesame"; }, err);
    REQUIRE(ca);
    CHECK(asked == 1);
    CHECK(ca->public_blob() == pub_blob(path));
    CHECK_FALSE(CaKey::load(path, [] { return std::optional<std::string>("wrong"); }, err));
    CHECK(err == path + ": wrong passphrase, or a key libssh cannot load");
    CHECK_FALSE(CaKey::load(path, err));
    CHECK(err == path + ": the key is encrypted and no passphrase was given");
  }
}

TEST_CASE("the OpenSSH private key parser", "[ca][openssh]") {
  TempDir d;
  std::string err;
  const std::string path = keygen(d, "k", "ed25519");
  const std::string text = slurp(path);
  OpensshPrivateKey k;
  REQUIRE(parse_openssh_private_key(text, k, err));
  CHECK(k.cipher == "none");
  CHECK(k.key_type == "ssh-ed25519");
  CHECK(k.ed25519_seed.size() == 32);
  sh("ssh-keygen -q -t ed25519 -N secret123 -f " + (d / "e"));
  OpensshPrivateKey e;
  REQUIRE(parse_openssh_private_key(slurp(d / "e"), e, err));
  CHECK(e.cipher == "aes256-ctr");
  CHECK(e.ed25519_seed.empty());
  OpensshPrivateKey bad;
  CHECK_FALSE(parse_openssh_private_key("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
                                        bad, err));
  CHECK(err == "OpenSSH private key: not openssh-key-v1");
  // Truncated body: the base64 of the first 60 bytes only.
  std::string raw;
  std::string b64;
  for (char c : text.substr(36, text.find("-----END") - 36))
    if (c != '\n') b64 += c;
  REQUIRE(base64_decode(b64, raw));
  const std::string cut = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64_encode(raw.substr(0, 60)) +
                          "\n-----END OPENSSH PRIVATE KEY-----\n";
  CHECK_FALSE(parse_openssh_private_key(cut, bad, err));
  CHECK(err == "OpenSSH private key: malformed");
}
