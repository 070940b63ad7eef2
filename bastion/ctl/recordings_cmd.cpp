// bastionctl recordings prune: deletes recordings past the configured
// retention (as bastiond does daily) and records each deletion in the audit
// store, so verify reports them as pruned and still passes.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_signer.h"
#include "audit/recording_retention.h"
#include "audit/audit_store_open.h"
#include "common/display_escape.h"
#include "common/time_util.h"
#include "config/config.h"
#include "ctl/commands.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {

int usage() {
  std::fprintf(stderr,
               "usage: bastionctl recordings prune (--config FILE | --db FILE --retention DURATION) [--dry-run] [--json]\n");
  return 2;
}

}  // namespace

int ctl_recordings(const std::vector<std::string>& a) {
  if (a.empty() || a[0] != "prune") return usage();
  std::string config_file, db, retention_text;
  bool dry_run = false, json = false;
  for (std::size_t i = 1; i < a.size(); ++i) {
    if ((a[i] == "--config" || a[i] == "--db" || a[i] == "--retention") && i + 1 < a.size()) {
      (a[i] == "--config" ? config_file : a[i] == "--db" ? db : retention_text) = a[i + 1];
      ++i;
    } else if (a[i] == "--dry-run") dry_run = true;
    else if (a[i] == "--json") json = true;
    else return usage();
  }
  if (config_file.empty() == db.empty()) return usage();
  std::string err, recordings_dir, password_file;
  int64_t retention = 0;
  if (!config_file.empty()) {
    const TargetKinds kinds = builtin_target_kinds();
    const auto cfg = load_config(config_file, err, kinds, false);
    if (!cfg) return std::fprintf(stderr, "%s\n", display_escape_multiline(err).c_str()), 1;
    db = cfg->audit_store();
    password_file = cfg->store_password_file;
    retention = cfg->retention;
    recordings_dir = cfg->recordings_dir();
  } else {
    // DATA_DIR holds audit.db and recordings/ side by side.
    const auto slash = db.rfind('/');
    recordings_dir = (slash == std::string::npos ? std::string(".") : db.substr(0, slash)) + "/recordings";
  }
  if (!retention_text.empty()) {
    retention = parse_duration(retention_text);
    if (retention <= 0)
      return std::fprintf(stderr, "bastionctl: --retention %s: expected a duration such as 90d\n",
                          display_escape(retention_text).c_str()),
             2;
  }
  if (retention <= 0)
    return std::fprintf(stderr, "bastionctl: no retention configured: recordings are kept forever\n"), 1;
  // Only bastiond signs the chain: its anchors name what it did not write
  // (this prune among them), which verify shows as a note. bastionctl
  // signing too would make bastiond's own entries foreign to its anchor.
  auto store = open_audit_store(db, password_file, "bastionctl recordings prune (" + unix_user() + ")", err);
  if (!store) return std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str()), 1;
  const PruneReport r = prune_recordings(*store, recordings_dir, retention, unix_now(), "bastionctl (" + unix_user() + ")", dry_run);
  store.reset();
  if (json) {
    const nlohmann::json out{{"dry_run", dry_run}, {"pruned", r.pruned}, {"errors", r.errors}};
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return r.errors.empty() ? 0 : 1;
  }
  for (const auto& p : r.pruned) std::printf("%s%s\n", dry_run ? "would prune " : "pruned ", display_escape(p).c_str());
  for (const auto& e : r.errors) std::fprintf(stderr, "bastionctl: cannot prune %s\n", display_escape(e).c_str());
  std::printf("%zu recording(s) %s\n", r.pruned.size(), dry_run ? "past retention" : "pruned");
  return r.errors.empty() ? 0 : 1;
}

}  // namespace bastion
