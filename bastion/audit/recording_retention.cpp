#include "audit/recording_retention.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/time_util.h"

namespace bastion {

PruneReport prune_recordings(AuditStore& store, int64_t retention_seconds, int64_t now, const std::string& by,
                             bool dry_run) {
  PruneReport report;
  if (retention_seconds <= 0) return report;
  std::string error;
  const auto rows = store.recordings_ended_before(iso8601(now - retention_seconds), error);
  if (!error.empty()) {
    report.errors.push_back("audit store: " + error);
    return report;
  }
  for (const auto& r : rows) {
    if (dry_run) {
      report.pruned.push_back(r.path);
      continue;
    }
    // The file goes first: a row marked pruned over a file still there
    // would hide that file from verification.
    if (::unlink(r.path.c_str()) != 0 && errno != ENOENT) {
      report.errors.push_back(r.path + ": " + std::strerror(errno));
      continue;
    }
    if (!store.recording_pruned(r.id, iso8601(now), by, error)) {
      report.errors.push_back(r.path + ": audit store: " + error);
      continue;
    }
    report.pruned.push_back(r.path);
  }
  return report;
}

}  // namespace bastion
