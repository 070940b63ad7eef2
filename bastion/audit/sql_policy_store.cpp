// SqlAuditStore's policy store half (policy/policy_store.h): named policies
// as numbered versions (policy_versions) and the history of which version
// is active (policy_activations, append-only: the last row per name is the
// active one). Both are chained like every audit row: who changed the
// policy, and when, is audit. Both are signed by the admin's policy key
// (policy_signatures, audit/policy_signature.h): an instance runs only what
// a key its configuration trusts signed.

#include <algorithm>

#include "audit/audit_signer.h"
#include "audit/policy_tables.h"
#include "audit/sql_audit_store.h"
#include "common/log.h"
#include "common/parse_number.h"
#include "common/time_util.h"

namespace bastion {
namespace {

int64_t num(const std::string& s) { return parse_signed(s, INT64_MIN, INT64_MAX).value_or(0); }

constexpr const char* kVersionColumns =
    "SELECT name, version, text, modules_json, hash, pushed_by, pushed_at, note FROM policy_versions ";

}  // namespace

bool SqlAuditStore::active_version_locked(const std::string& name, int64_t& version, std::string& error) {
  SqlRows rows;
  if (!query("SELECT version FROM policy_activations WHERE name=? ORDER BY id DESC LIMIT 1", {name}, rows, error))
    return false;
  version = rows.empty() ? 0 : num(rows[0][0]);
  return true;
}

bool SqlAuditStore::read_policy_locked(const std::string& name, int64_t version, StoredPolicy& out, bool& found,
                                       std::string& error) {
  found = false;
  if (version == 0 && !active_version_locked(name, version, error)) return false;
  if (version == 0) return true;
  SqlRows rows;
  if (!query((std::string(kVersionColumns) + "WHERE name=? AND version=?").c_str(), {name, version}, rows, error))
    return false;
  if (rows.empty()) return true;
  const auto& r = rows[0];
  StoredPolicy p{.name = r[0], .version = num(r[1]), .text = r[2], .modules = {}, .hash = r[4],
                 .pushed_by = r[5], .pushed_at = r[6], .note = r[7]};
  if (!modules_from_json(r[3], p.modules, error)) return error = stored_policy_label(name, version) + ": " + error, false;
  out = std::move(p);
  found = true;
  return true;
}

bool SqlAuditStore::sign_policy_row(const char* table, int64_t id, const std::string& text, const AuditSigner& key,
                                    std::string& error) {
  const std::string signature = key.sign(text);
  if (signature.empty()) return error = "cannot sign the policy row", false;
  return execute("INSERT INTO policy_signatures (tbl, row_id, signer, signature) VALUES (?,?,?,?)",
                 {std::string(table), id, key.verifier().public_pem(), signature}, error);
}

bool SqlAuditStore::policy_row_signature(const char* table, const std::string& id,
                                         std::optional<PolicySignature>& out, std::string& error) {
  SqlRows rows;
  if (!query("SELECT signer, signature FROM policy_signatures WHERE tbl=? AND row_id=?", {std::string(table), num(id)},
             rows, error))
    return false;
  out.reset();
  if (!rows.empty()) out = PolicySignature{.signer = rows[0][0], .signature = rows[0][1]};
  return true;
}

bool SqlAuditStore::read_activations_locked(std::vector<ActivationRow>& out, std::string& error) {
  // Every row, whatever its name: names are compared here, as bytes, never
  // by the store (a BLOB or a renamed row must not drop out of a chain).
  SqlRows rows;
  if (!query(kActivationRowsSql, {}, rows, error))
    return false;
  out.clear();
  for (const auto& r : rows) {
    ActivationRow a{.id = num(r[0]), .name = r[1], .version = num(r[2]), .action = r[3], .changed_by = r[4],
                    .changed_at = r[5], .sig = std::nullopt};
    if (r[6] == "1") a.sig = PolicySignature{.signer = r[7], .signature = r[8]};
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  return true;
}

bool SqlAuditStore::active_policy(const std::string& name, const std::vector<std::string>& signers,
                                  StoredPolicy& out, std::string& error) {
  // Fail closed: with no key trusted, no stored version can be run.
  if (signers.empty())
    return error = "policy store: policy_signers names no key, so no stored policy can be trusted "
                   "(bastionctl policy keygen makes one)",
           false;
  std::lock_guard<std::mutex> g(mu_);
  // What a view or row-level security could show this process alone.
  if (!policy_tables_plain_locked(error)) {
    log_error("policy store: refused: " + error);
    return error = "policy store: refused: " + error, false;
  }
  // The newest activation as the store's index finds it (cross-checked
  // below against every row), and which version it names.
  SqlRows a;
  if (!query("SELECT CAST(id AS TEXT), name, version FROM policy_activations WHERE name=? ORDER BY id DESC LIMIT 1",
             {name}, a, error))
    return error = "policy store: " + error, false;
  if (a.empty()) return error = "policy store: no policy named \"" + name + "\" (push it with bastionctl policy push)", false;
  const int64_t version = num(a[0][2]);
  // A deleted activation leaves the one before it newest: a rollback nobody
  // made, whose own rows are chained and unchanged. Activations are
  // append-only, so every chained one must still be there (any name: the
  // table was edited).
  SqlRows gone;
  if (!query("SELECT c.row_key FROM audit_chain c WHERE c.tbl='policy_activations' AND NOT EXISTS "
             "(SELECT 1 FROM policy_activations p WHERE CAST(p.id AS TEXT) = c.row_key) LIMIT 1",
             {}, gone, error))
    return error = "policy store: " + error, false;
  if (!gone.empty()) {
    error = "audit row changed outside bastiond: policy_activations " + gone[0][0] + " was deleted";
    log_error(error);
    return error = "policy store: " + error, false;
  }
  // The version row: found by its name and number compared here, as bytes,
  // then read by id and compared again (a collation, an operator or a
  // duplicate must not hand over another policy's row).
  SqlRows ids, v;
  if (!query("SELECT CAST(id AS TEXT), name, version FROM policy_versions", {}, ids, error))
    return error = "policy store: " + error, false;
  std::string vid;
  int matches = 0;
  for (const auto& r : ids)
    if (r[1] == name && num(r[2]) == version) vid = r[0], ++matches;
  if (matches != 1)
    return error = "policy store: " + stored_policy_label(name, version) +
                   (matches ? " is stored more than once" : " is not in the store"),
           false;
  if (!query((std::string(kVersionColumns) + "WHERE id=?").c_str(), {num(vid)}, v, error))
    return error = "policy store: " + error, false;
  if (v.size() != 1 || v[0][0] != name || num(v[0][1]) != version || a[0][1] != name)
    return error = "policy store: " + name + " changed while it was read", false;
  out = StoredPolicy{.name = v[0][0], .version = version, .text = v[0][2], .modules = {}, .hash = v[0][4],
                     .pushed_by = v[0][5], .pushed_at = v[0][6], .note = v[0][7]};
  if (!modules_from_json(v[0][3], out.modules, error))
    return error = "policy store: " + stored_policy_label(name, version) + ": " + error, false;
  // A version or activation written or edited with SQL is not run: the
  // chain says what was pushed and made active, and by whom.
  if (!unchanged_since_chained("policy_versions", vid, error) ||
      !unchanged_since_chained("policy_activations", a[0][0], error))
    return false;
  // Signed by keys this configuration trusts: the version, and every
  // activation, each linked to the one of its name before it (a chain this
  // process walks itself: nothing the store counts or filters is trusted).
  std::vector<ActivationRow> acts;
  if (!read_activations_locked(acts, error)) return error = "policy store: " + error, false;
  const ActivationRow* newest = nullptr;
  for (const auto& r : acts)
    if (r.name == name) newest = &r;
  const auto modules = modules_to_json(out.modules);
  std::optional<PolicySignature> vsig;
  if (!modules || !policy_row_signature("policy_versions", vid, vsig, error))
    return error = "policy store: " + (modules ? error : "a module is not UTF-8 text"), false;
  const std::string label = stored_policy_label(name, version);
  auto problem = policy_signature_problem(label, policy_version_signed_text(num(vid), out, *modules), vsig, &signers);
  if (!problem) problem = activation_refusal(check_activation_chains(acts, &signers), name);
  // The newest activation as the store's index found it must be the one
  // every row says is newest (a view or policy hiding rows from one query).
  if (!problem && (!newest || newest->id != num(a[0][0]) || newest->version != version))
    problem = "the activations of " + name + " read differently from one query to the next";
  if (problem) {
    error = "refused: " + *problem;
    log_error("policy store: " + error);
    return error = "policy store: " + error, false;
  }
  const int64_t activation = num(a[0][0]);
  auto [seen, first] = newest_activation_.try_emplace(name, activation);
  if (!first && activation < seen->second) {
    error = "audit row changed outside bastiond: policy_activations " + std::to_string(seen->second) +
            " (" + name + ") is gone, " + a[0][0] + " is newest again (the store was changed: run bastionctl "
            "verify; only after restoring it from a backup on purpose, and verify passing, remove "
            "policy_activations_seen in each data_dir)";
    log_error(error);
    return error = "policy store: " + error, false;
  }
  seen->second = activation;
  return true;
}

std::map<std::string, int64_t> SqlAuditStore::activations_seen() {
  std::lock_guard<std::mutex> g(mu_);
  return newest_activation_;
}

void SqlAuditStore::prime_activations(const std::map<std::string, int64_t>& seen) {
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [name, id] : seen) {
    auto [it, first] = newest_activation_.try_emplace(name, id);
    if (!first) it->second = std::max(it->second, id);
  }
}

bool SqlAuditStore::policy_tables_plain_locked(std::string& error) {
  SqlRows rows;
  if (!query(plain_policy_tables_sql(), {}, rows, error)) return false;
  if (rows.empty() || rows[0][0] != "4") return error = kPolicyTablesNotPlain, false;
  return true;
}

bool SqlAuditStore::active_versions(const std::vector<std::string>& names, std::vector<int64_t>& out,
                                    std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  out.clear();
  // Checked every time: a view swapped in later could hide new versions
  // from this process's version check alone.
  if (!policy_tables_plain_locked(error)) return false;
  for (const auto& n : names) {
    int64_t v = 0;
    if (!active_version_locked(n, v, error)) return false;
    out.push_back(v);
  }
  return true;
}

bool SqlAuditStore::activate_locked(const std::string& name, int64_t version, const char* action,
                                    const std::string& by, const AuditSigner& key, std::string& error) {
  int64_t id = 0;
  ActivationRow row{.id = 0, .name = name, .version = version, .action = action, .changed_by = by,
                    .changed_at = iso8601_now(), .sig = std::nullopt};
  std::vector<ActivationRow> acts;
  if (!insert("INSERT INTO policy_activations (name, version, action, changed_by, changed_at) VALUES (?,?,?,?,?)",
              {name, version, row.action, by, row.changed_at}, id, error) ||
      !read_activations_locked(acts, error))
    return false;
  row.id = id;
  // Linked to the newest activation of the name before it (this transaction
  // holds the store's write lock: no other push comes between).
  const ActivationRow* prev = nullptr;
  for (const auto& r : acts)
    if (r.name == name && r.id < id) prev = &r;
  return sign_policy_row("policy_activations", id, policy_activation_signed_text(row, activation_link_after(prev)), key,
                         error) &&
         chain_row("policy_activations", std::to_string(id), error) && announce_policy(name, error);
}

bool SqlAuditStore::push_policy(const StoredPolicy& p, const std::string& by, const AuditSigner& key,
                                int64_t& version, bool& unchanged, std::string& error) {
  if (auto why = policy_name_problem(p.name)) return error = *why, false;
  const auto modules = modules_to_json(p.modules);
  if (!modules) return error = "a module is not UTF-8 text", false;
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn) return false;
  StoredPolicy active;
  bool found = false;
  if (!read_policy_locked(p.name, 0, active, found, error)) return false;
  unchanged = found && active.text == p.text && active.modules == p.modules;
  if (unchanged) return version = active.version, true;  // nothing written (the transaction rolls back)
  SqlRows last;
  if (!query("SELECT COALESCE(MAX(version), 0) FROM policy_versions WHERE name=?", {p.name}, last, error))
    return false;
  const int64_t next = (last.empty() ? 0 : num(last[0][0])) + 1;
  int64_t id = 0;
  StoredPolicy row = p;
  row.version = next;
  row.pushed_by = by;
  row.pushed_at = iso8601_now();
  if (!insert("INSERT INTO policy_versions (name, version, text, modules_json, hash, pushed_by, pushed_at, note) "
              "VALUES (?,?,?,?,?,?,?,?)",
              {row.name, next, row.text, *modules, row.hash, by, row.pushed_at, row.note}, id, error) ||
      !sign_policy_row("policy_versions", id, policy_version_signed_text(id, row, *modules), key, error) ||
      !chain_row("policy_versions", std::to_string(id), error) ||
      !activate_locked(p.name, next, "push", by, key, error) || !txn.commit(error))
    return false;
  version = next;
  return anchor_soon();
}

bool SqlAuditStore::activate_policy(const std::string& name, int64_t version, const std::string& by,
                                    const AuditSigner& key, bool& unchanged, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn) return false;
  SqlRows exists;
  if (!query("SELECT version FROM policy_versions WHERE name=? AND version=?", {name, version}, exists, error))
    return false;
  if (exists.empty()) return error = "policy " + name + " has no version " + std::to_string(version), false;
  int64_t active = 0;
  if (!active_version_locked(name, active, error)) return false;
  unchanged = active == version;
  if (unchanged) return true;
  return activate_locked(name, version, "rollback", by, key, error) && txn.commit(error) && anchor_soon();
}

bool SqlAuditStore::policy_versions(const std::string& name, std::vector<StoredPolicyVersion>& out,
                                    std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  SqlRows rows;
  const char* sql =
      "SELECT v.name, v.version, v.hash, v.pushed_by, v.pushed_at, v.note, "
      "CASE WHEN v.version = (SELECT a.version FROM policy_activations a WHERE a.name = v.name "
      "ORDER BY a.id DESC LIMIT 1) THEN 1 ELSE 0 END FROM policy_versions v ";
  const bool ok = name.empty() ? query((std::string(sql) + "ORDER BY v.name, v.version").c_str(), {}, rows, error)
                               : query((std::string(sql) + "WHERE v.name=? ORDER BY v.version").c_str(), {name},
                                       rows, error);
  if (!ok) return false;
  out.clear();
  for (const auto& r : rows)
    out.push_back({.name = r[0], .version = num(r[1]), .hash = r[2], .pushed_by = r[3], .pushed_at = r[4],
                   .note = r[5], .active = r[6] == "1"});
  return true;
}

bool SqlAuditStore::policy_activations(const std::string& name, std::vector<PolicyActivation>& out,
                                       std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  SqlRows rows;
  if (!query("SELECT name, version, action, changed_by, changed_at FROM policy_activations WHERE name=? ORDER BY id",
             {name}, rows, error))
    return false;
  out.clear();
  for (const auto& r : rows)
    out.push_back({.name = r[0], .version = num(r[1]), .action = r[2], .changed_by = r[3], .changed_at = r[4]});
  return true;
}

bool SqlAuditStore::read_policy(const std::string& name, int64_t version, StoredPolicy& out, bool& found,
                                std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  return read_policy_locked(name, version, out, found, error);
}

}  // namespace bastion
