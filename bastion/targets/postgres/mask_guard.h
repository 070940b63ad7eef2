// What the bastion refuses while a statement runs under column masks,
// whatever the policy said: the ways a masked value could leave without
// passing through the result-column masker. Read from the statement's parse
// tree (the classifier's facts do not say COPY's direction, for one).
#pragma once
#include <string>
#include <vector>

#include "targets/postgres/computed_columns.h"
#include "targets/postgres/parse_tree.h"

namespace bastion {

struct MaskGuardFacts {
  bool copy_to = false;                    // COPY ... TO (a file, STDOUT or a program)
  std::vector<std::string> query_string;   // functions that run SQL given as text (query_to_xml, ...)
  std::vector<std::string> statistics;     // statistics views/functions, statement texts (pg_stats, ...)
  std::string creates;                     // "CREATE TABLE AS", "PREPARE", ...: an object made from what it reads
  bool copies_masked = false;              // UPDATE / ON CONFLICT SET or ALTER TABLE may copy a masked value
  bool renames_masked_column = false;      // RENAME of a column named like a masked one
  bool renames_relation = false;           // RENAME of a table, view or materialized view
};

// `stmt` is the statement's node ({"CopyStmt": ...}), statements nested in
// it (EXPLAIN, PREPARE, CTEs) included.
MaskGuardFacts mask_guard_facts(PtNode stmt, const MaskedName& masked);

// Why the statement is refused under column masks ("" when it is not).
// `reads_masked`: it reads a relation holding a masked column (or a
// user-defined function, or the bastion could not tell).
// `allow_derived_objects`: the policy opted out of the derived-object rule.
std::string mask_guard_refusal(const MaskGuardFacts& f, bool reads_masked, bool allow_derived_objects);

}  // namespace bastion
