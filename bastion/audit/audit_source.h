// Where AuditQuery's SQL runs: a read-only SQLite file or the PostgreSQL
// store (pg_audit_source.cpp). The SQL is the same; the PostgreSQL schema
// defines the SQLite functions it uses (contains_ci, json_valid, json_extract).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace bastion {

using AuditParam = std::variant<int64_t, std::string>;

// One statement's rows, read by column.
class AuditRows {
 public:
  virtual ~AuditRows() = default;
  // True while there is a row; false at the end or on error (see done()).
  virtual bool next() = 0;
  virtual bool done(std::string& error) const = 0;
  virtual std::string text(int c) const = 0;  // NULL: ""
  virtual int64_t integer(int c) const = 0;   // NULL: 0
  virtual std::optional<int64_t> maybe(int c) const = 0;
  virtual int columns() const = 0;
  virtual std::string name(int c) const = 0;
  // The row's canonical JSON from column `first` on (audit_chain.h): the
  // same bytes on either backend, so verify recomputes the chain alike.
  virtual std::string row_json(int first) const = 0;
};

class AuditSource {
 public:
  virtual ~AuditSource() = default;
  // SQL with `?` placeholders.
  virtual std::unique_ptr<AuditRows> rows(const std::string& sql, const std::vector<AuditParam>& params,
                                          std::string& error) = 0;
  virtual bool table_exists(const char* name) = 0;
  // A column that orders a table's rows as they were inserted (votes).
  virtual const char* insertion_order() const = 0;
  // Every later read sees one snapshot of the store (verify: bastiond writes
  // while it runs, and a row and its checkpoints must be read as of the same
  // moment). Read-only either way.
  virtual bool begin_snapshot(std::string& error) = 0;
  // Whether the store keeps a full-text index of commands (SQLite's
  // commands_fts) that verify must check against the table.
  virtual bool has_search_index() const = 0;
  // The backend's query counting the plain stored-policy tables (policy_tables.h).
  virtual const char* plain_policy_tables_sql() const = 0;
};

// The audit store at `where` (a SQLite file or a postgresql:// store),
// read-only. Null + error on failure.
std::unique_ptr<AuditSource> open_audit_source(const std::string& where, const std::string& password_file,
                                               std::string& error);

// The PostgreSQL store, read-only. Null + error on failure.
std::unique_ptr<AuditSource> open_pg_audit_source(const std::string& dsn, const std::string& password_file,
                                                  std::string& error);

}  // namespace bastion
