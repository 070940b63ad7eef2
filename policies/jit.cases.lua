cases = {
  { name = "DROP waits for a dba-lead", principals = {"dba"}, kind = "sql", command = "DROP TABLE orders",
    expect = "review", reason = "dba-lead" },
  { name = "TRUNCATE waits too", principals = {"dba"}, kind = "sql", command = "truncate audit_log",
    expect = "review" },
  { name = "other SQL: no opinion here (default deny when alone)", principals = {"dba"}, kind = "sql",
    command = "SELECT 1", expect = "deny" },
  { name = "sudo waits for oncall", principals = {"ops"}, command = "sudo systemctl restart nginx",
    expect = "review", reason = "sudo needs oncall" },
  { name = "su inside a pipeline waits too", principals = {"ops"}, command = "echo x | su -c id",
    expect = "review" },
  { name = "plain commands: no opinion", principals = {"ops"}, command = "uptime", expect = "deny" },
}
