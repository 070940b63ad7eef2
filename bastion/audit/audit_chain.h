// The audit chain: every row the audit store writes is appended, in the same
// transaction, to audit_chain as (seq, table, key, canonical JSON of the row
// as written, the writer it claims, when, prev hash, hash), with hash =
// SHA-256 over prev hash and the entry. The hashes are not keyed: anyone who
// can write the store can append a well-formed entry. bastiond's anchors sign
// the head and name the entries bastiond did not append itself (foreign), so
// verify can tell them apart whatever writer they claim. Shared by the store (writing) and
// bastionctl verify (recomputing), so both build the same bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3_stmt;

namespace bastion {

struct ChainedTable {
  const char* name;
  const char* select_one;  // the row with this key: SELECT * ... WHERE key=?
  const char* select_all;  // key, then every column, of every row
};

// Every table the store writes. approval_votes has no id: its key is
// "REQUEST_ID/APPROVER".
inline constexpr ChainedTable kChainedTables[] = {
    {"sessions", "SELECT * FROM sessions WHERE id=?", "SELECT id, * FROM sessions"},
    {"commands", "SELECT * FROM commands WHERE id=?", "SELECT CAST(id AS TEXT), * FROM commands"},
    {"auth_events", "SELECT * FROM auth_events WHERE id=?", "SELECT CAST(id AS TEXT), * FROM auth_events"},
    {"issued_certs", "SELECT * FROM issued_certs WHERE serial=?", "SELECT serial, * FROM issued_certs"},
    {"approval_requests", "SELECT * FROM approval_requests WHERE id=?",
     "SELECT CAST(id AS TEXT), * FROM approval_requests"},
    // The composite keys are split so that the lookup uses the table's index
    // (a scan per chained write grew with every vote and checkpoint ever
    // stored); the whole key is compared as well, so the same row matches.
    {"approval_votes",
     "SELECT * FROM approval_votes WHERE request_id=CAST(substr(?1,1,instr(?1,'/')-1) AS INTEGER) "
     "AND approver=substr(?1,instr(?1,'/')+1) AND CAST(request_id AS TEXT)||'/'||approver=?1",
     "SELECT CAST(request_id AS TEXT)||'/'||approver, * FROM approval_votes"},
    {"recordings", "SELECT * FROM recordings WHERE id=?", "SELECT CAST(id AS TEXT), * FROM recordings"},
    {"recording_checkpoints",
     "SELECT * FROM recording_checkpoints WHERE recording_id=CAST(substr(?1,1,instr(?1,'/')-1) AS INTEGER) "
     "AND events=CAST(substr(?1,instr(?1,'/')+1) AS INTEGER) "
     "AND CAST(recording_id AS TEXT)||'/'||CAST(events AS TEXT)=?1",
     "SELECT CAST(recording_id AS TEXT)||'/'||CAST(events AS TEXT), * FROM recording_checkpoints"},
    {"recording_locations", "SELECT * FROM recording_locations WHERE recording_id=?",
     "SELECT CAST(recording_id AS TEXT), * FROM recording_locations"},
    // The policy store (bastionctl policy push / rollback writes them).
    {"policy_versions", "SELECT * FROM policy_versions WHERE id=?", "SELECT CAST(id AS TEXT), * FROM policy_versions"},
    {"policy_activations", "SELECT * FROM policy_activations WHERE id=?",
     "SELECT CAST(id AS TEXT), * FROM policy_activations"},
};

const ChainedTable* chained_table(const std::string& name);

// One row as a backend hands it over (SQLite statement, PostgreSQL result),
// so that every backend spells a row in the same bytes: `bastionctl audit
// verify` recomputes the chain with the same function whatever store wrote it.
class RowCells {
 public:
  enum class Type { null, integer, real, text, blob };
  virtual ~RowCells() = default;
  virtual int count() const = 0;
  virtual const char* name(int c) const = 0;
  virtual Type type(int c) const = 0;
  virtual int64_t integer(int c) const = 0;
  virtual double real(int c) const = 0;
  virtual std::string_view bytes(int c) const = 0;  // text or blob
};

// Canonical JSON of `row` from column `first` on (keys sorted; integers as
// numbers, text as strings, NULL as null). A recording's checkpoint columns
// (cp_*) are left out: a checkpoint is signed on its own and replaced about
// once a second, so it is not chained.
std::string row_json(const RowCells& row, int first);
// The current row of a SQLite statement.
std::string row_json(sqlite3_stmt* st, int first);

inline constexpr const char* kChainGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

// SHA-256 hex of prev + "\n" + [seq,table,key,json,writer,at] as compact JSON.
std::string chain_hash(const std::string& prev, int64_t seq, const std::string& table, const std::string& key,
                       const std::string& json, const std::string& writer, const std::string& at);

// The writer bastiond's entries carry (any other process names itself).
inline constexpr const char* kBastiondWriter = "bastiond";

}  // namespace bastion
