#include "targets/postgres/sql_classifier.h"

#include <algorithm>
#include <set>

#include <pg_query.h>

#include "targets/postgres/parse_tree.h"
#include "targets/postgres/sql_effects.h"

namespace bastion {
namespace {

// Node name -> statement kind, for the ones whose name does not say it plainly.
std::string kind_of(std::string_view node_sv, PtNode body) {
  const std::string node(node_sv);
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
  if (node == "GrantStmt" || node == "GrantRoleStmt") return body.flag("is_grant") ? "grant" : "revoke";
  if (node == "TransactionStmt") {
    const std::string_view k = body.str("kind");
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

std::string dotted(PtNode items) {
  std::string out;
  if (!items.is_array()) return out;
  for (PtNode it : items) {
    std::string part;
    if (it.has("String")) part = it["String"].str("sval");
    else if (it.has("A_Star")) part = "*";
    if (!out.empty()) out += ".";
    out += part;
  }
  return out;
}

std::string range_var_name(PtNode rv) {
  std::string name;
  if (rv.has("catalogname")) name += std::string(rv.str("catalogname")) + ".";
  if (rv.has("schemaname")) name += std::string(rv.str("schemaname")) + ".";
  return name + std::string(rv.str("relname"));
}

class Walker {
 public:
  explicit Walker(SqlStatement& s) : s_(s) {}

  void add_unique(std::vector<std::string>& v, const std::string& x) {
    if (!x.empty() && std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  }

  // A WITH list's names are in scope for the statement that has it (and
  // what it contains), for the CTEs after each one, and, WITH RECURSIVE,
  // for every CTE of the list: as PostgreSQL resolves them. A same-named
  // table elsewhere (or inside a non-recursive CTE's own body) is the table.
  template <class Rest>
  void with_scope(PtNode body, int depth, Rest&& rest) {
    const PtNode wc = body["withClause"];
    if (!wc.present()) return rest();
    const bool recursive = wc.flag("recursive");
    scopes_.emplace_back();
    if (recursive)
      for (PtNode c : wc["ctes"]) scopes_.back().insert(std::string(c["CommonTableExpr"].str("ctename")));
    for (PtNode c : wc["ctes"]) {
      visit(c, false, depth + 1);
      if (!recursive) scopes_.back().insert(std::string(c["CommonTableExpr"].str("ctename")));
    }
    rest();
    scopes_.pop_back();
  }

  bool in_cte_scope(const std::string& name) const {
    for (const auto& s : scopes_)
      if (s.count(name)) return true;
    return false;
  }

  void range_var(PtNode rv, bool writing) {
    const bool is_cte = !rv.has("schemaname") && in_cte_scope(std::string(rv.str("relname")));
    if (is_cte) return;
    const std::string name = range_var_name(rv);
    add_unique(writing ? s_.writes : s_.reads, name);
    if (!writing && is_statistics_relation(name)) s_.reads_statistics = true;
  }

  void opaque(const std::string& reason) {
    if (reason.empty()) return;
    s_.opaque = true;
    add_unique(s_.opaque_reasons, reason);
  }

  // True when the tree went deeper than the walker looks (see classify_tree).
  bool too_deep() const { return too_deep_; }

  // True once a node was seen whose result stays on the server (a table, a
  // view, a cursor, a prepared statement, a rule, rows written elsewhere).
  bool stores() const { return stores_; }

  void function_call(PtNode fc) {
    const std::string name = dotted(fc["funcname"]);
    add_unique(s_.functions, name);
    const FunctionEffect e = function_effect(name);
    opaque(e.opaque_reason);
    s_.query_string = s_.query_string || e.query_string;
    s_.reads_statistics = s_.reads_statistics || e.reads_statistics;
    if (e.set_config && !settings_of_set_config(fc, s_.sets)) opaque("set_config of a setting named by an expression");
  }

  // Statement nodes anywhere in the tree (top level, in a CTE, PREPARE,
  // EXPLAIN ANALYZE, CREATE TABLE AS, a rule's actions, function options).
  void statement_node(std::string_view key, PtNode val) {
    opaque(opaque_statement_reason(key, val));
    if (key == "VariableSetStmt") settings_of_variable_set(val, s_.sets);
    else if (key == "TransactionStmt") settings_of_transaction(val, s_.sets);
    else if (key == "DiscardStmt") settings_of_discard(val, s_.sets);
    if (key == "InsertStmt" || key == "UpdateStmt" || key == "MergeStmt" || key == "CreateTableAsStmt" ||
        key == "ViewStmt" || key == "DeclareCursorStmt" || key == "PrepareStmt" || key == "RuleStmt")
      stores_ = true;
  }

  // Visits every node; `writing` is true where a RangeVar is a write target.
  void visit(PtNode j, bool writing, int depth = 0) {
    if (depth > kMaxDepth) {  // what lies deeper is unseen: the statement cannot be judged
      too_deep_ = true;
      return;
    }
    if (j.is_array()) {
      for (PtNode e : j) visit(e, writing, depth + 1);
      return;
    }
    if (!j.is_object()) return;
    // Fields typed RangeVar (relation, rel, ...) hold the body without the wrapper.
    if (j["relname"].is_string()) return range_var(j, writing);
    with_scope(j, depth, [&] {
      for (PtNode val : j)
        if (val.key() != "withClause") member(val, writing, depth);
    });
  }

  // One member of an object node.
  void member(PtNode val, bool writing, int depth) {
    {
      const std::string_view key = val.key();
      if (key == "RangeVar") {
        range_var(val, writing);
        return;
      }
      if (key.ends_with("Stmt")) statement_node(key, val);
      if (key == "setstmt") settings_of_variable_set(val, s_.sets);  // ALTER ROLE/DATABASE/SYSTEM ... SET
      if (key == "FuncCall") function_call(val);
      if (key == "A_Expr") opaque(operator_reason(val["name"]));
      if (key == "SubLink") opaque(operator_reason(val["operName"]));
      if (key == "SortBy") opaque(operator_reason(val["useOp"]));
      if (key == "RangeTableSample") opaque(tablesample_reason(val["method"]));
      if (key == "InsertStmt" || key == "UpdateStmt" || key == "DeleteStmt" || key == "MergeStmt") {
        s_.writes_data = true;
        if ((key == "UpdateStmt" || key == "DeleteStmt") && !val.has("whereClause")) s_.has_where = false;
        with_scope(val, depth, [&] {
          for (PtNode v : val)
            if (v.key() != "withClause") visit(v, v.key() == "relation", depth + 1);
        });
        return;
      }
      // SELECT ... INTO (intoClause), CREATE TABLE AS / MATERIALIZED VIEW (into)
      if (key == "IntoClause" || key == "intoClause" || (key == "into" && val.has("rel"))) {
        s_.writes_data = true;
        stores_ = true;
        visit(val, true, depth + 1);
        return;
      }
      if (key == "CopyStmt") {
        if (val.flag("is_program")) s_.copy_program = true;
        const bool from = val.flag("is_from");
        if (from) s_.writes_data = true;
        for (PtNode v : val) visit(v, v.key() == "relation" && from, depth + 1);
        return;
      }
      if (key == "DropStmt") {
        for (PtNode obj : val["objects"]) {
          if (obj.has("List")) add_unique(s_.writes, dotted(obj["List"]["items"]));
          else if (obj.has("String")) add_unique(s_.writes, std::string(obj["String"].str("sval")));
        }
        return;
      }
      if (key == "TruncateStmt" || key == "CreateStmt" || key == "AlterTableStmt" || key == "IndexStmt" ||
          key == "LockStmt" || key == "VacuumStmt" || key == "ViewStmt" || key == "RuleStmt") {
        const bool rel_is_write = key != "LockStmt";
        for (PtNode v : val) {
          const std::string_view k = v.key();
          visit(v, rel_is_write && (k == "relation" || k == "relations" || k == "rels" || k == "view"), depth + 1);
        }
        return;
      }
      visit(val, writing, depth + 1);
    }
  }

 private:
  SqlStatement& s_;
  std::vector<std::set<std::string>> scopes_;  // WITH names in scope, innermost last
  bool stores_ = false;
  bool too_deep_ = false;
  static constexpr int kMaxDepth = 500;  // bounds the recursion; legitimate SQL stays far below
};

constexpr const char* kTooDeep = "statement nested too deeply to analyse";

// Classifies one statement from its parse tree node ({"SelectStmt": {...}}).
void classify_tree(SqlStatement& s, PtNode stmt) {
  if (!stmt.is_object() || stmt.empty()) {
    s.kind = "empty";
    return;
  }
  const PtNode top = stmt.first();
  const std::string_view node = top.key();
  const PtNode body = top;
  s.kind = kind_of(node, body);
  Walker w(s);
  if (node == "ExplainStmt") {
    bool analyze = false;
    for (PtNode opt : body["options"])
      if (opt.has("DefElem") && opt["DefElem"].str("defname") == "analyze") analyze = true;
    const PtNode query = body["query"];
    if (analyze && query.is_object() && !query.empty()) {
      // EXPLAIN ANALYZE runs the statement: it is that statement.
      s.kind = kind_of(query.first().key(), query.first());
      w.visit(query, false);
    } else {
      // Not executed: what it reads matters, and what it cannot see (the
      // planner runs immutable functions while folding constants).
      SqlStatement inner;
      Walker iw(inner);
      iw.visit(query, false);
      if (iw.too_deep()) s.parse_error = kTooDeep;
      s.reads = inner.reads;
      for (const auto& x : inner.writes) w.add_unique(s.reads, x);
      s.functions = inner.functions;
      s.opaque = inner.opaque;
      s.opaque_reasons = inner.opaque_reasons;
      s.query_string = inner.query_string;
      s.reads_statistics = inner.reads_statistics;
    }
  } else {
    w.visit(stmt, false);
  }
  if (node == "PrepareStmt") {
    // The kind stays "prepare", but the facts (writes, has_where) are the
    // prepared statement's; what EXECUTE later runs is judged here.
    if (!body["query"].has("SelectStmt") || s.writes_data) w.opaque("PREPARE of a statement that is not a plain SELECT");
  }
  if (node == "CopyStmt" && !body.flag("is_from")) s.copy_to = true;  // COPY ... TO reads the database
  if (!read_only_kind(s.kind) && !s.copy_to) s.writes_data = true;
  // ... but to a server file or program it writes on the database host.
  if (s.copy_to && body.has("filename")) s.writes_data = true;
  if (w.stores()) s.creates_object_from = s.reads;
  // A function call or a write nested past the walker's depth would go
  // unreported: such a statement is refused like one that does not parse.
  if (w.too_deep()) s.parse_error = kTooDeep;
}

// Parses one statement on its own (used when the whole input does not parse).
void classify_one(SqlStatement& s) {
  const PgQueryParseResult r = pg_query_parse(s.text.c_str());
  if (r.error) {
    s.kind = "unknown";
    s.parse_error = r.error->message ? r.error->message : "syntax error";
    // A position means the grammar or the scanner rejected the text; an
    // error without one (stack depth) is a limit here, not the user's typo.
    s.error_position = r.error->cursorpos > 0 ? r.error->cursorpos : 0;
    s.syntax_error = s.error_position > 0;
    pg_query_free_parse_result(r);
    return;
  }
  ParseTree tree;
  const bool ok = tree.parse(r.parse_tree);
  pg_query_free_parse_result(r);
  if (!ok) {  // the parser's output could not be read (e.g. not UTF-8): not "nothing to run"
    s.kind = "unknown";
    s.parse_error = "the bastion could not read this statement's parse tree";
    return;
  }
  const PtNode stmts = tree.root()["stmts"];
  if (stmts.empty() || !stmts.first().has("stmt")) {
    s.kind = "empty";
    return;
  }
  classify_tree(s, stmts.first()["stmt"]);
}

// A statement's text without surrounding whitespace or trailing ';'.
std::string trim_statement(std::string_view v) {
  const auto b = v.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = v.find_last_not_of(" \t\r\n;");
  return std::string(v.substr(b, e == std::string_view::npos || e < b ? 0 : e - b + 1));
}

}  // namespace

namespace {

// What the bastion will not analyse: refused as invalid on every path
// (syntax_error: never sent, whatever a policy would say), with its reason.
SqlStatement beyond_limit(std::string_view text, std::string reason) {
  SqlStatement s;
  s.text = trim_statement(text.substr(0, 200));
  if (s.text.empty()) s.text = "...";
  s.kind = "unknown";
  s.parse_error = std::move(reason);
  s.syntax_error = true;
  s.over_limit = true;
  return s;
}

// The statements past kSqlMaxStatements (at most one was collected past
// it) become one that stands for them all: otherwise a wire Query would
// carry them to the server undecided.
std::vector<SqlStatement> capped(std::vector<SqlStatement> out) {
  if (out.size() <= kSqlMaxStatements) return out;
  const std::string first_left_out = std::move(out[kSqlMaxStatements].text);
  out.resize(kSqlMaxStatements);
  out.push_back(beyond_limit(first_left_out, "more than " + std::to_string(kSqlMaxStatements) +
                                       " statements in one input; the bastion does not analyse the rest: send fewer at a time"));
  return out;
}

}  // namespace

std::vector<SqlStatement> classify_sql(std::string_view input) {
  std::vector<SqlStatement> out;
  if (input.size() > kSqlMaxInput) {
    out.push_back(beyond_limit(input, "input too large for the bastion to analyse (more than " +
                                          std::to_string(kSqlMaxInput >> 20) + " MiB in one input)"));
    return out;
  }
  const std::string text(input);  // libpg_query needs NUL termination
  // Fast path: one parse of the whole input; the tree says where each
  // statement starts and ends.
  {
    const PgQueryParseResult r = pg_query_parse(text.c_str());
    if (!r.error) {
      auto tree = std::make_shared<ParseTree>();
      const bool ok = tree->parse(r.parse_tree);
      pg_query_free_parse_result(r);
      // A tree the bastion cannot read goes the scanner's way below, never
      // as "no statements" (which the wire forwards as only comments).
      if (ok) {
        for (PtNode st : tree->root()["stmts"]) {
          if (out.size() > kSqlMaxStatements) break;
          const auto loc = static_cast<std::size_t>(st.num("stmt_location"));
          const auto len = static_cast<std::size_t>(st.num("stmt_len"));
          SqlStatement s;
          s.text = trim_statement(std::string_view(text).substr(std::min(loc, text.size()), len ? len : std::string::npos));
          if (s.text.empty()) continue;
          classify_tree(s, st["stmt"]);
          s.tree = tree;
          s.node = st["stmt"];
          out.push_back(std::move(s));
        }
        return capped(std::move(out));
      }
    } else {
      pg_query_free_parse_result(r);
    }
  }
  // The input has an error somewhere: the scanner splits even input the
  // parser rejects, and each part then reports its own error.
  PgQuerySplitResult split = pg_query_split_with_scanner(text.c_str());
  if (split.error) {
    SqlStatement s;
    s.text = trim_statement(text);
    s.kind = "unknown";
    s.parse_error = split.error->message ? split.error->message : "cannot split";
    // The position counts characters of the whole input; `text` lost its leading blanks.
    const auto lead = static_cast<int>(text.find_first_not_of(" \t\r\n") == std::string::npos ? 0 : text.find_first_not_of(" \t\r\n"));
    if (split.error->cursorpos > lead) {
      s.error_position = split.error->cursorpos - lead;
      s.syntax_error = true;
    }
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
    while (start < piece.size() && out.size() <= kSqlMaxStatements) {
      const std::size_t semi = piece.find(';', start);
      const std::string_view part = piece.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
      SqlStatement s;
      s.text = trim_statement(part);
      if (!s.text.empty()) {
        classify_one(s);
        out.push_back(std::move(s));
      }
      if (semi == std::string_view::npos) break;
      start = semi + 1;
    }
  };
  std::size_t covered = 0;
  for (int i = 0; i < split.n_stmts && out.size() <= kSqlMaxStatements; ++i) {
    const auto loc = static_cast<std::size_t>(split.stmts[i]->stmt_location);
    const auto len = split.stmts[i]->stmt_len == 0 ? text.size() - loc : static_cast<std::size_t>(split.stmts[i]->stmt_len);
    if (loc > covered) emit(std::string_view(text).substr(covered, loc - covered));
    SqlStatement s;
    s.text = trim_statement(std::string_view(text).substr(loc, len));
    covered = std::max(covered, loc + len);
    if (s.text.empty()) continue;
    classify_one(s);
    out.push_back(std::move(s));
  }
  if (covered < text.size()) emit(std::string_view(text).substr(covered));
  pg_query_free_split_result(split);
  return capped(std::move(out));
}

bool sql_syntax_error(const std::string& text, std::string& message, int& position) {
  if (text.size() > kSqlMaxInput) return false;
  const PgQueryParseResult r = pg_query_parse(text.c_str());
  const bool found = r.error && r.error->cursorpos > 0;
  if (found) {
    message = r.error->message ? r.error->message : "syntax error";
    position = r.error->cursorpos;
  }
  pg_query_free_parse_result(r);
  return found;
}

SqlFacts sql_facts(const SqlStatement& s) {
  SqlFacts f;
  f.statement = s.kind;
  f.reads = s.reads;
  f.writes = s.writes;
  f.functions = s.functions;
  f.writes_data = s.writes_data;
  f.has_where = s.has_where;
  f.copy_program = s.copy_program;
  f.parse_error = s.parse_error;
  f.opaque = s.opaque;
  f.opaque_reasons = s.opaque_reasons;
  f.sets = s.sets;
  f.copy_to = s.copy_to;
  f.query_string = s.query_string;
  f.reads_statistics = s.reads_statistics;
  f.creates_object_from = s.creates_object_from;
  return f;
}

}  // namespace bastion
