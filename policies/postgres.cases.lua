cases = {
  -- which database role each session uses (the credential the target holds)
  { name = "analysts connect read-only", hook = "on_session", principals = {"analyst"}, target_type = "postgres",
    expect = "allow", credential = "readonly" },
  { name = "an analyst who is also a dba stays read-only", hook = "on_session", principals = {"dba", "analyst"},
    target_type = "postgres", expect = "allow", credential = "readonly" },
  { name = "admins keep the default credential", hook = "on_session", principals = {"dba"}, target_type = "postgres",
    expect = "allow", credential = "default" },
  { name = "pii-readers keep the default credential", hook = "on_session", principals = {"ops", "pii-reader"},
    target_type = "postgres", expect = "allow", credential = "default" },

  -- analysts: read-only
  { name = "analyst select, PII masked", principals = {"analyst"}, kind = "sql", target_type = "postgres",
    command = "SELECT name, email FROM customers", expect = "mask", columns = {"email", "customers.ssn", "phone"} },
  { name = "analyst insert", principals = {"analyst"}, kind = "sql", command = "INSERT INTO orders VALUES (1)",
    expect = "deny", reason = "read-only access: insert" },
  { name = "analyst write hidden in a CTE", principals = {"analyst"}, kind = "sql",
    command = "WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone", expect = "deny" },
  { name = "analyst SELECT INTO", principals = {"analyst"}, kind = "sql",
    command = "SELECT * INTO copy_of_orders FROM orders", expect = "deny" },
  { name = "analyst side-effect function", principals = {"analyst"}, kind = "sql",
    command = "SELECT pg_catalog.pg_terminate_backend(42)", expect = "deny", reason = "pg_terminate_backend" },
  { name = "analyst set_config", principals = {"analyst"}, kind = "sql",
    command = "SELECT set_config('role', 'postgres', false)", expect = "deny" },
  { name = "analyst SET ROLE", principals = {"analyst"}, kind = "sql", command = "SET ROLE postgres",
    expect = "deny", reason = "changing role" },
  { name = "analyst SET search_path is fine", principals = {"analyst"}, kind = "sql",
    command = "SET search_path TO public", expect = "mask" },
  { name = "analyst EXPLAIN ANALYZE of a delete counts as the delete", principals = {"analyst"}, kind = "sql",
    command = "EXPLAIN ANALYZE DELETE FROM orders WHERE id = 1", expect = "deny" },
  { name = "a comment does not hide a keyword", principals = {"analyst"}, kind = "sql",
    command = "/* SELECT */ DELETE FROM orders WHERE id = 1", expect = "deny" },

  -- schema changes wait for a second person
  { name = "drop", principals = {"dba"}, kind = "sql", command = "DROP TABLE orders", expect = "review" },
  { name = "truncate", principals = {"dba"}, kind = "sql", command = "truncate orders", expect = "review" },
  { name = "alter", principals = {"dba"}, kind = "sql", command = "ALTER TABLE orders ADD COLUMN x int",
    expect = "review" },

  -- whole-table changes
  { name = "delete without where", principals = {"dba"}, kind = "sql", command = "DELETE FROM orders",
    expect = "deny", reason = "without WHERE" },
  { name = "update without where", principals = {"dba"}, kind = "sql", command = "UPDATE orders SET status = 'x'",
    expect = "deny" },
  { name = "update with where", principals = {"dba"}, kind = "sql",
    command = "UPDATE orders SET status = 'x' WHERE id = 3", expect = "mask" },

  -- PII
  { name = "pii-reader sees everything", principals = {"dba", "pii-reader"}, kind = "sql",
    command = "SELECT * FROM customers", expect = "allow" },
  { name = "unparseable", principals = {"dba"}, kind = "sql", command = "SELEC 1", expect = "deny",
    reason = "does not parse" },
  { name = "copy to program", principals = {"dba"}, kind = "sql", command = "COPY orders TO PROGRAM 'curl x'",
    expect = "deny", reason = "PROGRAM" },
  { name = "no opinion on shell commands", principals = {"dba"}, kind = "exec", command = "ls", expect = "deny" },
}
