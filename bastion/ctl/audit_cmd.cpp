// bastionctl audit: sessions and commands from the audit store, for auditors.
#include <cstdio>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "audit/sqlite_handles.h"
#include "common/display_escape.h"
#include "common/parse_number.h"
#include "ctl/commands.h"

namespace bastion {

int ctl_audit(const std::vector<std::string>& a) {
  if (a.empty()) return ctl_usage();
  std::string db, identity, target, session, grep;
  int limit = 50;
  for (std::size_t i = 1; i + 1 < a.size(); i += 2) {
    if (a[i] == "--db") db = a[i + 1];
    else if (a[i] == "--identity") identity = a[i + 1];
    else if (a[i] == "--target") target = a[i + 1];
    else if (a[i] == "--session") session = a[i + 1];
    else if (a[i] == "--grep") grep = a[i + 1];
    else if (a[i] == "--limit") {
      std::string why;
      const auto v = parse_unsigned(a[i + 1], 1, 1000000, &why);
      if (!v) return std::fprintf(stderr, "bastionctl: --limit %s: %s\n", a[i + 1].c_str(), why.c_str()), 2;
      limit = static_cast<int>(*v);
    }
    else return ctl_usage();
  }
  if (db.empty()) return ctl_usage();
  auto failed = [&db](const std::string& why) {
    std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(db).c_str(), display_escape(why).c_str());
    return 1;
  };
  std::string err;
  const SqliteDb h = open_sqlite_readonly(db, err);
  if (!h) return failed(err);
  // bastiond writes while auditors read: wait out a checkpoint instead of failing.
  sqlite3_busy_timeout(h.get(), 5000);
  std::string sql;
  std::vector<std::string> binds;
  if (a[0] == "sessions") {
    sql = "SELECT id, identity, target, source_address, started_at, IFNULL(ended_at,''), "
          "IFNULL(end_reason,''), IFNULL(exit_status,'') FROM sessions WHERE 1=1";
    if (!identity.empty()) sql += " AND identity=?", binds.push_back(identity);
    if (!target.empty()) sql += " AND target=?", binds.push_back(target);
    sql += " ORDER BY started_at DESC LIMIT " + std::to_string(limit);
  } else if (a[0] == "commands") {
    sql = "SELECT session_id, at, kind, decision, IFNULL(exit_status,''), IFNULL(rows,''), text FROM commands WHERE 1=1";
    if (!session.empty()) sql += " AND session_id=?", binds.push_back(session);
    if (!grep.empty()) sql += " AND instr(text, ?) > 0", binds.push_back(grep);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit);
  } else {
    return ctl_usage();
  }
  const SqliteStmt stmt = prepare_sqlite(h.get(), sql, err);
  if (!stmt) return std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str()), 1;
  sqlite3_stmt* st = stmt.get();
  for (std::size_t i = 0; i < binds.size(); ++i)
    sqlite3_bind_text(st, static_cast<int>(i + 1), binds[i].c_str(), -1, SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    // Key IDs, target names, addresses and command text are user-controlled:
    // escaped, so a value can neither add a row (newline), shift a column
    // (tab) nor drive the auditor's terminal.
    const int n = sqlite3_column_count(st);
    std::string row;
    for (int c = 0; c < n; ++c) {
      const auto* v = static_cast<const char*>(sqlite3_column_blob(st, c));
      if (c) row += '\t';
      if (v) row += display_escape(std::string_view(v, static_cast<std::size_t>(sqlite3_column_bytes(st, c))));
    }
    row += '\n';
    std::fwrite(row.data(), 1, row.size(), stdout);
  }
  return rc == SQLITE_DONE ? 0 : failed(sqlite3_errmsg(h.get()));
}

}  // namespace bastion
