// The audit chain (any backend): transactions, chain entries, anchors.

#include <algorithm>

#include <nlohmann/json.hpp>

#include "audit/audit_chain.h"
#include "audit/audit_seal.h"
#include "audit/audit_signer.h"
#include "audit/sql_audit_store.h"
#include "common/log.h"
#include "common/time_util.h"

namespace bastion {

SqlAuditStore::Txn::Txn(SqlAuditStore& s, std::string& error) : s_(s) {
  s_.own_pending_.clear();
  begun_ = s_.begin(error);
}

SqlAuditStore::Txn::~Txn() {
  if (begun_ && !done_) {
    std::string ignored;
    s_.execute("ROLLBACK", {}, ignored);
  }
}

bool SqlAuditStore::Txn::commit(std::string& error) {
  done_ = true;
  std::optional<SignedHead> signed_head;
  // A shared store: this transaction's entries are signed before the chain
  // lock is released (signs_every_write). A failure fails the write: left
  // unsigned, they would read as appended outside bastiond.
  const bool sign_now = s_.signs_every_write() && s_.signer_ && !s_.own_pending_.empty();
  if ((!sign_now || s_.write_anchor(false, signed_head, error)) && s_.execute("COMMIT", {}, error)) {
    s_.own_unanchored_.insert(s_.own_unanchored_.end(), s_.own_pending_.begin(), s_.own_pending_.end());
    s_.own_pending_.clear();
    if (signed_head) s_.anchored(*signed_head);
    return true;
  }
  std::string ignored;
  s_.execute("ROLLBACK", {}, ignored);
  return false;
}

void SqlAuditStore::set_signer(std::shared_ptr<const AuditSigner> signer) {
  std::lock_guard<std::mutex> g(mu_);
  signer_ = std::move(signer);
}

bool SqlAuditStore::chain_row(const char* table, const std::string& key, std::string& error) {
  bool found = false;
  std::string json;
  if (!read_row_json(table, key, found, json, error)) return false;
  if (!found) return error = std::string("chain: no ") + table + " row " + key, false;
  SqlRows head;
  if (!query("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1", {}, head, error)) return false;
  const int64_t seq = head.empty() ? 1 : std::stoll(head[0][0]) + 1;
  const std::string prev = head.empty() ? kChainGenesis : head[0][1];
  const std::string at = iso8601_now();
  if (!execute("INSERT INTO audit_chain (seq, tbl, row_key, row_json, prev_hash, hash, writer, at) "
               "VALUES (?,?,?,?,?,?,?,?)",
               {seq, std::string(table), key, json, prev, chain_hash(prev, seq, table, key, json, writer_, at),
                writer_, at},
               error))
    return false;
  own_pending_.push_back(seq);  // this process's once the transaction commits
  return true;
}

bool SqlAuditStore::unchanged_since_chained(const char* table, const std::string& key, std::string& error) {
  // Outside a write transaction the row and its chain entry are two reads:
  // another instance's transaction (row and entry together) may commit
  // between them, so one read shows the row before and the other the entry
  // after. A difference is read again; an edit made with SQL stays.
  for (int attempt = 0;; ++attempt) {
    bool have_row = false;
    std::string now;
    if (!read_row_json(table, key, have_row, now, error)) return false;
    // One lookup on the audit_chain_row index.
    SqlRows snap;
    if (!query("SELECT row_json FROM audit_chain WHERE tbl=? AND row_key=? ORDER BY seq DESC LIMIT 1",
               {std::string(table), key}, snap, error))
      return error = "cannot read the audit chain: " + error, false;
    const bool have_snap = !snap.empty();
    if (have_row == have_snap && now == (have_snap ? snap[0][0] : std::string())) return true;
    if (attempt == 2) break;
  }
  error = std::string("audit row changed outside bastiond: ") + table + " " + key;
  log_error(error);
  return false;
}

bool SqlAuditStore::note_opened_head(std::string& error) {
  SqlRows head;
  if (!query("SELECT COALESCE(MAX(seq), 0) FROM audit_chain", {}, head, error)) return false;
  opened_head_ = head.empty() ? 0 : std::stoll(head[0][0]);
  return true;
}

namespace {

// The seqs in [from, to] that are not in `own` (ascending), as [[a,b],...].
std::string foreign_ranges(int64_t from, int64_t to, const std::vector<int64_t>& own) {
  nlohmann::json ranges = nlohmann::json::array();
  auto it = std::lower_bound(own.begin(), own.end(), from);
  for (int64_t s = from; s <= to;) {
    while (it != own.end() && *it < s) ++it;
    if (it != own.end() && *it == s) {
      ++s;
      continue;
    }
    const int64_t end = std::min(to, it == own.end() ? to : *it - 1);
    ranges.push_back({s, end});
    s = end + 1;
  }
  return ranges.dump();
}

}  // namespace

void SqlAuditStore::anchor_at_close() {
  std::lock_guard<std::mutex> g(mu_);
  std::string error;
  if (!anchor_locked(AnchorWhen::closing, error)) log_error("cannot anchor the audit chain at close", {{"error", error}});
}

bool SqlAuditStore::anchor_chain(bool force, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  return anchor_locked(force ? AnchorWhen::force : AnchorWhen::throttled, error);
}

bool SqlAuditStore::anchor_soon() {
  std::string error;
  if (!anchor_locked(AnchorWhen::throttled, error)) log_error("cannot anchor the audit chain", {{"error", error}});
  return true;
}

bool SqlAuditStore::anchor_locked(AnchorWhen when, std::string& error) {
  if (!signer_) return true;
  const double now = monotonic_seconds();
  // Own unsigned entries: sign a second after the last anchor (at once after
  // idle time). None: look for foreign ones about once a second.
  const double since = own_unanchored_.empty() ? last_check_ : last_signed_;
  if (when == AnchorWhen::throttled && now - since < 1.0) return true;
  last_check_ = now;
  Txn txn(*this, error);
  if (!txn) return false;
  std::optional<SignedHead> signed_head;
  if (!write_anchor(when == AnchorWhen::closing, signed_head, error) || !txn.commit(error)) return false;
  if (signed_head) anchored(*signed_head);
  return true;
}

bool SqlAuditStore::write_anchor(bool closing, std::optional<SignedHead>& signed_head, std::string& error) {
  SqlRows head, anchored_rows;
  if (!query("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1", {}, head, error) ||
      !query("SELECT seq, signature FROM audit_anchors ORDER BY id DESC LIMIT 1", {}, anchored_rows, error))
    return false;
  if (head.empty()) return true;
  const bool signed_already = !anchored_rows.empty() && anchored_rows[0][0] == head[0][0];
  if (signed_already && !closing) return true;
  const int64_t seq = std::stoll(head[0][0]);
  // The chain's hashes are not keyed: whoever can write the store can append
  // well-formed entries. The anchor vouches for the chain's order and names
  // every entry this process did not append (foreign): verify judges those
  // by their table, whatever writer they claim. Own: committed since the
  // last anchor, and those of the transaction this anchor commits with.
  const int64_t from = anchored_rows.empty() ? 1 : std::stoll(anchored_rows[0][0]) + 1;
  std::vector<int64_t> own = own_unanchored_;
  own.insert(own.end(), own_pending_.begin(), own_pending_.end());
  std::sort(own.begin(), own.end());
  AnchorLinks links;
  links.foreign = foreign_ranges(from, seq, own);
  links.opened_head = opened_head_;
  links.prev_seq = anchored_rows.empty() ? 0 : std::stoll(anchored_rows[0][0]);
  links.prev_sig_hash = anchored_rows.empty() ? std::string() : anchor_sig_hash(anchored_rows[0][1]);
  links.clean_close = closing;
  if (links.foreign != "[]")
    log_warn("audit chain: signing entries another process appended",
             {{"from_seq", std::to_string(from)}, {"to_seq", std::to_string(seq)}, {"foreign", links.foreign}});
  const std::string at = iso8601_now();
  const std::string sig = signer_->sign(anchor_text(seq, head[0][1], at, links));
  if (sig.empty()) return error = "cannot sign the audit chain", false;
  if (!execute("INSERT INTO audit_anchors (seq, hash, at, foreign_seqs, opened_head, prev_seq, clean_close, "
               "key_fingerprint, signature) VALUES (?,?,?,?,?,?,?,?,?)",
               {seq, head[0][1], at, links.foreign, opened_head_, links.prev_seq,
                static_cast<int64_t>(links.clean_close ? 1 : 0), signer_->fingerprint(), sig},
               error))
    return false;
  signed_head = SignedHead{seq, head[0][1], at, links.clean_close};
  return true;
}

void SqlAuditStore::anchored(const SignedHead& h) {
  const double now = monotonic_seconds();
  last_signed_ = now;
  std::erase_if(own_unanchored_, [&h](int64_t s) { return s <= h.seq; });
  // The witness outside the store: a log line an auditor can check with
  // verify --expect-head SEQ:HASH (a suffix cut leaves a verifying prefix).
  // At most once a minute while the chain grows, and at close.
  if (!h.clean_close && now - last_head_logged_ < 60.0 && last_head_logged_ != 0) return;
  last_head_logged_ = now;
  log_info("audit chain head", {{"seq", std::to_string(h.seq)}, {"hash", h.hash}, {"at", h.at}});
}

}  // namespace bastion
