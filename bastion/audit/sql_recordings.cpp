// SqlAuditStore's recordings: one row per recording file, chained on
// open, close, interruption and pruning. Every checkpoint is kept in
// recording_checkpoints, each a chained row keyed "RECORDING_ID/EVENTS"
// (verify places an edit between two of them, and an interrupted recording
// is checked against its latest chained one: dropping later checkpoints
// breaks the chain). The row's cp_* columns repeat the latest, unchained.
// Pruning keeps the checkpoint rows: the chain has no deletions.

#include "audit/sql_audit_store.h"
#include "common/parse_number.h"
#include "common/time_util.h"

namespace bastion {
namespace {

using Param = SqlParam;
Param u64(uint64_t v) { return static_cast<int64_t>(v); }

}  // namespace

bool SqlAuditStore::recording_opened(const RecordingOpened& r, int64_t& id, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  int64_t row = 0;
  if (!txn || !insert("INSERT INTO recordings (session_id, channel, path, state, events, bytes, digest, opened_at) "
                       "VALUES (?,?,?,'open',?,?,?,?)",
                       {r.session_id, int64_t{r.channel}, r.path, u64(r.start.events), u64(r.start.bytes),
                        r.start.digest, r.opened_at},
                       row, error))
    return false;
  if (!chain_row("recordings", std::to_string(row), error) || !txn.commit(error)) return false;
  id = row;
  return anchor_soon();
}

bool SqlAuditStore::recording_checkpoint(int64_t id, const RecordingSeal& cp, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  return txn && store_checkpoint(id, cp, error) && txn.commit(error) && anchor_soon();
}

bool SqlAuditStore::store_checkpoint(int64_t id, const RecordingSeal& cp, std::string& error) {
  if (!execute("UPDATE recordings SET cp_events=?, cp_bytes=?, cp_digest=?, cp_signature=?, cp_at=? "
                       "WHERE id=? AND state='open'",
                       {u64(cp.events), u64(cp.bytes), cp.digest, cp.signature, cp.at, id}, error))
    return false;
  if (changes() != 1) return error = "no open recording row " + std::to_string(id), false;
  return execute("INSERT INTO recording_checkpoints (recording_id, events, bytes, digest, signature, at) "
                 "VALUES (?,?,?,?,?,?)",
                 {id, u64(cp.events), u64(cp.bytes), cp.digest, cp.signature, cp.at}, error) &&
         chain_row("recording_checkpoints", std::to_string(id) + "/" + std::to_string(cp.events), error);
}

bool SqlAuditStore::recording_closed(int64_t id, int64_t command_id, const RecordingSeal& f, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn || !unchanged_since_chained("recordings", std::to_string(id), error) ||
      !execute("UPDATE recordings SET state='closed', command_id=?, events=?, bytes=?, digest=?, "
                       "tail_digest=?, signature=?, closed_at=? WHERE id=? AND state='open'",
                       {command_id > 0 ? Param{command_id} : Param{nullptr}, u64(f.events), u64(f.bytes), f.digest,
                        f.tail, f.signature, f.at, id},
                       error))
    return false;
  if (changes() != 1) return error = "no open recording row " + std::to_string(id), false;
  return chain_row("recordings", std::to_string(id), error) && txn.commit(error) && anchor_soon();
}

bool SqlAuditStore::recording_pruned(int64_t id, const std::string& at, const std::string& by, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn || !execute("UPDATE recordings SET state='pruned', pruned_at=?, pruned_by=? "
                       "WHERE id=? AND state IN ('closed','interrupted')",
                       {at, by, id}, error))
    return false;
  if (changes() != 1) return error = "recording " + std::to_string(id) + " is not closed", false;
  // The checkpoint rows stay: they are chained, and a chained row that
  // disappears is what verify reports as a deletion.
  return chain_row("recordings", std::to_string(id), error) && txn.commit(error) && anchor_soon();
}

int SqlAuditStore::mark_interrupted(const std::string& at, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  if (!txn) return -1;
  const int n = interrupt_locked(at, "SELECT id FROM recordings WHERE state='open'",
                                 "SELECT id FROM sessions WHERE ended_at IS NULL", "", kInterruptedReason, error);
  if (n < 0 || !txn.commit(error)) return -1;
  anchor_soon();
  return n;
}

int SqlAuditStore::interrupt_locked(const std::string& at, const char* recordings_sql, const char* sessions_sql,
                                    const std::string& param, const std::string& reason, std::string& error) {
  std::vector<std::vector<std::string>> recs, sessions;
  const bool with_param = !param.empty();
  if (!(with_param ? query(recordings_sql, {param}, recs, error) : query(recordings_sql, {}, recs, error)) ||
      !(with_param ? query(sessions_sql, {param}, sessions, error) : query(sessions_sql, {}, sessions, error)))
    return -1;
  // A row changed with SQL while bastiond was down is left as it is (and
  // logged): chaining it now would adopt the edit as bastiond's.
  std::string changed;
  std::erase_if(recs, [&](const auto& r) { return !unchanged_since_chained("recordings", r[0], changed); });
  std::erase_if(sessions, [&](const auto& s) { return !unchanged_since_chained("sessions", s[0], changed); });
  for (const auto& r : recs)
    if (!execute("UPDATE recordings SET state='interrupted', closed_at=? WHERE id=?",
                 {at, parse_signed(r[0], 0, INT64_MAX).value_or(0)}, error) ||
        !chain_row("recordings", r[0], error))
      return -1;
  for (const auto& s : sessions)
    if (!execute("UPDATE sessions SET ended_at=?, end_reason=? WHERE id=?", {at, reason, s[0]}, error) ||
        !chain_row("sessions", s[0], error))
      return -1;
  return static_cast<int>(recs.size());
}

std::vector<RecordingRow> SqlAuditStore::recordings_ended_before(const std::string& cutoff, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::vector<std::string>> rows;
  std::vector<RecordingRow> out;
  // On a shared store, this instance's own (own_recordings_condition): the
  // files of another's are on its disk, and their rows must not be marked
  // pruned here while the files stay there.
  const std::string own = own_recordings_condition();
  const std::string sql =
      "SELECT r.id, r.session_id, r.channel, r.path, r.state FROM recordings r JOIN sessions s "
      "ON s.id = r.session_id WHERE r.state IN ('closed','interrupted') AND s.ended_at IS NOT NULL "
      "AND s.ended_at < ?" + (own.empty() ? std::string() : " AND " + own) + " ORDER BY r.id";
  if (!query(sql.c_str(), {cutoff}, rows, error)) return out;
  for (const auto& r : rows)
    out.push_back({parse_signed(r[0], 0, INT64_MAX).value_or(0), r[1],
                   static_cast<int>(parse_signed(r[2], 0, INT32_MAX).value_or(0)), r[3], r[4]});
  return out;
}

bool SqlAuditStore::recording_location(int64_t id, const std::string& location, const std::string& object_key,
                                       std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);
  const std::string key = std::to_string(id);
  // A row edited with SQL is never adopted (nor is a location row that
  // appeared outside bastiond).
  if (!txn || !unchanged_since_chained("recordings", key, error) ||
      !unchanged_since_chained("recording_locations", key, error) ||
      !execute("INSERT INTO recording_locations (recording_id, state, object_key, at) VALUES (?,?,?,?) "
               "ON CONFLICT(recording_id) DO UPDATE SET state=excluded.state, object_key=excluded.object_key, "
               "at=excluded.at",
               {id, location, object_key, iso8601_now()}, error))
    return false;
  return chain_row("recording_locations", key, error) && txn.commit(error) && anchor_soon();
}

// On a shared store each instance lists only its own recordings: the
// others' files are on their hosts' disks (a dead instance's too: marked
// interrupted by the survivors, they stay where it left them), and their
// open recordings must not hold this instance's watermark.
std::vector<RecordingShipment> SqlAuditStore::recordings_to_ship(int64_t after, int limit, int64_t& upto,
                                                                 std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::vector<std::string>> rows, top;
  std::vector<RecordingShipment> out;
  const std::string own = own_recordings_condition(), and_own = own.empty() ? "" : " AND " + own;
  // Under mu_: no row of this process is inserted between the two reads.
  // An open recording is still being written: the scan must not pass it.
  const std::string top_sql = "SELECT COALESCE((SELECT MIN(id) FROM recordings r WHERE state='open'" + and_own +
                              ") - 1, (SELECT COALESCE(MAX(id),0) FROM recordings))";
  const std::string rows_sql =
      "SELECT r.id, r.session_id, r.channel, r.path, r.state, COALESCE(l.state,'local'), "
      "COALESCE(l.object_key,'') FROM recordings r LEFT JOIN recording_locations l ON l.recording_id = r.id "
      "WHERE r.id > ? AND r.state IN ('closed','interrupted') AND COALESCE(l.state,'local') <> 'stored'" +
      and_own + " ORDER BY r.id LIMIT ?";
  if (!query(top_sql.c_str(), {}, top, error) || !query(rows_sql.c_str(), {after, int64_t{limit}}, rows, error))
    return out;
  upto = top.empty() ? after : parse_signed(top[0][0], 0, INT64_MAX).value_or(after);
  for (const auto& r : rows)
    out.push_back({parse_signed(r[0], 0, INT64_MAX).value_or(0), r[1],
                   static_cast<int>(parse_signed(r[2], 0, INT32_MAX).value_or(0)), r[3], r[4], r[5], r[6]});
  return out;
}

std::vector<RecordingShipment> SqlAuditStore::recordings_open(int limit, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::vector<std::string>> rows;
  std::vector<RecordingShipment> out;
  const std::string own = own_recordings_condition();
  const std::string sql =
      "SELECT r.id, r.session_id, r.channel, r.path, COALESCE(l.state,'local'), COALESCE(l.object_key,'') "
      "FROM recordings r LEFT JOIN recording_locations l ON l.recording_id = r.id WHERE r.state='open'" +
      (own.empty() ? std::string() : " AND " + own) + " ORDER BY r.id LIMIT ?";
  if (!query(sql.c_str(), {int64_t{limit}}, rows, error)) return out;
  for (const auto& r : rows)
    out.push_back({parse_signed(r[0], 0, INT64_MAX).value_or(0), r[1],
                   static_cast<int>(parse_signed(r[2], 0, INT32_MAX).value_or(0)), r[3], "open", r[4], r[5]});
  return out;
}

}  // namespace bastion
