// What the SQLite and PostgreSQL audit stores share: every write and read
// of the audit, approvals and recordings, and the audit chain, written once
// over a few primitives (run a statement, insert returning an id, read a
// row's canonical JSON, begin a transaction that serialises chain appends).
// One connection serialised by a mutex; every write appends the rows it
// wrote to the audit chain in the same transaction (audit_chain.h); with a
// signer, the chain's head is signed at most once a second and at close.
// SQL is written once with `?` / `?N` placeholders (SQLite's), which the
// PostgreSQL backend renumbers as $N.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "approvals/approval_store.h"
#include "audit/audit_store.h"
#include "audit/policy_signature.h"
#include "policy/policy_store.h"

namespace bastion {

class AuditSigner;

// A bound parameter: NULL, an integer or text.
using SqlParam = std::variant<std::nullptr_t, int64_t, std::string>;
using SqlRows = std::vector<std::vector<std::string>>;

class SqlAuditStore : public AuditStore, public ApprovalStore, public PolicyStoreReader {
 public:
  ~SqlAuditStore() override = default;
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

  // Recordings (sql_recordings.cpp)
  bool recording_opened(const RecordingOpened& r, int64_t& id, std::string& error) override;
  bool recording_checkpoint(int64_t id, const RecordingSeal& checkpoint, std::string& error) override;
  bool recording_closed(int64_t id, int64_t command_id, const RecordingSeal& final_seal, std::string& error) override;
  bool recording_pruned(int64_t id, const std::string& at, const std::string& by, std::string& error) override;
  int mark_interrupted(const std::string& at, std::string& error) override;
  std::vector<RecordingRow> recordings_ended_before(const std::string& cutoff, std::string& error) override;
  bool recording_location(int64_t id, const std::string& location, const std::string& object_key,
                          std::string& error) override;
  std::vector<RecordingShipment> recordings_to_ship(int64_t after, int limit, int64_t& upto,
                                                    std::string& error) override;
  std::vector<RecordingShipment> recordings_open(int limit, std::string& error) override;
  bool anchor_chain(bool force, std::string& error) override;

  // Several instances on one store (PostgreSQL): each registers, beats
  // every `interval` seconds, and ends the sessions of instances that went
  // silent, so the audit never shows a dead instance's session as live.
  // A single-host store has nothing to do (bastiond's start-up
  // mark_interrupted covers it).
  virtual bool register_instance(const std::string& /*host*/, int64_t /*interval*/, std::string& /*error*/) {
    return true;
  }
  // declared_stopped: another instance found this one silent too long (a
  // stall or a partition) and marked its sessions interrupted.
  enum class Beat { ok, failed, declared_stopped };
  // The id this instance registered under ("" on a single-host store).
  virtual std::string instance_id() { return ""; }
  virtual Beat heartbeat(std::string& /*error*/) { return Beat::ok; }
  // Instances silent for `missed` of their intervals: their live sessions
  // and open recordings become interrupted and the instance stopped.
  // Returns how many instances, or -1.
  virtual int interrupt_silent_instances(const std::string& /*at*/, int /*missed*/, std::string& /*error*/) {
    return 0;
  }
  // A clean stop: this instance's row says so.
  virtual bool instance_stopped(const std::string& /*at*/, std::string& /*error*/) { return true; }
  // Where this instance's recordings are (its recordings_dir): on a shared
  // store it also ships those a stopped instance of this host left there.
  virtual void ships_from(const std::string& /*recordings_dir*/) {}

  // The policy store (sql_policy_store.cpp, policy/policy_store.h): every
  // version and activation is a chained row, and a change is announced to
  // the other instances (announce_policy).
  bool active_policy(const std::string& name, const std::vector<std::string>& signers, StoredPolicy& out,
                     std::string& error) override;
  bool active_versions(const std::vector<std::string>& names, std::vector<int64_t>& out, std::string& error) override;
  // Stores p's text, modules and note as the next version of p.name, pushed
  // by `by`, and makes it active; `key` signs both rows (policy_signature.h).
  // When the active version already holds the same text and modules nothing
  // is written: `unchanged`, and `version` is the active one.
  bool push_policy(const StoredPolicy& p, const std::string& by, const AuditSigner& key, int64_t& version,
                   bool& unchanged, std::string& error);
  // Makes stored version `version` of `name` the active one again (a new
  // activation, by `by`, signed by `key`); `unchanged` when it already is.
  bool activate_policy(const std::string& name, int64_t version, const std::string& by, const AuditSigner& key,
                       bool& unchanged, std::string& error);
  // Every version of `name` (every name when empty), by name and version.
  bool policy_versions(const std::string& name, std::vector<StoredPolicyVersion>& out, std::string& error);
  // Every change of the active version of `name`, oldest first.
  bool policy_activations(const std::string& name, std::vector<PolicyActivation>& out, std::string& error);
  // The newest activation id active_policy has returned per name, and a
  // floor for it from before this process (activation_watermark.h): an
  // older activation newest again is refused.
  std::map<std::string, int64_t> activations_seen();
  void prime_activations(const std::map<std::string, int64_t>& seen);
  // Version `version` of `name` with its text (0: the active one); found=false when there is none.
  bool read_policy(const std::string& name, int64_t version, StoredPolicy& out, bool& found, std::string& error);

  // ApprovalStore (sql_approval_store.cpp)
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

 protected:
  explicit SqlAuditStore(std::string writer) : writer_(std::move(writer)) {}
  // Backend primitives. Each runs one statement on the store's connection.
  virtual bool execute(const char* sql, std::initializer_list<SqlParam> params, std::string& error) = 0;
  // Like execute, collecting every row as text (NULL reads as "").
  virtual bool query(const char* sql, std::initializer_list<SqlParam> params, SqlRows& rows, std::string& error) = 0;
  // An INSERT into a table with an `id` key; sets `id` to the new row's.
  virtual bool insert(const char* sql, std::initializer_list<SqlParam> params, int64_t& id, std::string& error) = 0;
  // Rows the last execute changed.
  virtual int changes() const = 0;
  // The canonical JSON of the row `select_one` (one text parameter) finds;
  // found=false when there is none.
  virtual bool read_row_json(const char* table, const std::string& key, bool& found, std::string& json,
                             std::string& error) = 0;
  // Starts a write transaction that holds the store's chain lock until it
  // ends: every writer (another process, another bastiond) appends after it.
  virtual bool begin(std::string& error) = 0;
  // The SQL of session_ended (the recordings list is an aggregate whose
  // spelling differs).
  virtual const char* session_end_sql() const = 0;
  // One row counting how many of the stored-policy tables (policy_versions,
  // policy_activations, policy_signatures, audit_chain) are plain tables: a
  // view (or, on PostgreSQL, row-level security) could show this process
  // other rows than every other reader sees.
  virtual const char* plain_policy_tables_sql() const = 0;
  // Inside a write transaction that changed an approval request or vote:
  // tells other instances sharing the store (PostgreSQL NOTIFY, sent at
  // commit). A store only one process writes has nobody to tell.
  virtual bool announce_approvals(std::string& /*error*/) { return true; }
  // Inside a write transaction that changed the active version of a stored
  // policy: tells the other instances (PostgreSQL NOTIFY at commit), which
  // reload. One process alone finds the change by polling.
  virtual bool announce_policy(const std::string& /*name*/, std::string& /*error*/) { return true; }
  // Inside session_started's transaction: which instance runs the session.
  virtual bool note_session_instance(const std::string& /*session_id*/, std::string& /*error*/) { return true; }
  // Several bastiond write the store at once (PostgreSQL): each write
  // transaction signs its own entries before it commits, while it holds the
  // chain lock. Otherwise another instance's anchor, taken in between, would
  // name them foreign (not its own), and verify could not tell them from an
  // entry appended with SQL; a kill -9 leaves nothing of it unsigned either.
  // One process writing (SQLite) signs about once a second.
  virtual bool signs_every_write() const { return false; }
  // This instance's recordings (the shipper's lists) on a store several
  // instances share: a condition on `r` (recordings) to AND. Empty: every
  // recording is this process's.
  virtual std::string own_recordings_condition() const { return ""; }

  // Inside a write transaction: the open recordings and live sessions the
  // two queries select (each with `param` as its one parameter, unless
  // empty) become interrupted, chained; returns how many recordings, or -1.
  int interrupt_locked(const std::string& at, const char* recordings_sql, const char* sessions_sql,
                       const std::string& param, const std::string& reason, std::string& error);
  static constexpr const char* kInterruptedReason = "interrupted (bastiond stopped without closing it)";

  // Called by the backend once connected (the head when this process opened the store).
  bool note_opened_head(std::string& error);
  // The backend's destructor calls it first: signs the last anchor as a clean close.
  void anchor_at_close();

  // A write and its chain entries commit together or not at all
  // (sql_audit_chain.cpp).
  class Txn {
   public:
    Txn(SqlAuditStore& s, std::string& error);
    ~Txn();
    explicit operator bool() const { return begun_; }
    bool commit(std::string& error);

   private:
    SqlAuditStore& s_;
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

  std::mutex mu_;

 private:
  // recording_checkpoint's writes, inside the caller's transaction.
  bool store_checkpoint(int64_t id, const RecordingSeal& checkpoint, std::string& error);
  // One end row's update and chain entry, inside the caller's transaction.
  bool store_end(const CommandEnd& c, std::string& error);
  // The active version of `name` (0: none), inside the caller's lock.
  bool active_version_locked(const std::string& name, int64_t& version, std::string& error);
  bool read_policy_locked(const std::string& name, int64_t version, StoredPolicy& out, bool& found,
                          std::string& error);
  // Appends an activation row (chained), signed by `key`, and announces it.
  bool activate_locked(const std::string& name, int64_t version, const char* action, const std::string& by,
                       const AuditSigner& key, std::string& error);
  // A policy row's signature: stored (policy_signatures), and read back
  // (nullopt when the row has none).
  bool sign_policy_row(const char* table, int64_t id, const std::string& text, const AuditSigner& key,
                       std::string& error);
  bool policy_row_signature(const char* table, const std::string& id, std::optional<PolicySignature>& out,
                            std::string& error);
  // Every activation row with its signature, by id.
  bool read_activations_locked(std::vector<ActivationRow>& out, std::string& error);
  // False + error unless the stored-policy tables are plain tables.
  bool policy_tables_plain_locked(std::string& error);
  std::vector<ApprovalRequest> load_requests(const char* where, std::initializer_list<SqlParam> params,
                                             std::string& error);
  // force: now, even within a second of the last anchor; closing: also when
  // the head is signed already, marked as a clean close.
  enum class AnchorWhen { throttled, force, closing };
  bool anchor_locked(AnchorWhen when, std::string& error);
  // What an anchor signed: the head, when, and whether at a clean close.
  struct SignedHead {
    int64_t seq = 0;
    std::string hash, at;
    bool clean_close = false;
  };
  // Inside an open transaction: signs the head unless it is signed already
  // (closing: signs again, as a clean close). `signed_head` is set when an
  // anchor was written; anchored() takes it once the transaction commits.
  bool write_anchor(bool closing, std::optional<SignedHead>& signed_head, std::string& error);
  void anchored(const SignedHead& h);

 protected:
  // After a committed write: anchors when a second has passed. Never fails
  // the write (it is chained already); a failure is logged.
  bool anchor_soon();

 private:

  std::shared_ptr<const AuditSigner> signer_;
  std::string writer_;
  // Per policy name, the newest activation id active_policy returned.
  // Activations only grow (a rollback is a new row): an older one newest
  // again means rows were deleted, with their chain entries or without.
  std::map<std::string, int64_t> newest_activation_;
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
