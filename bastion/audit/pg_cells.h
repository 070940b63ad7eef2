// A PostgreSQL result row as the chain's canonical JSON reads it (integer
// columns as numbers, everything else as text): the store writing the chain
// and verify reading it back spell a row in the same bytes.
#pragma once
#include <cstdlib>

#include <libpq-fe.h>

#include "audit/audit_chain.h"

namespace bastion {

inline constexpr unsigned kPgInt8Oid = 20, kPgInt2Oid = 21, kPgInt4Oid = 23;

class PgCells final : public RowCells {
 public:
  PgCells(const PGresult* r, int row) : r_(r), row_(row) {}
  int count() const override { return PQnfields(r_); }
  const char* name(int c) const override { return PQfname(r_, c); }
  Type type(int c) const override {
    if (PQgetisnull(r_, row_, c)) return Type::null;
    const unsigned t = PQftype(r_, c);
    return t == kPgInt8Oid || t == kPgInt4Oid || t == kPgInt2Oid ? Type::integer : Type::text;
  }
  int64_t integer(int c) const override { return std::strtoll(PQgetvalue(r_, row_, c), nullptr, 10); }
  double real(int) const override { return 0; }
  std::string_view bytes(int c) const override {
    return {PQgetvalue(r_, row_, c), static_cast<std::size_t>(PQgetlength(r_, row_, c))};
  }

 private:
  const PGresult* r_;
  int row_;
};

}  // namespace bastion
