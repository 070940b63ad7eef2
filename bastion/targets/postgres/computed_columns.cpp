#include "targets/postgres/computed_columns.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>

#include "targets/postgres/function_catalog.h"
#include "targets/postgres/statement_tree.h"

namespace bastion {
namespace {

constexpr int kMaxDepth = 200;  // deeper than this: assume the worst

// Operators that are PostgreSQL's own for the built-in types; any other
// (user-defined, or schema-qualified OPERATOR(...)) may run any function.
constexpr std::array kBuiltinOperators = std::to_array<std::string_view>({
    "!=", "!~", "!~*", "!~~", "!~~*", "#", "#>", "#>>", "%", "&", "&&", "*", "+", "-", "->", "->>", "/", "<",
    "<<", "<=", "<>", "<@", "=", ">", ">=", ">>", "?", "?&", "?|", "@", "@>", "^", "|", "|/", "||", "||/", "~",
    "~*", "~~", "~~*",
});
static_assert(std::is_sorted(kBuiltinOperators.begin(), kBuiltinOperators.end()));

// One output column of a SELECT, as seen from outside it.
struct Entry {
  bool star = false;   // a * (expands to columns not listed here)
  bool carries = false;
  std::string name;    // empty when the analysis cannot tell PostgreSQL's name for it
};

// A subquery or CTE as a source of columns.
struct Rel {
  std::vector<Entry> entries;
  std::set<std::string> carrying;  // names of its columns that may carry a masked value
  bool opaque = false;             // some column carries one under a name not known here
};

// The FROM items visible at one query level.
struct Scope {
  const Scope* parent = nullptr;
  std::set<std::string> ranges;    // names that denote a whole row (aliases, tables, CTEs)
  std::set<std::string> carrying;  // column names derived from masked values
  std::set<std::string> tables;    // names and aliases of real tables (not CTEs or subqueries)
  bool opaque = false;             // a source whose columns cannot be traced
  std::map<std::string, Rel> ctes;
};

class Analyser {
 public:
  explicit Analyser(const MaskedName& masked, const MaskedName& is_column = nullptr)
      : masked_(masked), is_column_(is_column) {}

  // A SelectStmt body. False when the analysis cannot follow it.
  bool select(PtNode s, const Scope* parent, Rel& out, int depth = 0) {
    if (depth > kMaxDepth) return false;
    if (s.has("op") && s.str("op") != "SETOP_NONE") return false;  // set operations: fall back
    Scope sc;
    sc.parent = parent;
    const PtNode with = s["withClause"];
    if (with.present()) {
      if (with.flag("recursive")) return false;
      for (PtNode c : with["ctes"]) {
        const PtNode cte = c["CommonTableExpr"];
        const PtNode q = cte["ctequery"]["SelectStmt"];
        Rel r;
        if (!q.present() || !select(q, &sc, r, depth + 1)) return false;  // data-modifying CTEs too
        if (cte.has("aliascolnames") && !rename(r, cte["aliascolnames"])) return false;
        sc.ctes[std::string(cte.str("ctename"))] = std::move(r);
      }
    }
    for (PtNode item : s["fromClause"])
      if (!from_item(item, sc, depth + 1)) return false;
    // A condition tying a column to a masked value makes that column carry
    // it: `WHERE ascii(substr(email, n, 1)) = k` spells email out in chr(k).
    taint(s["whereClause"], sc, depth + 1);
    taint(s["havingClause"], sc, depth + 1);
    for (PtNode item : s["fromClause"]) taint_join_quals(item, sc, depth + 1);
    if (s.has("valuesLists")) {
      // VALUES: a column carries a masked value if any row's value there does.
      for (PtNode row : s["valuesLists"]) {
        std::size_t i = 0;
        for (PtNode v : row["List"]["items"]) {
          if (out.entries.size() <= i) out.entries.push_back(Entry{false, false, "column" + std::to_string(i + 1)});
          out.entries[i].carries = out.entries[i].carries || expr(v, sc, depth + 1);
          ++i;
        }
      }
    }
    for (PtNode t : s["targetList"]) {
      const PtNode rt = t["ResTarget"];
      const PtNode val = rt["val"];
      const PtNode fields = val["ColumnRef"]["fields"];
      bool star = false;
      for (PtNode f : fields) star = f.has("A_Star");  // the last field decides
      Entry e;
      if (star) {
        // Its columns come from this level's sources under their own names.
        e.star = true;
        out.carrying.insert(sc.carrying.begin(), sc.carrying.end());
        out.opaque = out.opaque || sc.opaque;
      } else {
        e.carries = expr(val, sc, depth + 1);
        e.name = rt.has("name") ? std::string(rt.str("name")) : figure_name(val);
      }
      out.entries.push_back(std::move(e));
    }
    for (const auto& e : out.entries)
      if (!e.star && e.carries) {
        if (e.name.empty()) out.opaque = true;
        else out.carrying.insert(e.name);
      }
    return true;
  }

  // Each conjunct of a condition that carries a masked value: every column
  // it names carries one from then on (in this scope).
  void taint(PtNode cond, Scope& sc, int depth) {
    if (!cond.present() || depth > kMaxDepth) return;
    const PtNode b = cond["BoolExpr"];
    if (b.present() && b.str("boolop") == "AND_EXPR") {
      for (PtNode a : b["args"]) taint(a, sc, depth + 1);
      return;
    }
    if (!expr(cond, sc, depth + 1)) return;
    std::vector<std::string> names;
    column_names(cond, names, depth + 1);
    sc.carrying.insert(names.begin(), names.end());
  }

  void taint_join_quals(PtNode item, Scope& sc, int depth) {
    const PtNode je = item["JoinExpr"];
    if (!je.present() || depth > kMaxDepth) return;
    taint(je["quals"], sc, depth + 1);
    taint_join_quals(je["larg"], sc, depth + 1);
    taint_join_quals(je["rarg"], sc, depth + 1);
  }

  static void column_names(PtNode j, std::vector<std::string>& out, int depth) {
    if (depth > kMaxDepth) return;
    if (j.is_array()) {
      for (PtNode e : j) column_names(e, out, depth + 1);
      return;
    }
    if (!j.is_object()) return;
    for (PtNode val : j) {
      if (val.key() == "ColumnRef") {
        std::string last;
        for (PtNode f : val["fields"]) last = f["String"].str("sval");
        if (!last.empty()) out.push_back(last);
      } else if (val.key() != "SubLink") {  // a subquery's own columns are its own
        column_names(val, out, depth + 1);
      }
    }
  }

  // Expression: may its value carry a masked value?
  bool expr(PtNode j, const Scope& sc, int depth) {
    if (depth > kMaxDepth) return true;
    if (j.is_array()) {
      bool t = false;
      for (PtNode e : j) t = expr(e, sc, depth + 1) || t;
      return t;
    }
    if (!j.is_object()) return false;
    bool t = false;
    for (PtNode val : j) {
      const std::string_view key = val.key();
      if (key == "ColumnRef") {
        t = column_ref(val, sc) || t;
      } else if (key == "FuncCall") {
        if (classify_function(pt_dotted(val["funcname"])) != FunctionClass::pure) t = true;
        t = expr(val, sc, depth + 1) || t;
      } else if (key == "A_Expr") {
        if (!builtin_operator(val)) t = true;
        t = expr(val["lexpr"], sc, depth + 1) || t;
        t = expr(val["rexpr"], sc, depth + 1) || t;
      } else if (key == "SubLink") {
        t = sublink(val, sc, depth + 1) || t;
      } else if (key == "RowExpr" || key == "A_Star" || key == "SelectStmt" || key == "RangeVar") {
        t = true;  // a row constructor, a whole row, or a query outside a sublink
      } else {
        t = expr(val, sc, depth + 1) || t;
      }
    }
    return t;
  }

  bool from_item(PtNode item, Scope& sc, int depth) {
    if (depth > kMaxDepth) return false;
    if (item.has("RangeVar")) {
      const PtNode rv = item["RangeVar"];
      const std::string rel(rv.str("relname"));
      const PtNode alias = rv["alias"];
      const Rel* cte = rv.has("schemaname") ? nullptr : find_cte(sc, rel);
      if (cte) {
        Rel r = *cte;
        if (alias.has("colnames") && !rename(r, alias["colnames"])) return false;
        sc.carrying.insert(r.carrying.begin(), r.carrying.end());
        sc.opaque = sc.opaque || r.opaque;
      } else if (alias.has("colnames")) {
        return false;  // renames a table's columns by position: names unknown here
      }
      sc.ranges.insert(rel);
      if (alias.present()) sc.ranges.insert(std::string(alias.str("aliasname")));
      if (!cte) {
        sc.tables.insert(alias.present() ? std::string(alias.str("aliasname")) : rel);
      }
      return true;
    }
    if (item.has("RangeSubselect")) {
      const PtNode rs = item["RangeSubselect"];
      const PtNode q = rs["subquery"]["SelectStmt"];
      Rel r;
      if (!q.present() || !select(q, &sc, r, depth + 1)) return false;
      const PtNode alias = rs["alias"];
      if (alias.has("colnames") && !rename(r, alias["colnames"])) return false;
      sc.carrying.insert(r.carrying.begin(), r.carrying.end());
      sc.opaque = sc.opaque || r.opaque;
      if (alias.present()) sc.ranges.insert(std::string(alias.str("aliasname")));
      return true;
    }
    if (item.has("JoinExpr")) {
      const PtNode je = item["JoinExpr"];
      if (!from_item(je["larg"], sc, depth + 1) || !from_item(je["rarg"], sc, depth + 1)) return false;
      const PtNode alias = je["alias"];
      if (alias.has("colnames")) return false;
      if (alias.present()) sc.ranges.insert(std::string(alias.str("aliasname")));
      return true;
    }
    if (item.has("RangeFunction")) {
      const PtNode rf = item["RangeFunction"];
      // A set-returning function's columns derive from its arguments, and
      // only a pure one says nothing else: otherwise they cannot be traced.
      for (PtNode f : rf["functions"]) {
        const PtNode call = f["List"]["items"].first()["FuncCall"];
        if (!call.present() || classify_function(pt_dotted(call["funcname"])) != FunctionClass::pure ||
            expr(call, sc, depth + 1))
          sc.opaque = true;
      }
      // Its alias names no row to fear: if the function could carry a masked
      // value, the whole scope is opaque already.
      return true;
    }
    return false;  // XMLTABLE, TABLESAMPLE, ...: fall back
  }

  // A scope for the SET list of an UPDATE or ON CONFLICT clause.
  bool dml_scope(PtNode body, Scope& sc) {
    const PtNode rel = body["relation"];
    sc.ranges.insert(std::string(rel.str("relname")));
    if (rel["alias"].present()) sc.ranges.insert(std::string(rel["alias"].str("aliasname")));
    sc.tables.insert(rel["alias"].present() ? std::string(rel["alias"].str("aliasname")) : std::string(rel.str("relname")));
    sc.ranges.insert("excluded");
    for (PtNode item : body["fromClause"])
      if (!from_item(item, sc, 1)) return false;
    return true;
  }

 private:
  bool column_ref(PtNode cr, const Scope& sc) {
    const PtNode fields = cr["fields"];
    std::vector<std::string> names;
    for (PtNode f : fields) {
      if (f.has("A_Star")) return true;  // t.* or * inside an expression: a whole row
      names.push_back(std::string(f["String"].str("sval")));
    }
    if (names.empty()) return true;
    const std::string& col = names.back();
    if (masked_(col)) return true;
    // t.f where t is a table and f none of its columns: a function applied
    // to the whole row t (`c.row_to_json`, `c.text`).
    if (names.size() >= 2 && is_column_ && !is_column_(col))
      for (const Scope* s = &sc; s; s = s->parent)
        if (s->tables.count(names[names.size() - 2])) return true;
    for (const Scope* s = &sc; s; s = s->parent) {
      if (s->opaque || s->carrying.count(col)) return true;
      if (names.size() == 1 && s->ranges.count(col)) return true;  // a whole row by its table's name
    }
    return false;
  }

  bool sublink(PtNode sl, const Scope& sc, int depth) {
    bool t = expr(sl["testexpr"], sc, depth + 1);
    const PtNode q = sl["subselect"]["SelectStmt"];
    Rel r;
    if (!q.present() || !select(q, &sc, r, depth + 1)) return true;
    if (sl.str("subLinkType") == "EXISTS_SUBLINK") return t;  // a boolean of its WHERE, like the outer WHERE
    if (r.opaque) return true;
    for (const auto& e : r.entries) t = t || e.star || e.carries;
    return t;
  }

  static bool builtin_operator(PtNode ae) {
    const std::string_view kind = ae.str("kind");
    if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN" || kind == "AEXPR_BETWEEN_SYM" ||
        kind == "AEXPR_NOT_BETWEEN_SYM")
      return true;
    const PtNode name = ae["name"];
    std::size_t parts = 0;
    for (PtNode p : name) parts += 1, (void)p;
    if (parts != 1) return false;
    return std::binary_search(kBuiltinOperators.begin(), kBuiltinOperators.end(), name.first()["String"].str("sval"));
  }

  static const Rel* find_cte(const Scope& sc, const std::string& name) {
    for (const Scope* s = &sc; s; s = s->parent) {
      const auto it = s->ctes.find(name);
      if (it != s->ctes.end()) return &it->second;
    }
    return nullptr;
  }

  // Column aliases rename a subquery's columns by position.
  static bool rename(Rel& r, PtNode colnames) {
    std::size_t i = 0;
    for (PtNode c : colnames) {
      if (i >= r.entries.size() || r.entries[i].star) return false;
      r.entries[i++].name = std::string(c["String"].str("sval"));
    }
    for (const auto& e : r.entries)
      if (e.star) return false;
    r.carrying.clear();
    for (const auto& e : r.entries)
      if (e.carries) {
        if (e.name.empty()) r.opaque = true;
        else r.carrying.insert(e.name);
      }
    return true;
  }

  // PostgreSQL's name for an unnamed output column, where it is certain.
  static std::string figure_name(PtNode v) {
    if (v.has("ColumnRef")) {
      std::string last;
      for (PtNode f : v["ColumnRef"]["fields"]) last = f["String"].str("sval");
      return last;
    }
    if (v.has("FuncCall")) {
      std::string last;
      for (PtNode f : v["FuncCall"]["funcname"]) last = f["String"].str("sval");
      return last;
    }
    if (v.has("TypeCast")) return figure_name(v["TypeCast"]["arg"]);
    if (v.has("CoalesceExpr")) return "coalesce";
    // As PostgreSQL's FigureColname: a CASE is named after its ELSE result
    // when that has a name of its own.
    if (v.has("CaseExpr")) {
      const std::string n = figure_name(v["CaseExpr"]["defresult"]);
      return n.empty() ? "case" : n;
    }
    return "";
  }

  const MaskedName& masked_;
  const MaskedName& is_column_;
};

}  // namespace

std::vector<bool> computed_may_carry(PtNode stmt, std::size_t ncols, const MaskedName& masked,
                                     const MaskedName& is_column) {
  std::vector<bool> out(ncols, true);
  const PtNode s = stmt["SelectStmt"];
  if (!s.present() || s.has("intoClause")) return out;
  Analyser a(masked, is_column);
  Rel r;
  if (!a.select(s, nullptr, r)) return out;
  // Result columns map to target entries by position; a * expands to an
  // unknown number of columns, so only entries before the first and after
  // the last * can be placed (the rest stay masked if computed).
  const auto& e = r.entries;
  const auto first_star = std::find_if(e.begin(), e.end(), [](const Entry& x) { return x.star; });
  const auto last_star = std::find_if(e.rbegin(), e.rend(), [](const Entry& x) { return x.star; });
  const auto prefix = static_cast<std::size_t>(first_star - e.begin());
  const auto suffix = static_cast<std::size_t>(last_star - e.rbegin());
  if (first_star == e.end()) {
    if (e.size() != ncols) return out;
    for (std::size_t i = 0; i < ncols; ++i) out[i] = e[i].carries;
    return out;
  }
  if (prefix + suffix > ncols) return out;
  for (std::size_t i = 0; i < prefix; ++i) out[i] = e[i].carries;
  for (std::size_t j = 0; j < suffix; ++j) out[ncols - suffix + j] = e[e.size() - suffix + j].carries;
  return out;
}

bool set_list_may_carry(PtNode body, const MaskedName& masked) {
  Analyser a(masked);
  Scope sc;
  if (!a.dml_scope(body, sc)) return true;
  // Any column a masked value is written into may show it later: another
  // table's column of the same name is not masked, and a partial mask (the
  // last 4 kept) would spell it out piece by piece.
  bool t = false;
  auto check = [&](PtNode list) {
    for (PtNode item : list) t = a.expr(item["ResTarget"]["val"], sc, 1) || t;
  };
  check(body["targetList"]);
  check(body["onConflictClause"]["targetList"]);
  return t;
}

bool alter_may_carry(PtNode body, const MaskedName& masked) {
  Analyser a(masked);
  Scope sc;
  if (!a.dml_scope(body, sc)) return true;
  bool t = false;
  for (PtNode item : body["cmds"]) {
    const PtNode cmd = item["AlterTableCmd"];
    const PtNode def = cmd["def"]["ColumnDef"];
    if (!def.present()) continue;  // constraints and options compute no column
    t = a.expr(def, sc, 1) || t;
  }
  return t;
}

}  // namespace bastion
