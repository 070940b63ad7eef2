#include "audit/chain_verifier.h"

#include <map>
#include <utility>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "audit/audit_chain.h"
#include "audit/audit_seal.h"
#include "audit/audit_signer.h"
#include "audit/sqlite_handles.h"

namespace bastion {
namespace {

std::string text(sqlite3_stmt* st, int c) {
  const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
  return t ? std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(st, c))) : std::string();
}

// "decision: chained \"deny\", now \"allow\"" for each column that differs.
std::string column_changes(const std::string& chained, const std::string& now) {
  const auto a = nlohmann::json::parse(chained, nullptr, false), b = nlohmann::json::parse(now, nullptr, false);
  if (!a.is_object() || !b.is_object()) return "";
  std::string out;
  auto add = [&out](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  for (auto it = a.begin(); it != a.end(); ++it) {
    const auto o = b.find(it.key());
    if (o == b.end()) add(it.key() + ": column gone");
    else if (*o != it.value()) add(it.key() + ": chained " + it.value().dump() + ", now " + o->dump());
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!a.contains(it.key())) add(it.key() + ": new column");
  return out;
}

}  // namespace

ChainReport verify_audit_chain(sqlite3* db, const AuditVerifier& key) {
  ChainReport rep;
  std::string err;
  auto fail = [&rep](std::string s) { rep.problems.push_back(std::move(s)); };
  std::map<int64_t, std::string> hashes;
  std::map<std::pair<std::string, std::string>, std::string> latest;  // (table, key) -> json
  {
    const SqliteStmt st = prepare_sqlite(db, "SELECT seq, tbl, row_key, row_json, prev_hash, hash FROM audit_chain ORDER BY seq", err);
    if (!st) return fail("audit chain: cannot read: " + err), rep;
    std::string prev = kChainGenesis;
    int64_t expect = 1;
    bool broken = false;
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      const int64_t seq = sqlite3_column_int64(st.get(), 0);
      const std::string tbl = text(st.get(), 1), k = text(st.get(), 2), json = text(st.get(), 3);
      const std::string prev_hash = text(st.get(), 4), hash = text(st.get(), 5);
      ++rep.entries;
      if (!broken && seq != expect) {
        fail("audit chain: entries " + std::to_string(expect) + (seq - 1 > expect ? ".." + std::to_string(seq - 1) : "") +
             " deleted (seq jumps from " + std::to_string(expect - 1) + " to " + std::to_string(seq) + ")");
        broken = true;
      } else if (!broken && prev_hash != prev) {
        fail("audit chain: entry " + std::to_string(seq) + " does not follow entry " + std::to_string(seq - 1));
        broken = true;
      }
      if (chain_hash(prev_hash, seq, tbl, k, json) != hash) fail("audit chain: entry " + std::to_string(seq) + " (" + tbl + " " + k + ") was altered");
      hashes[seq] = hash;
      latest[{tbl, k}] = json;
      prev = hash;
      expect = seq + 1;
    }
  }
  const int64_t last = hashes.empty() ? 0 : hashes.rbegin()->first;
  {
    const SqliteStmt st = prepare_sqlite(db, "SELECT id, seq, hash, at, signature FROM audit_anchors ORDER BY id", err);
    if (!st) return fail("audit anchors: cannot read: " + err), rep;
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      const int64_t id = sqlite3_column_int64(st.get(), 0), seq = sqlite3_column_int64(st.get(), 1);
      const std::string hash = text(st.get(), 2), at = text(st.get(), 3), sig = text(st.get(), 4);
      const std::string which = "audit anchor " + std::to_string(id) + " (seq " + std::to_string(seq) + ")";
      if (!key.verify(anchor_text(seq, hash, at), sig)) {
        fail(which + ": bad signature");
        continue;
      }
      const auto h = hashes.find(seq);
      if (h == hashes.end()) fail(which + ": the chain has no entry " + std::to_string(seq) + " (entries deleted)");
      else if (h->second != hash) fail(which + ": chain entry " + std::to_string(seq) + " differs from what was signed");
      else if (seq > rep.signed_upto) rep.signed_upto = seq;
    }
  }
  if (last > rep.signed_upto)
    fail("audit chain: entries " + std::to_string(rep.signed_upto + 1) + ".." + std::to_string(last) +
         " are chained but unsigned (after the last signed anchor)");

  for (const auto& t : kChainedTables) {
    const SqliteStmt st = prepare_sqlite(db, t.select_all, err);
    if (!st) {
      fail(std::string(t.name) + ": cannot read: " + err);
      continue;
    }
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      const std::string k = text(st.get(), 0), json = row_json(st.get(), 1);
      const auto it = latest.find({t.name, k});
      if (it == latest.end()) {
        fail(std::string(t.name) + " " + k + ": not in the audit chain (inserted outside the bastion)");
        continue;
      }
      if (it->second != json) {
        const std::string what = column_changes(it->second, json);
        fail(std::string(t.name) + " " + k + ": edited outside the bastion" + (what.empty() ? "" : ": " + what));
      }
      latest.erase(it);
    }
  }
  for (const auto& [tk, json] : latest)
    fail(tk.first + " " + tk.second + ": deleted outside the bastion (chained, no longer in the table)");
  return rep;
}

}  // namespace bastion
