// bastionctl audit sessions|commands|auth: the audit store for auditors, as
// a table with a header row or as one JSON document.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_query.h"
#include "audit/time_bound.h"
#include "common/display_escape.h"
#include "common/parse_number.h"
#include "common/time_util.h"
#include "config/config.h"
#include "ctl/commands.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {

int audit_usage() {
  std::fprintf(stderr,
               "usage: bastionctl audit sessions|commands|auth (--config FILE | --db FILE) [--since T] [--until T]\n"
               "         [--identity ID] [--target T] [--decision D] [--kind K] [--grep TEXT] [--session ID]\n"
               "         [--limit N] [--json]\n"
               "       T: a duration back from now (10m, 2h, 7d) or a UTC time (2026-11-30, 2026-11-30T10:00:00Z)\n");
  return 2;
}

int bad(const std::string& what) {
  std::fprintf(stderr, "bastionctl: %s\n", display_escape(what).c_str());
  return 2;
}

void print_row(const std::vector<std::string>& cells) {
  // Key IDs, target names, addresses, reasons and command text are
  // user-controlled: escaped, so a value can neither add a row (newline),
  // shift a column (tab) nor drive the auditor's terminal.
  std::string row;
  for (std::size_t i = 0; i < cells.size(); ++i) row += (i ? "\t" : "") + display_escape(cells[i]);
  row += '\n';
  std::fwrite(row.data(), 1, row.size(), stdout);
}

void print_header(const std::vector<std::string>& names) {
  std::string row;
  for (std::size_t i = 0; i < names.size(); ++i) row += (i ? "\t" : "") + names[i];
  std::printf("%s\n", row.c_str());
}

std::string opt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : ""; }

std::string exit_text(const CommandRow& c) {
  if (c.exit_status) return std::to_string(*c.exit_status);
  return c.exit_signal.empty() ? "" : "signal " + c.exit_signal;
}

// The approver column: who approved, or who decided otherwise.
std::string approver(const ApprovalRow& a) {
  const std::string by = a.approved_by();
  return by.empty() ? a.decided_by : by;
}

void print_json(const char* key, const nlohmann::json& rows) {
  // Invalid UTF-8 in stored text (a command is bytes) shows as U+FFFD rather
  // than failing the whole document. ensure_ascii: a C1 control or a bidi
  // override in stored text reaches the terminal as \uXXXX, never raw.
  const nlohmann::json doc = {{key, rows}};
  std::printf("%s\n", doc.dump(2, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace

std::string audit_store_path(const std::string& config_file, const std::string& db, std::string& error,
                             std::string* password_file) {
  if (!config_file.empty() && !db.empty()) return error = "give --config or --db, not both", "";
  if (!db.empty()) return db;
  if (config_file.empty()) return error = "the audit store: --config FILE or --db FILE", "";
  // The store bastiond writes: data_dir of the same configuration file.
  const TargetKinds kinds = builtin_target_kinds();
  const auto cfg = load_config(config_file, error, kinds, false);
  if (cfg && password_file) *password_file = cfg->store_password_file;
  return cfg ? cfg->audit_store() : "";
}

int ctl_audit(const std::vector<std::string>& a) {
  if (a.empty()) return audit_usage();
  const std::string what = a[0];
  if (what != "sessions" && what != "commands" && what != "auth")
    return bad("audit: unknown listing \"" + what + "\" (sessions, commands or auth)"), audit_usage();
  std::map<std::string, std::string> opts;
  bool json = false;
  static const char* const kValued[] = {"--config", "--db",   "--since", "--until",   "--identity", "--target",
                                        "--decision", "--kind", "--grep", "--session", "--limit"};
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (a[i] == "--json") {
      json = true;
      continue;
    }
    bool known = false;
    for (const char* k : kValued) known = known || a[i] == k;
    if (!known) return bad("audit " + what + ": unknown option \"" + a[i] + "\""), audit_usage();
    if (i + 1 >= a.size()) return bad("audit " + what + ": " + a[i] + " needs a value");
    if (!opts.emplace(a[i], a[i + 1]).second) return bad("audit " + what + ": " + a[i] + " given twice");
    ++i;
  }
  auto get = [&opts](const char* k) { return opts.count(k) ? opts.at(k) : std::string(); };
  AuditFilter f;
  const int64_t now = unix_now();
  for (const char* k : {"--since", "--until"}) {
    if (!opts.count(k)) continue;
    std::string why;
    const auto t = parse_time_bound(opts.at(k), now, &why);
    if (!t) return bad(std::string(k) + " " + opts.at(k) + ": " + why);
    (std::string(k) == "--since" ? f.since : f.until) = *t;
  }
  if (f.since && f.until && *f.since > *f.until) return bad("--since is after --until");
  f.identity = get("--identity"), f.target = get("--target"), f.decision = get("--decision");
  f.kind = get("--kind"), f.grep = get("--grep"), f.session = get("--session");
  if (opts.count("--limit")) {
    std::string why;
    const auto v = parse_unsigned(opts.at("--limit"), 1, 1000000, &why);
    if (!v) return bad("--limit " + opts.at("--limit") + ": " + why);
    f.limit = static_cast<int>(*v);
  }
  if (what == "auth") {
    if (!f.decision.empty() && f.decision != "accepted" && f.decision != "refused")
      return bad("--decision " + f.decision + ": auth rows are accepted or refused");
    if (!f.kind.empty() || !f.session.empty()) return bad("audit auth: --kind and --session do not apply");
  } else if (!f.decision.empty() && f.decision != "allow" && f.decision != "mask" && f.decision != "review" &&
             f.decision != "deny") {
    return bad("--decision " + f.decision + ": one of allow, mask, review, deny");
  }

  std::string err;
  std::string password_file;
  const std::string db = audit_store_path(get("--config"), get("--db"), err, &password_file);
  if (db.empty()) return std::fprintf(stderr, "bastionctl: %s\n", display_escape_multiline(err).c_str()), 2;
  const auto q = AuditQuery::open(db, err, password_file);
  auto failed = [&db](const std::string& why) {
    std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(db).c_str(), display_escape(why).c_str());
    return 1;
  };
  if (!q) return failed(err);

  if (what == "sessions") {
    const auto rows = q->sessions(f, err);
    if (!rows) return failed(err);
    if (json) return print_json("sessions", *rows), 0;
    print_header({"STARTED", "ENDED", "SESSION", "IDENTITY", "TARGET", "SOURCE", "END_REASON", "EXIT", "COMMANDS"});
    for (const auto& s : *rows)
      print_row({s.started_at, s.ended_at, s.id, s.identity, s.target, s.source_address, s.end_reason,
                 opt(s.exit_status), std::to_string(s.commands)});
  } else if (what == "commands") {
    const auto rows = q->commands(f, err);
    if (!rows) return failed(err);
    if (json) return print_json("commands", *rows), 0;
    print_header({"TIME", "SESSION", "IDENTITY", "TARGET", "KIND", "DECISION", "REASON", "APPROVAL", "APPROVER",
                  "EXIT", "RECORDING", "TEXT"});
    for (const auto& c : *rows)
      print_row({c.at, c.session_id, c.identity, c.target, c.kind, c.decision, c.reason,
                 c.approval ? "#" + std::to_string(c.approval->id) + " " + c.approval->outcome : "",
                 c.approval ? approver(*c.approval) : "", exit_text(c), c.recording, c.text});
  } else {
    const auto rows = q->auth(f, err);
    if (!rows) return failed(err);
    if (json) return print_json("auth", *rows), 0;
    print_header({"TIME", "SOURCE", "USER", "KEY_ID", "SERIAL", "RESULT", "REASON"});
    for (const auto& r : *rows)
      print_row({r.at, r.source_address, r.user, r.key_id, std::to_string(r.serial),
                 r.accepted ? "accepted" : "refused", r.reason});
  }
  return 0;
}

}  // namespace bastion
