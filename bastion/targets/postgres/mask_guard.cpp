#include "targets/postgres/mask_guard.h"

#include <algorithm>
#include <array>

#include "targets/postgres/sql_effects.h"
#include "targets/postgres/statement_tree.h"

namespace bastion {
namespace {

// Sampled column values (statistics) or statement texts (which quote
// values): the classifier's lists, one source for both.
bool statistics_name(std::string_view name) {
  return is_statistics_relation(name) || function_effect(name).reads_statistics;
}

void add_unique(std::vector<std::string>& v, std::string x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(std::move(x));
}

class Walker {
 public:
  Walker(MaskGuardFacts& f, const MaskedName& masked) : f_(f), masked_(masked) {}

  void visit(PtNode j, int depth = 0) {
    if (depth > 500) return;
    if (j.is_array()) {
      for (PtNode e : j) visit(e, depth + 1);
      return;
    }
    if (!j.is_object()) return;
    relation(j);  // fields typed RangeVar hold its body without the wrapper
    for (PtNode val : j) {
      const std::string_view key = val.key();
      if (key == "RangeVar") relation(val);
      if (key == "FuncCall") {
        const std::string name = pt_dotted(val["funcname"]);
        if (function_effect(name).query_string) add_unique(f_.query_string, name);
        if (statistics_name(name)) add_unique(f_.statistics, name);
      }
      if (key == "RangeTableFunc") add_unique(f_.query_string, "xmltable");
      if (key == "CopyStmt" && !val.flag("is_from")) f_.copy_to = true;
      if (key == "CreateTableAsStmt")
        creates(val.str("objtype") == "OBJECT_MATVIEW" ? "CREATE MATERIALIZED VIEW" : "CREATE TABLE AS");
      if (key == "SelectStmt" && val.has("intoClause")) creates("SELECT INTO");
      if (key == "ViewStmt") creates("CREATE VIEW");
      if (key == "DeclareCursorStmt") creates("DECLARE CURSOR");
      if (key == "PrepareStmt") creates("PREPARE");
      if (key == "InsertStmt") creates("INSERT ... SELECT");
      if (key == "MergeStmt") creates("MERGE");
      if ((key == "UpdateStmt" || (key == "InsertStmt" && val.has("onConflictClause"))) &&
          set_list_may_carry(val, masked_))
        f_.copies_masked = true;
      if (key == "AlterTableStmt" && alter_may_carry(val, masked_)) f_.copies_masked = true;
      if (key == "RenameStmt") {
        // Masks match columns by name and table rules by table name: a rename would lift them.
        const std::string_view type = val.str("renameType");
        if (type == "OBJECT_COLUMN" && masked_(val.str("subname"))) f_.renames_masked_column = true;
        if (type == "OBJECT_TABLE" || type == "OBJECT_VIEW" || type == "OBJECT_MATVIEW" ||
            type == "OBJECT_FOREIGN_TABLE")
          f_.renames_relation = true;
      }
      visit(val, depth + 1);
    }
  }

 private:
  void relation(PtNode rv) {
    if (rv["relname"].is_string() && statistics_name(rv.str("relname")))
      add_unique(f_.statistics, std::string(rv.str("relname")));
  }
  void creates(const char* what) {
    if (f_.creates.empty()) f_.creates = what;
  }
  MaskGuardFacts& f_;
  const MaskedName& masked_;
};

std::string list(const std::vector<std::string>& v, const char* suffix) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x + suffix;
  return out;
}

}  // namespace

MaskGuardFacts mask_guard_facts(PtNode stmt, const MaskedName& masked) {
  MaskGuardFacts f;
  Walker(f, masked).visit(stmt);
  return f;
}

std::string mask_guard_refusal(const MaskGuardFacts& f, bool reads_masked, bool allow_derived_objects) {
  const std::string under = " is refused while column masks apply: ";
  if (f.copy_to) return "COPY ... TO" + under + "its output cannot be masked by column; use SELECT";
  if (!f.query_string.empty())
    return list(f.query_string, "()") + under + "it runs SQL given as text, where column masks cannot follow";
  if (!f.statistics.empty())
    return "reading " + list(f.statistics, "") + under + "statistics and statement texts hold column values";
  if (f.renames_masked_column || (f.renames_relation && reads_masked))
    return "renaming a masked column, or a relation holding one," + under + "masks match columns by name";
  if (allow_derived_objects) return "";
  const std::string opt_out = " (a policy may allow it: mask = { ..., allow_derived_objects = true })";
  if (!f.creates.empty() && reads_masked)
    return f.creates + " from a relation holding masked columns" + under +
           "the new object would show the values unmasked" + opt_out;
  if (f.copies_masked)
    return "copying a masked column's value into a column that is not masked" + under +
           "the copy would show the value unmasked" + opt_out;
  return "";
}

}  // namespace bastion
