// One libpq connection to a PostgreSQL target, held for the whole bastion
// session so transactions span statements. The credential comes from the
// config (password file, libpq service or passfile) and never reaches the user.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "common/pg_handles.h"
#include "config/config.h"
#include "targets/postgres/postgres_settings.h"

namespace bastion {


// What a connection asks the server for at startup beyond the target's
// settings: a wire client's application_name and harmless session
// settings (see wire/pg_wire_startup.h), passed as `-c NAME=VALUE`.
struct PgConnectOptions {
  std::string application_name = "bastion";
  std::vector<std::pair<std::string, std::string>> settings;
};

class PgConnection {
 public:
  // As `cred` (one of t's credentials); blocking, bounded by connect_timeout.
  // Null + a message fit for the user.
  static std::unique_ptr<PgConnection> connect(const TargetConfig& t, const PostgresCredential& cred, std::string& error,
                                               const PgConnectOptions& options = {});
  // Takes ownership of a libpq handle (tests: one that never connected).
  static std::unique_ptr<PgConnection> adopt(PGconn* c) { return std::unique_ptr<PgConnection>(new PgConnection(c)); }

  PGconn* get() const { return conn_.get(); }
  int socket() const { return PQsocket(conn_.get()); }
  bool ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  // '=' idle, '*' in a transaction, '!' in a failed transaction (psql's %x, with '=').
  char tx_state() const;
  // Asks the server to cancel the running statement (a short blocking call).
  bool cancel(std::string& error);
  // A catalog query with text parameters, run synchronously while idle.
  PgResult query(const std::string& sql, const std::vector<std::string>& params);
  // The error libpq reported last, first line only.
  std::string last_error() const;

 private:
  explicit PgConnection(PGconn* c) : conn_(c) {}
  PgConn conn_;
};

// The first line of a libpq message, without the trailing newline.
std::string first_line(const char* msg);

}  // namespace bastion
