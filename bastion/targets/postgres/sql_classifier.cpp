#include "targets/postgres/sql_classifier.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>
#include <pg_query.h>

namespace bastion {
namespace {

using json = nlohmann::json;

// Node name -> statement kind, for the ones whose name does not say it plainly.
std::string kind_of(const std::string& node, const json& body) {
  if (node == "SelectStmt") return "select";
  if (node == "InsertStmt") return "insert";
  if (node == "UpdateStmt") return "update";
  if (node == "DeleteStmt") return "delete";
  if (node == "MergeStmt") return "merge";
  if (node == "TruncateStmt") return "truncate";
  if (node == "CopyStmt") return "copy";
  if (node == "VariableSetStmt") return "set";
  if (node == "VariableShowStmt") return "show";
  if (node == "CallStmt") return "call";
  if (node == "DoStmt") return "do";
  if (node == "ExplainStmt") return "explain";
  if (node == "VacuumStmt") return "vacuum";
  if (node == "LockStmt") return "lock";
  if (node == "GrantStmt" || node == "GrantRoleStmt")
    return body.value("is_grant", false) ? "grant" : "revoke";
  if (node == "TransactionStmt") {
    const std::string k = body.value("kind", "");
    if (k == "TRANS_STMT_BEGIN" || k == "TRANS_STMT_START") return "begin";
    if (k == "TRANS_STMT_COMMIT" || k == "TRANS_STMT_COMMIT_PREPARED") return "commit";
    if (k == "TRANS_STMT_ROLLBACK" || k == "TRANS_STMT_ROLLBACK_TO" || k == "TRANS_STMT_ROLLBACK_PREPARED")
      return "rollback";
    if (k == "TRANS_STMT_SAVEPOINT" || k == "TRANS_STMT_RELEASE") return "savepoint";
    if (k == "TRANS_STMT_PREPARE") return "prepare";
    return "transaction";
  }
  if (node.starts_with("Create") || node == "IndexStmt" || node == "ViewStmt" || node == "DefineStmt" ||
      node == "CompositeTypeStmt" || node == "RuleStmt")
    return "create";
  if (node.starts_with("Alter") || node == "RenameStmt") return "alter";
  if (node.starts_with("Drop")) return "drop";
  std::string k = node.ends_with("Stmt") ? node.substr(0, node.size() - 4) : node;
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  return k;
}

// Kinds that never change data or schema by themselves.
bool read_only_kind(const std::string& k) {
  static const std::set<std::string> ro = {"select", "show", "explain", "begin", "commit", "rollback",
                                           "savepoint", "transaction", "set", "prepare"};
  return ro.count(k) > 0;
}

std::string dotted(const json& items) {
  std::string out;
  if (!items.is_array()) return out;
  for (const auto& it : items) {
    std::string part;
    if (it.contains("String")) part = it["String"].value("sval", "");
    else if (it.contains("A_Star")) part = "*";
    if (!out.empty()) out += ".";
    out += part;
  }
  return out;
}

std::string range_var_name(const json& rv) {
  std::string name;
  if (rv.contains("catalogname")) name += rv["catalogname"].get<std::string>() + ".";
  if (rv.contains("schemaname")) name += rv["schemaname"].get<std::string>() + ".";
  return name + rv.value("relname", "");
}

class Walker {
 public:
  explicit Walker(SqlStatement& s) : s_(s) {}

  void add_unique(std::vector<std::string>& v, const std::string& x) {
    if (!x.empty() && std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  }

  // CTE names are collected first: JSON key order puts fromClause before withClause.
  void collect_ctes(const json& j, int depth = 0) {
    if (depth > 500) return;
    if (j.is_array()) {
      for (const auto& e : j) collect_ctes(e, depth + 1);
    } else if (j.is_object()) {
      for (const auto& [key, val] : j.items()) {
        if (key == "CommonTableExpr" && val.is_object()) ctes_.insert(val.value("ctename", ""));
        collect_ctes(val, depth + 1);
      }
    }
  }

  void range_var(const json& rv, bool writing) {
    const bool is_cte = !rv.contains("schemaname") && ctes_.count(rv.value("relname", ""));
    if (!is_cte) add_unique(writing ? s_.writes : s_.reads, range_var_name(rv));
  }

  // Visits every node; `writing` is true where a RangeVar is a write target.
  void visit(const json& j, bool writing, int depth = 0) {
    if (depth > 500) return;  // the parser already limits depth; belt and braces
    if (j.is_array()) {
      for (const auto& e : j) visit(e, writing, depth + 1);
      return;
    }
    if (!j.is_object()) return;
    // Fields typed RangeVar (relation, rel, ...) hold the body without the wrapper.
    if (j.contains("relname") && j["relname"].is_string()) return range_var(j, writing);
    for (const auto& [key, val] : j.items()) {
      if (key == "RangeVar") {
        range_var(val, writing);
        continue;
      }
      if (key == "FuncCall") add_unique(s_.functions, dotted(val.value("funcname", json::array())));
      if (key == "InsertStmt" || key == "UpdateStmt" || key == "DeleteStmt" || key == "MergeStmt") {
        s_.writes_data = true;
        if ((key == "UpdateStmt" || key == "DeleteStmt") && !val.contains("whereClause")) s_.has_where = false;
        for (const auto& [k, v] : val.items()) visit(v, k == "relation", depth + 1);
        continue;
      }
      if (key == "IntoClause" || key == "intoClause") {  // SELECT ... INTO, CREATE TABLE AS
        s_.writes_data = true;
        visit(val, true, depth + 1);
        continue;
      }
      if (key == "CopyStmt") {
        if (val.value("is_program", false)) s_.copy_program = true;
        const bool from = val.value("is_from", false);
        if (from) s_.writes_data = true;
        for (const auto& [k, v] : val.items()) visit(v, k == "relation" && from, depth + 1);
        continue;
      }
      if (key == "DropStmt") {
        for (const auto& obj : val.value("objects", json::array())) {
          if (obj.contains("List")) add_unique(s_.writes, dotted(obj["List"].value("items", json::array())));
          else if (obj.contains("String")) add_unique(s_.writes, obj["String"].value("sval", ""));
        }
        continue;
      }
      if (key == "TruncateStmt" || key == "CreateStmt" || key == "AlterTableStmt" || key == "IndexStmt" ||
          key == "LockStmt" || key == "VacuumStmt" || key == "ViewStmt" || key == "RuleStmt") {
        const bool rel_is_write = key != "LockStmt";
        for (const auto& [k, v] : val.items())
          visit(v, rel_is_write && (k == "relation" || k == "relations" || k == "rels" || k == "view"),
                depth + 1);
        continue;
      }
      visit(val, writing, depth + 1);
    }
  }

 private:
  SqlStatement& s_;
  std::set<std::string> ctes_;
};

// Classifies one statement from its parse tree node ({"SelectStmt": {...}}).
void classify_tree(SqlStatement& s, const json& stmt) {
  if (!stmt.is_object() || stmt.empty()) {
    s.kind = "empty";
    return;
  }
  const std::string node = stmt.begin().key();
  const json& body = stmt.begin().value();
  s.kind = kind_of(node, body);
  Walker w(s);
  w.collect_ctes(stmt);
  if (node == "ExplainStmt") {
    bool analyze = false;
    for (const auto& opt : body.value("options", json::array()))
      if (opt.contains("DefElem") && opt["DefElem"].value("defname", "") == "analyze") analyze = true;
    const json& query = body.value("query", json::object());
    if (analyze && query.is_object() && !query.empty()) {
      // EXPLAIN ANALYZE runs the statement: it is that statement.
      s.kind = kind_of(query.begin().key(), query.begin().value());
      w.visit(query, false);
    } else {
      SqlStatement inner;  // not executed: only what it reads matters
      Walker(inner).visit(query, false);
      s.reads = inner.reads;
      for (const auto& x : inner.writes) w.add_unique(s.reads, x);
      s.functions = inner.functions;
    }
  } else {
    w.visit(stmt, false);
  }
  if (!read_only_kind(s.kind)) s.writes_data = true;
}

// Parses one statement on its own (used when the whole input does not parse).
void classify_one(SqlStatement& s) {
  const PgQueryParseResult r = pg_query_parse(s.text.c_str());
  if (r.error) {
    s.kind = "unknown";
    s.parse_error = r.error->message ? r.error->message : "syntax error";
    pg_query_free_parse_result(r);
    return;
  }
  const json tree = json::parse(r.parse_tree, nullptr, false);
  pg_query_free_parse_result(r);
  const json& stmts = tree.is_object() ? tree.value("stmts", json::array()) : json::array();
  if (stmts.empty() || !stmts[0].contains("stmt")) {
    s.kind = "empty";
    return;
  }
  classify_tree(s, stmts[0]["stmt"]);
}

std::string trim(std::string_view v) {
  const auto b = v.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = v.find_last_not_of(" \t\r\n;");
  return std::string(v.substr(b, e == std::string_view::npos || e < b ? 0 : e - b + 1));
}

}  // namespace

std::vector<SqlStatement> classify_sql(std::string_view input) {
  std::vector<SqlStatement> out;
  if (input.size() > kSqlMaxInput) {
    SqlStatement s;
    s.text = std::string(input.substr(0, 200));
    s.kind = "unknown";
    s.parse_error = "input too large to analyse";
    out.push_back(std::move(s));
    return out;
  }
  const std::string text(input);  // libpg_query needs NUL termination
  // Fast path: one parse of the whole input; the tree says where each
  // statement starts and ends.
  {
    const PgQueryParseResult r = pg_query_parse(text.c_str());
    if (!r.error) {
      const json tree = json::parse(r.parse_tree, nullptr, false);
      pg_query_free_parse_result(r);
      for (const auto& st : tree.is_object() ? tree.value("stmts", json::array()) : json::array()) {
        if (out.size() >= kSqlMaxStatements) break;
        const auto loc = static_cast<std::size_t>(st.value("stmt_location", 0));
        const auto len = static_cast<std::size_t>(st.value("stmt_len", 0));
        SqlStatement s;
        s.text = trim(std::string_view(text).substr(std::min(loc, text.size()), len ? len : std::string::npos));
        if (s.text.empty()) continue;
        classify_tree(s, st.value("stmt", json::object()));
        out.push_back(std::move(s));
      }
      return out;
    }
    pg_query_free_parse_result(r);
  }
  // The input has an error somewhere: the scanner splits even input the
  // parser rejects, and each part then reports its own error.
  PgQuerySplitResult split = pg_query_split_with_scanner(text.c_str());
  if (split.error) {
    SqlStatement s;
    s.text = trim(text);
    s.kind = "unknown";
    s.parse_error = split.error->message ? split.error->message : "cannot split";
    pg_query_free_split_result(split);
    out.push_back(std::move(s));
    return out;
  }
  // The scanner split can skip text it does not recognise as a statement
  // (e.g. "SELEC 1; SELECT 2" yields only the second): every byte not covered
  // by a statement becomes a statement of its own, so nothing is hidden from
  // the policy.
  auto emit = [&out](std::string_view piece) {
    std::size_t start = 0;
    while (start < piece.size() && out.size() < kSqlMaxStatements) {
      const std::size_t semi = piece.find(';', start);
      const std::string_view part = piece.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
      SqlStatement s;
      s.text = trim(part);
      if (!s.text.empty()) {
        classify_one(s);
        out.push_back(std::move(s));
      }
      if (semi == std::string_view::npos) break;
      start = semi + 1;
    }
  };
  std::size_t covered = 0;
  for (int i = 0; i < split.n_stmts && out.size() < kSqlMaxStatements; ++i) {
    const auto loc = static_cast<std::size_t>(split.stmts[i]->stmt_location);
    const auto len = split.stmts[i]->stmt_len == 0 ? text.size() - loc : static_cast<std::size_t>(split.stmts[i]->stmt_len);
    if (loc > covered) emit(std::string_view(text).substr(covered, loc - covered));
    SqlStatement s;
    s.text = trim(std::string_view(text).substr(loc, len));
    covered = std::max(covered, loc + len);
    if (s.text.empty()) continue;
    classify_one(s);
    out.push_back(std::move(s));
  }
  if (covered < text.size()) emit(std::string_view(text).substr(covered));
  pg_query_free_split_result(split);
  return out;
}

SqlFacts sql_facts(const SqlStatement& s) {
  return SqlFacts{s.kind, s.reads, s.writes, s.functions, s.writes_data, s.has_where, s.copy_program, s.parse_error};
}

}  // namespace bastion
