// Retention: recordings of sessions that ended more than `retention` ago are
// deleted and their rows marked pruned (who, when), which the audit chain
// records, so `bastionctl verify` reports them as pruned and still passes.
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

PruneReport prune_recordings(AuditStore& store, int64_t retention_seconds, int64_t now, const std::string& by,
                             bool dry_run);

}  // namespace bastion
