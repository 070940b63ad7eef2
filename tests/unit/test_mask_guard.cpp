#include <catch2/catch.hpp>

#include "targets/postgres/mask_guard.h"
#include "targets/postgres/statement_tree.h"

using bastion::MaskGuardFacts;
using bastion::StatementTree;
using V = std::vector<std::string>;

namespace {
bool masked(std::string_view c) { return c == "email"; }

MaskGuardFacts facts(const std::string& sql) {
  StatementTree t;
  REQUIRE(t.parse(sql));
  return bastion::mask_guard_facts(t.stmt(), masked);
}
std::string refusal(const std::string& sql, bool reads_masked = true, bool allow_derived = false) {
  return bastion::mask_guard_refusal(facts(sql), reads_masked, allow_derived);
}
const std::string kTail =
    " from a relation holding masked columns is refused while column masks apply: the new object would show "
    "the values unmasked (a policy may allow it: mask = { ..., allow_derived_objects = true })";
}  // namespace

TEST_CASE("COPY TO in any form is refused under masks, COPY FROM is not", "[sql][mask]") {
  const std::string why = "COPY ... TO is refused while column masks apply: its output cannot be masked by column; use SELECT";
  CHECK(refusal("COPY customers TO STDOUT", false) == why);
  CHECK(refusal("COPY (SELECT email FROM customers) TO STDOUT") == why);
  CHECK(refusal("copy customers (email) to '/tmp/x'") == why);
  CHECK(refusal("COPY customers TO PROGRAM 'cat'") == why);
  CHECK(refusal("PREPARE p AS SELECT 1", false) == "");
  CHECK(refusal("COPY customers FROM STDIN") == "");
  CHECK_FALSE(facts("COPY customers FROM STDIN").copy_to);
}

TEST_CASE("query-string functions and statistics are refused under masks", "[sql][mask]") {
  CHECK(facts("SELECT query_to_xml('select email from customers', true, false, '')").query_string == V{"query_to_xml"});
  CHECK(facts("SELECT * FROM ts_stat('select x from t')").query_string == V{"ts_stat"});
  CHECK(facts("SELECT pg_catalog.TABLE_TO_XML('customers', true, false, '')").query_string ==
        V{"pg_catalog.table_to_xml"});  // as the parser folds it
  CHECK(facts("SELECT * FROM XMLTABLE('/a' PASSING '<a/>' COLUMNS x int)").query_string == V{"xmltable"});
  CHECK(refusal("PREPARE p AS SELECT cursor_to_xml('c', 1, false, false, '')", false) ==
        "cursor_to_xml() is refused while column masks apply: it runs SQL given as text, where column masks "
        "cannot follow");
  CHECK(facts("SELECT histogram_bounds FROM pg_stats WHERE tablename = 'customers'").statistics == V{"pg_stats"});
  CHECK(facts("SELECT * FROM pg_catalog.pg_statistic").statistics == V{"pg_statistic"});
  CHECK(facts("SELECT * FROM pg_stats_ext_exprs, pg_stats_ext").statistics == V{"pg_stats_ext_exprs", "pg_stats_ext"});
  CHECK(facts("SELECT query FROM public.pg_stat_statements").statistics == V{"pg_stat_statements"});
  CHECK(facts("WITH a AS (SELECT query FROM pg_stat_activity) SELECT * FROM a").statistics == V{"pg_stat_activity"});
  CHECK(facts("SELECT * FROM pg_mcv_list_items(NULL)").statistics == V{"pg_mcv_list_items"});
  CHECK(refusal("SELECT most_common_vals FROM pg_stats", false) ==
        "reading pg_stats is refused while column masks apply: statistics and statement texts hold column values");
  CHECK(facts("SELECT count(*) FROM pg_stat_user_tables").statistics.empty());
}

TEST_CASE("objects made from masked relations are refused unless the policy allows them", "[sql][mask]") {
  CHECK(refusal("CREATE TEMP TABLE t AS SELECT * FROM customers") == "CREATE TABLE AS" + kTail);
  CHECK(refusal("CREATE MATERIALIZED VIEW m AS SELECT 1 FROM customers") == "CREATE MATERIALIZED VIEW" + kTail);
  CHECK(refusal("SELECT email INTO t FROM customers") == "SELECT INTO" + kTail);
  CHECK(refusal("CREATE VIEW v AS SELECT email AS e FROM customers") == "CREATE VIEW" + kTail);
  CHECK(refusal("DECLARE c CURSOR FOR SELECT * FROM customers") == "DECLARE CURSOR" + kTail);
  CHECK(refusal("PREPARE p AS SELECT email FROM customers") == "PREPARE" + kTail);
  CHECK(refusal("INSERT INTO t SELECT email FROM customers") == "INSERT ... SELECT" + kTail);
  CHECK(refusal("WITH x AS (INSERT INTO t SELECT 1 RETURNING 1) SELECT * FROM x") == "INSERT ... SELECT" + kTail);
  CHECK(refusal("MERGE INTO t USING customers c ON t.id = c.id WHEN NOT MATCHED THEN INSERT VALUES (c.id)") ==
        "MERGE" + kTail);
  // Not from a masked relation, or the policy opted out.
  CHECK(refusal("CREATE TEMP TABLE t AS SELECT * FROM orders", false) == "");
  CHECK(refusal("CREATE TEMP TABLE t AS SELECT * FROM customers", true, true) == "");
  CHECK(refusal("INSERT INTO customers (id, name) VALUES (9, 'x')", false) == "");
  // The opt-out does not lift the rest.
  CHECK(refusal("COPY customers TO STDOUT", true, true).starts_with("COPY ... TO is refused"));
}

TEST_CASE("copying a masked value into another column is refused", "[sql][mask]") {
  const std::string why =
      "copying a masked column's value into a column that is not masked is refused while column masks apply: the "
      "copy would show the value unmasked (a policy may allow it: mask = { ..., allow_derived_objects = true })";
  CHECK(refusal("UPDATE customers SET name = email WHERE id = 2", false) == why);
  CHECK(refusal("UPDATE orders o SET status = c.email FROM customers c WHERE c.id = o.customer_id", false) == why);
  CHECK(refusal("UPDATE orders SET status = (SELECT email FROM customers LIMIT 1)", false) == why);
  CHECK(refusal("UPDATE customers c SET name = c::text", false) == why);
  CHECK(refusal("INSERT INTO customers VALUES (1) ON CONFLICT (id) DO UPDATE SET name = customers.email", false) ==
        why);
  CHECK(refusal("UPDATE customers SET name = 'x' WHERE email = 'a@b'", false) == "");
  // Even into a masked column: it may be masked only in part (ssn keeps its
  // last 4, so copies spell a value out), or only in another table of the name.
  CHECK(refusal("UPDATE customers SET email = lower(email)", false) == why);
  CHECK(refusal("UPDATE customers SET name = email", false, true) == "");
  CHECK(refusal("ALTER TABLE customers ADD COLUMN e2 text GENERATED ALWAYS AS (email) STORED", false) == why);
  CHECK(refusal("ALTER TABLE customers ALTER COLUMN name TYPE text USING email", false) == why);
  CHECK(refusal("ALTER TABLE customers ALTER COLUMN email TYPE varchar USING email::varchar", false) == why);
  CHECK(refusal("ALTER TABLE customers ADD COLUMN n int DEFAULT 0", false) == "");
  CHECK(refusal("ALTER TABLE customers ADD CONSTRAINT c CHECK (email LIKE '%@%')", false) == "");
}

TEST_CASE("renaming a masked column or a relation holding one is refused", "[sql][mask]") {
  const std::string why = "renaming a masked column, or a relation holding one, is refused while column masks "
                          "apply: masks match columns by name";
  CHECK(refusal("ALTER TABLE customers RENAME email TO contact", false) == why);
  CHECK(refusal("ALTER TABLE customers RENAME TO c2", true) == why);
  CHECK(refusal("ALTER VIEW v RENAME TO v2", true) == why);
  CHECK(refusal("ALTER TABLE customers RENAME TO c2", true, true) == why);  // the opt-out is for derived objects only
  CHECK(refusal("ALTER TABLE orders RENAME TO o2", false) == "");
  CHECK(refusal("ALTER TABLE customers RENAME name TO full_name", true) == "");
}
