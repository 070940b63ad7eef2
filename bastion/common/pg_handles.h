// Owners of libpq handles, so every path out of a function frees them
// (the PostgreSQL store and the PostgreSQL target kind alike).
#pragma once
#include <memory>

#include <libpq-fe.h>

namespace bastion {

struct PgFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgFinish>;
using PgResult = std::unique_ptr<PGresult, PgClear>;

}  // namespace bastion
