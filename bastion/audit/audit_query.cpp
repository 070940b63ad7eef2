#include "audit/audit_query.h"
#include "audit/policy_tables.h"

#include <algorithm>
#include <variant>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "audit/audit_chain.h"
#include "audit/case_fold.h"
#include "audit/sqlite_handles.h"
#include "audit/pg_connect.h"
#include "audit/time_bound.h"
#include "common/time_util.h"

namespace bastion {
namespace {

using Param = AuditParam;

// One SQLite statement with its parameters bound; rows read by column.
class SqliteRows final : public AuditRows {
 public:
  SqliteRows(sqlite3* db, const std::string& sql, const std::vector<Param>& params, std::string& error)
      : db_(db), st_(prepare_sqlite(db, sql, error)) {
    if (!st_) return;
    int i = 1;
    for (const auto& p : params) {
      if (const auto* n = std::get_if<int64_t>(&p)) sqlite3_bind_int64(st_.get(), i++, *n);
      else {
        const auto& t = std::get<std::string>(p);
        sqlite3_bind_text(st_.get(), i++, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
      }
    }
  }
  bool next() override {
    if (!st_) return false;
    rc_ = sqlite3_step(st_.get());
    return rc_ == SQLITE_ROW;
  }
  bool done(std::string& error) const override {
    if (!st_) return false;
    if (rc_ != SQLITE_DONE) return error = sqlite3_errmsg(db_), false;
    return true;
  }
  std::string text(int c) const override {
    const auto* v = static_cast<const char*>(sqlite3_column_blob(st_.get(), c));
    return v ? std::string(v, static_cast<std::size_t>(sqlite3_column_bytes(st_.get(), c))) : std::string();
  }
  int64_t integer(int c) const override { return sqlite3_column_int64(st_.get(), c); }
  std::optional<int64_t> maybe(int c) const override {
    if (sqlite3_column_type(st_.get(), c) == SQLITE_NULL) return std::nullopt;
    return integer(c);
  }
  int columns() const override { return sqlite3_column_count(st_.get()); }
  std::string name(int c) const override { return sqlite3_column_name(st_.get(), c); }
  std::string row_json(int first) const override { return bastion::row_json(st_.get(), first); }

 private:
  sqlite3* db_;
  SqliteStmt st_;
  int rc_ = SQLITE_DONE;
};

class SqliteSource final : public AuditSource {
 public:
  explicit SqliteSource(SqliteDb db) : db_(std::move(db)) {}
  std::unique_ptr<AuditRows> rows(const std::string& sql, const std::vector<Param>& params,
                                  std::string& error) override {
    return std::make_unique<SqliteRows>(db_.get(), sql, params, error);
  }
  bool table_exists(const char* name) override {
    std::string ignored;
    SqliteRows r(db_.get(), "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", {std::string(name)}, ignored);
    return r.next();
  }
  const char* insertion_order() const override { return "rowid"; }
  // A deferred transaction: its snapshot is taken at the first read.
  bool has_search_index() const override { return true; }
  const char* plain_policy_tables_sql() const override { return kSqlitePlainPolicyTables; }
  bool begin_snapshot(std::string& error) override {
    if (sqlite3_exec(db_.get(), "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK) return true;
    return error = std::string("cannot begin a read: ") + sqlite3_errmsg(db_.get()), false;
  }

 private:
  SqliteDb db_;
};

// The trigram tokenizer indexes sequences of three characters: a shorter
// pattern cannot use the index.
constexpr std::size_t kTrigram = 3;

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (const unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The user's text as one FTS5 string (a phrase): never query syntax.
std::string fts_phrase(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string limit_clause(int limit) { return " LIMIT " + std::to_string(limit > 0 ? limit : 50); }

void add(std::string& sql, std::vector<Param>& params, const char* clause, Param p) {
  sql += clause;
  params.push_back(std::move(p));
}

// A command's target: its channel's own on a connection shared between
// targets (details.channel_target, issue 21), else its session's.
#define BASTION_COMMAND_TARGET                                                                          \
  "COALESCE(CASE WHEN json_valid(c.details) THEN json_extract(c.details, '$.channel_target') END, s.target, '')"
const char* const kCommandColumns =
    "c.id, c.session_id, c.channel, c.at, COALESCE(s.identity,''), " BASTION_COMMAND_TARGET ", COALESCE(s.source_address,''), "
    "c.kind, c.text, c.decision, c.reason, c.policy_hash, c.policy_hook, c.policy_source, c.recording, "
    "c.recording_state, c.ended_at, c.exit_signal, c.error, c.masked_columns, c.details, c.exit_status, c.rows, "
    "c.duration_us, c.bytes_in, c.bytes_out FROM commands c LEFT JOIN sessions s ON s.id = c.session_id";

CommandRow command_row(const AuditRows& r) {
  CommandRow c;
  c.id = r.integer(0), c.session_id = r.text(1), c.channel = r.integer(2), c.at = r.text(3);
  c.identity = r.text(4), c.target = r.text(5), c.source_address = r.text(6), c.kind = r.text(7);
  c.text = r.text(8), c.decision = r.text(9), c.reason = r.text(10), c.policy_hash = r.text(11);
  c.policy_hook = r.text(12), c.policy_source = r.text(13), c.recording = r.text(14);
  c.recording_state = r.text(15), c.ended_at = r.text(16), c.exit_signal = r.text(17), c.error = r.text(18);
  c.masked_columns = r.text(19), c.details = r.text(20), c.exit_status = r.maybe(21), c.rows = r.maybe(22);
  c.duration_us = r.maybe(23), c.bytes_in = r.integer(24), c.bytes_out = r.integer(25);
  return c;
}

const char* const kSessionColumns =
    "s.id, s.identity, s.principals, s.cert_serial, s.key_id, s.ca_fingerprint, s.source_address, s.target, "
    "s.started_at, s.ended_at, s.end_reason, s.exit_status, s.bytes_in, s.bytes_out, s.recording_path, "
    "(SELECT count(*) FROM commands c WHERE c.session_id = s.id) FROM sessions s";

SessionRow session_row(const AuditRows& r) {
  SessionRow s;
  s.id = r.text(0), s.identity = r.text(1), s.principals = r.text(2);
  s.cert_serial = static_cast<uint64_t>(r.integer(3));
  s.key_id = r.text(4), s.ca_fingerprint = r.text(5), s.source_address = r.text(6), s.target = r.text(7);
  s.started_at = r.text(8), s.ended_at = r.text(9), s.end_reason = r.text(10), s.exit_status = r.maybe(11);
  s.bytes_in = r.integer(12), s.bytes_out = r.integer(13), s.recording_path = r.text(14), s.commands = r.integer(15);
  return s;
}

template <typename T>
void put_optional(nlohmann::json& j, const char* key, const std::optional<T>& v) {
  j[key] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// --grep: full text when `indexed` (3+ characters and an index), else a
// case-folding scan (contains_ci, case_fold.h).
void grep_clause(std::string& sql, std::vector<Param>& p, const std::string& grep, bool indexed) {
  if (!indexed) {
    add(sql, p, " AND contains_ci(c.text, ?)", grep);
    return;
  }
  // bastiond indexes commands in batches (a trigger per insert cost each
  // audited statement ~70 us); rows past the index are scanned.
  add(sql, p, " AND (c.id IN (SELECT rowid FROM commands_fts WHERE commands_fts MATCH ?)", fts_phrase(grep));
  add(sql, p, " OR (c.id > (SELECT indexed_upto FROM commands_fts_progress) AND contains_ci(c.text, ?)))", grep);
}

}  // namespace

std::string ApprovalRow::approved_by() const {
  std::string out;
  for (const auto& v : votes)
    if (v.decision == "approve") out += (out.empty() ? "" : ",") + v.approver;
  return out;
}

AuditQuery::AuditQuery(std::unique_ptr<AuditSource> src) : src_(std::move(src)) {
  has_fts_ = src_->table_exists("commands_fts") && src_->table_exists("commands_fts_progress");
  has_recordings_ = src_->table_exists("recordings");
  has_locations_ = has_recordings_ && src_->table_exists("recording_locations");
}

std::unique_ptr<AuditQuery> AuditQuery::open(const std::string& path, std::string& error,
                                             const std::string& password_file) {
  auto src = open_audit_source(path, password_file, error);
  if (!src) return nullptr;
  return std::unique_ptr<AuditQuery>(new AuditQuery(std::move(src)));
}

std::unique_ptr<AuditSource> open_audit_source(const std::string& path, const std::string& password_file,
                                               std::string& error) {
  if (is_pg_dsn(path)) return open_pg_audit_source(path, password_file, error);
  SqliteDb db = open_sqlite_readonly(path, error);
  if (!db) return nullptr;
  // bastiond writes while auditors read: wait out a checkpoint instead of failing.
  sqlite3_busy_timeout(db.get(), 5000);
  if (!register_contains_ci(db.get())) return error = path + ": cannot register contains_ci", nullptr;
  // A file that is not an audit store fails here, not halfway through a listing.
  SqliteRows probe(db.get(), "SELECT 1 FROM sessions LIMIT 0", {}, error);
  probe.next();
  if (!probe.done(error)) return nullptr;
  return std::make_unique<SqliteSource>(std::move(db));
}

bool AuditQuery::full_text(const std::string& grep) const { return has_fts_ && code_points(grep) >= kTrigram; }


std::optional<std::vector<SessionRow>> AuditQuery::sessions(const AuditFilter& f, std::string& error) {
  std::string sql = std::string("SELECT ") + kSessionColumns + " WHERE 1=1";
  std::vector<Param> p;
  // A session counts if it was open at any time in [since, until].
  if (f.since) add(sql, p, " AND (s.ended_at IS NULL OR s.ended_at >= ?)", iso8601_bound(*f.since));
  if (f.until) add(sql, p, " AND s.started_at < ?", iso8601_bound(*f.until + 1));
  if (!f.identity.empty()) add(sql, p, " AND s.identity = ?", f.identity);
  if (!f.target.empty()) {
    // The sessions row names the login's target; a shared connection's
    // targets are in its session decision rows.
    add(sql, p, " AND (s.target = ? OR EXISTS (SELECT 1 FROM commands c WHERE c.session_id = s.id AND c.channel = -1", f.target);
    add(sql, p, " AND c.kind = 'session' AND json_valid(c.details) AND json_extract(c.details, '$.channel_target') = ?))",
        f.target);
  }
  if (!f.session.empty()) add(sql, p, " AND s.id = ?", f.session);
  if (!f.decision.empty() || !f.kind.empty() || !f.grep.empty()) {
    sql += " AND EXISTS (SELECT 1 FROM commands c WHERE c.session_id = s.id";
    if (!f.decision.empty()) add(sql, p, " AND c.decision = ?", f.decision);
    if (!f.kind.empty()) add(sql, p, " AND c.kind = ?", f.kind);
    if (!f.grep.empty()) grep_clause(sql, p, f.grep, full_text(f.grep));
    sql += ")";
  }
  sql += " ORDER BY s.started_at DESC, s.id DESC" + limit_clause(f.limit);
  const auto r_rows = src_->rows(sql, p, error);
  AuditRows& r = *r_rows;
  std::vector<SessionRow> out;
  while (r.next()) out.push_back(session_row(r));
  if (!r.done(error)) return std::nullopt;
  return out;
}

std::optional<ApprovalRow> AuditQuery::approval_for(const CommandRow& c, std::string& error) {
  // A held command's request names its session, channel and text; the row
  // recorded when it was held and the one recorded at approval both match
  // the newest such request created by the row's time (+1 s: same second).
  const auto at = parse_timestamp(c.at);
  if (!at) return std::nullopt;
  const auto r_rows = src_->rows(
         "SELECT id, state, COALESCE(reason,''), approvers, COALESCE(deny_reason,''), COALESCE(decided_by,''), "
         "min_approvals, created_at, expires_at, COALESCE(decided_at,0) FROM approval_requests "
         "WHERE kind='command' AND session_id=? AND channel=? AND command_text=? AND created_at <= ? "
         "ORDER BY id DESC LIMIT 1",
         {c.session_id, c.channel, c.text, *at + 1}, error);
  AuditRows& r = *r_rows;
  if (!r.next()) return r.done(error), std::nullopt;
  ApprovalRow a;
  a.id = r.integer(0), a.state = r.text(1), a.reason = r.text(2), a.approvers = r.text(3);
  a.deny_reason = r.text(4), a.decided_by = r.text(5), a.min_approvals = static_cast<int>(r.integer(6));
  a.created_at = r.integer(7), a.expires_at = r.integer(8), a.decided_at = r.integer(9);
  a.outcome = a.state == "used" ? "approved" : a.state;
  // A request nobody moved on (its bastion stopped) is expired once past its deadline.
  if (a.state == "pending" && unix_now() >= a.expires_at) a.outcome = "expired";
  const auto v_rows = src_->rows("SELECT approver, decision, COALESCE(comment,''), at FROM approval_votes WHERE request_id=? ORDER BY at, " + std::string(src_->insertion_order()),
         {a.id}, error);
  AuditRows& v = *v_rows;
  while (v.next()) a.votes.push_back({v.text(0), v.text(1), v.text(2), v.integer(3)});
  if (!v.done(error)) return std::nullopt;
  return a;
}

std::optional<std::vector<CommandRow>> AuditQuery::commands(const AuditFilter& f, std::string& error) {
  std::string sql = std::string("SELECT ") + kCommandColumns + " WHERE 1=1";
  std::vector<Param> p;
  if (f.since) add(sql, p, " AND c.at >= ?", iso8601_bound(*f.since));
  if (f.until) add(sql, p, " AND c.at < ?", iso8601_bound(*f.until + 1));
  if (!f.identity.empty()) add(sql, p, " AND s.identity = ?", f.identity);
  if (!f.target.empty()) add(sql, p, " AND " BASTION_COMMAND_TARGET " = ?", f.target);
  if (!f.session.empty()) add(sql, p, " AND c.session_id = ?", f.session);
  if (!f.decision.empty()) add(sql, p, " AND c.decision = ?", f.decision);
  if (!f.kind.empty()) add(sql, p, " AND c.kind = ?", f.kind);
  if (!f.grep.empty()) grep_clause(sql, p, f.grep, full_text(f.grep));
  sql += " ORDER BY c.id DESC" + limit_clause(f.limit);
  std::vector<CommandRow> out;
  {
    const auto r_rows = src_->rows(sql, p, error);
    AuditRows& r = *r_rows;
    while (r.next()) out.push_back(command_row(r));
    if (!r.done(error)) return std::nullopt;
  }
  for (auto& c : out) {
    if (c.decision != "review" && c.policy_hook != "approval") continue;
    std::string why;
    c.approval = approval_for(c, why);
    if (!why.empty()) return error = why, std::nullopt;
  }
  return out;
}

std::optional<std::vector<AuthRow>> AuditQuery::auth(const AuditFilter& f, std::string& error) {
  if (!f.kind.empty() || !f.session.empty()) return error = "--kind and --session do not apply to auth rows", std::nullopt;
  std::string sql =
      "SELECT id, at, source_address, \"user\", key_id, serial, ca_fingerprint, accepted, reason FROM auth_events WHERE 1=1";
  std::vector<Param> p;
  if (f.since) add(sql, p, " AND at >= ?", iso8601_bound(*f.since));
  if (f.until) add(sql, p, " AND at < ?", iso8601_bound(*f.until + 1));
  if (!f.identity.empty()) add(sql, p, " AND key_id = ?", f.identity);
  if (!f.target.empty()) add(sql, p, " AND \"user\" = ?", f.target);
  if (f.decision == "accepted") sql += " AND accepted = 1";
  else if (f.decision == "refused") sql += " AND accepted = 0";
  else if (!f.decision.empty()) return error = "auth decisions are accepted or refused", std::nullopt;
  if (!f.grep.empty()) add(sql, p, " AND contains_ci(reason, ?)", f.grep);
  sql += " ORDER BY id DESC" + limit_clause(f.limit);
  const auto r_rows = src_->rows(sql, p, error);
  AuditRows& r = *r_rows;
  std::vector<AuthRow> out;
  while (r.next()) {
    AuthRow a;
    a.id = r.integer(0), a.at = r.text(1), a.source_address = r.text(2), a.user = r.text(3), a.key_id = r.text(4);
    a.serial = static_cast<uint64_t>(r.integer(5)), a.ca_fingerprint = r.text(6), a.accepted = r.integer(7) != 0;
    a.reason = r.text(8);
    out.push_back(std::move(a));
  }
  if (!r.done(error)) return std::nullopt;
  return out;
}

std::optional<SessionDetail> AuditQuery::session_detail(const std::string& id, std::string& error) {
  SessionDetail d;
  {
    const auto r_rows = src_->rows(std::string("SELECT ") + kSessionColumns + " WHERE s.id = ?", {id}, error);
    AuditRows& r = *r_rows;
    if (!r.next()) return r.done(error), std::nullopt;
    d.session = session_row(r);
  }
  {
    const auto r_rows = src_->rows(std::string("SELECT ") + kCommandColumns + " WHERE c.session_id = ? ORDER BY c.id", {id}, error);
    AuditRows& r = *r_rows;
    while (r.next()) d.commands.push_back(command_row(r));
    if (!r.done(error)) return std::nullopt;
  }
  for (auto& c : d.commands) {
    if (c.decision == "review" || c.policy_hook == "approval") {
      std::string why;
      c.approval = approval_for(c, why);
      if (!why.empty()) return error = why, std::nullopt;
    }
    if (c.recording.empty()) continue;
    // A held command and its run after approval share one recording: listed
    // once, as its last row left it.
    const auto same = std::find_if(d.recordings.begin(), d.recordings.end(),
                                   [&c](const SessionRecording& r) { return r.path == c.recording; });
    if (same != d.recordings.end()) {
      if (!c.recording_state.empty()) same->state = c.recording_state, same->command_id = c.id;
      continue;
    }
    SessionRecording rec{c.recording, c.recording_state, c.id, {}};
    if (has_recordings_) {
      // Another part of the store (recording integrity) owns this table: read
      // whatever columns it has for this path (its newest row). A table
      // without a path column is not one this reader understands: skipped.
      std::string ignored;
      // Where it lives once shipped off the host (recording_locations):
      // "location" and "object_key", only when it has such a row.
      const auto r_rows = src_->rows(
          has_locations_ ? "SELECT r.*, l.state AS location, l.object_key AS object_key FROM recordings r LEFT JOIN "
                           "recording_locations l ON l.recording_id = r.id WHERE r.path = ? ORDER BY r.id DESC LIMIT 1"
                         : "SELECT * FROM recordings WHERE path = ? ORDER BY id DESC LIMIT 1",
          {c.recording}, ignored);
      AuditRows& r = *r_rows;
      if (r.next())
        for (int i = 0; i < r.columns(); ++i) {
          const std::string name = r.name(i), value = r.text(i);
          if ((name == "location" || name == "object_key") && value.empty()) continue;
          rec.integrity[name] = value;
        }
    }
    d.recordings.push_back(std::move(rec));
  }
  return d;
}

void to_json(nlohmann::json& j, const SessionRow& r) {
  j = {{"id", r.id},
       {"identity", r.identity},
       {"principals", r.principals},
       {"cert_serial", r.cert_serial},
       {"key_id", r.key_id},
       {"ca_fingerprint", r.ca_fingerprint},
       {"source_address", r.source_address},
       {"target", r.target},
       {"started_at", r.started_at},
       {"ended_at", r.ended_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.ended_at)},
       {"end_reason", r.end_reason},
       {"bytes_in", r.bytes_in},
       {"bytes_out", r.bytes_out},
       {"recording_path", r.recording_path},
       {"commands", r.commands}};
  put_optional(j, "exit_status", r.exit_status);
}

void to_json(nlohmann::json& j, const VoteRow& r) {
  j = {{"approver", r.approver}, {"decision", r.decision}, {"comment", r.comment}, {"at", r.at}};
}

void to_json(nlohmann::json& j, const ApprovalRow& r) {
  j = {{"id", r.id},
       {"state", r.state},
       {"outcome", r.outcome},
       {"reason", r.reason},
       {"approvers", r.approvers},
       {"min_approvals", r.min_approvals},
       {"approved_by", r.approved_by()},
       {"decided_by", r.decided_by},
       {"deny_reason", r.deny_reason},
       {"created_at", r.created_at},
       {"expires_at", r.expires_at},
       {"decided_at", r.decided_at},
       {"votes", r.votes}};
}

void to_json(nlohmann::json& j, const CommandRow& r) {
  j = {{"id", r.id},
       {"session_id", r.session_id},
       {"channel", r.channel},
       {"at", r.at},
       {"identity", r.identity},
       {"target", r.target},
       {"source_address", r.source_address},
       {"kind", r.kind},
       {"text", r.text},
       {"decision", r.decision},
       {"reason", r.reason},
       {"policy_hash", r.policy_hash},
       {"policy_hook", r.policy_hook},
       {"policy_source", r.policy_source},
       {"recording", r.recording},
       {"recording_state", r.recording_state},
       {"ended_at", r.ended_at},
       {"exit_signal", r.exit_signal},
       {"error", r.error},
       {"masked_columns", r.masked_columns},
       {"details", r.details},
       {"bytes_in", r.bytes_in},
       {"bytes_out", r.bytes_out}};
  put_optional(j, "exit_status", r.exit_status);
  put_optional(j, "rows", r.rows);
  put_optional(j, "duration_us", r.duration_us);
  j["approval"] = r.approval ? nlohmann::json(*r.approval) : nlohmann::json(nullptr);
}

void to_json(nlohmann::json& j, const AuthRow& r) {
  j = {{"id", r.id},
       {"at", r.at},
       {"source_address", r.source_address},
       {"user", r.user},
       {"key_id", r.key_id},
       {"serial", r.serial},
       {"ca_fingerprint", r.ca_fingerprint},
       {"accepted", r.accepted},
       {"reason", r.reason}};
}

void to_json(nlohmann::json& j, const SessionRecording& r) {
  j = {{"path", r.path}, {"state", r.state}, {"command_id", r.command_id}, {"integrity", r.integrity}};
}

void to_json(nlohmann::json& j, const SessionDetail& r) {
  j = {{"session", r.session}, {"commands", r.commands}, {"recordings", r.recordings}};
}

}  // namespace bastion
