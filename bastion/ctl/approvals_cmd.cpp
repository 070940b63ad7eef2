// bastionctl approvals list|show|approve|deny|revoke: an admin on the bastion
// host decides like an approver (recorded as admin:NAME; four eyes still hold).
#include <pwd.h>
#include <unistd.h>

#include <cstdio>

#include "approvals/approval_commands.h"
#include "audit/sqlite_audit_store.h"
#include "common/display_escape.h"
#include "config/config.h"
#include "targets/target_kind.h"
#include "ctl/commands.h"

namespace bastion {

std::string unix_user() {
  const passwd* pw = getpwuid(getuid());
  return pw ? pw->pw_name : std::to_string(getuid());
}

int ctl_approvals(const std::vector<std::string>& a) {
  std::string config_file, db;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--config" && i + 1 < a.size()) config_file = a[++i];
    else if (a[i] == "--db" && i + 1 < a.size()) db = a[++i];
    else rest.push_back(a[i]);
  }
  std::string err;
  const TargetKinds kinds = builtin_target_kinds();  // outlives cfg, which points into it
  std::shared_ptr<const Config> cfg;
  if (!config_file.empty()) {
    cfg = load_config(config_file, err, kinds, false);
    if (!cfg) return std::fprintf(stderr, "%s\n", display_escape_multiline(err).c_str()), 1;
    if (db.empty()) db = cfg->audit_db_path();
  } else {
    cfg = std::make_shared<Config>();
  }
  if (db.empty() || rest.empty()) {
    std::fprintf(stderr,
                 "usage: bastionctl approvals (--config FILE | --db AUDIT_DB) list | show N | approve N [--comment TEXT]\n"
                 "                          | deny N --reason TEXT | revoke N\n");
    return 2;
  }
  auto store = SqliteAuditStore::open(db, err, "bastionctl approvals (" + unix_user() + ")");
  if (!store) return std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str()), 1;
  ApprovalCommands cmds(*store, *cfg, ApprovalActor{"admin:" + unix_user(), {}, true}, nullptr);
  std::string out;
  // ApprovalCommands escapes what it quotes (display_escape.h): printed as is.
  const int rc = cmds.run("approvals", rest, out, err);
  std::fputs(out.c_str(), stdout);
  std::fputs(err.c_str(), stderr);
  return rc;
}

}  // namespace bastion
