#include "targets/postgres/statement_tree.h"

#include <pg_query.h>

namespace bastion {

bool StatementTree::parse(const std::string& sql) {
  tree_.reset();
  stmt_ = PtNode{};
  auto tree = std::make_shared<ParseTree>();
  const PgQueryParseResult r = pg_query_parse(sql.c_str());
  bool ok = false;
  if (!r.error && tree->parse(r.parse_tree)) {
    const PtNode stmts = tree->root()["stmts"];
    std::size_t n = 0;
    for (PtNode s : stmts) n += s.has("stmt") ? 1 : 0;
    ok = n == 1;
  }
  pg_query_free_parse_result(r);
  if (!ok) return false;
  const PtNode stmt = tree->root()["stmts"].first()["stmt"];
  return adopt(std::move(tree), stmt);
}

bool StatementTree::adopt(std::shared_ptr<const ParseTree> tree, PtNode stmt) {
  tree_.reset();
  stmt_ = PtNode{};
  if (!tree || !stmt.is_object() || stmt.empty()) return false;
  tree_ = std::move(tree);
  stmt_ = stmt;
  return true;
}

std::string pt_dotted(PtNode items) {
  std::string out;
  for (PtNode it : items) {
    if (!out.empty()) out += ".";
    if (it.has("String")) out += it["String"].str("sval");
    else if (it.has("A_Star")) out += "*";
  }
  return out;
}

}  // namespace bastion
