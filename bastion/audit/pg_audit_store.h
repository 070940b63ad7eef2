// PostgreSQL audit store: the state several bastiond instances share
// (`store = "postgresql://..."`). Same tables, same rows, same chain as the
// SQLite store (sql_audit_store.h); what differs:
// - migrations (pg_schema.cpp) run once under a session advisory lock,
//   whichever instance starts first;
// - every write transaction takes one advisory transaction lock before it
//   reads the chain's head, so appends from every instance form one chain;
// - approval changes are announced with NOTIFY in the transaction that
//   makes them (delivered at commit): waiting sessions on every instance
//   wake at once (pg_listener.h), polling stays the fallback.
#pragma once
#include <memory>
#include <string>

#include "audit/pg_connect.h"
#include "audit/sql_audit_store.h"

namespace bastion {

// Advisory lock keys are (kPgLockSpace, what): 1 migrations, 2 the chain.
inline constexpr int kPgLockSpace = 0x62617374;  // "bast"

// The NOTIFY channel approvals and grants are announced on.
inline constexpr const char* kApprovalsChannel = "bastion_approvals";
// The NOTIFY channel a change of a stored policy's active version is
// announced on (the payload: its name); instances reload.
inline constexpr const char* kPolicyChannel = "bastion_policy";

class PgAuditStore : public SqlAuditStore {
 public:
  static std::unique_ptr<PgAuditStore> open(const PgTarget& target, std::string& error,
                                            std::string writer = "unnamed writer");
  ~PgAuditStore() override;
  int schema_version();

 protected:
  bool execute(const char* sql, std::initializer_list<SqlParam> params, std::string& error) override;
  bool query(const char* sql, std::initializer_list<SqlParam> params, SqlRows& rows, std::string& error) override;
  bool insert(const char* sql, std::initializer_list<SqlParam> params, int64_t& id, std::string& error) override;
  int changes() const override { return changes_; }
  bool read_row_json(const char* table, const std::string& key, bool& found, std::string& json,
                     std::string& error) override;
  bool begin(std::string& error) override;
  const char* session_end_sql() const override;
  const char* plain_policy_tables_sql() const override;
  bool announce_approvals(std::string& error) override;
  bool announce_policy(const std::string& name, std::string& error) override;
  bool note_session_instance(const std::string& session_id, std::string& error) override;
  bool signs_every_write() const override { return true; }
  std::string own_recordings_condition() const override;

 public:
  bool register_instance(const std::string& host, int64_t interval, std::string& error) override;
  Beat heartbeat(std::string& error) override;
  std::string instance_id() override {
    std::lock_guard<std::mutex> g(mu_);
    return instance_id_;
  }
  int interrupt_silent_instances(const std::string& at, int missed, std::string& error) override;
  bool instance_stopped(const std::string& at, std::string& error) override;
  void ships_from(const std::string& recordings_dir) override;

 private:
  explicit PgAuditStore(PgConn c, std::string writer) : SqlAuditStore(std::move(writer)), conn_(std::move(c)) {}
  // One statement (`?` placeholders renumbered); null + error on failure.
  PgResult run(const std::string& sql, std::initializer_list<SqlParam> params, std::string& error);

  PgConn conn_;
  std::string instance_id_;  // empty until register_instance
  std::string host_;         // as registered
  std::string recordings_dir_;  // ships_from; empty: none
  int changes_ = 0;
  bool in_txn_ = false;
};

// pg_schema.cpp: brings the schema to the current version under a session
// advisory lock (several instances starting at once migrate once).
bool pg_migrate(PGconn* c, int& version, std::string& error);
inline constexpr int kPgSchemaVersion = 5;

}  // namespace bastion
