// Signed policy pushes (issue 20). Whoever can write the shared store's
// tables could otherwise insert a version and an activation, with chain
// entries computed like bastionctl's, and every instance would run it. So
// `bastionctl policy push` and `rollback` sign what they write with an
// admin's Ed25519 key (`bastionctl policy keygen`), and an instance runs a
// stored version only when the version and every activation of its name
// carry valid signatures by keys the configuration trusts (policy_signers:
// fingerprints, kept in each bastion's own configuration, never in the
// store). The signed texts are canonical JSON (keys sorted), so the signer
// and every checker build the same bytes.
//
// Nothing the store computes is trusted: each signed text holds its row's
// id, and each activation the id and signature hash of the activation of
// its name before it, so a name's activations form a signed chain that the
// checker walks itself, comparing names as bytes. An old activation copied
// in again sits at another id; one hidden or renamed breaks the chain.
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bastion {

struct StoredPolicy;
class AuditSource;

// A signature as stored beside its row (table policy_signatures).
struct PolicySignature {
  std::string signer;     // the signing key's public half, PEM
  std::string signature;  // base64 Ed25519 over the row's signed text
};

// A version: its row id, name and number, the SHA-256 of its text and of
// its modules as stored (modules_json), who pushed it, when, and the note.
std::string policy_version_signed_text(int64_t id, const StoredPolicy& p, const std::string& modules_json);

// One activation row as read, with its signature.
struct ActivationRow {
  int64_t id = 0;
  std::string name;
  int64_t version = 0;
  std::string action, changed_by, changed_at;
  std::optional<PolicySignature> sig;
};

// The activation before one of the same name: its id and the SHA-256 hex of
// its signature (0 and "" for a name's first).
struct ActivationLink {
  int64_t prev_id = 0;
  std::string prev_sig_sha256;
};
ActivationLink activation_link_after(const ActivationRow* prev);

// Every activation row with its signature, whatever its name (names are
// compared by the caller, as bytes): id, name, version, action, changed_by,
// changed_at, has_signature (0/1), signer, signature.
inline constexpr const char* kActivationRowsSql =
    "SELECT a.id, a.name, a.version, a.action, a.changed_by, a.changed_at, "
    "CASE WHEN s.id IS NULL THEN 0 ELSE 1 END, s.signer, s.signature FROM policy_activations a "
    "LEFT JOIN policy_signatures s ON s.tbl='policy_activations' AND s.row_id=a.id";

// An activation: its row id, which version of which name it makes active,
// how (push or rollback), by whom, when, and its link.
std::string policy_activation_signed_text(const ActivationRow& a, const ActivationLink& link);

// How a row's signature checks out against `trusted` ("SHA256:..." each;
// null: any valid signature passes).
enum class SignatureCheck { ok, missing, not_ed25519, untrusted, mismatch };
SignatureCheck check_policy_signature(const std::string& text, const std::optional<PolicySignature>& sig,
                                      const std::vector<std::string>* trusted, std::string* signer = nullptr);
// What verify and the log say: `what` names the row ("store:web@3").
std::string signature_problem_text(const std::string& what, SignatureCheck check, const std::string& signer);
// Both at once: nullopt when the signature is ok.
std::optional<std::string> policy_signature_problem(const std::string& what, const std::string& text,
                                                    const std::optional<PolicySignature>& sig,
                                                    const std::vector<std::string>* trusted,
                                                    std::string* signer = nullptr);

// Every activation row of the store, checked: each name's rows by id, each
// signed over its own id and the link to the row of its name before it.
// `signers` collects the fingerprints seen.
struct ActivationVerdict {
  int64_t id = 0;
  std::string name;
  int64_t version = 0;
  SignatureCheck check = SignatureCheck::ok;
  std::string problem;  // empty when ok
};
std::vector<ActivationVerdict> check_activation_chains(std::vector<ActivationRow> rows,
                                                       const std::vector<std::string>* trusted,
                                                       std::set<std::string>* signers = nullptr);

// What stops an instance from running `name`'s newest activation: any row
// of any name whose signature does not match it (edited, moved, copied,
// renamed: the store was tampered with), or `name`'s newest row not ok.
// Rows validly signed by another key, or unsigned, are tolerated in the
// history (a foreign push never runs, and a later admin push runs again);
// verify reports them. nullopt when `name` may run.
std::optional<std::string> activation_refusal(const std::vector<ActivationVerdict>& verdicts,
                                              const std::string& name);

// bastionctl verify: every stored version and activation in `db` carries a
// valid signature (by a key in `trusted`, when given), its text is what its
// hash says, and the activations chain. Problems, and the keys that signed.
struct PolicySignatureReport {
  int64_t rows = 0;
  std::vector<std::string> problems;
  std::vector<std::string> signers;  // fingerprints seen, sorted
};
PolicySignatureReport verify_policy_signatures(AuditSource& db, const std::vector<std::string>* trusted);

}  // namespace bastion
