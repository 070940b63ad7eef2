// Which result columns of a statement can carry a masked value, read from
// the statement's target list. A computed column (one PostgreSQL reports
// without a table column behind it) is masked only when its expression can
// carry a masked value: it references a masked column (by name, through any
// alias, subquery or CTE column derived from one), a whole row, a row
// constructor, or a function the catalog does not know as pure. Whatever the
// analysis cannot follow counts as carrying one (fail closed).
#pragma once
#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

#include "targets/postgres/parse_tree.h"

namespace bastion {

// Whether a column of this name is masked in some relation.
using MaskedName = std::function<bool(std::string_view)>;

// Per result column (`ncols` of them, in order): true when the column, if
// computed, may carry a masked value. `stmt` is the statement's node
// ({"SelectStmt": ...}); anything but a plain SELECT yields all true.
// `is_column`, when given, says whether a name is a column of a table the
// statement reads: a qualified reference `c.x` to anything else is
// PostgreSQL's functional notation (`c.row_to_json` is row_to_json(c), a
// whole row) and carries; without it, qualified names count as columns.
std::vector<bool> computed_may_carry(PtNode stmt, std::size_t ncols, const MaskedName& masked,
                                     const MaskedName& is_column = nullptr);

// For the mask guard: whether a value the SET list of an UPDATE, or of an
// INSERT ... ON CONFLICT DO UPDATE, writes may carry a masked value (copying
// it into a column nobody masks). `body` is the UpdateStmt / InsertStmt body.
bool set_list_may_carry(PtNode body, const MaskedName& masked);

// For the mask guard: whether ALTER TABLE computes a column that is not
// masked from a masked value (ADD COLUMN ... GENERATED ALWAYS AS (email),
// ALTER COLUMN name TYPE text USING email). `body` is the AlterTableStmt body.
bool alter_may_carry(PtNode body, const MaskedName& masked);

}  // namespace bastion
