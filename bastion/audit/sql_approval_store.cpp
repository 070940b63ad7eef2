// SqlAuditStore's ApprovalStore half: approval requests and votes.

#include "audit/sql_audit_store.h"
#include "common/parse_number.h"
#include "common/strings.h"

namespace bastion {
namespace {

using Param = SqlParam;

// Columns are read as text. A value that is not an integer (a store shared
// with, or edited by, something else) reads as 0, which expires a request
// or grant rather than extending it; std::stoll would have thrown on a
// session thread.
int64_t num(const std::string& s) { return parse_signed(s, INT64_MIN, INT64_MAX).value_or(0); }

constexpr const char* kColumns =
    "SELECT id, kind, COALESCE(session_id,''), COALESCE(channel,0), requester, target, COALESCE(command_kind,''), "
    "COALESCE(command_text,''), COALESCE(reason,''), approvers, min_approvals, created_at, expires_at, state, "
    "COALESCE(decided_at,0), COALESCE(decided_by,''), COALESCE(deny_reason,''), COALESCE(grant_ttl,0), "
    "COALESCE(grant_expires_at,0) FROM approval_requests ";

}  // namespace

bool SqlAuditStore::create_request(ApprovalRequest& r, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  int64_t id = 0;
  if (!txn || !insert("INSERT INTO approval_requests (kind, session_id, channel, requester, target, command_kind, "
               "command_text, reason, approvers, min_approvals, created_at, expires_at, state, grant_ttl) "
               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               {r.kind, r.session_id, int64_t{r.channel}, r.requester, r.target, r.command_kind, r.command_text,
                r.reason, join(r.approvers, ","), int64_t{r.min_approvals}, r.created_at, r.expires_at, std::string(approval_state_name(r.state)),
                r.grant_ttl},
               id, error))
    return false;
  if (!chain_row("approval_requests", std::to_string(id), error) || !announce_approvals(error) || !txn.commit(error))
    return false;
  r.id = id;
  return anchor_soon();
}

std::vector<ApprovalRequest> SqlAuditStore::load_requests(const char* where, std::initializer_list<Param> params,
                                                             std::string& error) {
  std::vector<std::vector<std::string>> rows;
  std::vector<ApprovalRequest> out;
  if (!query((std::string(kColumns) + where).c_str(), params, rows, error)) return out;
  for (const auto& c : rows) {
    ApprovalRequest r;
    r.id = num(c[0]);
    r.kind = c[1];
    r.session_id = c[2];
    r.channel = static_cast<int>(num(c[3]));
    r.requester = c[4];
    r.target = c[5];
    r.command_kind = c[6];
    r.command_text = c[7];
    r.reason = c[8];
    r.approvers = split_commas(c[9]);
    r.min_approvals = static_cast<int>(num(c[10]));
    r.created_at = num(c[11]);
    r.expires_at = num(c[12]);
    r.state = approval_state_from(c[13]);
    r.decided_at = num(c[14]);
    r.decided_by = c[15];
    r.deny_reason = c[16];
    r.grant_ttl = num(c[17]);
    r.grant_expires_at = num(c[18]);
    std::vector<std::vector<std::string>> votes;
    if (!query("SELECT approver, decision, COALESCE(comment,''), at FROM approval_votes WHERE request_id=? ORDER BY at",
               {r.id}, votes, error))
      return {};
    for (const auto& v : votes) r.votes.push_back({v[0], v[1], v[2], num(v[3])});
    // A request or vote not as bastiond or bastionctl chained it (an
    // approval written with SQL) is never acted on: it reads as denied.
    std::string changed;
    bool same = unchanged_since_chained("approval_requests", std::to_string(r.id), changed);
    for (const auto& v : votes)
      same = same && unchanged_since_chained("approval_votes", std::to_string(r.id) + "/" + v[0], changed);
    if (!same) {
      r.state = ApprovalState::denied;
      r.deny_reason = changed;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<ApprovalRequest> SqlAuditStore::request(int64_t id, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  auto v = load_requests("WHERE id=?", {id}, error);
  if (v.empty()) return std::nullopt;
  return v[0];
}

std::vector<ApprovalRequest> SqlAuditStore::requests(const std::string& requester, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  if (requester.empty()) return load_requests("ORDER BY id DESC LIMIT 200", {}, error);
  return load_requests("WHERE requester=? ORDER BY id DESC LIMIT 200", {requester}, error);
}

std::vector<ApprovalRequest> SqlAuditStore::pending_after(int64_t& after, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  // The newest id first (the rowid's end: no scan), then only the rows
  // between: an idle poll is one index lookup, and nothing is loaded, voted
  // or chain-checked unless a pending request arrived. Bounded at 200.
  std::vector<std::vector<std::string>> rows;
  if (!query("SELECT COALESCE(MAX(id), 0) FROM approval_requests", {}, rows, error) || rows.empty()) return {};
  const int64_t newest = num(rows[0][0]);
  if (newest <= after) return {};
  rows.clear();
  if (!query("SELECT id FROM approval_requests WHERE id>? AND id<=? AND state='pending' ORDER BY id LIMIT 200",
             {after, newest}, rows, error))
    return {};
  std::vector<ApprovalRequest> out;
  if (!rows.empty()) {
    out = load_requests("WHERE id>=? AND id<=? AND state='pending' ORDER BY id LIMIT 200",
                        {num(rows.front()[0]), num(rows.back()[0])}, error);
    if (!error.empty()) return {};
  }
  // Past a full batch, the rest waits for the next poll.
  after = rows.size() == 200 ? num(rows.back()[0]) : newest;
  return out;
}

int64_t SqlAuditStore::pending_request_count(int64_t now, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::vector<std::string>> rows;
  if (!query("SELECT COUNT(*) FROM approval_requests WHERE state='pending' AND expires_at>?", {now}, rows, error) ||
      rows.empty())
    return -1;
  return num(rows[0][0]);
}

bool SqlAuditStore::add_vote(int64_t id, const ApprovalVote& v, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  return txn &&
         execute("INSERT INTO approval_votes (request_id, approver, decision, comment, at) VALUES (?,?,?,?,?)",
                 {id, v.approver, v.decision, v.comment, v.at}, error) &&
         chain_row("approval_votes", std::to_string(id) + "/" + v.approver, error) && announce_approvals(error) &&
         txn.commit(error) &&
         anchor_soon();
}

bool SqlAuditStore::transition(int64_t id, ApprovalState from, ApprovalState to, int64_t at,
                                  const std::string& by, const std::string& reason, int64_t grant_expires_at,
                                  std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn || !unchanged_since_chained("approval_requests", std::to_string(id), error) ||
      !execute("UPDATE approval_requests SET state=?, decided_at=?, decided_by=?, deny_reason=?, "
               "grant_expires_at=CASE WHEN ? > 0 THEN ? ELSE grant_expires_at END WHERE id=? AND state=?",
               {std::string(approval_state_name(to)), at, by, reason, grant_expires_at, grant_expires_at, id,
                std::string(approval_state_name(from))}, error))
    return false;
  if (changes() == 0) return false;  // not in `from` any more: nothing written
  return chain_row("approval_requests", std::to_string(id), error) && announce_approvals(error) && txn.commit(error) &&
         anchor_soon();
}

std::optional<ApprovalRequest> SqlAuditStore::active_grant(const std::string& identity, const std::string& target,
                                                              int64_t now, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  auto v = load_requests("WHERE kind='access' AND requester=? AND target=? AND state='approved' AND "
                         "grant_expires_at > ? ORDER BY grant_expires_at DESC LIMIT 1",
                         {identity, target, now}, error);
  if (v.empty() || v[0].state != ApprovalState::approved) return std::nullopt;  // changed outside bastiond
  return v[0];
}

}  // namespace bastion
