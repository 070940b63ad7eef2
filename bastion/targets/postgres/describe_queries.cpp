#include "targets/postgres/describe_queries.h"

namespace bastion {
namespace {

// psql-style pattern (* and ?) to an anchored regex; only name characters
// are accepted, so nothing the user types can change the query's shape.
bool name_regex(const std::string& pat, std::string& out) {
  out = "^(";
  for (char c : pat) {
    if (c == '*') out += ".*";
    else if (c == '?') out += ".";
    else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$') out += c;
    else return false;
  }
  out += ")$";
  return true;
}

std::string quote_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

const char* kRelKind =
    "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
    "WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' "
    "WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END";

std::string relations(const std::string& kinds, const std::string& arg, std::string& error) {
  std::string where = "c.relkind IN (" + kinds + ")";
  std::string schema_pat, rel_pat = arg;
  if (const auto dot = arg.find('.'); dot != std::string::npos) {
    schema_pat = arg.substr(0, dot);
    rel_pat = arg.substr(dot + 1);
  }
  std::string re;
  if (!rel_pat.empty()) {
    if (!name_regex(rel_pat, re)) return error = "invalid pattern \"" + arg + "\"", "";
    where += " AND c.relname OPERATOR(pg_catalog.~) " + quote_literal(re) + " COLLATE pg_catalog.default";
  }
  if (!schema_pat.empty()) {
    if (!name_regex(schema_pat, re)) return error = "invalid pattern \"" + arg + "\"", "";
    where += " AND n.nspname OPERATOR(pg_catalog.~) " + quote_literal(re) + " COLLATE pg_catalog.default";
  } else {
    where += " AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema'"
             " AND pg_catalog.pg_table_is_visible(c.oid)";
  }
  return std::string("SELECT n.nspname AS \"Schema\", c.relname AS \"Name\", ") + kRelKind +
         " AS \"Type\", pg_catalog.pg_get_userbyid(c.relowner) AS \"Owner\" "
         "FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " +
         where + " ORDER BY 1, 2";
}

}  // namespace

std::optional<DescribeQuery> describe_query(const std::string& cmd, const std::string& arg, std::string& error) {
  DescribeQuery q;
  if (cmd == "l") {
    q.sql = "SELECT d.datname AS \"Name\", pg_catalog.pg_get_userbyid(d.datdba) AS \"Owner\", "
            "pg_catalog.pg_encoding_to_char(d.encoding) AS \"Encoding\", d.datcollate AS \"Collate\", "
            "d.datctype AS \"Ctype\", pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\" "
            "FROM pg_catalog.pg_database d ORDER BY 1";
    q.title = "List of databases";
  } else if (cmd == "dt" || (cmd == "d" && arg.empty())) {
    q.sql = relations(cmd == "dt" ? "'r','p'" : "'r','p','v','m','S','f'", arg, error);
    if (q.sql.empty()) return std::nullopt;
    q.title = "List of relations";
    q.empty_message = arg.empty() ? "Did not find any relations." : "Did not find any relation named \"" + arg + "\".";
  } else if (cmd == "d") {
    q.sql = "SELECT a.attname AS \"Column\", pg_catalog.format_type(a.atttypid, a.atttypmod) AS \"Type\", "
            "CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS \"Nullable\", "
            "COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') AS \"Default\" "
            "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d "
            "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = pg_catalog.to_regclass(" + quote_literal(arg) + ") "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    q.title = "Table \"" + arg + "\"";
    q.footer = false;
    q.empty_message = "Did not find any relation named \"" + arg + "\".";
  } else if (cmd == "dn") {
    q.sql = "SELECT n.nspname AS \"Name\", pg_catalog.pg_get_userbyid(n.nspowner) AS \"Owner\" "
            "FROM pg_catalog.pg_namespace n WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
            "ORDER BY 1";
    q.title = "List of schemas";
  } else if (cmd == "du" || cmd == "dg") {
    q.sql = "SELECT r.rolname AS \"Role name\", pg_catalog.concat_ws(', ', "
            "CASE WHEN r.rolsuper THEN 'Superuser' END, CASE WHEN r.rolcreaterole THEN 'Create role' END, "
            "CASE WHEN r.rolcreatedb THEN 'Create DB' END, CASE WHEN NOT r.rolcanlogin THEN 'Cannot login' END, "
            "CASE WHEN r.rolreplication THEN 'Replication' END, CASE WHEN r.rolbypassrls THEN 'Bypass RLS' END) "
            "AS \"Attributes\" FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1";
    q.title = "List of roles";
    q.footer = false;
  } else {
    error = "invalid command \\" + cmd;
    return std::nullopt;
  }
  return q;
}

}  // namespace bastion
