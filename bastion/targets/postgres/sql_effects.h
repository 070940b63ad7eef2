// What a statement does beyond what its text shows, read from nodes of
// libpg_query's tree: code it runs that the bastion cannot read (DO, CALL,
// functions outside the side-effect-free catalog, CREATE FUNCTION/RULE/...),
// session settings it changes, and reads of statistics. The sql_classifier's
// walker calls these per node.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "targets/postgres/sql_facts.h"
#include "targets/postgres/parse_tree.h"

namespace bastion {

// Why a statement node (its name, e.g. "DoStmt", and body) runs or installs
// code the text does not show; "" when it does not. PREPARE is judged by the
// classifier (it needs the prepared statement's own facts).
std::string opaque_statement_reason(std::string_view node, PtNode body);

struct FunctionEffect {
  std::string opaque_reason;  // "" for a side-effect-free function
  bool query_string = false;  // runs SQL given as text
  bool reads_statistics = false;
  bool set_config = false;    // pg_catalog's set_config: its arguments name a setting
};
// `name` as written (schema-qualified or not), per function_catalog.
FunctionEffect function_effect(std::string_view name);

// An operator name list (A_Expr "name", SubLink "operName", SortBy "useOp"):
// the reason it is not a known built-in operator, or "" when it is.
std::string operator_reason(PtNode name_list);

// A TABLESAMPLE method other than the built-in ones runs an extension's code.
std::string tablesample_reason(PtNode method_list);

// pg_stats, pg_statistic*, pg_stats_ext*, pg_stat_statements, pg_stat_activity:
// sampled column values or other sessions' query texts.
bool is_statistics_relation(std::string_view name);

// A VariableSetStmt body (SET, RESET, SET ROLE, SET TRANSACTION, ...).
void settings_of_variable_set(PtNode body, std::vector<SqlSetting>& out);
// The options of BEGIN / START TRANSACTION (ISOLATION LEVEL, READ WRITE, ...).
void settings_of_transaction(PtNode body, std::vector<SqlSetting>& out);
// DISCARD ALL resets every setting.
void settings_of_discard(PtNode body, std::vector<SqlSetting>& out);
// set_config(name, value, is_local) (a FuncCall body): false when the
// setting's name is not a literal (what it changes cannot be known).
bool settings_of_set_config(PtNode func_call, std::vector<SqlSetting>& out);

}  // namespace bastion
