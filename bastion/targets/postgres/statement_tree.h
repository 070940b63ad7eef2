// One statement's parse tree, kept for the checks that need more than the
// classifier's facts: the column-mask guard and the computed-column analysis.
#pragma once
#include <memory>
#include <string>

#include "targets/postgres/parse_tree.h"

namespace bastion {

class StatementTree {
 public:
  // False when `sql` does not parse or is not exactly one statement.
  bool parse(const std::string& sql);
  // The statement node `stmt` ({"SelectStmt": {...}}) of a tree the
  // classifier already built (no second parse); false when it is absent.
  bool adopt(std::shared_ptr<const ParseTree> tree, PtNode stmt);
  // {"SelectStmt": {...}} (absent when parse failed).
  PtNode stmt() const { return tree_ ? stmt_ : PtNode{}; }
  // The whole tree stmt() points into (null when parse failed).
  const std::shared_ptr<const ParseTree>& tree() const { return tree_; }

 private:
  std::shared_ptr<const ParseTree> tree_;  // owns what stmt_ points into
  PtNode stmt_;
};

// "schema.name" from a list of String nodes (funcname, names).
std::string pt_dotted(PtNode items);

}  // namespace bastion
