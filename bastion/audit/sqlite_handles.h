// Owners of SQLite handles, so every path out of a function closes them.
#pragma once
#include <memory>
#include <string>

#include <sqlite3.h>

namespace bastion {

struct SqliteClose {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct SqliteFinalize {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteClose>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, SqliteFinalize>;

// Opens `path` read-only (nullptr with `error` on failure).
inline SqliteDb open_sqlite_readonly(const std::string& path, std::string& error) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) return error = raw ? sqlite3_errmsg(raw) : "cannot open", nullptr;
  return db;
}

// Compiles `sql` (nullptr with `error` on failure).
inline SqliteStmt prepare_sqlite(sqlite3* db, const std::string& sql, std::string& error) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) return error = sqlite3_errmsg(db), nullptr;
  return SqliteStmt(raw);
}

}  // namespace bastion
