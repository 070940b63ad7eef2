// Read-only questions auditors ask of the audit store (bastionctl audit,
// bastionctl session show, the web API): who ran what, where, when, how it
// was decided and how a review ended. All SQL reading the store for auditors
// lives here; callers get plain rows and print or serialise them.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "audit/audit_source.h"

namespace bastion {

// Empty strings and unset bounds do not filter.
struct AuditFilter {
  std::optional<int64_t> since;  // unix seconds, inclusive
  std::optional<int64_t> until;  // unix seconds, inclusive (to the second)
  std::string identity;          // sessions/commands: certificate key ID; auth: key ID
  std::string target;            // sessions/commands: target; auth: the user name asked for
  std::string decision;          // commands: allow|mask|review|deny; sessions: has such a command;
                                 // auth: accepted|refused
  std::string kind;              // commands: exec|shell|...; sessions: has such a command
  std::string grep;              // command text contains, case-insensitively; auth: reason contains
  std::string session;           // session id
  int limit = 50;                // newest first
};

struct SessionRow {
  std::string id, identity, principals, key_id, ca_fingerprint, source_address, target;
  uint64_t cert_serial = 0;
  std::string started_at, ended_at, end_reason;  // ISO 8601 UTC; ended_at empty while live
  std::optional<int64_t> exit_status;
  int64_t bytes_in = 0, bytes_out = 0;
  std::string recording_path;  // comma-separated, as the store keeps it
  int64_t commands = 0;        // rows in commands
};

struct VoteRow {
  std::string approver, decision, comment;
  int64_t at = 0;
};

// The review a command was held for.
struct ApprovalRow {
  int64_t id = 0;
  std::string state;    // as stored: pending|approved|denied|expired|cancelled|used|revoked
  std::string outcome;  // how the review ended: as state, but "used" (approved, then run) reads approved,
                        // and a pending request past its deadline reads expired
  std::string reason, approvers, deny_reason, decided_by;
  int min_approvals = 1;
  int64_t created_at = 0, expires_at = 0, decided_at = 0;
  std::vector<VoteRow> votes;
  // Who approved (votes "approve"), comma-separated; empty if nobody did.
  std::string approved_by() const;
};

struct CommandRow {
  int64_t id = 0;
  std::string session_id;
  int64_t channel = 0;
  std::string at, identity, target, source_address, kind, text, decision, reason;
  std::string policy_hash, policy_hook, policy_source;
  std::string recording, recording_state, ended_at, exit_signal, error, masked_columns, details;
  std::optional<int64_t> exit_status, rows, duration_us;
  int64_t bytes_in = 0, bytes_out = 0;
  std::optional<ApprovalRow> approval;  // set for a held (review) command and its approved row
};

struct AuthRow {
  int64_t id = 0;
  std::string at, source_address, user, key_id, ca_fingerprint, reason;
  uint64_t serial = 0;
  bool accepted = false;
};

// A recording of the session: from commands.recording; if the store has a
// `recordings` table (integrity data), its columns for that path too.
struct SessionRecording {
  std::string path, state;
  int64_t command_id = 0;
  std::map<std::string, std::string> integrity;  // column -> value (text), empty without the table
};

struct SessionDetail {
  SessionRow session;
  std::vector<CommandRow> commands;  // in order
  std::vector<SessionRecording> recordings;
};

class AuditQuery {
 public:
  // Opens `path` (a SQLite file, or a postgresql:// store with its password
  // file) read-only: never creates or migrates it.
  static std::unique_ptr<AuditQuery> open(const std::string& path, std::string& error,
                                          const std::string& password_file = "");

  // Newest first, at most filter.limit. nullopt + error on failure.
  std::optional<std::vector<SessionRow>> sessions(const AuditFilter& f, std::string& error);
  std::optional<std::vector<CommandRow>> commands(const AuditFilter& f, std::string& error);
  std::optional<std::vector<AuthRow>> auth(const AuditFilter& f, std::string& error);
  // nullopt + empty error: no such session.
  std::optional<SessionDetail> session_detail(const std::string& id, std::string& error);

  // Whether --grep uses the full-text index (false: an older store, or a
  // pattern shorter than a trigram, scanned with LIKE).
  bool full_text(const std::string& grep) const;

 private:
  explicit AuditQuery(std::unique_ptr<AuditSource> src);
  std::optional<ApprovalRow> approval_for(const CommandRow& c, std::string& error);
  std::unique_ptr<AuditSource> src_;
  bool has_fts_ = false;
  bool has_recordings_ = false;
  bool has_locations_ = false;
};

void to_json(nlohmann::json& j, const SessionRow& r);
void to_json(nlohmann::json& j, const VoteRow& r);
void to_json(nlohmann::json& j, const ApprovalRow& r);
void to_json(nlohmann::json& j, const CommandRow& r);
void to_json(nlohmann::json& j, const AuthRow& r);
void to_json(nlohmann::json& j, const SessionRecording& r);
void to_json(nlohmann::json& j, const SessionDetail& r);

}  // namespace bastion
