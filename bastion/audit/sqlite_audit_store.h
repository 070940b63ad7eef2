// SQLite audit store (the embedded default, in data_dir): WAL mode,
// versioned schema applied by migrations, statements prepared once per
// connection. What it stores and how: sql_audit_store.h.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "audit/sql_audit_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bastion {

class SqliteAuditStore : public SqlAuditStore {
 public:
  static constexpr int kSchemaVersion = 12;

  // Opens or creates the database and migrates it. Null + error on failure.
  // `writer` goes into every chain entry this process appends (kBastiondWriter
  // for bastiond; "bastionctl approvals (alice)" for an admin command): a
  // claim only, which verify shows beside what the anchors say.
  static std::unique_ptr<SqliteAuditStore> open(const std::string& path, std::string& error,
                                                std::string writer = "unnamed writer");
  ~SqliteAuditStore() override;

  bool index_pending(std::string& error) override;
  static constexpr int kIndexBatch = 2000;  // rows per index_pending call

  int schema_version();

 protected:
  bool execute(const char* sql, std::initializer_list<SqlParam> params, std::string& error) override;
  bool query(const char* sql, std::initializer_list<SqlParam> params, SqlRows& rows, std::string& error) override;
  bool insert(const char* sql, std::initializer_list<SqlParam> params, int64_t& id, std::string& error) override;
  int changes() const override;
  bool read_row_json(const char* table, const std::string& key, bool& found, std::string& json,
                     std::string& error) override;
  // BEGIN IMMEDIATE: other processes writing the same store (bastionctl)
  // wait, so the chain has one order.
  bool begin(std::string& error) override;
  const char* session_end_sql() const override;
  const char* plain_policy_tables_sql() const override;

 private:
  SqliteAuditStore(sqlite3* db, std::string writer) : SqlAuditStore(std::move(writer)), db_(db) {}
  bool migrate(std::string& error);
  bool exec(const char* sql, std::string& error);
  bool chain_existing_rows(std::string& error);  // once, when migration 8 adds the chain
  sqlite3_stmt* prepared(const char* sql, std::string& error);  // cached per connection

  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace bastion
