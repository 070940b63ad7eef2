#include "audit/policy_signature.h"

#include <algorithm>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "audit/audit_signer.h"
#include "audit/audit_source.h"
#include "audit/policy_tables.h"
#include "policy/policy_library.h"
#include "policy/policy_store.h"

namespace bastion {
namespace {

// nlohmann's objects keep keys sorted: one spelling for signer and checker.
std::string canonical(const nlohmann::json& j) { return j.dump(-1, ' ', true); }

// A text field: a JSON string when it is UTF-8, else {"hex": its bytes}, so
// two different byte strings never sign the same text (a lenient encoder
// would turn every invalid byte into the same replacement character).
nlohmann::json field(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump(-1, ' ', true, nlohmann::json::error_handler_t::strict);
    return nlohmann::json(s);
  } catch (const nlohmann::json::exception&) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (const unsigned char c : s) hex += kHex[c >> 4], hex += kHex[c & 15];
    return nlohmann::json{{"hex", hex}};
  }
}

}  // namespace

std::string policy_version_signed_text(int64_t id, const StoredPolicy& p, const std::string& modules_json) {
  return canonical({{"kind", "policy version"},     {"id", id},
                    {"name", field(p.name)},         {"version", p.version},
                    {"sha256", field(p.hash)},       {"modules_sha256", sha256_hex(modules_json)},
                    {"pushed_by", field(p.pushed_by)}, {"pushed_at", field(p.pushed_at)},
                    {"note", field(p.note)}});
}

ActivationLink activation_link_after(const ActivationRow* prev) {
  if (!prev) return {};
  return {.prev_id = prev->id, .prev_sig_sha256 = sha256_hex(prev->sig ? prev->sig->signature : "")};
}

std::string policy_activation_signed_text(const ActivationRow& a, const ActivationLink& link) {
  return canonical({{"kind", "policy activation"},        {"id", a.id},
                    {"name", field(a.name)},               {"version", a.version},
                    {"action", field(a.action)},           {"changed_by", field(a.changed_by)},
                    {"changed_at", field(a.changed_at)},   {"prev_id", link.prev_id},
                    {"prev_sig_sha256", link.prev_sig_sha256}});
}

namespace {

// Parsed signer keys by PEM: a store's rows are signed by a handful of keys,
// and parsing one costs more than checking a signature.
using VerifierCache = std::map<std::string, std::unique_ptr<AuditVerifier>>;

SignatureCheck check_signature(const std::string& text, const std::optional<PolicySignature>& sig,
                               const std::vector<std::string>* trusted, std::string* signer, VerifierCache& cache) {
  if (!sig) return SignatureCheck::missing;
  auto it = cache.find(sig->signer);
  if (it == cache.end()) {
    std::string err;
    it = cache.emplace(sig->signer, AuditVerifier::from_pem(sig->signer, err)).first;
  }
  const AuditVerifier* key = it->second.get();
  if (!key) return SignatureCheck::not_ed25519;
  if (signer) *signer = key->fingerprint();
  // A signature that does not match is tampering whoever signed it.
  if (!key->verify(text, sig->signature)) return SignatureCheck::mismatch;
  if (trusted && std::find(trusted->begin(), trusted->end(), key->fingerprint()) == trusted->end())
    return SignatureCheck::untrusted;
  return SignatureCheck::ok;
}

}  // namespace

SignatureCheck check_policy_signature(const std::string& text, const std::optional<PolicySignature>& sig,
                                      const std::vector<std::string>* trusted, std::string* signer) {
  VerifierCache cache;
  return check_signature(text, sig, trusted, signer, cache);
}

std::string signature_problem_text(const std::string& what, SignatureCheck check, const std::string& signer) {
  switch (check) {
    case SignatureCheck::ok: return "";
    case SignatureCheck::missing: return what + " is not signed (it was not written by bastionctl policy push or rollback)";
    case SignatureCheck::not_ed25519: return what + ": its signer is not an Ed25519 public key";
    case SignatureCheck::untrusted: return what + " is signed by " + signer + ", which policy_signers does not name";
    case SignatureCheck::mismatch:
      return what + ": its signature does not match the row (edited, moved or copied after it was signed)";
  }
  return what + ": unknown signature state";
}

std::optional<std::string> policy_signature_problem(const std::string& what, const std::string& text,
                                                    const std::optional<PolicySignature>& sig,
                                                    const std::vector<std::string>* trusted, std::string* signer) {
  std::string fp;
  const SignatureCheck c = check_policy_signature(text, sig, trusted, &fp);
  if (signer) *signer = fp;
  if (c == SignatureCheck::ok) return std::nullopt;
  return signature_problem_text(what, c, fp);
}

std::vector<ActivationVerdict> check_activation_chains(std::vector<ActivationRow> rows,
                                                       const std::vector<std::string>* trusted,
                                                       std::set<std::string>* signers) {
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  std::vector<ActivationVerdict> out;
  std::map<std::string, const ActivationRow*> last;  // by name, as bytes
  VerifierCache keys;
  for (const auto& a : rows) {
    const ActivationRow*& prev = last[a.name];
    std::string signer;
    const SignatureCheck c = check_signature(policy_activation_signed_text(a, activation_link_after(prev)), a.sig,
                                             trusted, &signer, keys);
    if (signers && !signer.empty()) signers->insert(signer);
    const std::string what = "policy_activations " + std::to_string(a.id) + " (" +
                             stored_policy_label(a.name, a.version) + ", " + a.action + ")";
    out.push_back({.id = a.id, .name = a.name, .version = a.version, .check = c,
                   .problem = signature_problem_text(what, c, signer)});
    prev = &a;
  }
  return out;
}

std::optional<std::string> activation_refusal(const std::vector<ActivationVerdict>& verdicts,
                                              const std::string& name) {
  const ActivationVerdict* newest = nullptr;
  for (const auto& v : verdicts) {
    if (v.check == SignatureCheck::mismatch) return v.problem;
    if (v.name == name) newest = &v;
  }
  if (!newest) return "no activation of " + name + " in the store";
  if (newest->check != SignatureCheck::ok) return newest->problem;
  return std::nullopt;
}

namespace {

std::optional<PolicySignature> signature_of(AuditSource& db, const char* table, int64_t id, std::string& error) {
  const auto st = db.rows("SELECT signer, signature FROM policy_signatures WHERE tbl=? AND row_id=?",
                          {std::string(table), id}, error);
  if (!st || !st->next()) return std::nullopt;
  return PolicySignature{.signer = st->text(0), .signature = st->text(1)};
}

}  // namespace

PolicySignatureReport verify_policy_signatures(AuditSource& db, const std::vector<std::string>* trusted) {
  PolicySignatureReport rep;
  if (!db.table_exists("policy_versions")) return rep;
  const bool signed_schema = db.table_exists("policy_signatures");
  std::string err;
  if (signed_schema) {
    // What bastiond refuses to read through, verify refuses to vouch for.
    const auto st = db.rows(db.plain_policy_tables_sql(), {}, err);
    if (!st || !st->next() || st->integer(0) != 4) rep.problems.push_back(kPolicyTablesNotPlain);
  }
  std::set<std::string> signers;
  {
    const auto st = db.rows("SELECT id, name, version, text, modules_json, hash, pushed_by, pushed_at, note "
                            "FROM policy_versions ORDER BY id", {}, err);
    while (st && st->next()) {
      ++rep.rows;
      const int64_t id = st->integer(0);
      StoredPolicy p{.name = st->text(1), .version = st->integer(2), .text = st->text(3), .modules = {},
                     .hash = st->text(5), .pushed_by = st->text(6), .pushed_at = st->text(7), .note = st->text(8)};
      const std::string what = "policy_versions " + std::to_string(id) + " (" + stored_policy_label(p.name, p.version) + ")";
      if (sha256_hex(p.text) != p.hash) rep.problems.push_back(what + ": its text is not what its hash says");
      std::string signer;
      const auto sig = signed_schema ? signature_of(db, "policy_versions", id, err) : std::nullopt;
      if (auto problem = policy_signature_problem(what, policy_version_signed_text(id, p, st->text(4)), sig, trusted,
                                                  &signer))
        rep.problems.push_back(*problem);
      if (!signer.empty()) signers.insert(signer);
    }
    if (st && !st->done(err)) rep.problems.push_back("policy_versions: " + err);
  }
  {
    std::vector<ActivationRow> rows;
    const auto st = signed_schema ? db.rows(kActivationRowsSql, {}, err)
                                  : db.rows("SELECT id, name, version, action, changed_by, changed_at, 0 "
                                            "FROM policy_activations", {}, err);
    while (st && st->next()) {
      ActivationRow a{.id = st->integer(0), .name = st->text(1), .version = st->integer(2), .action = st->text(3),
                      .changed_by = st->text(4), .changed_at = st->text(5), .sig = std::nullopt};
      if (st->integer(6) == 1) a.sig = PolicySignature{.signer = st->text(7), .signature = st->text(8)};
      rows.push_back(std::move(a));
    }
    if (st && !st->done(err)) rep.problems.push_back("policy_activations: " + err);
    rep.rows += static_cast<int64_t>(rows.size());
    for (auto& v : check_activation_chains(std::move(rows), trusted, &signers))
      if (v.check != SignatureCheck::ok) rep.problems.push_back(std::move(v.problem));
  }
  rep.signers.assign(signers.begin(), signers.end());
  return rep;
}

}  // namespace bastion
