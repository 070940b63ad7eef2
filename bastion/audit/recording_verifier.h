// Checks one recording file against its row: the signed final digest (or,
// for a recording left open by a process that died, its last signed
// checkpoint), and says what and where when they differ: every signed
// checkpoint is kept, so an edit is placed between two of them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <vector>

#include "audit/audit_seal.h"
#include "recorder/recording_chain.h"

namespace bastion {

class AuditVerifier;

struct RecordingRecord {
  int64_t id = 0;
  std::string session_id;
  int channel = 0;
  std::string path;
  std::string state;  // open | closed | interrupted | pruned
  RecordingSeal final_seal;  // closed: events, bytes, digest, tail, signature
  std::vector<RecordingSeal> checkpoints;  // every signed checkpoint, by events ascending
  std::string pruned_at, pruned_by;
};

struct RecordingVerdict {
  bool ok = false;
  std::string what;  // "OK (...)" or the problem, with where
};

// An interrupted recording's unverifiable tail is accepted when it spans at
// most this much recording time (a checkpoint interval of 1 s, and slack).
inline constexpr double kInterruptedTailSeconds = 2.0;

// The chain states a file is compared with: the checkpoints, then the final
// digest (closed recordings). Scan the file with these (recorder::ChainScanner).
std::vector<recorder::ChainState> recording_points(const RecordingRecord& r);

// `scan` is the file scanned with recording_points(r), or null when the
// file does not exist.
RecordingVerdict verify_recording(const RecordingRecord& r, const recorder::ChainScan* scan, const AuditVerifier& key);

// A pruned recording's prune against the retention: pruned_at must be at
// least the session's ended_at plus `retention` (seconds; 0: none
// configured, so no prune is legitimate). nullopt retention (verify --db,
// no config): the prune's age after the session's end, as a note. A prune
// dated after `now` (Unix seconds; a minute of clock slack) fails: a
// future date would satisfy any retention.
RecordingVerdict judge_prune(const RecordingRecord& r, const std::string& session_ended_at,
                             std::optional<int64_t> retention, int64_t now);

// The same over the file's bytes (nullopt: no file).
RecordingVerdict verify_recording(const RecordingRecord& r, const std::optional<std::string>& file,
                                  const AuditVerifier& key);

}  // namespace bastion
