#include <catch2/catch.hpp>

#include "auth/revocation_list.h"
#include "auth/ssh_certificate.h"
#include "test_util.h"

using namespace bastion;
using testutil::keygen;
using testutil::sign;

namespace {
SshCertificate parse(const std::string& blob) {
  SshCertificate c;
  std::string err;
  REQUIRE(parse_ssh_certificate(blob, c, err));
  return c;
}
}  // namespace

TEST_CASE("KRL from ssh-keygen -k: serials, ranges, key ids, keys", "[krl]") {
  testutil::TempDir d;
  const auto ca = keygen(d, "ca");
  const auto user = keygen(d, "user");
  const auto bad_key = keygen(d, "badkey");
  testutil::spit(d / "spec", "serial: 5\nserial: 100-200\nid: mallory\n");
  testutil::sh("ssh-keygen -k -f " + (d / "krl") + " -s " + ca + ".pub " + (d / "spec"));
  testutil::sh("ssh-keygen -k -u -f " + (d / "krl") + " " + bad_key + ".pub");
  RevocationList rl;
  std::string err;
  REQUIRE(rl.load(d / "krl", err));

  std::string why;
  CHECK(rl.is_revoked(parse(sign(ca, user, "-I ok -n ops -z 5")), why));
  CHECK(why == "serial revoked");
  CHECK(rl.is_revoked(parse(sign(ca, user, "-I ok -n ops -z 150")), why));
  CHECK_FALSE(rl.is_revoked(parse(sign(ca, user, "-I ok -n ops -z 6")), why));
  CHECK_FALSE(rl.is_revoked(parse(sign(ca, user, "-I ok -n ops -z 201")), why));
  CHECK(rl.is_revoked(parse(sign(ca, user, "-I mallory -n ops -z 7")), why));
  CHECK(why == "key ID revoked");
  CHECK(rl.is_revoked(parse(sign(ca, bad_key, "-I ok -n ops -z 8")), why));
  CHECK(why == "key revoked");
  // Serials are per CA: another CA's serial 5 is not revoked.
  const auto ca2 = keygen(d, "ca2");
  CHECK_FALSE(rl.is_revoked(parse(sign(ca2, user, "-I ok -n ops -z 5")), why));
}

TEST_CASE("KRL serial bitmaps", "[krl]") {
  testutil::TempDir d;
  const auto ca = keygen(d, "ca");
  const auto user = keygen(d, "user");
  // Scattered serials make ssh-keygen choose the bitmap encoding.
  std::string spec;
  for (int s = 1000; s < 1400; s += 3) spec += "serial: " + std::to_string(s) + "\n";
  testutil::spit(d / "spec", spec);
  testutil::sh("ssh-keygen -k -f " + (d / "krl") + " -s " + ca + ".pub " + (d / "spec"));
  RevocationList rl;
  std::string err, why;
  REQUIRE(rl.load(d / "krl", err));
  CHECK(rl.is_revoked(parse(sign(ca, user, "-I a -n o -z 1003")), why));
  CHECK(rl.is_revoked(parse(sign(ca, user, "-I a -n o -z 1399")), why));
  CHECK_FALSE(rl.is_revoked(parse(sign(ca, user, "-I a -n o -z 1004")), why));
}

TEST_CASE("plain public key lines revoke keys and CAs", "[krl]") {
  testutil::TempDir d;
  const auto ca = keygen(d, "ca");
  const auto user = keygen(d, "user");
  RevocationList by_key, by_ca;
  std::string err, why;
  REQUIRE(by_key.load(user + ".pub", err));
  REQUIRE(by_ca.load(ca + ".pub", err));
  const auto c = parse(sign(ca, user, "-I a -n o"));
  CHECK(by_key.is_revoked(c, why));
  CHECK(why == "key revoked");
  CHECK(by_ca.is_revoked(c, why));
  CHECK(why == "CA key revoked");
}

TEST_CASE("malformed KRLs are refused with the file named", "[krl]") {
  testutil::TempDir d;
  testutil::spit(d / "bad", std::string("SSHKRL\n\0", 8) + "\x00\x00\x00\x01trunc");
  RevocationList rl;
  std::string err;
  CHECK_FALSE(rl.load(d / "bad", err));
  CHECK(err == (d / "bad") + ": invalid KRL: truncated header");
  CHECK_FALSE(rl.load(d / "missing", err));
  CHECK(err == (d / "missing") + ": cannot open");
}
