#include "targets/postgres/sql_effects.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <utility>

#include "targets/postgres/function_catalog.h"

namespace bastion {
namespace {

using Entry = std::pair<std::string_view, std::string_view>;

// Statements that install or run code the statement text does not show
// (sorted by node name; the reason is what a policy and a user read).
constexpr std::array kOpaqueStatements = std::to_array<Entry>({
    {"AlterEventTrigStmt", "ALTER EVENT TRIGGER"},
    {"AlterExtensionContentsStmt", "ALTER EXTENSION"},
    {"AlterExtensionStmt", "ALTER EXTENSION"},
    {"AlterFdwStmt", "ALTER FOREIGN DATA WRAPPER"},
    {"AlterOpFamilyStmt", "ALTER OPERATOR FAMILY"},
    {"AlterOperatorStmt", "ALTER OPERATOR"},
    {"AlterSubscriptionStmt", "ALTER SUBSCRIPTION"},
    {"CallStmt", "CALL"},
    {"CreateAmStmt", "CREATE ACCESS METHOD"},
    {"CreateCastStmt", "CREATE CAST"},
    {"CreateConversionStmt", "CREATE CONVERSION"},
    {"CreateEventTrigStmt", "CREATE EVENT TRIGGER"},
    {"CreateExtensionStmt", "CREATE EXTENSION"},
    {"CreateFdwStmt", "CREATE FOREIGN DATA WRAPPER"},
    {"CreateOpClassStmt", "CREATE OPERATOR CLASS"},
    {"CreateOpFamilyStmt", "CREATE OPERATOR FAMILY"},
    {"CreatePLangStmt", "CREATE LANGUAGE"},
    {"CreateRangeStmt", "CREATE TYPE"},
    {"CreateSubscriptionStmt", "CREATE SUBSCRIPTION"},
    {"CreateTransformStmt", "CREATE TRANSFORM"},
    {"CreateTrigStmt", "CREATE TRIGGER"},
    {"DoStmt", "DO block"},
    {"ExecuteStmt", "EXECUTE of a prepared statement"},
    {"LoadStmt", "LOAD of a shared library"},
    {"RuleStmt", "CREATE RULE"},
});

// CREATE <object> (DefineStmt) forms that name functions the server will run.
constexpr std::array kOpaqueDefines = std::to_array<Entry>({
    {"OBJECT_AGGREGATE", "CREATE AGGREGATE"},
    {"OBJECT_OPERATOR", "CREATE OPERATOR"},
    {"OBJECT_TSPARSER", "CREATE TEXT SEARCH PARSER"},
    {"OBJECT_TSTEMPLATE", "CREATE TEXT SEARCH TEMPLATE"},
    {"OBJECT_TYPE", "CREATE TYPE"},
});

// Operator names of the built-in operators (and the names A_Expr uses for
// BETWEEN), byte-sorted. An unqualified one of these may still resolve to a
// user-defined operator on user-defined types: see bastion-policy(5).
constexpr std::array kBuiltinOperators = std::to_array<std::string_view>({
    "!", "!!", "!=", "!~", "!~*", "!~~", "!~~*", "#", "##", "#-", "#>", "#>>", "%", "&", "&&", "&<", "&<|", "&>",
    "*", "+", "-", "->", "->>", "-|-", "/", "<", "<->", "<<", "<<=", "<<|", "<=", "<>", "<@", "<^", "=", ">",
    ">=", ">>", ">>=", ">^", "?", "?#", "?&", "?-", "?-|", "?|", "?||", "@", "@-@", "@>", "@?", "@@", "@@@",
    "BETWEEN", "BETWEEN SYMMETRIC", "NOT BETWEEN", "NOT BETWEEN SYMMETRIC", "^", "|", "|&>", "|/", "|>>", "||",
    "||/", "~", "~*", "~<=~", "~<~", "~=", "~>=~", "~>~", "~~", "~~*",
});

// Relations holding sampled column values or other sessions' query texts.
constexpr std::array kStatisticsRelations = std::to_array<std::string_view>({
    "pg_stat_activity", "pg_stat_statements", "pg_statistic", "pg_statistic_ext", "pg_statistic_ext_data",
    "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs",
});

// Functions behind those views (callable directly).
constexpr std::array kStatisticsFunctions = std::to_array<std::string_view>({
    "pg_mcv_list_items", "pg_stat_get_activity", "pg_stat_get_backend_activity", "pg_stat_statements",
});

constexpr bool entries_sorted(const auto& a) {
  return std::is_sorted(a.begin(), a.end(), [](const Entry& x, const Entry& y) { return x.first < y.first; });
}
static_assert(entries_sorted(kOpaqueStatements));
static_assert(entries_sorted(kOpaqueDefines));
static_assert(std::is_sorted(kBuiltinOperators.begin(), kBuiltinOperators.end()));
static_assert(std::is_sorted(kStatisticsRelations.begin(), kStatisticsRelations.end()));
static_assert(std::is_sorted(kStatisticsFunctions.begin(), kStatisticsFunctions.end()));

template <std::size_t N>
std::string_view lookup(const std::array<Entry, N>& sorted, std::string_view key) {
  const auto it = std::lower_bound(sorted.begin(), sorted.end(), key,
                                   [](const Entry& e, std::string_view k) { return e.first < k; });
  return it != sorted.end() && it->first == key ? it->second : std::string_view{};
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& sorted, std::string_view key) {
  return std::binary_search(sorted.begin(), sorted.end(), key);
}

std::string lower(std::string_view v) {
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string base_name(std::string_view dotted) {
  const auto dot = dotted.rfind('.');
  return lower(dot == std::string_view::npos ? dotted : dotted.substr(dot + 1));
}

// The names of a String list ("public", "+") and their dotted form.
std::vector<std::string_view> names_of(PtNode list) {
  std::vector<std::string_view> out;
  for (PtNode it : list) out.push_back(it["String"].str("sval"));
  return out;
}

std::string dotted(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ".";
    out += n;
  }
  return out;
}

// A literal's text as the server reads it (a constant, possibly cast), or
// nothing when the node is an expression.
std::optional<std::string> literal(PtNode n) {
  if (n.has("TypeCast")) return literal(n["TypeCast"]["arg"]);
  if (n.has("A_Const")) n = n["A_Const"];
  if (!n.is_object() || n.flag("isnull")) return std::nullopt;
  if (n.has("sval")) return std::string(n["sval"].str("sval"));
  if (n.has("ival")) return std::to_string(n["ival"].num("ival"));
  if (n.has("fval")) return std::string(n["fval"].str("fval"));
  if (n.has("boolval")) return n["boolval"].flag("boolval") ? "true" : "false";
  if (n.has("bsval")) return std::string(n["bsval"].str("bsval"));
  return std::nullopt;
}

// Transaction characteristics (DefElem list of SET TRANSACTION, BEGIN, ...):
// READ ONLY/WRITE and DEFERRABLE come as integer constants.
void transaction_options(PtNode options, std::string_view prefix, std::vector<SqlSetting>& out) {
  for (PtNode opt : options) {
    const PtNode d = opt["DefElem"];
    const std::string name = std::string(prefix) + lower(d.str("defname"));
    std::string value = literal(d["arg"]).value_or("");
    if (name.ends_with("transaction_read_only") || name.ends_with("transaction_deferrable"))
      value = value == "0" ? "off" : "on";
    out.push_back({name, value, false});
  }
}

}  // namespace

std::string opaque_statement_reason(std::string_view node, PtNode body) {
  if (node == "CreateFunctionStmt") return body.flag("is_procedure") ? "CREATE PROCEDURE" : "CREATE FUNCTION";
  if (node == "AlterFunctionStmt") {
    const std::string_view t = body.str("objtype");
    return t == "OBJECT_PROCEDURE" ? "ALTER PROCEDURE" : t == "OBJECT_ROUTINE" ? "ALTER ROUTINE" : "ALTER FUNCTION";
  }
  if (node == "DefineStmt") return std::string(lookup(kOpaqueDefines, body.str("kind")));
  if (node == "CopyStmt") return body.flag("is_program") ? "COPY ... PROGRAM" : "";
  if (node == "AlterOwnerStmt") {  // a new owner changes whose rights the code runs with
    const std::string_view t = body.str("objectType");
    if (t == "OBJECT_FUNCTION" || t == "OBJECT_PROCEDURE" || t == "OBJECT_ROUTINE" || t == "OBJECT_AGGREGATE")
      return "ALTER FUNCTION ... OWNER TO";
    return "";
  }
  return std::string(lookup(kOpaqueStatements, node));
}

FunctionEffect function_effect(std::string_view name) {
  FunctionEffect e;
  const std::string n(name);
  e.reads_statistics = contains(kStatisticsFunctions, base_name(name));
  // The parser folds unquoted names to lower case, so an upper-case letter
  // means a quoted identifier: "Lower" is not pg_catalog's lower.
  const bool quoted = std::any_of(n.begin(), n.end(), [](unsigned char c) { return c >= 'A' && c <= 'Z'; });
  switch (quoted ? FunctionClass::unknown : classify_function(name)) {
    case FunctionClass::pure: break;
    case FunctionClass::unknown: e.opaque_reason = "function " + n + " is not a known side-effect-free function"; break;
    case FunctionClass::query_string:
      e.opaque_reason = "query-string function " + n;
      e.query_string = true;
      break;
    case FunctionClass::large_object: e.opaque_reason = "large-object function " + n; break;
    case FunctionClass::replication: e.opaque_reason = "replication function " + n; break;
    case FunctionClass::settings:
      e.opaque_reason = "settings function " + n;
      e.set_config = base_name(name) == "set_config";
      break;
    case FunctionClass::server_state: e.opaque_reason = "server-state function " + n; break;
  }
  return e;
}

std::string operator_reason(PtNode name_list) {
  const auto names = names_of(name_list);
  if (names.empty()) return "";
  const bool catalog = names.size() == 1 || (names.size() == 2 && names[0] == "pg_catalog");
  if (catalog && contains(kBuiltinOperators, names.back())) return "";
  return "operator " + dotted(names) + " is not a known built-in operator";
}

std::string tablesample_reason(PtNode method_list) {
  const auto names = names_of(method_list);
  const std::string m = lower(dotted(names));
  if (m == "bernoulli" || m == "system" || m == "pg_catalog.bernoulli" || m == "pg_catalog.system") return "";
  return "TABLESAMPLE method " + dotted(names);
}

bool is_statistics_relation(std::string_view name) { return contains(kStatisticsRelations, base_name(name)); }

void settings_of_variable_set(PtNode body, std::vector<SqlSetting>& out) {
  const std::string_view kind = body.str("kind");
  const std::string name = lower(body.str("name"));
  if (kind == "VAR_RESET_ALL") return out.push_back({"all", "", true});
  if (kind == "VAR_RESET" || kind == "VAR_SET_DEFAULT") return out.push_back({name, "", true});
  if (kind == "VAR_SET_MULTI") {
    // SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...
    // set the transaction_* settings or their default_transaction_* forms.
    if (name == "transaction") return transaction_options(body["args"], "", out);
    if (name == "session characteristics") return transaction_options(body["args"], "default_", out);
    if (name == "transaction snapshot") {
      const PtNode first = body["args"].first();
      return out.push_back({"transaction_snapshot", literal(first).value_or(""), false});
    }
    return out.push_back({name, "", false});
  }
  // VAR_SET_VALUE (a list of values, as in search_path) or VAR_SET_CURRENT.
  std::string value;
  for (PtNode a : body["args"]) {
    if (!value.empty()) value += ", ";
    value += literal(a).value_or("");
  }
  out.push_back({name, value, false});
}

void settings_of_transaction(PtNode body, std::vector<SqlSetting>& out) {
  const std::string_view k = body.str("kind");
  if (k == "TRANS_STMT_BEGIN" || k == "TRANS_STMT_START") transaction_options(body["options"], "", out);
}

void settings_of_discard(PtNode body, std::vector<SqlSetting>& out) {
  if (body.str("target") == "DISCARD_ALL") out.push_back({"all", "", true});
}

bool settings_of_set_config(PtNode func_call, std::vector<SqlSetting>& out) {
  PtNode name_arg, value_arg;
  int i = 0;
  for (PtNode a : func_call["args"]) {
    if (i == 0) name_arg = a;
    if (i == 1) value_arg = a;
    ++i;
  }
  const auto name = literal(name_arg);
  if (!name) return false;
  out.push_back({lower(*name), literal(value_arg).value_or(""), false});
  return true;
}

}  // namespace bastion
