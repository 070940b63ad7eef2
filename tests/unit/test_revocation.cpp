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
  CHECK(err == (d / "missing") + ": No such file or directory");
}

namespace {
std::string u32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
  return s;
}
std::string u64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (56 - 8 * i));
  return s;
}
std::string str(const std::string& v) { return u32(static_cast<uint32_t>(v.size())) + v; }
// A KRL with one certificate section (any CA) holding one serial bitmap.
std::string bitmap_krl(uint64_t offset, const std::string& bits) {
  std::string krl("SSHKRL\n\0", 8);
  krl += u32(1) + u64(1) + u64(0) + u64(0) + str("") + str("");
  const std::string sub = std::string(1, '\x22') + str(u64(offset) + str(bits));
  krl += std::string(1, '\x01') + str(str("") + str("") + sub);
  return krl;
}
SshCertificate with_serial(uint64_t serial) {
  SshCertificate c;
  c.serial = serial;
  c.signature_key = "some CA";
  c.public_key_blob = "some key";
  return c;
}
}  // namespace

TEST_CASE("KRL serial bitmaps are tested in place, without wrapping past 2^64", "[krl]") {
  std::string why;
  {
    // The largest bitmap accepted, every bit set: 8 million serials. Kept
    // as sent (1 MiB), not expanded into a set node per serial.
    RevocationList rl;
    std::string err;
    REQUIRE(rl.parse_krl(bitmap_krl(1000, std::string(1 << 20, '\xff')), err));
    CHECK(rl.is_revoked(with_serial(1000), why));
    CHECK(rl.is_revoked(with_serial(1000 + (uint64_t{8} << 20) - 1), why));
    CHECK_FALSE(rl.is_revoked(with_serial(999), why));
    CHECK_FALSE(rl.is_revoked(with_serial(1000 + (uint64_t{8} << 20)), why));
  }
  {
    // A bitmap at the top of the serial space: bits past 2^64 - 1 revoke
    // nothing (they used to wrap around and revoke serials 0..7).
    RevocationList rl;
    std::string err;
    REQUIRE(rl.parse_krl(bitmap_krl(UINT64_MAX - 7, "\xff\xff"), err));
    CHECK(rl.is_revoked(with_serial(UINT64_MAX), why));
    CHECK(why == "serial revoked");
    CHECK(rl.is_revoked(with_serial(UINT64_MAX - 7), why));
    for (uint64_t s = 0; s < 8; ++s) CHECK_FALSE(rl.is_revoked(with_serial(s), why));
  }
  {
    // Bit order: the last byte's low bit is the offset itself.
    RevocationList rl;
    std::string err;
    REQUIRE(rl.parse_krl(bitmap_krl(64, std::string("\x01\x00\x02", 3)), err));
    CHECK_FALSE(rl.is_revoked(with_serial(64), why));
    CHECK(rl.is_revoked(with_serial(65), why));
    CHECK(rl.is_revoked(with_serial(64 + 16), why));
    CHECK_FALSE(rl.is_revoked(with_serial(64 + 17), why));
  }
}
