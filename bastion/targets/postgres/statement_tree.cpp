#include "targets/postgres/statement_tree.h"

#include <pg_query.h>

namespace bastion {

bool StatementTree::parse(const std::string& sql) {
  ok_ = false;
  const PgQueryParseResult r = pg_query_parse(sql.c_str());
  if (!r.error && tree_.parse(r.parse_tree)) {
    const PtNode stmts = tree_.root()["stmts"];
    std::size_t n = 0;
    for (PtNode s : stmts) n += s.has("stmt") ? 1 : 0;
    ok_ = n == 1 && stmts.first()["stmt"].is_object() && !stmts.first()["stmt"].empty();
  }
  pg_query_free_parse_result(r);
  return ok_;
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
