#include <catch2/catch.hpp>

#include "targets/postgres/computed_columns.h"
#include "targets/postgres/statement_tree.h"

using bastion::computed_may_carry;
using bastion::StatementTree;
using B = std::vector<bool>;

namespace {
// Masked columns in these tests: email and ssn, in any table.
bool masked(std::string_view c) { return c == "email" || c == "ssn"; }

B carry(const std::string& sql, std::size_t ncols) {
  StatementTree t;
  REQUIRE(t.parse(sql));
  return computed_may_carry(t.stmt(), ncols, masked);
}
bool one(const std::string& expr) { return carry("SELECT " + expr + " FROM customers c", 1)[0]; }
}  // namespace

TEST_CASE("computed columns that cannot carry a masked value", "[sql][mask]") {
  CHECK(carry("SELECT count(*), max(id), length(name) FROM customers", 3) == B{false, false, false});
  CHECK_FALSE(one("c.id + 1"));
  CHECK_FALSE(one("upper(c.name) || '!'"));
  CHECK_FALSE(one("now()"));
  CHECK_FALSE(one("CASE WHEN id > 1 THEN 'x' END"));
  CHECK_FALSE(one("(SELECT max(id) FROM customers)"));
  CHECK_FALSE(one("EXISTS (SELECT 1 FROM customers WHERE email LIKE 'a%')"));  // like a WHERE clause
  CHECK_FALSE(carry("SELECT length(n) FROM (SELECT name AS n FROM customers) s", 1)[0]);
  CHECK_FALSE(carry("WITH t AS (SELECT id AS k FROM customers) SELECT max(k) FROM t", 1)[0]);
  CHECK_FALSE(carry("SELECT g * 2 FROM generate_series(1, 3) g", 1)[0]);
  CHECK_FALSE(carry("SELECT count(*) FROM customers c JOIN orders o ON o.customer_id = c.id", 1)[0]);
}

TEST_CASE("computed columns that can carry a masked value", "[sql][mask]") {
  for (const char* e : {"length(email)", "upper(email)", "email || ''", "coalesce(email, '')", "row_to_json(c)",
                        "c::text", "(SELECT email FROM customers LIMIT 1)", "f(email)", "f(id)", "ROW(c.id)",
                        "c.*::text", "to_jsonb(c.*)", "CASE WHEN email LIKE 'a%' THEN 1 END", "(c).email",
                        "current_setting('x')", "id OPERATOR(public.+) 1", "id ### 1", "count(c.email)",
                        "string_agg(name, ',' ORDER BY ssn)", "(SELECT * FROM customers LIMIT 1)",
                        "ARRAY(SELECT x FROM (SELECT email AS x FROM customers) s)", "query_to_xml('x', true, false, '')"}) {
    INFO(e);
    CHECK(one(e));
  }
  // Through aliases, subqueries and CTEs.
  CHECK(carry("SELECT length(x) FROM (SELECT email AS x FROM customers) s", 1)[0]);
  CHECK(carry("SELECT length(s.x) FROM (SELECT lower(email) AS x FROM customers) s", 1)[0]);
  CHECK(carry("SELECT upper(x) FROM (SELECT email FROM customers) s(x)", 1)[0]);
  CHECK(carry("WITH t AS (SELECT email AS e FROM customers) SELECT upper(e) FROM t", 1)[0]);
  CHECK(carry("WITH t(e) AS (SELECT email FROM customers) SELECT upper(e) FROM t", 1)[0]);
  CHECK(carry("WITH t AS (SELECT * FROM (SELECT email AS e FROM customers) a) SELECT upper(e) FROM t", 1)[0]);
  CHECK(carry("SELECT upper(t.e) FROM (SELECT id FROM customers) s, LATERAL (SELECT email AS e) t", 1)[0]);
  // An unnamed computed column in a subquery: its name is not known here, so everything from it counts.
  CHECK(carry("SELECT length(x) FROM (SELECT email || '' FROM customers) s(y), (SELECT 1 AS x) z", 1)[0]);
  CHECK(carry("SELECT length(\"?column?\") FROM (SELECT email || '' FROM customers) s", 1)[0]);
  // Set-returning functions: pure ones carry their arguments; others anything.
  CHECK(carry("SELECT u || '' FROM customers c, unnest(ARRAY[c.email]) u", 1)[0]);
  CHECK(carry("SELECT x || '' FROM my_rows() x", 1)[0]);
}

TEST_CASE("computed-column analysis falls back to masking", "[sql][mask]") {
  CHECK(carry("SELECT count(*) FROM customers UNION SELECT 1", 1) == B{true});
  CHECK(carry("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT n FROM t", 1) == B{true});
  CHECK(carry("SELECT length(a) FROM customers c(a, b)", 1) == B{true});  // renamed table columns
  CHECK(carry("EXPLAIN SELECT count(*) FROM customers", 1) == B{true});
  CHECK(carry("SELECT count(*) FROM customers", 2) == B{true, true});      // a column count it cannot map
  CHECK(carry("WITH d AS (DELETE FROM customers RETURNING email) SELECT count(*) FROM d", 1) == B{true});
  // A * expands to columns the analysis cannot place: entries before and after it still map.
  CHECK(carry("SELECT count(*) OVER (), *, length(name) FROM customers", 5) == B{false, true, true, true, false});
  CHECK(carry("SELECT upper(email), *, 1 FROM customers", 4) == B{true, true, true, false});
  // Nesting deeper than the analysis follows counts as carrying one.
  std::string deep = "id";
  for (int i = 0; i < 300; ++i) deep = "abs(" + deep + ")";
  CHECK(carry("SELECT " + deep + " FROM customers", 1) == B{true});
  CHECK(carry("SELECT abs(abs(id)) FROM customers", 1) == B{false});
}
