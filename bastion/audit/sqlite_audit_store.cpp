#include "audit/sqlite_audit_store.h"
#include "audit/policy_tables.h"

#include <optional>
#include <variant>

#include <sqlite3.h>

#include "audit/audit_chain.h"
#include "audit/sqlite_handles.h"
#include "common/log.h"
#include "common/strings.h"

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
    // 2: where each decision came from
    R"sql(
ALTER TABLE commands ADD COLUMN policy_hash TEXT;
ALTER TABLE commands ADD COLUMN policy_hook TEXT;
ALTER TABLE commands ADD COLUMN policy_source TEXT;
)sql",
    // 3: statements inside a channel (SQL): rows, time taken, error, masked columns
    R"sql(
ALTER TABLE commands ADD COLUMN rows INTEGER;
ALTER TABLE commands ADD COLUMN duration_us INTEGER;
ALTER TABLE commands ADD COLUMN error TEXT;
ALTER TABLE commands ADD COLUMN masked_columns TEXT;
)sql",
    // 4: what the command source parsed (JSON), e.g. a kubectl invocation's verb and resources
    R"sql(
ALTER TABLE commands ADD COLUMN details TEXT;
)sql",
    // 5: certificates issued by the bastion CA (revocation by serial needs to know them)
    R"sql(
CREATE TABLE issued_certs (
  serial TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  principals TEXT NOT NULL,
  valid_after TEXT NOT NULL,
  valid_before TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  issued_by TEXT NOT NULL,
  ca_fingerprint TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  source_address TEXT,
  force_command TEXT
);
)sql",
    // 6: just-in-time access: approval requests (held commands, access requests) and their votes
    R"sql(
CREATE TABLE approval_requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  session_id TEXT,
  channel INTEGER,
  requester TEXT NOT NULL,
  target TEXT NOT NULL,
  command_kind TEXT,
  command_text TEXT,
  reason TEXT,
  approvers TEXT NOT NULL,
  min_approvals INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  decided_at INTEGER,
  decided_by TEXT,
  deny_reason TEXT,
  grant_ttl INTEGER,
  grant_expires_at INTEGER
);
CREATE INDEX approval_requests_state ON approval_requests(state);
CREATE TABLE approval_votes (
  request_id INTEGER NOT NULL REFERENCES approval_requests(id),
  approver TEXT NOT NULL,
  decision TEXT NOT NULL,
  comment TEXT,
  at INTEGER NOT NULL,
  UNIQUE(request_id, approver)
);
)sql",
    // 7: recordings: one row per file, its signed final digest and last signed
    // checkpoint; every signed checkpoint is kept too, to locate an edit
    R"sql(
CREATE TABLE recordings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL,
  channel INTEGER NOT NULL,
  command_id INTEGER,
  path TEXT NOT NULL,
  state TEXT NOT NULL,
  events INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  digest TEXT,
  tail_digest TEXT,
  signature TEXT,
  opened_at TEXT NOT NULL,
  closed_at TEXT,
  cp_events INTEGER,
  cp_bytes INTEGER,
  cp_digest TEXT,
  cp_signature TEXT,
  cp_at TEXT,
  pruned_at TEXT,
  pruned_by TEXT
);
CREATE INDEX recordings_session ON recordings(session_id, channel);
CREATE INDEX recordings_state ON recordings(state);
CREATE TABLE recording_checkpoints (
  recording_id INTEGER NOT NULL,
  events INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  digest TEXT NOT NULL,
  signature TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX recording_checkpoints_recording ON recording_checkpoints(recording_id, events);
)sql",
    // 8: the audit chain (every row as written, hash-chained, with the writer
    // it claims and when) and its signed anchors (the head, and the entries
    // the signing bastiond did not append itself)
    R"sql(
CREATE TABLE audit_chain (
  seq INTEGER PRIMARY KEY,
  tbl TEXT NOT NULL,
  row_key TEXT NOT NULL,
  row_json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  writer TEXT NOT NULL,
  at TEXT NOT NULL
);
-- A row's latest entry, read before bastiond updates or acts on the row.
CREATE INDEX audit_chain_row ON audit_chain (tbl, row_key, seq);
CREATE TABLE audit_anchors (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  at TEXT NOT NULL,
  foreign_seqs TEXT NOT NULL,
  opened_head INTEGER NOT NULL,
  prev_seq INTEGER NOT NULL DEFAULT 0,
  clean_close INTEGER NOT NULL DEFAULT 0,
  key_fingerprint TEXT NOT NULL,
  signature TEXT NOT NULL
);
)sql",
    // 9: full-text search over command text.
    // External content (the text is stored once, in commands); the trigram
    // tokenizer matches any substring of 3+ characters, case-insensitively.
    // Indexed in batches by bastiond (index_pending), not by an insert
    // trigger: a trigger cost every audited statement ~70 us. Readers match
    // rows past indexed_upto with LIKE. Commands are never deleted or
    // rewritten; if someone does, the index follows for indexed rows only
    // (an FTS5 'delete' of a row it never saw would corrupt it).
    R"sql(
CREATE VIRTUAL TABLE commands_fts USING fts5(text, content='commands', content_rowid='id',
  tokenize='trigram case_sensitive 0');
CREATE TABLE commands_fts_progress (indexed_upto INTEGER NOT NULL);
INSERT INTO commands_fts_progress VALUES (0);
CREATE TRIGGER commands_fts_delete AFTER DELETE ON commands
  WHEN old.id <= (SELECT indexed_upto FROM commands_fts_progress) BEGIN
  INSERT INTO commands_fts(commands_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER commands_fts_update AFTER UPDATE OF text ON commands
  WHEN old.id <= (SELECT indexed_upto FROM commands_fts_progress) BEGIN
  INSERT INTO commands_fts(commands_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO commands_fts(rowid, text) VALUES (new.id, new.text);
END;
)sql",
    // 10 (issue 20): where a recording lives once closed (local, uploading to the
    // recordings_store, stored there under object_key). A table of its own:
    // a new recordings column would change every chained recordings row.
    R"sql(
CREATE TABLE recording_locations (
  recording_id INTEGER PRIMARY KEY,
  state TEXT NOT NULL,
  object_key TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX recording_locations_state ON recording_locations(state);
)sql",
    // 11 (issue 20, the shared policy store): named policies as numbered
    // versions, and the history of which version is active (the last row per
    // name). Append-only, chained like every row.
    R"sql(
CREATE TABLE policy_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  text TEXT NOT NULL,
  modules_json TEXT NOT NULL,
  hash TEXT NOT NULL,
  pushed_by TEXT NOT NULL,
  pushed_at TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  UNIQUE(name, version)
);
CREATE TABLE policy_activations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  action TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  changed_at TEXT NOT NULL
);
CREATE INDEX policy_activations_name ON policy_activations(name, id);
)sql",
    // 12 (issue 20): each policy version and activation's signature by the
    // admin's policy key (audit/policy_signature.h). A table of its own: a
    // new column would change the chained snapshots of rows already there.
    R"sql(
CREATE TABLE policy_signatures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tbl TEXT NOT NULL,
  row_id INTEGER NOT NULL,
  signer TEXT NOT NULL,
  signature TEXT NOT NULL,
  UNIQUE(tbl, row_id)
);
)sql",
};
static_assert(sizeof kMigrations / sizeof kMigrations[0] == SqliteAuditStore::kSchemaVersion,
              "kSchemaVersion is the number of migrations");

using Param = SqlParam;

void bind(sqlite3_stmt* st, std::initializer_list<Param> params) {
  int i = 1;
  for (const auto& p : params) {
    if (std::holds_alternative<std::nullptr_t>(p)) sqlite3_bind_null(st, i);
    else if (const auto* n = std::get_if<int64_t>(&p)) sqlite3_bind_int64(st, i, *n);
    else {
      const auto& t = std::get<std::string>(p);
      sqlite3_bind_text(st, i, t.c_str(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
    }
    ++i;
  }
}

}  // namespace

std::unique_ptr<SqliteAuditStore> SqliteAuditStore::open(const std::string& path, std::string& error,
                                                         std::string writer) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    error = path + ": " + (db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return nullptr;
  }
  std::unique_ptr<SqliteAuditStore> store(new SqliteAuditStore(db, std::move(writer)));
  sqlite3_busy_timeout(db, 5000);
  // Checkpoints every 8000 pages (32 MB of WAL), not SQLite's 1000: each
  // statement rewrites the same few pages (the header, the sequence, the
  // newest leaves), so a rarer checkpoint copies far fewer of them and syncs
  // a tenth as often. A bastiond crash loses nothing either way (the WAL
  // is the log); the WAL file grows to about 32 MB before it is reused.
  if (!store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                   "PRAGMA wal_autocheckpoint=8000;",
                   error) ||
      !store->migrate(error) || !store->note_opened_head(error)) {
    error = path + ": " + error;
    return nullptr;
  }
  return store;
}

SqliteAuditStore::~SqliteAuditStore() {
  anchor_at_close();
  for (auto& [sql, st] : cache_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

bool SqliteAuditStore::exec(const char* sql, std::string& error) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    error = msg ? msg : "sqlite error";
    sqlite3_free(msg);
    return false;
  }
  return true;
}

int SqliteAuditStore::changes() const { return sqlite3_changes(db_); }

bool SqliteAuditStore::insert(const char* sql, std::initializer_list<Param> params, int64_t& id, std::string& error) {
  if (!execute(sql, params, error)) return false;
  id = sqlite3_last_insert_rowid(db_);
  return true;
}

const char* SqliteAuditStore::plain_policy_tables_sql() const {
  return kSqlitePlainPolicyTables;
}

bool SqliteAuditStore::begin(std::string& error) { return execute("BEGIN IMMEDIATE", {}, error); }

const char* SqliteAuditStore::session_end_sql() const {
  return "UPDATE sessions SET ended_at=?1, end_reason=?2, exit_status=?3, bytes_in=?4, bytes_out=?5, "
         "recording_path=(SELECT group_concat(recording, ',') FROM commands "
         "WHERE session_id=?6 AND recording IS NOT NULL), target=coalesce(?7, target) WHERE id=?6";
}

sqlite3_stmt* SqliteAuditStore::prepared(const char* sql, std::string& error) {
  // Statements are prepared once per connection: parsing SQL was a
  // measurable part of each audited SQL statement's cost.
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return error = sqlite3_errmsg(db_), nullptr;
  cache_.emplace(sql, st);
  return st;
}

bool SqliteAuditStore::query(const char* sql, std::initializer_list<Param> params,
                             std::vector<std::vector<std::string>>& rows, std::string& error) {
  sqlite3_stmt* st = prepared(sql, error);
  if (!st) return false;
  bind(st, params);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const auto* v = sqlite3_column_text(st, c);
      row.emplace_back(v ? reinterpret_cast<const char*>(v) : "");
    }
    rows.push_back(std::move(row));
  }
  const bool ok = rc == SQLITE_DONE;
  if (!ok) error = sqlite3_errmsg(db_);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return ok;
}

bool SqliteAuditStore::execute(const char* sql, std::initializer_list<Param> params, std::string& error) {
  sqlite3_stmt* st = prepared(sql, error);
  if (!st) return false;
  bind(st, params);
  const bool ok = sqlite3_step(st) == SQLITE_DONE;
  if (!ok) error = sqlite3_errmsg(db_);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return ok;
}

bool SqliteAuditStore::read_row_json(const char* table, const std::string& key, bool& found, std::string& json,
                                     std::string& error) {
  const ChainedTable* t = chained_table(table);
  if (!t) return error = std::string("not a chained table: ") + table, false;
  sqlite3_stmt* row = prepared(t->select_one, error);
  if (!row) return false;
  sqlite3_bind_text(row, 1, key.c_str(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  const int rc = sqlite3_step(row);
  found = rc == SQLITE_ROW;
  json = found ? row_json(row, 0) : std::string();
  sqlite3_reset(row);
  sqlite3_clear_bindings(row);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error = std::string("cannot read ") + table + " " + key, false;
  return true;
}

int SqliteAuditStore::schema_version() {
  std::lock_guard<std::mutex> g(mu_);
  std::string error;
  const SqliteStmt st = prepare_sqlite(db_, "PRAGMA user_version", error);
  if (!st) return -1;
  return sqlite3_step(st.get()) == SQLITE_ROW ? sqlite3_column_int(st.get(), 0) : -1;
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
    // The version is read again under the write lock: another process
    // opening the same new store at once may have applied this one already.
    if (!exec("BEGIN IMMEDIATE", error)) return error = "migration " + std::to_string(v + 1) + ": " + error, false;
    const int now = schema_version();
    if (now > v) {
      if (!exec("COMMIT", error)) return false;
      continue;
    }
    const std::string sql = std::string(kMigrations[v]) + "PRAGMA user_version=" + std::to_string(v + 1) + "; COMMIT;";
    if (!exec(sql.c_str(), error)) {
      std::string ignored;
      exec("ROLLBACK", ignored);
      error = "migration " + std::to_string(v + 1) + " failed: " + error;
      return false;
    }
  }
  if (have < 8 && !chain_existing_rows(error)) return error = "chaining existing rows: " + error, false;
  return true;
}

bool SqliteAuditStore::chain_existing_rows(std::string& error) {
  // Rows written before the chain existed are chained once, as found.
  Txn txn(*this, error);
  if (!txn) return false;
  std::vector<std::vector<std::string>> n;
  if (!query("SELECT COUNT(*) FROM audit_chain", {}, n, error)) return false;
  if (n.empty() || n[0][0] != "0") return txn.commit(error);
  for (const auto& t : kChainedTables) {
    std::vector<std::vector<std::string>> keys;
    const std::string sql = std::string(t.select_all);
    if (!query(sql.c_str(), {}, keys, error)) return false;
    for (const auto& k : keys)
      if (!chain_row(t.name, k[0], error)) return false;
  }
  return txn.commit(error);
}

bool SqliteAuditStore::index_pending(std::string& error) {
  std::lock_guard<std::mutex> g(mu_);
  SqlRows rows;
  if (!query("SELECT indexed_upto, (SELECT max(id) FROM (SELECT id FROM commands WHERE id > indexed_upto "
             "ORDER BY id LIMIT ?)) FROM commands_fts_progress",
             {int64_t{kIndexBatch}}, rows, error))
    return false;
  if (rows.size() != 1) return error = "commands_fts_progress: expected one row", false;
  if (rows[0][1].empty()) return true;  // nothing new
  const int64_t from = std::stoll(rows[0][0]), to = std::stoll(rows[0][1]);
  Txn txn(*this, error);
  return txn &&
         execute("INSERT INTO commands_fts(rowid, text) SELECT id, text FROM commands WHERE id > ? AND id <= ?",
                 {from, to}, error) &&
         execute("UPDATE commands_fts_progress SET indexed_upto = ?", {to}, error) && txn.commit(error);
}

}  // namespace bastion
