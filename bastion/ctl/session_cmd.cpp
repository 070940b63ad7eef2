// bastionctl session show ID: one session for an auditor: who, from where,
// to what, every command with how it was decided (and reviewed), how it
// ended, and its recordings.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_query.h"
#include "audit/audit_store.h"
#include "common/display_escape.h"
#include "common/time_util.h"
#include "ctl/commands.h"

namespace bastion {
namespace {

int session_usage() {
  std::fprintf(stderr, "usage: bastionctl session show ID (--config FILE | --db FILE) [--json]\n");
  return 2;
}

// Every value is user-controlled or stored text: escaped (display_escape.h).
std::string e(const std::string& s) { return display_escape(s); }

void line(const std::string& text) { std::printf("%s\n", text.c_str()); }

std::string when(int64_t t) { return t ? iso8601(t) : "-"; }

void print_approval(const ApprovalRow& a) {
  std::string head = "  review: request #" + std::to_string(a.id) + " " + a.outcome;
  if (!a.decided_by.empty()) head += " by " + e(a.decided_by);
  if (a.decided_at) head += " at " + when(a.decided_at);
  head += " (approvers " + e(a.approvers) + ", " + std::to_string(a.min_approvals) + " needed, asked " +
          when(a.created_at) + ", expires " + when(a.expires_at) + ")";
  line(head);
  if (!a.deny_reason.empty()) line("    reason: " + e(a.deny_reason));
  for (const auto& v : a.votes)
    line("    vote: " + e(v.approver) + " " + e(v.decision) + " at " + when(v.at) +
         (v.comment.empty() ? "" : ": " + e(v.comment)));
}

void print_detail(const SessionDetail& d) {
  const SessionRow& s = d.session;
  line("session: " + e(s.id));
  line("identity: " + e(s.identity));
  line("principals: " + e(s.principals));
  line("certificate: serial " + std::to_string(s.cert_serial) + ", key ID " + e(s.key_id) + ", CA " +
       e(s.ca_fingerprint));
  line("source: " + e(s.source_address));
  line("target: " + e(s.target));
  line("started: " + e(s.started_at));
  line("ended: " + (s.ended_at.empty() ? std::string("- (still open)") : e(s.ended_at) + " (" + e(s.end_reason) + ")"));
  line("exit: " + (s.exit_status ? std::to_string(*s.exit_status) : std::string("-")));
  line("bytes: " + std::to_string(s.bytes_in) + " in, " + std::to_string(s.bytes_out) + " out");
  line("commands: " + std::to_string(d.commands.size()));
  for (const auto& c : d.commands) {
    line("command #" + std::to_string(c.id) + ": " + e(c.at) + " channel " + std::to_string(c.channel) + " " +
         e(c.kind) + (c.text.empty() ? "" : ": " + e(c.text)));
    std::string decided = "  decision: " + e(c.decision);
    if (!c.reason.empty()) decided += ": " + e(c.reason);
    if (!c.policy_hook.empty() || !c.policy_source.empty())
      decided += " (" + e(c.policy_hook) + (c.policy_source.empty() ? "" : " " + e(c.policy_source)) + ")";
    line(decided);
    if (c.approval) print_approval(*c.approval);
    if (!c.ended_at.empty() || c.exit_status || !c.exit_signal.empty()) {
      std::string ended = "  ended: " + (c.ended_at.empty() ? std::string("-") : e(c.ended_at));
      if (c.exit_status) ended += ", exit " + std::to_string(*c.exit_status);
      if (!c.exit_signal.empty()) ended += ", signal " + e(c.exit_signal);
      ended += ", " + std::to_string(c.bytes_in) + " bytes in, " + std::to_string(c.bytes_out) + " out";
      line(ended);
    }
    if (c.rows) line("  rows: " + std::to_string(*c.rows));
    if (!c.error.empty()) line("  error: " + e(c.error));
    if (!c.masked_columns.empty()) line("  masked: " + e(c.masked_columns));
    if (!c.recording.empty()) line("  recording: " + e(c.recording));
    else if (c.recording_state == kRecordingOffByConfig) line(std::string("  recording: ") + kRecordingOffByConfig);
  }
  line("recordings: " + std::to_string(d.recordings.size()));
  for (const auto& r : d.recordings) {
    line("recording: " + e(r.path) + " (" + (r.state.empty() ? std::string("open") : e(r.state)) + ", command #" +
         std::to_string(r.command_id) + ")");
    // The integrity fields an auditor reads (every column is in --json).
    std::string kv;
    for (const char* k : {"state", "events", "bytes", "digest", "closed_at", "pruned_at", "location", "object_key"}) {
      const auto it = r.integrity.find(k);
      if (it != r.integrity.end() && !it->second.empty()) kv += (kv.empty() ? "" : " ") + std::string(k) + "=" + e(it->second);
    }
    if (!kv.empty()) line("  integrity: " + kv);
  }
}

}  // namespace

int ctl_session(const std::vector<std::string>& a) {
  if (a.size() < 2 || a[0] != "show") return session_usage();
  std::string id, config_file, db;
  bool json = false;
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (a[i] == "--json") json = true;
    else if (a[i] == "--db" && i + 1 < a.size()) db = a[++i];
    else if (a[i] == "--config" && i + 1 < a.size()) config_file = a[++i];
    else if (!a[i].empty() && a[i][0] == '-')
      return std::fprintf(stderr, "bastionctl: session show: unknown option \"%s\"\n", e(a[i]).c_str()), session_usage();
    else if (id.empty()) id = a[i];
    else return std::fprintf(stderr, "bastionctl: session show: one session ID\n"), session_usage();
  }
  if (id.empty()) return session_usage();
  std::string err;
  std::string password_file;
  const std::string path = audit_store_path(config_file, db, err, &password_file);
  if (path.empty()) return std::fprintf(stderr, "bastionctl: %s\n", display_escape_multiline(err).c_str()), 2;
  const auto q = AuditQuery::open(path, err, password_file);
  if (!q) return std::fprintf(stderr, "bastionctl: %s: %s\n", e(path).c_str(), e(err).c_str()), 1;
  const auto d = q->session_detail(id, err);
  if (!d) {
    if (err.empty()) return std::fprintf(stderr, "bastionctl: no session %s\n", e(id).c_str()), 1;
    return std::fprintf(stderr, "bastionctl: %s: %s\n", e(path).c_str(), e(err).c_str()), 1;
  }
  if (json) {
    const nlohmann::json j = *d;
    // ensure_ascii: no C1 control or bidi override reaches the terminal raw.
    std::printf("%s\n", j.dump(2, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  print_detail(*d);
  return 0;
}

}  // namespace bastion
