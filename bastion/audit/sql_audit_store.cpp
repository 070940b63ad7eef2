#include "audit/sql_audit_store.h"

#include <optional>

#include "common/strings.h"

namespace bastion {
namespace {

using Param = SqlParam;

Param opt_text(const std::string& v) { return v.empty() ? Param(nullptr) : Param(v); }
Param opt_int(const std::optional<int>& v) { return v ? Param(int64_t{*v}) : Param(nullptr); }
Param u64(uint64_t v) { return static_cast<int64_t>(v); }

}  // namespace

bool SqlAuditStore::session_started(const SessionStart& s, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  return txn && execute("INSERT INTO sessions (id, identity, principals, cert_serial, key_id, ca_fingerprint, "
                 "source_address, target, started_at) VALUES (?,?,?,?,?,?,?,?,?)",
                 {s.id, s.identity, join(s.principals, ","), u64(s.cert_serial), s.key_id, s.ca_fingerprint,
                  s.source_address, s.target, s.started_at},
                 error) &&
         chain_row("sessions", s.id, error) && note_session_instance(s.id, error) && txn.commit(error) &&
         anchor_soon();
}

bool SqlAuditStore::session_ended(const SessionEnd& s, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn || !unchanged_since_chained("sessions", s.id, error) || !execute(session_end_sql(),
               {s.ended_at, s.end_reason, opt_int(s.exit_status), u64(s.bytes_in), u64(s.bytes_out), s.id,
                opt_text(s.target)},
               error))
    return false;
  if (changes() != 1) return error = "no session row " + s.id, false;
  return chain_row("sessions", s.id, error) && txn.commit(error) && anchor_soon();
}

bool SqlAuditStore::session_retargeted(const std::string& id, const std::string& target, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn || !unchanged_since_chained("sessions", id, error) ||
      !execute("UPDATE sessions SET target=?1 WHERE id=?2 AND ended_at IS NULL", {target, id}, error))
    return false;
  if (changes() != 1) return error = "no running session row " + id, false;
  return chain_row("sessions", id, error) && txn.commit(error) && anchor_soon();
}

bool SqlAuditStore::command_started(const CommandStart& c, int64_t& id, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  int64_t row = 0;
  if (!txn || !insert("INSERT INTO commands (session_id, channel, at, kind, text, decision, reason, recording, "
               "policy_hash, policy_hook, policy_source, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
               {c.session_id, int64_t{c.channel}, c.at, c.kind, c.text, c.decision, c.reason, opt_text(c.recording),
                opt_text(c.policy_hash), opt_text(c.policy_hook), opt_text(c.policy_source), opt_text(c.details)},
               row, error))
    return false;
  if (!chain_row("commands", std::to_string(row), error) || !txn.commit(error)) return false;
  id = row;
  return anchor_soon();
}

bool SqlAuditStore::commands_ended(const std::vector<CommandEnd>& ends, const RecordingCheckpoint* checkpoint,
                                      std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn || (checkpoint && !store_checkpoint(checkpoint->recording_id, checkpoint->seal, error))) return false;
  for (const CommandEnd& c : ends)
    if (!store_end(c, error)) return false;
  return txn.commit(error) && anchor_soon();
}

bool SqlAuditStore::store_end(const CommandEnd& c, std::string& error) {
  return unchanged_since_chained("commands", std::to_string(c.command_id), error) &&
         execute("UPDATE commands SET ended_at=?, exit_status=?, exit_signal=?, bytes_in=?, bytes_out=?, "
                 "recording_state=?, rows=?, duration_us=?, error=?, masked_columns=? WHERE id=?",
                 {c.ended_at, opt_int(c.exit_status), opt_text(c.exit_signal), u64(c.bytes_in), u64(c.bytes_out),
                  opt_text(c.recording_state), c.rows ? Param{*c.rows} : Param{nullptr},
                  c.duration_us ? Param{*c.duration_us} : Param{nullptr}, opt_text(c.error),
                  opt_text(c.masked_columns), c.command_id},
                 error) &&
         (changes() == 0 || chain_row("commands", std::to_string(c.command_id), error));
}

bool SqlAuditStore::cert_issued(const IssuedCert& c, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  return txn && execute("INSERT INTO issued_certs (serial, key_id, principals, valid_after, valid_before, issued_at, "
                 "issued_by, ca_fingerprint, key_fingerprint, source_address, force_command) "
                 "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                 {std::to_string(c.serial), c.key_id, c.principals, c.valid_after, c.valid_before, c.issued_at,
                  c.issued_by, c.ca_fingerprint, c.key_fingerprint, opt_text(c.source_address),
                  opt_text(c.force_command)},
                 error) &&
         chain_row("issued_certs", std::to_string(c.serial), error) && txn.commit(error) && anchor_soon();
}

bool SqlAuditStore::auth_event(const AuthEvent& e, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  int64_t row = 0;
  return txn && insert("INSERT INTO auth_events (at, source_address, \"user\", key_id, serial, ca_fingerprint, "
                 "accepted, reason) VALUES (?,?,?,?,?,?,?,?)",
                 {e.at, e.source_address, e.user, e.key_id, u64(e.serial), e.ca_fingerprint,
                  int64_t{e.accepted ? 1 : 0}, e.reason},
                 row, error) &&
         chain_row("auth_events", std::to_string(row), error) && txn.commit(error) && anchor_soon();
}

}  // namespace bastion
