// SQLite audit store: WAL mode, versioned schema applied by migrations,
// one connection serialised by a mutex (writes are small and rare compared
// to session traffic).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include <vector>

#include "approvals/approval_store.h"
#include "audit/audit_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bastion {

class SqliteAuditStore : public AuditStore, public ApprovalStore {
 public:
  static constexpr int kSchemaVersion = 7;

  // Opens or creates the database and migrates it. Null + error on failure.
  static std::unique_ptr<SqliteAuditStore> open(const std::string& path, std::string& error);
  ~SqliteAuditStore() override;

  bool session_started(const SessionStart& s, std::string& error) override;
  bool session_ended(const SessionEnd& s, std::string& error) override;
  bool command_started(const CommandStart& c, int64_t& id, std::string& error) override;
  bool command_ended(const CommandEnd& c, std::string& error) override;
  bool auth_event(const AuthEvent& e, std::string& error) override;
  bool cert_issued(const IssuedCert& c, std::string& error) override;

  // ApprovalStore (sqlite_approval_store.cpp)
  bool create_request(ApprovalRequest& r, std::string& error) override;
  std::optional<ApprovalRequest> request(int64_t id, std::string& error) override;
  std::vector<ApprovalRequest> requests(const std::string& requester, std::string& error) override;
  bool add_vote(int64_t id, const ApprovalVote& v, std::string& error) override;
  bool transition(int64_t id, ApprovalState from, ApprovalState to, int64_t at, const std::string& by,
                  const std::string& reason, int64_t grant_expires_at, std::string& error) override;
  std::optional<ApprovalRequest> active_grant(const std::string& identity, const std::string& target, int64_t now,
                                              std::string& error) override;

  int schema_version();

 private:
  explicit SqliteAuditStore(sqlite3* db) : db_(db) {}
  bool migrate(std::string& error);
  bool exec(const char* sql, std::string& error);
  // Prepares, binds (NULL, integer or text) and steps one statement.
  bool execute(const char* sql,
               std::initializer_list<std::variant<std::nullptr_t, int64_t, std::string>> params,
               std::string& error);

  // Like execute, collecting every row as text.
  bool query(const char* sql, std::initializer_list<std::variant<std::nullptr_t, int64_t, std::string>> params,
             std::vector<std::vector<std::string>>& rows, std::string& error);
  std::vector<ApprovalRequest> load_requests(const char* where, std::initializer_list<std::variant<std::nullptr_t, int64_t, std::string>> params,
                                             std::string& error);

  sqlite3_stmt* prepared(const char* sql, std::string& error);  // cached per connection
  int64_t last_insert_id() const;
  int changes() const;

  sqlite3* db_;
  std::mutex mu_;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace bastion
