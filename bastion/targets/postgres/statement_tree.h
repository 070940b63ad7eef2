// One statement's parse tree, kept for the checks that need more than the
// classifier's facts: the column-mask guard and the computed-column analysis.
#pragma once
#include <string>

#include "targets/postgres/parse_tree.h"

namespace bastion {

class StatementTree {
 public:
  // False when `sql` does not parse or is not exactly one statement.
  bool parse(const std::string& sql);
  // {"SelectStmt": {...}} (absent when parse failed).
  PtNode stmt() const { return ok_ ? tree_.root()["stmts"].first()["stmt"] : PtNode{}; }

 private:
  ParseTree tree_;
  bool ok_ = false;
};

// "schema.name" from a list of String nodes (funcname, names).
std::string pt_dotted(PtNode items);

}  // namespace bastion
