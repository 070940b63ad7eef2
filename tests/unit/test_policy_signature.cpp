// Signed stored policies (audit/policy_signature.h): the signed texts, and
// the activation chains an instance walks before it runs a version.
#include <catch2/catch.hpp>

#include "audit/audit_signer.h"
#include "audit/policy_signature.h"
#include "policy/policy_library.h"
#include "policy/policy_store.h"
#include "test_util.h"

using namespace bastion;

namespace {

struct Keys {
  testutil::TempDir d;
  std::unique_ptr<AuditSigner> admin, other;
  Keys() {
    std::string err;
    admin = AuditSigner::load_or_create(d / "admin", err);
    other = AuditSigner::load_or_create(d / "other", err);
    REQUIRE((admin && other));
  }
};

// Appends an activation of `name`, signed by `key` over its id and the link
// to the last row of its name in `rows`.
void activate(std::vector<ActivationRow>& rows, const std::string& name, int64_t version, const AuditSigner& key) {
  ActivationRow a{.id = static_cast<int64_t>(rows.size()) + 1, .name = name, .version = version, .action = "push",
                  .changed_by = "root", .changed_at = "2026-12-01T00:00:00Z", .sig = std::nullopt};
  const ActivationRow* prev = nullptr;
  for (const auto& r : rows)
    if (r.name == name) prev = &r;
  a.sig = PolicySignature{.signer = key.verifier().public_pem(),
                          .signature = key.sign(policy_activation_signed_text(a, activation_link_after(prev)))};
  rows.push_back(std::move(a));
}

// guard@1, other@1, guard@2, all pushed by the admin.
std::vector<ActivationRow> admin_history(const Keys& k) {
  std::vector<ActivationRow> rows;
  activate(rows, "guard", 1, *k.admin);
  activate(rows, "other", 1, *k.admin);
  activate(rows, "guard", 2, *k.admin);
  return rows;
}

}  // namespace

TEST_CASE("policy signatures: a foreign push in the history never runs, and the next admin push runs again",
          "[policy-signature]") {
  Keys k;
  const std::vector<std::string> trusted{k.admin->fingerprint()};
  std::vector<ActivationRow> rows = admin_history(k);
  CHECK_FALSE(activation_refusal(check_activation_chains(rows, &trusted), "guard"));
  CHECK_FALSE(activation_refusal(check_activation_chains(rows, &trusted), "other"));
  CHECK(*activation_refusal(check_activation_chains(rows, &trusted), "none") == "no activation of none in the store");
  // Someone with the store and a key of their own.
  activate(rows, "guard", 3, *k.other);
  CHECK(*activation_refusal(check_activation_chains(rows, &trusted), "guard") ==
        "policy_activations 4 (store:guard@3, push) is signed by " + k.other->fingerprint() +
            ", which policy_signers does not name");
  CHECK_FALSE(activation_refusal(check_activation_chains(rows, &trusted), "other"));
  activate(rows, "guard", 2, *k.admin);  // an admin pushes again: linked past the foreign row
  CHECK_FALSE(activation_refusal(check_activation_chains(rows, &trusted), "guard"));
  // verify reports the foreign row all the same.
  const auto verdicts = check_activation_chains(rows, &trusted);
  REQUIRE(verdicts.size() == 5);
  CHECK(verdicts[3].check == SignatureCheck::untrusted);
  // Unsigned rows are foreign too.
  rows.push_back({.id = 6, .name = "guard", .version = 1, .action = "push", .changed_by = "root",
                  .changed_at = "2026-12-01T00:00:00Z", .sig = std::nullopt});
  CHECK(*activation_refusal(check_activation_chains(rows, &trusted), "guard") ==
        "policy_activations 6 (store:guard@1, push) is not signed (it was not written by bastionctl policy push or "
        "rollback)");
}

TEST_CASE("policy signatures: a row edited, renamed, moved or copied anywhere stops every name", "[policy-signature]") {
  Keys k;
  const std::vector<std::string> trusted{k.admin->fingerprint()};
  const std::vector<ActivationRow> base = admin_history(k);
  const std::string mismatch = ": its signature does not match the row (edited, moved or copied after it was signed)";
  {
    auto rows = base;
    rows[0].name = "guard-old";  // an old activation renamed away
    CHECK(*activation_refusal(check_activation_chains(rows, &trusted), "other") ==
          "policy_activations 1 (store:guard-old@1, push)" + mismatch);
  }
  {
    auto rows = base;
    rows.push_back(rows[0]);  // version 1's activation copied in as the newest
    rows.back().id = 4;
    CHECK(*activation_refusal(check_activation_chains(rows, &trusted), "guard") ==
          "policy_activations 4 (store:guard@1, push)" + mismatch);
  }
  {
    auto rows = base;
    rows.erase(rows.begin());  // the first activation deleted: the next one's link is broken
    CHECK(*activation_refusal(check_activation_chains(rows, &trusted), "guard") ==
          "policy_activations 3 (store:guard@2, push)" + mismatch);
  }
  {
    auto rows = base;
    rows[2].version = 1;  // which version it activates, edited
    CHECK(activation_refusal(check_activation_chains(rows, &trusted), "guard"));
  }
  // The order rows are read in does not matter; ids do.
  auto shuffled = base;
  std::swap(shuffled[0], shuffled[2]);
  CHECK_FALSE(activation_refusal(check_activation_chains(shuffled, &trusted), "guard"));
}

TEST_CASE("policy signatures: the signed texts hold the row id and keep every byte apart", "[policy-signature]") {
  StoredPolicy p{.name = "guard", .version = 3, .text = "x", .modules = {}, .hash = sha256_hex("x"),
                 .pushed_by = "root", .pushed_at = "2026-12-01T00:00:00Z", .note = "n"};
  const std::string t = policy_version_signed_text(7, p, "{}");
  CHECK(t == "{\"id\":7,\"kind\":\"policy version\",\"modules_sha256\":\"" + sha256_hex("{}") +
                 "\",\"name\":\"guard\",\"note\":\"n\",\"pushed_at\":\"2026-12-01T00:00:00Z\",\"pushed_by\":\"root\","
                 "\"sha256\":\"" + sha256_hex("x") + "\",\"version\":3}");
  CHECK(policy_version_signed_text(8, p, "{}") != t);
  // Invalid UTF-8 is spelled out, never replaced: two byte strings, two texts.
  StoredPolicy a = p, b = p;
  a.note = "\xff";
  b.note = "\xfe";
  CHECK(policy_version_signed_text(7, a, "{}") != policy_version_signed_text(7, b, "{}"));
  CHECK(policy_version_signed_text(7, a, "{}").find("\"note\":{\"hex\":\"ff\"}") != std::string::npos);
  const ActivationRow r{.id = 2, .name = "guard", .version = 1, .action = "rollback", .changed_by = "bob",
                        .changed_at = "t", .sig = std::nullopt};
  CHECK(policy_activation_signed_text(r, {}) ==
        "{\"action\":\"rollback\",\"changed_at\":\"t\",\"changed_by\":\"bob\",\"id\":2,\"kind\":\"policy activation\","
        "\"name\":\"guard\",\"prev_id\":0,\"prev_sig_sha256\":\"\",\"version\":1}");
  const ActivationRow prev{.id = 1, .name = "guard", .version = 1, .action = "push", .changed_by = "bob",
                           .changed_at = "t", .sig = PolicySignature{.signer = "", .signature = "c2ln"}};
  const auto link = activation_link_after(&prev);
  CHECK((link.prev_id == 1 && link.prev_sig_sha256 == sha256_hex("c2ln")));
  // A signer that is not an Ed25519 public key is refused, not trusted.
  CHECK(check_policy_signature("x", PolicySignature{.signer = "junk", .signature = ""}, nullptr) ==
        SignatureCheck::not_ed25519);
}
