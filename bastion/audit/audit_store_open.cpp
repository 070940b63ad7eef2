#include "audit/audit_store_open.h"

#include "audit/pg_audit_store.h"
#include "audit/sqlite_audit_store.h"

namespace bastion {

std::unique_ptr<SqlAuditStore> open_audit_store(const std::string& where, const std::string& password_file,
                                                std::string writer, std::string& error) {
  if (is_pg_dsn(where)) return PgAuditStore::open(PgTarget{where, password_file}, error, std::move(writer));
  return SqliteAuditStore::open(where, error, std::move(writer));
}

}  // namespace bastion
