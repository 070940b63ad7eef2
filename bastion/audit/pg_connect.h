// Connecting to the PostgreSQL store: `store = "postgresql://user@host:port/db"`
// with the password from `store_password_file` (or libpq's own: a service
// file, ~/.pgpass, PGPASSFILE). The password never appears in an error or a
// log line: libpq's messages do not quote it, and the DSN is not repeated.
#pragma once
#include <string>

#include "common/pg_handles.h"

namespace bastion {

struct PgTarget {
  std::string dsn;            // postgresql://... or postgres://...
  std::string password_file;  // empty: libpq finds the password itself
};

// Whether `where` names a PostgreSQL store rather than a SQLite file.
bool is_pg_dsn(const std::string& where);

// Connected, in UTC, or null + error.
PgConn pg_connect(const PgTarget& t, std::string& error);

// SQL written with SQLite's `?` / `?N` placeholders (outside quotes), as $N.
std::string pg_placeholders(const std::string& sql);

// libpq's last error on `c`, on one line.
std::string pg_error(PGconn* c);

}  // namespace bastion
