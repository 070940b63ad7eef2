// SQLite audit store: WAL mode, versioned schema applied by migrations,
// one connection serialised by a mutex (writes are small and rare compared
// to session traffic). Every write appends the rows it wrote to the audit
// chain in the same transaction (audit_chain.h); with a signer, the chain's
// head is signed at most once a second and when the store closes.
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

class AuditSigner;

class SqliteAuditStore : public AuditStore, public ApprovalStore {
 public:
  static constexpr int kSchemaVersion = 10;

  // Opens or creates the database and migrates it. Null + error on failure.
  // `writer` goes into every chain entry this process appends (kBastiondWriter
  // for bastiond; "bastionctl approvals (alice)" for an admin command): a
  // claim only, which verify shows beside what the anchors say.
  static std::unique_ptr<SqliteAuditStore> open(const std::string& path, std::string& error,
                                                std::string writer = "unnamed writer");
  ~SqliteAuditStore() override;
  // The key anchors are signed with (bastiond's); none: the chain grows
  // unsigned until a process with the key anchors it. Shared: the store
  // signs its last anchor when it closes.
  void set_signer(std::shared_ptr<const AuditSigner> signer);

  bool session_started(const SessionStart& s, std::string& error) override;
  bool session_ended(const SessionEnd& s, std::string& error) override;
  bool session_retargeted(const std::string& id, const std::string& target, std::string& error) override;
  bool command_started(const CommandStart& c, int64_t& id, std::string& error) override;
  using AuditStore::command_ended;
  bool commands_ended(const std::vector<CommandEnd>& ends, const RecordingCheckpoint* checkpoint,
                      std::string& error) override;
  bool auth_event(const AuthEvent& e, std::string& error) override;
  bool cert_issued(const IssuedCert& c, std::string& error) override;
  bool index_pending(std::string& error) override;
  static constexpr int kIndexBatch = 2000;  // rows per index_pending call

  // Recordings (sqlite_recordings.cpp)
  bool recording_opened(const RecordingOpened& r, int64_t& id, std::string& error) override;
  bool recording_checkpoint(int64_t id, const RecordingSeal& checkpoint, std::string& error) override;
  bool recording_closed(int64_t id, int64_t command_id, const RecordingSeal& final_seal, std::string& error) override;
  bool recording_pruned(int64_t id, const std::string& at, const std::string& by, std::string& error) override;
  int mark_interrupted(const std::string& at, std::string& error) override;
  bool recording_location(int64_t id, const std::string& location, const std::string& object_key,
                          std::string& error) override;
  std::vector<RecordingShipment> recordings_to_ship(int64_t after, int limit, int64_t& upto,
                                                    std::string& error) override;
  std::vector<RecordingShipment> recordings_open(int limit, std::string& error) override;
  std::vector<RecordingRow> recordings_ended_before(const std::string& cutoff, std::string& error) override;
  bool anchor_chain(bool force, std::string& error) override;

  // ApprovalStore (sqlite_approval_store.cpp)
  bool create_request(ApprovalRequest& r, std::string& error) override;
  std::optional<ApprovalRequest> request(int64_t id, std::string& error) override;
  std::vector<ApprovalRequest> requests(const std::string& requester, std::string& error) override;
  std::vector<ApprovalRequest> pending_after(int64_t& after, std::string& error) override;
  // Requests still pending and not yet expired at `now` (the metrics gauge); -1 on error.
  int64_t pending_request_count(int64_t now, std::string& error);
  bool add_vote(int64_t id, const ApprovalVote& v, std::string& error) override;
  bool transition(int64_t id, ApprovalState from, ApprovalState to, int64_t at, const std::string& by,
                  const std::string& reason, int64_t grant_expires_at, std::string& error) override;
  std::optional<ApprovalRequest> active_grant(const std::string& identity, const std::string& target, int64_t now,
                                              std::string& error) override;

  int schema_version();

 private:
  // recording_checkpoint's writes, inside the caller's transaction.
  bool store_checkpoint(int64_t id, const RecordingSeal& checkpoint, std::string& error);
  // One end row's update and chain entry, inside the caller's transaction.
  bool store_end(const CommandEnd& c, std::string& error);
  SqliteAuditStore(sqlite3* db, std::string writer) : db_(db), writer_(std::move(writer)) {}
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

  // A write and its chain entries commit together or not at all
  // (sqlite_audit_chain.cpp). BEGIN IMMEDIATE: other processes writing the
  // same store (bastionctl) wait, so the chain has one order.
  class Txn {
   public:
    Txn(SqliteAuditStore& s, std::string& error);
    ~Txn();
    explicit operator bool() const { return begun_; }
    bool commit(std::string& error);

   private:
    SqliteAuditStore& s_;
    bool begun_ = false, done_ = false;
  };
  // Appends the current state of TABLE's row KEY to the chain.
  bool chain_row(const char* table, const std::string& key, std::string& error);
  // Whether TABLE's row KEY is as its latest chain entry has it (or neither
  // exists). Before bastiond updates a chained row, and when it reads an
  // approval: an edit made with SQL must not be adopted by bastiond's next
  // entry, nor acted on. A difference is logged ("audit row changed outside
  // bastiond") and set in error.
  bool unchanged_since_chained(const char* table, const std::string& key, std::string& error);
  bool chain_existing_rows(std::string& error);  // once, when migration 8 adds the chain
  bool note_opened_head(std::string& error);
  // force: now, even within a second of the last anchor; closing: also when
  // the head is signed already, marked as a clean close.
  enum class AnchorWhen { throttled, force, closing };
  bool anchor_locked(AnchorWhen when, std::string& error);
  // After a committed write: anchors when a second has passed. Never fails
  // the write (it is chained already); a failure is logged.
  bool anchor_soon();

  sqlite3_stmt* prepared(const char* sql, std::string& error);  // cached per connection
  int64_t last_insert_id() const;
  int changes() const;

  sqlite3* db_;
  std::mutex mu_;
  std::map<std::string, sqlite3_stmt*> cache_;
  std::shared_ptr<const AuditSigner> signer_;
  std::string writer_;
  // Monotonic seconds of the last anchor written, and of the last check for
  // foreign entries. The first own write after an idle second is signed at
  // once (measured from last_signed_), so a kill -9 leaves at most about a
  // second of own entries unsigned.
  double last_signed_ = 0, last_check_ = 0, last_head_logged_ = 0;
  // The chain seqs this process committed since its last anchor (ascending),
  // and those appended in the open transaction: an anchor names every other
  // seq it covers as foreign.
  std::vector<int64_t> own_unanchored_, own_pending_;
  int64_t opened_head_ = 0;  // the chain's head when this process opened the store
};

}  // namespace bastion
