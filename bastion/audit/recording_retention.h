// Retention: recordings of sessions that ended more than `retention` ago are
// deleted and their rows marked pruned (who, when), which the audit chain
// records, so `bastionctl verify` reports them as pruned and still passes.
// Only a file under recordings_dir in the session's own name pattern is
// deleted, beneath a handle of that directory with no symlink followed: the
// row's path is data whoever can write the store chooses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "audit/audit_store.h"

namespace bastion {

struct PruneReport {
  std::vector<std::string> pruned;  // paths deleted (or that would be, dry run)
  std::vector<std::string> errors;  // "PATH: why"; those rows stay as they were
};

// Deletes the recording at `stored_path` of `session_id` the same way (its
// name pattern, beneath recordings_dir, no symlink): the shipper removes the
// local copy of a recording the recordings_store acknowledged.
bool remove_recording_file(const std::string& recordings_dir, const std::string& session_id,
                           const std::string& stored_path, std::string& why);

PruneReport prune_recordings(AuditStore& store, const std::string& recordings_dir, int64_t retention_seconds,
                             int64_t now, const std::string& by, bool dry_run);

}  // namespace bastion
