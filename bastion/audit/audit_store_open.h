// Opens the audit store a configuration names: SQLite in data_dir (the
// single-host default) or the PostgreSQL store several instances share.
#pragma once
#include <memory>
#include <string>

#include "audit/sql_audit_store.h"

namespace bastion {

// `where`: a postgresql:// URI or a SQLite file path. `password_file` only
// for PostgreSQL (empty: libpq finds the password). Null + error on failure.
std::unique_ptr<SqlAuditStore> open_audit_store(const std::string& where, const std::string& password_file,
                                                std::string writer, std::string& error);

}  // namespace bastion
