#include "audit/pg_audit_store.h"
#include "audit/policy_tables.h"

#include <cstdlib>
#include <vector>

#include "audit/audit_chain.h"
#include "audit/pg_cells.h"
#include "common/parse_number.h"

namespace bastion {
namespace {

// The chain lock is held by every write transaction of every instance
// from its first statement to its end.
constexpr int kChainLock = 2;

// Each chained table's row by its chain key. The composite keys are matched
// whole, on an expression index (pg_schema.cpp).
const char* pg_select_one(const std::string& table) {
  if (table == "approval_votes")
    return "SELECT * FROM approval_votes WHERE (CAST(request_id AS TEXT)||'/'||approver)=$1";
  if (table == "recording_checkpoints")
    return "SELECT * FROM recording_checkpoints WHERE (CAST(recording_id AS TEXT)||'/'||CAST(events AS TEXT))=$1";
  if (table == "sessions") return "SELECT * FROM sessions WHERE id=$1";
  if (table == "issued_certs") return "SELECT * FROM issued_certs WHERE serial=$1";
  if (table == "commands") return "SELECT * FROM commands WHERE id=CAST($1 AS BIGINT)";
  if (table == "auth_events") return "SELECT * FROM auth_events WHERE id=CAST($1 AS BIGINT)";
  if (table == "approval_requests") return "SELECT * FROM approval_requests WHERE id=CAST($1 AS BIGINT)";
  if (table == "recordings") return "SELECT * FROM recordings WHERE id=CAST($1 AS BIGINT)";
  if (table == "policy_versions") return "SELECT * FROM policy_versions WHERE id=CAST($1 AS BIGINT)";
  if (table == "policy_activations") return "SELECT * FROM policy_activations WHERE id=CAST($1 AS BIGINT)";
  if (table == "recording_locations")
    return "SELECT * FROM recording_locations WHERE recording_id=CAST($1 AS BIGINT)";
  return nullptr;
}

}  // namespace

std::unique_ptr<PgAuditStore> PgAuditStore::open(const PgTarget& target, std::string& error, std::string writer) {
  PgConn c = pg_connect(target, error);
  if (!c) return nullptr;
  int version = 0;
  if (!pg_migrate(c.get(), version, error)) return nullptr;
  std::unique_ptr<PgAuditStore> store(new PgAuditStore(std::move(c), std::move(writer)));
  if (!store->note_opened_head(error)) return error = "postgresql store: " + error, nullptr;
  return store;
}

PgAuditStore::~PgAuditStore() { anchor_at_close(); }

int PgAuditStore::schema_version() {
  std::lock_guard<std::mutex> g(mu_);
  std::string error;
  PgResult r = run("SELECT version FROM bastion_schema", {}, error);
  return r && PQntuples(r.get()) == 1 ? static_cast<int>(std::strtol(PQgetvalue(r.get(), 0, 0), nullptr, 10)) : -1;
}

PgResult PgAuditStore::run(const std::string& sql, std::initializer_list<SqlParam> params, std::string& error) {
  // A dropped connection is re-established between transactions (never in
  // one: what it wrote is gone, and the caller sees the failure).
  if (PQstatus(conn_.get()) != CONNECTION_OK && !in_txn_) PQreset(conn_.get());
  std::vector<std::string> text;
  std::vector<const char*> values;
  std::vector<unsigned> types;
  text.reserve(params.size());
  for (const auto& p : params) {
    if (std::holds_alternative<std::nullptr_t>(p)) {
      text.emplace_back();
      types.push_back(0);
    } else if (const auto* n = std::get_if<int64_t>(&p)) {
      text.push_back(std::to_string(*n));
      types.push_back(kPgInt8Oid);
    } else {
      text.push_back(std::get<std::string>(p));
      types.push_back(0);  // inferred from where it is used
    }
  }
  std::size_t i = 0;
  for (const auto& p : params) values.push_back(std::holds_alternative<std::nullptr_t>(p) ? nullptr : text[i].c_str()), ++i;
  const std::string pg_sql = pg_placeholders(sql);
  PgResult r(PQexecParams(conn_.get(), pg_sql.c_str(), static_cast<int>(values.size()), types.data(), values.data(),
                          nullptr, nullptr, 0));
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    error = r ? PQresultErrorMessage(r.get()) : pg_error(conn_.get());
    for (char& ch : error)
      if (ch == '\n') ch = ' ';
    while (!error.empty() && error.back() == ' ') error.pop_back();
    return nullptr;
  }
  changes_ = static_cast<int>(parse_signed(PQcmdTuples(r.get()), 0, INT32_MAX).value_or(0));
  return r;
}

bool PgAuditStore::execute(const char* sql, std::initializer_list<SqlParam> params, std::string& error) {
  const std::string s(sql);
  if (s == "COMMIT" || s == "ROLLBACK") in_txn_ = false;
  return run(s, params, error) != nullptr;
}

bool PgAuditStore::query(const char* sql, std::initializer_list<SqlParam> params, SqlRows& rows, std::string& error) {
  PgResult r = run(sql, params, error);
  if (!r) return false;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::vector<std::string> row;
    for (int c = 0; c < PQnfields(r.get()); ++c)
      row.emplace_back(PQgetvalue(r.get(), i, c), static_cast<std::size_t>(PQgetlength(r.get(), i, c)));
    rows.push_back(std::move(row));
  }
  return true;
}

bool PgAuditStore::insert(const char* sql, std::initializer_list<SqlParam> params, int64_t& id, std::string& error) {
  PgResult r = run(std::string(sql) + " RETURNING id", params, error);
  if (!r) return false;
  if (PQntuples(r.get()) != 1) return error = "insert returned no id", false;
  id = std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  return true;
}

bool PgAuditStore::read_row_json(const char* table, const std::string& key, bool& found, std::string& json,
                                 std::string& error) {
  const char* sql = pg_select_one(table);
  if (!sql) return error = std::string("not a chained table: ") + table, false;
  // A key that is not a number cannot name an id row (and must not fail the cast).
  const bool numeric_key = std::string_view(sql).find("BIGINT") != std::string_view::npos;
  if (numeric_key && !parse_signed(key, INT64_MIN, INT64_MAX)) return found = false, json.clear(), true;
  PgResult r = run(sql, {key}, error);
  if (!r) return error = std::string("cannot read ") + table + " " + key + ": " + error, false;
  found = PQntuples(r.get()) > 0;
  json = found ? row_json(PgCells(r.get(), 0), 0) : std::string();
  return true;
}

const char* PgAuditStore::plain_policy_tables_sql() const {
  return kPgPlainPolicyTables;
}

bool PgAuditStore::begin(std::string& error) {
  if (!execute("BEGIN", {}, error)) return false;
  in_txn_ = true;
  // Serialises chain appends across instances: the head read next is the
  // head this transaction appends to.
  static const std::string lock =
      "SELECT pg_advisory_xact_lock(" + std::to_string(kPgLockSpace) + ", " + std::to_string(kChainLock) + ")";
  if (execute(lock.c_str(), {}, error)) return true;
  std::string ignored;
  execute("ROLLBACK", {}, ignored);
  return false;
}

const char* PgAuditStore::session_end_sql() const {
  return "UPDATE sessions SET ended_at=?1, end_reason=?2, exit_status=?3, bytes_in=?4, bytes_out=?5, "
         "recording_path=(SELECT string_agg(recording, ',' ORDER BY id) FROM commands "
         "WHERE session_id=?6 AND recording IS NOT NULL), target=coalesce(?7, target) WHERE id=?6";
}

bool PgAuditStore::announce_approvals(std::string& error) {
  return execute("SELECT pg_notify(?, '')", {std::string(kApprovalsChannel)}, error);
}

bool PgAuditStore::announce_policy(const std::string& name, std::string& error) {
  return execute("SELECT pg_notify(?, ?)", {std::string(kPolicyChannel), name}, error);
}

}  // namespace bastion
