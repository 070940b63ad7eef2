#include "audit/sqlite_audit_store.h"

#include <sqlite3.h>

namespace bastion {
namespace {

// Append-only: a released migration is never edited; add a new one.
const char* const kMigrations[] = {
    // 1: initial schema
    R"sql(
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  identity TEXT NOT NULL,
  principals TEXT NOT NULL,
  cert_serial INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  ca_fingerprint TEXT NOT NULL,
  source_address TEXT NOT NULL,
  target TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  end_reason TEXT,
  exit_status INTEGER,
  bytes_in INTEGER NOT NULL DEFAULT 0,
  bytes_out INTEGER NOT NULL DEFAULT 0,
  recording_path TEXT
);
CREATE INDEX sessions_identity ON sessions(identity, started_at);
CREATE INDEX sessions_target ON sessions(target, started_at);
CREATE TABLE commands (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  channel INTEGER NOT NULL,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  recording TEXT,
  ended_at TEXT,
  exit_status INTEGER,
  exit_signal TEXT,
  bytes_in INTEGER NOT NULL DEFAULT 0,
  bytes_out INTEGER NOT NULL DEFAULT 0,
  recording_state TEXT
);
CREATE INDEX commands_session ON commands(session_id, id);
CREATE TABLE auth_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  source_address TEXT NOT NULL,
  user TEXT NOT NULL,
  key_id TEXT NOT NULL,
  serial INTEGER NOT NULL,
  ca_fingerprint TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  reason TEXT NOT NULL
);
)sql",
};

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void bind_opt_text(sqlite3_stmt* s, int i, const std::string& v) {
  if (v.empty()) sqlite3_bind_null(s, i);
  else bind_text(s, i, v);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& p : v) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace

std::unique_ptr<SqliteAuditStore> SqliteAuditStore::open(const std::string& path,
                                                         std::string& error) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    error = path + ": " + (db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return nullptr;
  }
  std::unique_ptr<SqliteAuditStore> store(new SqliteAuditStore(db));
  sqlite3_busy_timeout(db, 5000);
  if (!store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", error) ||
      !store->migrate(error)) {
    error = path + ": " + error;
    return nullptr;
  }
  return store;
}

SqliteAuditStore::~SqliteAuditStore() { sqlite3_close(db_); }

bool SqliteAuditStore::exec(const char* sql, std::string& error) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    error = msg ? msg : "sqlite error";
    sqlite3_free(msg);
    return false;
  }
  return true;
}

int SqliteAuditStore::schema_version() {
  std::lock_guard<std::mutex> g(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st.s, nullptr) != SQLITE_OK) return -1;
  return sqlite3_step(st.s) == SQLITE_ROW ? sqlite3_column_int(st.s, 0) : -1;
}

bool SqliteAuditStore::migrate(std::string& error) {
  const int have = schema_version();
  const int want = static_cast<int>(std::size(kMigrations));
  if (have < 0) return error = "cannot read schema version", false;
  if (have > want) {
    error = "database schema version " + std::to_string(have) + " is newer than this bastiond (" +
            std::to_string(want) + ")";
    return false;
  }
  for (int v = have; v < want; ++v) {
    const std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                            "PRAGMA user_version=" + std::to_string(v + 1) + "; COMMIT;";
    if (!exec(sql.c_str(), error)) {
      std::string ignored;
      exec("ROLLBACK", ignored);
      error = "migration " + std::to_string(v + 1) + " failed: " + error;
      return false;
    }
  }
  return true;
}

bool SqliteAuditStore::session_started(const SessionStart& s, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO sessions (id, identity, principals, cert_serial, key_id, "
                         "ca_fingerprint, source_address, target, started_at) VALUES (?,?,?,?,?,?,?,?,?)",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return error = sqlite3_errmsg(db_), false;
  bind_text(st.s, 1, s.id);
  bind_text(st.s, 2, s.identity);
  bind_text(st.s, 3, join(s.principals));
  sqlite3_bind_int64(st.s, 4, static_cast<sqlite3_int64>(s.cert_serial));
  bind_text(st.s, 5, s.key_id);
  bind_text(st.s, 6, s.ca_fingerprint);
  bind_text(st.s, 7, s.source_address);
  bind_text(st.s, 8, s.target);
  bind_text(st.s, 9, s.started_at);
  if (sqlite3_step(st.s) != SQLITE_DONE) return error = sqlite3_errmsg(db_), false;
  return true;
}

bool SqliteAuditStore::session_ended(const SessionEnd& s, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "UPDATE sessions SET ended_at=?1, end_reason=?2, exit_status=?3, bytes_in=?4, "
                         "bytes_out=?5, recording_path=(SELECT group_concat(recording, ',') FROM "
                         "commands WHERE session_id=?6 AND recording IS NOT NULL) WHERE id=?6",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return error = sqlite3_errmsg(db_), false;
  bind_text(st.s, 1, s.ended_at);
  bind_text(st.s, 2, s.end_reason);
  if (s.exit_status) sqlite3_bind_int(st.s, 3, *s.exit_status);
  else sqlite3_bind_null(st.s, 3);
  sqlite3_bind_int64(st.s, 4, static_cast<sqlite3_int64>(s.bytes_in));
  sqlite3_bind_int64(st.s, 5, static_cast<sqlite3_int64>(s.bytes_out));
  bind_text(st.s, 6, s.id);
  if (sqlite3_step(st.s) != SQLITE_DONE) return error = sqlite3_errmsg(db_), false;
  if (sqlite3_changes(db_) != 1) return error = "no session row " + s.id, false;
  return true;
}

bool SqliteAuditStore::command_started(const CommandStart& c, int64_t& id, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO commands (session_id, channel, at, kind, text, decision, "
                         "reason, recording) VALUES (?,?,?,?,?,?,?,?)",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return error = sqlite3_errmsg(db_), false;
  bind_text(st.s, 1, c.session_id);
  sqlite3_bind_int(st.s, 2, c.channel);
  bind_text(st.s, 3, c.at);
  bind_text(st.s, 4, c.kind);
  bind_text(st.s, 5, c.text);
  bind_text(st.s, 6, c.decision);
  bind_text(st.s, 7, c.reason);
  bind_opt_text(st.s, 8, c.recording);
  if (sqlite3_step(st.s) != SQLITE_DONE) return error = sqlite3_errmsg(db_), false;
  id = sqlite3_last_insert_rowid(db_);
  return true;
}

bool SqliteAuditStore::command_ended(const CommandEnd& c, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "UPDATE commands SET ended_at=?, exit_status=?, exit_signal=?, bytes_in=?, "
                         "bytes_out=?, recording_state=? WHERE id=?",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return error = sqlite3_errmsg(db_), false;
  bind_text(st.s, 1, c.ended_at);
  if (c.exit_status) sqlite3_bind_int(st.s, 2, *c.exit_status);
  else sqlite3_bind_null(st.s, 2);
  bind_opt_text(st.s, 3, c.exit_signal);
  sqlite3_bind_int64(st.s, 4, static_cast<sqlite3_int64>(c.bytes_in));
  sqlite3_bind_int64(st.s, 5, static_cast<sqlite3_int64>(c.bytes_out));
  bind_opt_text(st.s, 6, c.recording_state);
  sqlite3_bind_int64(st.s, 7, c.command_id);
  if (sqlite3_step(st.s) != SQLITE_DONE) return error = sqlite3_errmsg(db_), false;
  return true;
}

bool SqliteAuditStore::auth_event(const AuthEvent& e, std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO auth_events (at, source_address, user, key_id, serial, "
                         "ca_fingerprint, accepted, reason) VALUES (?,?,?,?,?,?,?,?)",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return error = sqlite3_errmsg(db_), false;
  bind_text(st.s, 1, e.at);
  bind_text(st.s, 2, e.source_address);
  bind_text(st.s, 3, e.user);
  bind_text(st.s, 4, e.key_id);
  sqlite3_bind_int64(st.s, 5, static_cast<sqlite3_int64>(e.serial));
  bind_text(st.s, 6, e.ca_fingerprint);
  sqlite3_bind_int(st.s, 7, e.accepted ? 1 : 0);
  bind_text(st.s, 8, e.reason);
  if (sqlite3_step(st.s) != SQLITE_DONE) return error = sqlite3_errmsg(db_), false;
  return true;
}

}  // namespace bastion
