// What a user is told about their own certificate: the verifier names the
// problems a holder can fix only for an otherwise trusted certificate, and
// each becomes one exact line.
#include <catch2/catch.hpp>

#include "auth/cert_problem_text.h"
#include "auth/cert_verifier.h"
#include "auth/ssh_certificate.h"
#include "ca/ca_key.h"
#include "ca/cert_issuer.h"
#include "test_util.h"

using namespace bastion;
using namespace testutil;

namespace {
SshCertificate issue(CaKey& ca, const PublicKey& subject, std::vector<std::string> principals,
                     const std::string& source) {
  CertRequest req;
  req.subject = subject;
  req.serial = 7;
  req.key_id = "alice";
  req.principals = std::move(principals);
  req.valid_after = 1000;
  req.valid_before = 5000;
  req.source_address = source;
  std::string err;
  const std::string blob = issue_user_certificate(req, ca, err);
  REQUIRE_FALSE(blob.empty());
  SshCertificate cert;
  REQUIRE(parse_ssh_certificate(blob, cert, err));
  return cert;
}
}  // namespace

TEST_CASE("the verifier lists every problem the holder can fix", "[auth]") {
  TempDir d;
  std::string err;
  const std::string line = slurp(keygen(d, "user", "ed25519") + ".pub");
  auto subject = parse_public_key_line(line.substr(0, line.find('\n')), err);
  REQUIRE(subject);
  auto ca = CaKey::generate("ed25519", 0, err);
  REQUIRE(ca);
  TrustAnchors anchors;
  anchors.clock_skew = 0;
  anchors.user_cas.push_back(PublicKey{ca->ssh_type(), ca->public_blob(), ""});

  const SshCertificate c = issue(*ca, *subject, {"ops"}, "10.0.0.0/8");
  const CertVerdict late = verify_user_certificate(c, anchors, 6000, "192.0.2.1");
  CHECK_FALSE(late.accepted);
  CHECK(late.reason == "certificate expired; source address 192.0.2.1 not in \"10.0.0.0/8\"");
  REQUIRE(late.problems.size() == 2);
  CHECK(late.problems[0].kind == CertProblem::Kind::expired);
  CHECK(late.problems[0].at == 5000);
  CHECK(late.problems[1].kind == CertProblem::Kind::source_address);
  CHECK(late.problems[1].allowed_from == "10.0.0.0/8");
  CHECK(late.problems[1].peer == "192.0.2.1");

  const CertVerdict early = verify_user_certificate(c, anchors, 10, "10.1.1.1");
  REQUIRE(early.problems.size() == 1);
  CHECK(early.problems[0].kind == CertProblem::Kind::not_yet_valid);
  CHECK(early.problems[0].at == 1000);

  // (No principals: the issuer refuses to make one; test_user_messages covers it.)
  // Another CA: no problem is named, whatever else is wrong.
  auto other = CaKey::generate("ed25519", 0, err);
  REQUIRE(other);
  const CertVerdict foreign = verify_user_certificate(issue(*other, *subject, {"ops"}, "10.0.0.0/8"), anchors, 6000,
                                                      "192.0.2.1");
  CHECK_FALSE(foreign.accepted);
  CHECK(foreign.problems.empty());

  // Accepted: nothing to say.
  CHECK(verify_user_certificate(c, anchors, 2000, "10.1.1.1").problems.empty());
}

TEST_CASE("each problem is one exact line", "[auth]") {
  CHECK(utc_minute(1795984439) == "2026-11-29 20:33Z");
  CHECK(utc_minute(UINT64_MAX) == "9999-12-31 23:59Z");
  const std::vector<CertProblem> all{
      {.kind = CertProblem::Kind::expired, .at = 1795984439, .allowed_from = {}, .peer = {}},
      {.kind = CertProblem::Kind::not_yet_valid, .at = 1795984439, .allowed_from = {}, .peer = {}},
      {.kind = CertProblem::Kind::no_principals, .at = 0, .allowed_from = {}, .peer = {}},
      {.kind = CertProblem::Kind::source_address, .at = 0, .allowed_from = "10.0.0.0/8", .peer = "192.0.2.1"}};
  CHECK(cert_problem_lines(all, "ask Bob") ==
        "bastion: your certificate expired at 2026-11-29 20:33Z; ask Bob\n"
        "bastion: your certificate is not valid before 2026-11-29 20:33Z; check this computer's clock, or ask Bob\n"
        "bastion: your certificate names no principals; ask Bob\n"
        "bastion: your certificate may be used only from 10.0.0.0/8, not from 192.0.2.1; log in from an allowed "
        "address, or ask Bob\n");
  CHECK(cert_problem_lines({all[0]}, kDefaultRenewHint) ==
        "bastion: your certificate expired at 2026-11-29 20:33Z; renew it with ssh-keygen -s, or ask your "
        "certificate authority\n");
  // A hint (admin's) or an option (CA's) cannot draw on the user's terminal.
  CHECK(cert_problem_lines({all[0]}, "x\x1b[2Jy") ==
        "bastion: your certificate expired at 2026-11-29 20:33Z; x\\x1b[2Jy\n");
}
