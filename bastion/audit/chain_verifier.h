// Recomputes the audit chain of a SQLite audit store, checks its anchors'
// signatures, and compares every current row of the chained tables with its
// latest chained snapshot: a row edited, deleted or inserted with SQL
// directly is reported with its table and key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;

namespace bastion {

class AuditVerifier;

struct ChainReport {
  int64_t entries = 0;
  int64_t signed_upto = 0;  // highest seq a valid anchor vouches for
  std::vector<std::string> problems;
};

ChainReport verify_audit_chain(sqlite3* db, const AuditVerifier& key);

}  // namespace bastion
