// Where sessions, commands and authentication decisions are recorded.
// An interface so a PostgreSQL backend can sit beside the SQLite one.
// Every call returns false on failure; callers treat that as fail-closed.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_seal.h"
#include "ca/issued_cert.h"

namespace bastion {

// commands.recording_state of a channel on a target with `recording = "off"`
// (its recording column stays empty: there is no file to name).
inline constexpr const char* kRecordingOffByConfig = "off (by configuration)";

struct SessionStart {
  std::string id;
  std::string identity;  // certificate key ID
  std::vector<std::string> principals;
  uint64_t cert_serial = 0;
  std::string key_id;
  std::string ca_fingerprint;
  std::string source_address;
  std::string target;
  std::string started_at;
};

struct SessionEnd {
  std::string id;
  std::string ended_at;
  std::string end_reason;
  std::optional<int> exit_status;
  uint64_t bytes_in = 0;   // client -> target
  uint64_t bytes_out = 0;  // target -> client
  // The target the session ended on, when it was chosen after login (the
  // `ssh -t bastion` picker); empty keeps the login name's target.
  std::string target;
};

struct CommandStart {
  std::string session_id;
  int channel = 0;
  std::string at;
  std::string kind;  // exec | shell | subsystem | session | forward, or a command kind a target kind parses
  std::string text;
  std::string decision;  // allow | mask | review | deny
  std::string reason;
  std::string recording;  // path, may be empty
  std::string policy_hash;    // sha256 of the deciding policy file
  std::string policy_hook;    // on_session | on_command | default
  std::string policy_source;  // file:line that returned the decision
  std::string details;        // JSON: what the command source parsed (CommandFacts::audit_details)
};

// A recording checkpoint stored with a channel's batched end rows: one
// transaction instead of two.
struct RecordingCheckpoint {
  int64_t recording_id = 0;
  RecordingSeal seal;
};

struct CommandEnd {
  int64_t command_id = 0;
  std::string ended_at;
  std::optional<int> exit_status;
  std::string exit_signal;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::string recording_state;  // complete | capped | failed | unrecorded | kRecordingOffByConfig | ...
  // Statements (SQL): rows returned or affected, time taken, the error
  // ("SQLSTATE: message") and the result columns that were masked.
  std::optional<int64_t> rows;
  std::optional<int64_t> duration_us;
  std::string error;
  std::string masked_columns;
};

struct AuthEvent {
  std::string at;
  std::string source_address;
  std::string user;  // requested target name
  std::string key_id;
  uint64_t serial = 0;
  std::string ca_fingerprint;
  bool accepted = false;
  std::string reason;
};

// One recording file (one channel's asciicast) and what it should hold.
struct RecordingOpened {
  std::string session_id;
  int channel = 0;
  std::string path;
  std::string opened_at;
  RecordingSeal start;  // the header line's chain state (unsigned)
};

// A recording row as stored (for retention and bastionctl).
struct RecordingRow {
  int64_t id = 0;
  std::string session_id;
  int channel = 0;
  std::string path;
  std::string state;  // open | closed | interrupted | pruned
};

// Where a recording lives once it is no longer written (recording_locations):
// "local" (recordings_dir only), "uploading" (an upload was started; the
// local file is still there), "stored" (the bucket acknowledged it, the local
// file is removed). No row reads as "local".
struct RecordingShipment {
  int64_t id = 0;
  std::string session_id;
  int channel = 0;
  std::string path;
  std::string state;     // the recording's: open | closed | interrupted
  std::string location;  // local | uploading | stored
  std::string object_key;
};

class AuditStore : public IssuedCertLedger {
 public:
  virtual ~AuditStore() = default;
  virtual bool session_started(const SessionStart& s, std::string& error) = 0;
  virtual bool session_ended(const SessionEnd& s, std::string& error) = 0;
  // The target picker chose `target` for a session that named none: its
  // row names where it runs from now on (not only once it ends). False when
  // it was not written (no such running session, or the store failed).
  virtual bool session_retargeted(const std::string& id, const std::string& target, std::string& error) = 0;
  // Sets `id` to the new row's id.
  virtual bool command_started(const CommandStart& c, int64_t& id, std::string& error) = 0;
  // Every end row and, with `checkpoint`, that recording checkpoint in one
  // transaction: all or nothing.
  virtual bool commands_ended(const std::vector<CommandEnd>& ends, const RecordingCheckpoint* checkpoint,
                              std::string& error) = 0;
  bool command_ended(const CommandEnd& c, std::string& error) { return commands_ended({c}, nullptr, error); }
  virtual bool auth_event(const AuthEvent& e, std::string& error) = 0;
  // cert_issued: from IssuedCertLedger.
  // Brings the command search index up to date, a bounded batch per call
  // (bastiond calls it about once a second). A store without one: nothing.
  virtual bool index_pending(std::string& /*error*/) { return true; }

  // Recordings (tamper evidence). The row is written when the file opens
  // (state open), its last checkpoint replaced while it is written, and
  // closed with the signed final digest; pruning keeps the row.
  virtual bool recording_opened(const RecordingOpened& r, int64_t& id, std::string& error) = 0;
  virtual bool recording_checkpoint(int64_t id, const RecordingSeal& checkpoint, std::string& error) = 0;
  virtual bool recording_closed(int64_t id, int64_t command_id, const RecordingSeal& final_seal,
                                std::string& error) = 0;
  virtual bool recording_pruned(int64_t id, const std::string& at, const std::string& by, std::string& error) = 0;
  // Rows a previous process left open (and their sessions) become
  // interrupted; returns how many recordings, or -1.
  virtual int mark_interrupted(const std::string& at, std::string& error) = 0;
  // Closed or interrupted recordings of sessions that ended before `cutoff` (ISO 8601).
  virtual std::vector<RecordingRow> recordings_ended_before(const std::string& cutoff, std::string& error) = 0;
  // Shipping recordings off the host (recordings_store). A store that does
  // not keep locations refuses, and recordings stay local.
  // Records where recording `id` lives (chained like every row).
  virtual bool recording_location(int64_t /*id*/, const std::string& /*location*/, const std::string& /*object_key*/,
                                  std::string& error) {
    return error = "this audit store does not keep recording locations", false;
  }
  // Closed and interrupted recordings with id > `after` not stored yet, by
  // id, at most `limit`; `upto`: the highest id below which no recording
  // is open (still written) at the time of the read.
  virtual std::vector<RecordingShipment> recordings_to_ship(int64_t /*after*/, int /*limit*/, int64_t& /*upto*/,
                                                            std::string& error) {
    error = "this audit store does not keep recording locations";
    return {};
  }
  // Recordings still being written (state open), by id, at most `limit`:
  // a long one is shipped in parts while it grows.
  virtual std::vector<RecordingShipment> recordings_open(int /*limit*/, std::string& error) {
    error = "this audit store does not keep recording locations";
    return {};
  }
  // Signs the audit chain's head when entries were appended since the last
  // anchor and `force` or a second has passed since it.
  virtual bool anchor_chain(bool force, std::string& error) = 0;
};

}  // namespace bastion
