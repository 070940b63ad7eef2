#include "audit/chain_verifier.h"

#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "audit/audit_chain.h"
#include "audit/audit_seal.h"
#include "audit/audit_signer.h"
#include "audit/audit_source.h"
#include "common/utc_time.h"

namespace bastion {
namespace {

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

// An entry read from audit_chain. `at_unix`/`age`: nullopt when `at` is not
// a time (parse_utc_time: the same on every backend).
struct Entry {
  int64_t seq = 0;
  std::string tbl, key, json, writer, at;
  std::optional<double> at_unix, age;
};

// Foreign seqs [from, to] named by one valid anchor.
struct ForeignRange {
  int64_t to = 0;
  int64_t opened_head = 0;             // the signing bastiond's head at its start
  std::optional<double> prev_anchor;   // unix time of the anchor before it
  bool prev_clean_close = false;       // the anchor before it closed its bastiond normally
};

// "[[5,7],[9,9]]" as written by the store; false when it is anything else.
bool parse_ranges(const std::string& text, int64_t upto, std::vector<std::pair<int64_t, int64_t>>& out) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return false;
  for (const auto& r : j) {
    if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer()) return false;
    const int64_t a = r[0].get<int64_t>(), b = r[1].get<int64_t>();
    if (a < 1 || b < a || b > upto) return false;
    out.emplace_back(a, b);
  }
  return true;
}

// Whether a bastionctl command writes this kind of entry: approval votes
// and transitions, issued certificates, stored policies and their
// activations (policy push / rollback), a recording marked pruned.
bool admin_writes(const Entry& e) {
  if (e.tbl == "approval_requests" || e.tbl == "approval_votes" || e.tbl == "issued_certs" ||
      e.tbl == "policy_versions" || e.tbl == "policy_activations")
    return true;
  if (e.tbl != "recordings") return false;
  const auto j = nlohmann::json::parse(e.json, nullptr, false);
  return j.is_object() && j.contains("state") && j["state"] == "pruned";
}

// first: the first entry for its table and key (the row's creation).
ForeignEntry judge_foreign(const Entry& e, const ForeignRange& r, bool first) {
  ForeignEntry f{.seq = e.seq, .table = e.tbl, .key = e.key, .writer = e.writer, .ok = false, .what = ""};
  const std::string which = "entry " + std::to_string(e.seq) + " (" + e.tbl + " " + e.key + ")";
  // After a clean close nothing of that bastiond's is left unsigned: no leniency.
  if (!r.prev_clean_close && e.seq <= r.opened_head && e.writer == kBastiondWriter && e.at_unix && r.prev_anchor &&
      *e.at_unix >= *r.prev_anchor - 1.0 && *e.at_unix <= *r.prev_anchor + kLeftoverSeconds) {
    f.ok = true;
    f.what = which + ": written by a bastiond that stopped before signing it (at " + e.at +
             ", within 2 s of its last anchor): check it";
  } else if (e.tbl == "approval_requests" && first) {
    // bastionctl decides requests bastiond created; it never creates one.
    f.what = which + ": an approval request created outside bastiond (it claims \"" + e.writer +
             "\"); bastionctl never creates one";
  } else if (admin_writes(e)) {
    f.ok = true;
    f.what = which + ": written outside bastiond by " + e.writer + ": check it";
  } else {
    f.what = which + ": not written by bastiond (it claims \"" + e.writer + "\"), and no bastionctl command writes " +
             (e.tbl == "recordings" ? "a recording other than a prune" : e.tbl);
  }
  return f;
}

}  // namespace

std::optional<ChainHead> parse_chain_head(const std::string& text) {
  const auto colon = text.find(':');
  // 1 to 18 digits (no overflow), no leading zero: one spelling per head.
  if (colon == std::string::npos || colon == 0 || colon > 18 || text[0] == '0') return std::nullopt;
  ChainHead h;
  for (std::size_t i = 0; i < colon; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    h.seq = h.seq * 10 + (text[i] - '0');
  }
  h.hash = text.substr(colon + 1);
  if (h.seq < 1 || h.hash.size() != 64) return std::nullopt;
  for (const char c : h.hash)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  return h;
}

ChainReport verify_audit_chain(AuditSource& db, const AuditVerifier& key, const std::optional<ChainHead>& expect) {
  ChainReport rep;
  std::string err;
  auto fail = [&rep](std::string s) { rep.problems.push_back(std::move(s)); };
  std::vector<Entry> entries;
  std::map<int64_t, std::string> hashes;
  std::map<std::pair<std::string, std::string>, std::string> latest;  // (table, key) -> json
  std::map<std::pair<std::string, std::string>, int64_t> first_seq;  // (table, key) -> its first entry
  const double now = unix_now_precise();
  {
    const auto st = db.rows("SELECT seq, tbl, row_key, row_json, prev_hash, hash, writer, at FROM audit_chain ORDER BY seq",
                            {}, err);
    std::string prev = kChainGenesis;
    int64_t expect = 1;
    bool broken = false;
    while (st->next()) {
      Entry e{.seq = st->integer(0), .tbl = st->text(1), .key = st->text(2), .json = st->text(3),
              .writer = st->text(6), .at = st->text(7), .at_unix = parse_utc_time(st->text(7)), .age = std::nullopt};
      if (e.at_unix) e.age = now - *e.at_unix;
      const int64_t seq = e.seq;
      const std::string prev_hash = st->text(4), hash = st->text(5);
      ++rep.entries;
      if (!broken && seq != expect) {
        fail("audit chain: entries " + std::to_string(expect) + (seq - 1 > expect ? ".." + std::to_string(seq - 1) : "") +
             " deleted (seq jumps from " + std::to_string(expect - 1) + " to " + std::to_string(seq) + ")");
        broken = true;
      } else if (!broken && prev_hash != prev) {
        fail("audit chain: entry " + std::to_string(seq) + " does not follow entry " + std::to_string(seq - 1));
        broken = true;
      }
      if (chain_hash(prev_hash, seq, e.tbl, e.key, e.json, e.writer, e.at) != hash)
        fail("audit chain: entry " + std::to_string(seq) + " (" + e.tbl + " " + e.key + ") was altered");
      hashes[seq] = hash;
      latest[{e.tbl, e.key}] = e.json;
      first_seq.emplace(std::make_pair(e.tbl, e.key), seq);
      prev = hash;
      expect = seq + 1;
      entries.push_back(std::move(e));
    }
    if (!st->done(err)) return fail("audit chain: cannot read: " + err), rep;
  }
  const int64_t last = hashes.empty() ? 0 : hashes.rbegin()->first;
  std::map<int64_t, ForeignRange> foreign;  // from -> range
  {
    const auto st = db.rows("SELECT id, seq, hash, at, signature, foreign_seqs, opened_head, clean_close "
                            "FROM audit_anchors ORDER BY id",
                            {}, err);
    std::optional<double> prev_at;
    bool prev_clean = false;
    // Each anchor signs the one before it (as found here): a deleted,
    // reordered or replayed anchor breaks the next one's signature.
    int64_t prev_seq = 0;
    std::string prev_sig;
    while (st->next()) {
      const int64_t id = st->integer(0), seq = st->integer(1);
      const std::string hash = st->text(2), at = st->text(3), sig = st->text(4);
      AnchorLinks links;
      links.foreign = st->text(5);
      links.opened_head = st->integer(6);
      links.prev_seq = prev_seq;
      links.prev_sig_hash = anchor_sig_hash(prev_sig);
      links.clean_close = st->integer(7) != 0;
      prev_seq = seq;
      prev_sig = sig;
      const std::string which = "audit anchor " + std::to_string(id) + " (seq " + std::to_string(seq) + ")";
      if (!key.verify(anchor_text(seq, hash, at, links), sig)) {
        fail(which + ": bad signature");
        continue;
      }
      std::vector<std::pair<int64_t, int64_t>> ranges;
      if (!parse_ranges(links.foreign, seq, ranges)) fail(which + ": malformed list of foreign entries");
      for (const auto& [a, b] : ranges) foreign[a] = {b, links.opened_head, prev_at, prev_clean};
      prev_at = parse_utc_time(at);
      prev_clean = links.clean_close;
      const auto h = hashes.find(seq);
      if (h == hashes.end()) fail(which + ": the chain has no entry " + std::to_string(seq) + " (entries deleted)");
      else if (h->second != hash) fail(which + ": chain entry " + std::to_string(seq) + " differs from what was signed");
      else if (seq >= rep.signed_upto) rep.signed_upto = seq, rep.signed_hash = hash, rep.signed_at = at;
    }
    if (!st->done(err)) return fail("audit anchors: cannot read: " + err), rep;
  }
  if (expect) {
    const auto h = hashes.find(expect->seq);
    if (h == hashes.end())
      fail("audit chain: no entry " + std::to_string(expect->seq) + " (--expect-head): entries after entry " +
           std::to_string(last) + " were removed");
    else if (h->second != expect->hash)
      fail("audit chain: entry " + std::to_string(expect->seq) + " has hash " + h->second + ", not " + expect->hash +
           " (--expect-head)");
  }
  for (const auto& e : entries) {
    auto r = foreign.upper_bound(e.seq);
    if (r == foreign.begin() || (--r)->second.to < e.seq) continue;
    ForeignEntry f = judge_foreign(e, r->second, first_seq[{e.tbl, e.key}] == e.seq);
    (f.ok ? rep.notes : rep.problems).push_back("audit chain: " + f.what);
    rep.foreign.push_back(std::move(f));
  }
  if (last > rep.signed_upto) {
    // bastiond signs about once a second: a young unsigned tail is expected.
    bool young = true;
    for (const auto& e : entries)
      if (e.seq > rep.signed_upto && !(e.age && *e.age < kUnsignedGraceSeconds && *e.age > -kLeftoverSeconds))
        young = false;
    const std::string range = std::to_string(rep.signed_upto + 1) + ".." + std::to_string(last);
    if (young)
      rep.notes.push_back("audit chain: entries " + range +
                          " not yet signed (written in the last seconds; bastiond signs within a second)");
    else
      fail("audit chain: entries " + range + " are chained but unsigned (after the last signed anchor)");
  }

  for (const auto& t : kChainedTables) {
    // A store that predates a table (recording_locations) has no rows of it.
    if (!db.table_exists(t.name)) continue;
    const auto st = db.rows(t.select_all, {}, err);
    while (st->next()) {
      const std::string k = st->text(0), json = st->row_json(1);
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
    if (!st->done(err)) fail(std::string(t.name) + ": cannot read: " + err);
  }
  for (const auto& [tk, json] : latest)
    fail(tk.first + " " + tk.second + ": deleted outside the bastion (chained, no longer in the table)");
  for (auto& p : verify_search_index(db)) fail(std::move(p));
  return rep;
}

std::vector<std::string> verify_search_index(AuditSource& db) {
  // A store without one (PostgreSQL: --grep scans) has nothing to check.
  if (!db.has_search_index()) return {};
  std::vector<std::string> out;
  std::string err;
  std::vector<int64_t> upto;
  {
    const auto st =
        db.rows("SELECT indexed_upto, (SELECT IFNULL(MAX(id), 0) FROM commands) FROM commands_fts_progress", {}, err);
    while (st->next()) upto.push_back(st->integer(0)), upto.push_back(st->integer(1));
    if (!st->done(err)) return {"search index: cannot read: " + err};
  }
  if (upto.size() != 2) return {"search index: commands_fts_progress must have exactly one row"};
  if (upto[0] > upto[1] || upto[0] < 0)
    return {"search index: indexed up to command " + std::to_string(upto[0]) + ", past the last command (" +
            std::to_string(upto[1]) + ")"};
  // The index's own list of the rows it holds (fts5vocab 'instance', in the
  // connection's temp schema: the store itself is not written). The trigram
  // tokenizer indexes every text of 3 or more characters.
  {
    const auto st = db.rows(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.bastion_fts_rows USING fts5vocab(main, commands_fts, instance)", {},
        err);
    st->next();
    if (!st->done(err)) return {"search index: cannot read: " + err};
  }
  const auto st = db.rows("SELECT id FROM commands WHERE id <= ? AND length(text) >= 3 AND id NOT IN "
                          "(SELECT DISTINCT doc FROM temp.bastion_fts_rows) ORDER BY id",
                          {upto[0]}, err);
  while (st->next())
    out.push_back("search index: command " + std::to_string(st->integer(0)) +
                  " missing from the index (bastionctl audit --grep would not find it)");
  if (!st->done(err)) return {"search index: cannot read: " + err};
  return out;
}

}  // namespace bastion
