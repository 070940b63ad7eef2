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

// psql's listTables: \d, \dt, \dv, \dm, \ds, \di (which adds the table),
// and with '+' persistence, access method, size and description.
std::string relations(const std::string& kinds, const std::string& arg, std::string& error, bool verbose,
                      bool indexes) {
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
  const bool has_am = kinds.find("'r'") != std::string::npos || kinds.find("'m'") != std::string::npos || indexes;
  return std::string("SELECT n.nspname AS \"Schema\", c.relname AS \"Name\", ") + kRelKind +
         " AS \"Type\", pg_catalog.pg_get_userbyid(c.relowner) AS \"Owner\"" +
         (indexes ? ", c2.relname AS \"Table\"" : "") +
         (verbose ? std::string(", CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' "
                                "WHEN 'u' THEN 'unlogged' END AS \"Persistence\"") +
                        (has_am ? ", am.amname AS \"Access method\"" : "") +
                        ", pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) AS \"Size\", "
                        "pg_catalog.obj_description(c.oid, 'pg_class') AS \"Description\""
                  : std::string()) +
         " FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
         "LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam " +
         (indexes ? "LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
                    "LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid "
                  : "") +
         "WHERE " + where + " ORDER BY 1, 2";
}

}  // namespace

std::optional<DescribeQuery> describe_query(const std::string& cmd, const std::string& arg, std::string& error,
                                            int server_version) {
  DescribeQuery q;
  if (cmd == "l") {
    q.sql = "SELECT d.datname AS \"Name\", pg_catalog.pg_get_userbyid(d.datdba) AS \"Owner\", "
            "pg_catalog.pg_encoding_to_char(d.encoding) AS \"Encoding\", d.datcollate AS \"Collate\", "
            "d.datctype AS \"Ctype\", " +
            std::string(server_version >= 150000
                            ? "d.daticulocale AS \"ICU Locale\", CASE d.datlocprovider WHEN 'c' THEN 'libc' "
                              "WHEN 'i' THEN 'icu' END AS \"Locale Provider\", "
                            : "") +
            "pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\" "
            "FROM pg_catalog.pg_database d ORDER BY 1";
    q.title = "List of databases";
  } else if ((cmd == "d" || cmd == "d+") && arg.empty()) {
    q.sql = relations("'r','p','v','m','S','f'", arg, error, cmd == "d+", false);
    q.title = "List of relations";
    q.empty_message = "Did not find any relations.";
  } else if (const std::string base = !cmd.empty() && cmd.back() == '+' ? cmd.substr(0, cmd.size() - 1) : cmd;
             base == "dt" || base == "dv" || base == "dm" || base == "ds" || base == "di") {
    const std::string kinds = base == "dt"   ? "'r','p'"
                              : base == "dv" ? "'v'"
                              : base == "dm" ? "'m'"
                              : base == "ds" ? "'S'"
                                             : "'i','I'";
    q.sql = relations(kinds, arg, error, cmd.back() == '+', base == "di");
    if (q.sql.empty()) return std::nullopt;
    q.title = "List of relations";
    q.empty_message = arg.empty() ? "Did not find any relations." : "Did not find any relation named \"" + arg + "\".";
  } else if (cmd == "d" || cmd == "d+") {
    // psql's \d NAME for a table: its title, columns (with \d+ storage,
    // compression, statistics target, description) and footers (indexes,
    // check and foreign-key constraints, references, access method).
    const bool plus = cmd == "d+";
    const std::string rel = "pg_catalog.to_regclass(" + quote_literal(arg) + ")";
    const std::string title =
        "(SELECT CASE c.relkind WHEN 'r' THEN 'Table' WHEN 'v' THEN 'View' WHEN 'm' THEN 'Materialized view' "
        "WHEN 'i' THEN 'Index' WHEN 'S' THEN 'Sequence' WHEN 'f' THEN 'Foreign table' "
        "WHEN 'p' THEN 'Partitioned table' WHEN 'I' THEN 'Partitioned index' WHEN 'c' THEN 'Composite type' "
        "ELSE 'Relation' END || ' \"' || n.nspname || '.' || c.relname || '\"' "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = " + rel + ")";
    const std::string indexes =
        "COALESCE((SELECT E'Indexes:\\n' || pg_catalog.string_agg('    \"' || c2.relname || '\"' || "
        "CASE WHEN con.contype = 'x' THEN ' ' || pg_catalog.pg_get_constraintdef(con.oid, true) ELSE "
        "CASE WHEN i.indisprimary THEN ' PRIMARY KEY,' WHEN i.indisunique THEN "
        "CASE WHEN con.oid IS NOT NULL THEN ' UNIQUE CONSTRAINT,' ELSE ' UNIQUE,' END ELSE '' END || ' ' || "
        "substring(pg_catalog.pg_get_indexdef(i.indexrelid, 0, true) from ' USING (.*)$') END || "
        "CASE WHEN con.condeferrable THEN ' DEFERRABLE' ELSE '' END || "
        "CASE WHEN con.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END || "
        "CASE WHEN i.indisclustered THEN ' CLUSTER' ELSE '' END || CASE WHEN NOT i.indisvalid THEN ' INVALID' ELSE '' END || "
        "CASE WHEN i.indisreplident THEN ' REPLICA IDENTITY' ELSE '' END, E'\\n' ORDER BY i.indisprimary DESC, c2.relname) "
        "|| E'\\n' FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c2 ON c2.oid = i.indexrelid "
        "LEFT JOIN pg_catalog.pg_constraint con ON con.conrelid = i.indrelid AND con.conindid = i.indexrelid "
        "AND con.contype IN ('p','u','x') WHERE i.indrelid = " + rel + "), '')";
    auto constraints = [&](const char* heading, const std::string& where, const std::string& line) {
      return std::string("COALESCE((SELECT E'") + heading + ":\\n' || pg_catalog.string_agg(" + line +
             ", E'\\n' ORDER BY r.conname) || E'\\n' FROM pg_catalog.pg_constraint r WHERE " + where + "), '')";
    };
    const std::string checks = constraints("Check constraints", "r.conrelid = " + rel + " AND r.contype = 'c'",
                                           "'    \"' || r.conname || '\" ' || pg_catalog.pg_get_constraintdef(r.oid, true)");
    const std::string fkeys = constraints("Foreign-key constraints",
                                          "r.conrelid = " + rel + " AND r.contype = 'f' AND r.conparentid = 0",
                                          "'    \"' || r.conname || '\" ' || pg_catalog.pg_get_constraintdef(r.oid, true)");
    const std::string refs = constraints("Referenced by",
                                         "r.confrelid = " + rel + " AND r.contype = 'f' AND r.conparentid = 0",
                                         "'    TABLE \"' || r.conrelid::pg_catalog.regclass::pg_catalog.text || '\" CONSTRAINT \"' "
                                         "|| r.conname || '\" ' || pg_catalog.pg_get_constraintdef(r.oid, true)");
    const std::string access =
        plus ? " || COALESCE((SELECT 'Access method: ' || am.amname || E'\\n' FROM pg_catalog.pg_class c "
               "JOIN pg_catalog.pg_am am ON am.oid = c.relam WHERE c.oid = " + rel + " AND c.relkind IN ('r','m')), '')"
             : "";
    q.sql = "SELECT " + title + " AS \"title\", a.attname AS \"Column\", "
            "pg_catalog.format_type(a.atttypid, a.atttypmod) AS \"Type\", "
            "COALESCE((SELECT co.collname FROM pg_catalog.pg_collation co, pg_catalog.pg_type t "
            "WHERE co.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation), '') AS \"Collation\", "
            "CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS \"Nullable\", "
            "CASE WHEN a.attidentity = 'a' THEN 'generated always as identity' "
            "WHEN a.attidentity = 'd' THEN 'generated by default as identity' "
            "WHEN a.attgenerated = 's' THEN 'generated always as (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) || ') stored' "
            "ELSE COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid, true), '') END AS \"Default\", " +
            std::string(plus ? "CASE a.attstorage WHEN 'p' THEN 'plain' WHEN 'e' THEN 'external' WHEN 'm' THEN 'main' "
                               "WHEN 'x' THEN 'extended' END AS \"Storage\", "
                               "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' ELSE '' END AS \"Compression\", "
                               "CASE WHEN a.attstattarget = -1 THEN NULL ELSE a.attstattarget END AS \"Stats target\", "
                               "pg_catalog.col_description(a.attrelid, a.attnum) AS \"Description\", "
                             : "") +
            indexes + " || " + checks + " || " + fkeys + " || " + refs + access + " AS \"footer\" "
            "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d "
            "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = " + rel + " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    q.meta_columns = true;
    q.footer = false;
    q.empty_message = "Did not find any relation named \"" + arg + "\".";
    q.empty_fails = true;
  } else if (cmd == "df") {
    std::string where = "pg_catalog.pg_function_is_visible(p.oid) AND n.nspname <> 'pg_catalog' "
                        "AND n.nspname <> 'information_schema'";
    std::string re;
    if (!arg.empty()) {
      if (!name_regex(arg, re)) return error = "invalid pattern \"" + arg + "\"", std::nullopt;
      where += " AND p.proname OPERATOR(pg_catalog.~) " + quote_literal(re) + " COLLATE pg_catalog.default";
    }
    q.sql = "SELECT n.nspname AS \"Schema\", p.proname AS \"Name\", "
            "pg_catalog.pg_get_function_result(p.oid) AS \"Result data type\", "
            "pg_catalog.pg_get_function_arguments(p.oid) AS \"Argument data types\", "
            "CASE p.prokind WHEN 'a' THEN 'agg' WHEN 'w' THEN 'window' WHEN 'p' THEN 'proc' ELSE 'func' END AS \"Type\" "
            "FROM pg_catalog.pg_proc p LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE " +
            where + " ORDER BY 1, 2, 4";
    q.title = "List of functions";
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
            "AS \"Attributes\", ARRAY(SELECT b.rolname FROM pg_catalog.pg_auth_members m "
            "JOIN pg_catalog.pg_roles b ON m.roleid = b.oid WHERE m.member = r.oid) AS \"Member of\" "
            "FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1";
    q.title = "List of roles";
    q.footer = false;
  } else {
    error = "invalid command \\" + cmd;
    return std::nullopt;
  }
  return q;
}

}  // namespace bastion
