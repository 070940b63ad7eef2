// PgAuditStore's instances: registration, heartbeat (on the database's
// clock, so the instances' clocks do not matter), and the interruption of
// sessions an instance left behind when it stopped beating.

#include <openssl/rand.h>

#include "audit/pg_audit_store.h"
#include "common/log.h"

namespace bastion {
namespace {

constexpr const char* kDbNow = "CAST(extract(epoch FROM clock_timestamp()) AS BIGINT)";

std::string random_id() {
  unsigned char b[12];
  if (RAND_bytes(b, sizeof b) != 1) return "";
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) out += hex[c >> 4], out += hex[c & 15];
  return out;
}

}  // namespace

bool PgAuditStore::register_instance(const std::string& host, int64_t interval, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  const std::string id = random_id();
  if (id.empty()) return error = "no random bytes for an instance id", false;
  const std::string sql = std::string("INSERT INTO instances (id, host, started, last_seen, heartbeat_interval) "
                                      "VALUES (?, ?, CAST(clock_timestamp() AT TIME ZONE 'UTC' AS TEXT), ") +
                          kDbNow + ", ?)";
  if (!execute(sql.c_str(), {id, host, interval}, error)) return false;
  instance_id_ = id;
  host_ = host;
  return true;
}

SqlAuditStore::Beat PgAuditStore::heartbeat(std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  if (instance_id_.empty()) return Beat::ok;
  const std::string sql = std::string("UPDATE instances SET last_seen = ") + kDbNow + " WHERE id = ? AND stopped IS NULL";
  if (!execute(sql.c_str(), {instance_id_}, error)) return Beat::failed;
  // Declared stopped by another instance (this one was silent too long, a
  // partition or a stall): its sessions read interrupted in the audit.
  if (changes() == 0) {
    error = "this instance was declared stopped by another (missed heartbeats)";
    return Beat::declared_stopped;
  }
  return Beat::ok;
}

int PgAuditStore::interrupt_silent_instances(const std::string& at, int missed, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Txn txn(*this, error);  // the chain lock: one instance at a time decides
  if (!txn) return -1;
  SqlRows silent;
  const std::string find = std::string("SELECT id, host FROM instances WHERE stopped IS NULL AND id <> ? AND "
                                       "last_seen < ") + kDbNow + " - heartbeat_interval * ? ORDER BY id";
  if (!query(find.c_str(), {instance_id_, int64_t{missed}}, silent, error)) return -1;
  for (const auto& inst : silent) {
    const std::string reason = "interrupted (bastiond instance on " + inst[1] + " stopped heartbeating)";
    if (interrupt_locked(at,
                         "SELECT r.id FROM recordings r JOIN session_instances si ON si.session_id = r.session_id "
                         "WHERE r.state = 'open' AND si.instance_id = ? ORDER BY r.id",
                         "SELECT s.id FROM sessions s JOIN session_instances si ON si.session_id = s.id "
                         "WHERE s.ended_at IS NULL AND si.instance_id = ? ORDER BY s.id",
                         inst[0], reason, error) < 0 ||
        !execute("UPDATE instances SET stopped = ? WHERE id = ?", {at, inst[0]}, error))
      return -1;
    log_warn("a bastiond instance stopped heartbeating; its sessions are marked interrupted",
             {{"instance", inst[0]}, {"host", inst[1]}});
  }
  if (!txn.commit(error)) return -1;
  if (!silent.empty()) anchor_soon();
  return static_cast<int>(silent.size());
}

bool PgAuditStore::instance_stopped(const std::string& at, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  if (instance_id_.empty()) return true;
  return execute("UPDATE instances SET stopped = ? WHERE id = ? AND stopped IS NULL", {at, instance_id_}, error);
}

bool PgAuditStore::note_session_instance(const std::string& session_id, std::string& error) {
  if (instance_id_.empty()) return true;
  return execute("INSERT INTO session_instances (session_id, instance_id) VALUES (?, ?)", {session_id, instance_id_},
                 error);
}

void PgAuditStore::ships_from(const std::string& recordings_dir) {
  std::lock_guard<std::mutex> g(mu_);
  recordings_dir_ = recordings_dir;
  while (recordings_dir_.size() > 1 && recordings_dir_.back() == '/') recordings_dir_.pop_back();
}

std::string PgAuditStore::own_recordings_condition() const {
  // Not registered (no heartbeat: a store opened by a tool or a test, never
  // by bastiond beside other instances): the only writer, as on SQLite.
  if (instance_id_.empty()) return "";
  // The sessions this instance ran; and those of a stopped instance (its
  // recordings closed or marked interrupted) on this host whose files are in
  // this instance's recordings_dir: the same bastiond before a restart
  // (each start registers anew). Another host's files, or another folder's
  // on this host, are never listed: they could not be read, and an open one
  // would hold this instance's watermark. Inlined as SQL literals (quotes
  // doubled; standard_conforming_strings: a backslash is itself).
  const auto lit = [](const std::string& v) {
    std::string out = "'";
    for (const char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  };
  std::string left_over = "FALSE";
  if (!recordings_dir_.empty()) {
    const std::string dir = recordings_dir_ + "/";
    left_over = "(i.stopped IS NOT NULL AND i.host = " + lit(host_) + " AND starts_with(r.path, " + lit(dir) + "))";
  }
  return "EXISTS (SELECT 1 FROM session_instances si JOIN instances i ON i.id = si.instance_id "
         "WHERE si.session_id = r.session_id AND (si.instance_id = " + lit(instance_id_) + " OR " + left_over + "))";
}

}  // namespace bastion
