// bastionctl approvals list|show|approve|deny|revoke: an admin on the bastion
// host decides like an approver (recorded as admin:NAME; four eyes still hold).
#include <pwd.h>
#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "approvals/approval.h"
#include "approvals/approval_commands.h"
#include "audit/audit_store_open.h"
#include "common/display_escape.h"
#include "config/config.h"
#include "targets/target_kind.h"
#include "common/time_util.h"
#include "ctl/commands.h"

namespace bastion {
namespace {

// `approvals list --json`: the requests the text listing shows (pending,
// and this admin may decide them), one JSON document; strings as stored
// (JSON escapes them), times in unix seconds and ISO 8601.
int list_json(ApprovalStore& store, const std::string& admin) {
  std::string err;
  const int64_t now = unix_now();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : store.requests("", err)) {
    if (effective_state(r, now) != ApprovalState::pending) continue;
    if (!vote_refusal(r, admin, {}, true, now).empty()) continue;
    nlohmann::json votes = nlohmann::json::array();
    for (const auto& v : r.votes)
      votes.push_back({{"approver", v.approver}, {"decision", v.decision}, {"comment", v.comment}, {"at", v.at}});
    out.push_back({{"id", r.id},
                   {"kind", r.kind},
                   {"requester", r.requester},
                   {"target", r.target},
                   {"session", r.session_id},
                   {"command_kind", r.command_kind},
                   {"command", r.command_text},
                   {"reason", r.reason},
                   {"approvers", r.approvers},
                   {"min_approvals", r.min_approvals},
                   {"votes", votes},
                   {"created_at", iso8601(r.created_at)},
                   {"expires_at", iso8601(r.expires_at)}});
  }
  if (!err.empty())
    return std::fprintf(stderr, "bastionctl: the approval store is unavailable: %s\n", display_escape(err).c_str()), 1;
  std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace

std::string unix_user() {
  const passwd* pw = getpwuid(getuid());
  return pw ? pw->pw_name : std::to_string(getuid());
}

int ctl_approvals(const std::vector<std::string>& a) {
  std::string config_file, db, password_file;
  std::vector<std::string> rest;
  bool json = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--json") json = true;
    else if (a[i] == "--config" && i + 1 < a.size()) config_file = a[++i];
    else if (a[i] == "--db" && i + 1 < a.size()) db = a[++i];
    else rest.push_back(a[i]);
  }
  std::string err;
  const TargetKinds kinds = builtin_target_kinds();  // outlives cfg, which points into it
  std::shared_ptr<const Config> cfg;
  if (!config_file.empty()) {
    cfg = load_config(config_file, err, kinds, false);
    if (!cfg) return std::fprintf(stderr, "%s\n", display_escape_multiline(err).c_str()), 1;
    if (db.empty()) db = cfg->audit_store(), password_file = cfg->store_password_file;
  } else {
    cfg = std::make_shared<Config>();
  }
  if (db.empty() || rest.empty()) {
    std::fprintf(stderr,
                 "usage: bastionctl approvals (--config FILE | --db AUDIT_DB) list | show N | approve N [--comment TEXT]\n"
                 "                          | deny N --reason TEXT | revoke N\n");
    return 2;
  }
  auto store = open_audit_store(db, password_file, "bastionctl approvals (" + unix_user() + ")", err);
  if (!store) return std::fprintf(stderr, "bastionctl: %s\n", display_escape(err).c_str()), 1;
  if (json) {
    if (rest.size() != 1 || rest[0] != "list")
      return std::fprintf(stderr, "bastionctl: approvals: --json goes with list\n"), 2;
    return list_json(*store, "admin:" + unix_user());
  }
  ApprovalCommands cmds(*store, *cfg, ApprovalActor{"admin:" + unix_user(), {}, true}, nullptr);
  std::string out;
  // ApprovalCommands escapes what it quotes (display_escape.h): printed as is.
  const int rc = cmds.run("approvals", rest, out, err);
  std::fputs(out.c_str(), stdout);
  std::fputs(err.c_str(), stderr);
  return rc;
}

}  // namespace bastion
