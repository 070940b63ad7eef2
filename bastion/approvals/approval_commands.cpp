#include "approvals/approval_commands.h"
#include "common/parse_number.h"

#include <algorithm>
#include <ctime>

#include "common/display_escape.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace bastion {
namespace {

constexpr int kMaxPendingAccessRequests = 5;  // per requester, across targets

const char* kApprovalsHelp =
    "commands:\n"
    "  list                          pending requests you may decide\n"
    "  show N                        one request, with its votes\n"
    "  approve N [--comment TEXT]    approve (a requester never approves their own)\n"
    "  deny N --reason TEXT          deny, telling the requester why\n";
const char* kAccessHelp =
    "commands:\n"
    "  request TARGET --for DURATION --reason TEXT   ask for time-boxed access (e.g. --for 30m)\n"
    "  list                                          your requests and grants\n"
    "  revoke N                                      end a grant early\n";

// A held command in a one-line listing: escaped, and cut visibly (with its
// length) so a long text cannot push what follows off the screen; `show N`
// gives all of it.
constexpr std::size_t kListedCommandChars = 200;

bool parse_id(const std::string& s, int64_t& id) {
  std::string_view t = s;
  if (!t.empty() && t[0] == '#') t.remove_prefix(1);
  const auto n = parse_unsigned(t, 1, INT64_MAX);
  if (!n) return false;
  id = static_cast<int64_t>(*n);
  return true;
}

// Names come from certificates and configuration: shown escaped.
std::string escaped_list(const std::vector<std::string>& v) {
  std::vector<std::string> shown;
  for (const auto& x : v) shown.push_back(display_escape(x));
  return join(shown, ", ");
}

std::string ago(int64_t t, int64_t now) { return format_duration(now - t) + " ago"; }

}  // namespace

std::string describe_request(const ApprovalRequest& r, int64_t now) {
  // Everything from the request is user-controlled (target, command, requester
  // key ID, reason): escaped, so the approver reads the bytes that will run.
  std::string what = r.kind == "access"
                         ? "access to " + display_escape(r.target) + " for " + format_duration(r.grant_ttl)
                         : display_escape(r.target) + " " + display_escape(r.command_kind) + ": " +
                               display_escape_truncated(r.command_text, kListedCommandChars);
  int approvals = 0;
  for (const auto& v : r.votes) approvals += v.decision == "approve";
  std::string line = "#" + std::to_string(r.id) + "  " + approval_state_name(effective_state(r, now)) + "  " + display_escape(r.requester) +
                     "  " + what;
  if (!r.reason.empty()) line += "  (" + display_escape(r.reason) + ")";
  line += "  " + ago(r.created_at, now) + "  [" + std::to_string(approvals) + "/" +
          std::to_string(std::max(1, r.min_approvals)) + " approvals; approvers: " + escaped_list(r.approvers) + "]";
  return line;
}

bool ApprovalCommands::may_see(const ApprovalRequest& r) const {
  if (actor_.admin || r.requester == actor_.identity) return true;
  return std::any_of(actor_.principals.begin(), actor_.principals.end(), [&](const std::string& p) {
    return std::find(r.approvers.begin(), r.approvers.end(), p) != r.approvers.end();
  });
}

int ApprovalCommands::run(const std::string& which, const std::vector<std::string>& a, std::string& out,
                          std::string& err) {
  const std::string cmd = a.empty() ? "help" : a[0];
  int64_t id = 0;
  // A request number that does not parse is named, not answered with help.
  if ((cmd == "show" || cmd == "revoke" || cmd == "approve" || cmd == "deny") && a.size() >= 2 &&
      !parse_id(a[1], id)) {
    std::string why;
    std::string_view t = a[1];
    if (!t.empty() && t[0] == '#') t.remove_prefix(1);
    parse_unsigned(t, 1, INT64_MAX, &why);
    return err += "\"" + a[1] + "\" is not a request number: " + why + "\n", 2;
  }
  if (which == "access") {
    if (cmd == "request") return request_access(a, out, err);
    if (cmd == "list") return list_mine(out, err);
    if (cmd == "revoke" && a.size() == 2 && parse_id(a[1], id)) return revoke(id, out, err);
    if (cmd == "show" && a.size() == 2 && parse_id(a[1], id)) return show(id, out, err);
    (cmd == "help" ? out : err) += kAccessHelp;
    return cmd == "help" ? 0 : 2;
  }
  if (cmd == "list") return list_pending(out, err);
  if (cmd == "show" && a.size() == 2 && parse_id(a[1], id)) return show(id, out, err);
  if ((cmd == "approve" || cmd == "deny") && a.size() >= 2 && parse_id(a[1], id)) {
    // The rest of the line is the text: ssh joins its arguments with spaces,
    // so `--reason not during the freeze` must not need extra quoting.
    std::string text;
    for (std::size_t i = 2; i < a.size(); ++i) {
      if ((a[i] == "--comment" || a[i] == "--reason") && i + 1 < a.size()) {
        for (std::size_t j = i + 1; j < a.size(); ++j) text += (j > i + 1 ? " " : "") + a[j];
        break;
      }
      return err += "unexpected argument \"" + display_escape(a[i]) + "\"\n" + kApprovalsHelp, 2;
    }
    const Vote v = cmd == "approve" ? Vote::approve : Vote::deny;
    if (v == Vote::deny && text.empty()) return err += "deny needs --reason TEXT (the requester sees it)\n", 2;
    return vote(id, v, text, out, err);
  }
  if (cmd == "revoke" && a.size() == 2 && parse_id(a[1], id)) return revoke(id, out, err);
  (cmd == "help" ? out : err) += kApprovalsHelp;
  return cmd == "help" ? 0 : 2;
}

int ApprovalCommands::list(const std::string& requester, const RequestLine& line, const char* none, std::string& out,
                           std::string& err) {
  const int64_t now = unix_now();
  std::string e;
  int n = 0;
  for (const auto& r : store_.requests(requester, e)) {
    const std::string text = line(r, now);
    if (text.empty()) continue;
    out += text + "\n";
    ++n;
  }
  if (!e.empty()) return err += "the approval store is unavailable: " + display_escape(e) + "\n", 1;
  if (n == 0) out += none;
  return 0;
}

int ApprovalCommands::list_pending(std::string& out, std::string& err) {
  return list(
      "",
      [this](const ApprovalRequest& r, int64_t now) {
        if (effective_state(r, now) != ApprovalState::pending) return std::string();
        if (!vote_refusal(r, actor_.identity, actor_.principals, actor_.admin, now).empty()) return std::string();
        return describe_request(r, now);
      },
      "no pending requests you may decide\n", out, err);
}

bool ApprovalCommands::may_approve_something() const {
  if (actor_.admin || cfg_.policy) return true;  // a policy's review may name anyone: unknown
  for (const auto& entry : cfg_.targets) {
    const TargetConfig& t = entry.second;
    if (t.policy) return true;
    for (const auto& p : actor_.principals)
      if (std::find(t.approvers.begin(), t.approvers.end(), p) != t.approvers.end()) return true;
  }
  return false;
}

std::vector<std::string> ApprovalCommands::arrivals(int64_t& after, int64_t now) {
  std::string err;
  const std::vector<ApprovalRequest> rs = store_.pending_after(after, err);  // oldest first
  std::vector<std::string> lines;
  for (const ApprovalRequest& r : rs) {
    if (effective_state(r, now) != ApprovalState::pending) continue;
    if (!vote_refusal(r, actor_.identity, actor_.principals, actor_.admin, now).empty()) continue;
    const std::string id = std::to_string(r.id);
    lines.push_back("bastion: new request " + describe_request(r, now) + "; approve " + id + " or deny " + id +
                    " --reason ...");
  }
  return lines;
}

int ApprovalCommands::show(int64_t id, std::string& out, std::string& err) {
  std::string e;
  const auto r = store_.request(id, e);
  if (!r || !may_see(*r)) return err += "no request #" + std::to_string(id) + " you may see\n", 1;
  const int64_t now = unix_now();
  out += describe_request(*r, now) + "\n";
  if (r->kind != "access") {
    // All of the command, every line behind a "  | " margin: newlines are kept
    // so a multi-line SQL statement reads as written, and the margin keeps a
    // line of the command from passing for a line of ours.
    out += "  command, " + std::to_string(r->command_text.size()) + " bytes, exactly as it will run:\n";
    const std::string text = display_escape_multiline(r->command_text);
    std::size_t from = 0;
    for (;;) {
      const std::size_t nl = text.find('\n', from);
      out += "  | " + text.substr(from, nl == std::string::npos ? std::string::npos : nl - from) + "\n";
      if (nl == std::string::npos) break;
      from = nl + 1;
    }
  }
  out += "  requested " + iso8601(r->created_at) + " by " + display_escape(r->requester) +
         (r->session_id.empty() ? "" : " in session " + display_escape(r->session_id)) + "\n";
  if (effective_state(*r, now) == ApprovalState::pending) out += "  expires " + iso8601(r->expires_at) + "\n";
  for (const auto& v : r->votes)
    out += "  " + display_escape(v.decision) + " by " + display_escape(v.approver) + " at " + iso8601(v.at) +
           (v.comment.empty() ? "" : ": " + display_escape(v.comment)) + "\n";
  if (r->kind == "access" && r->grant_expires_at) out += "  grant ends " + iso8601(r->grant_expires_at) + "\n";
  if (!r->deny_reason.empty()) out += "  reason: " + display_escape(r->deny_reason) + "\n";
  return 0;
}

int ApprovalCommands::vote(int64_t id, Vote decision, const std::string& text, std::string& out,
                           std::string& err) {
  std::string e;
  auto r = store_.request(id, e);
  if (!r) return err += "no request #" + std::to_string(id) + "\n", 1;
  const int64_t now = unix_now();
  const std::string why = vote_refusal(*r, actor_.identity, actor_.principals, actor_.admin, now);
  if (!why.empty()) return err += display_escape(why) + "\n", 1;
  // The stored and audited words stay "approve" / "deny".
  ApprovalVote v{actor_.identity, decision == Vote::approve ? "approve" : "deny", text, now};
  if (!store_.add_vote(id, v, e)) return err += "cannot record the vote: " + display_escape(e) + "\n", 1;
  r->votes.push_back(v);
  const ApprovalState result = tally(*r);
  if (result != ApprovalState::pending) {
    const int64_t grant_end = r->kind == "access" && result == ApprovalState::approved ? now + r->grant_ttl : 0;
    if (!store_.transition(id, ApprovalState::pending, result, now, actor_.identity, decision == Vote::deny ? text : "", grant_end, e))
      return err += e.empty() ? "request #" + std::to_string(id) + " changed meanwhile\n" : display_escape(e) + "\n", 1;
    r->state = result;
    r->grant_expires_at = grant_end;
    if (event_) event_(*r, approval_state_name(result));
  }
  if (changed_) changed_();
  if (result == ApprovalState::approved) out += "request #" + std::to_string(id) + " approved\n";
  else if (result == ApprovalState::denied) out += "request #" + std::to_string(id) + " denied\n";
  else {
    int approvals = 0;
    for (const auto& x : r->votes) approvals += x.decision == "approve";
    out += "approval recorded for request #" + std::to_string(id) + " (" + std::to_string(approvals) + " of " +
           std::to_string(r->min_approvals) + ")\n";
  }
  return 0;
}

int ApprovalCommands::request_access(const std::vector<std::string>& a, std::string& out, std::string& err) {
  if (a.size() < 2) return err += kAccessHelp, 2;
  const std::string target = a[1];
  std::string reason;
  int64_t ttl = -1;
  for (std::size_t i = 2; i < a.size(); ++i) {
    if (a[i] == "--for" && i + 1 < a.size()) {
      ttl = parse_duration(a[++i]);
      if (ttl <= 0) return err += "--for \"" + a[i] + "\": not a duration (e.g. 30m, 2h)\n", 2;
    } else if (a[i] == "--reason" && i + 1 < a.size()) {
      // The reason runs to the next option (ssh joins arguments with spaces).
      for (++i; i < a.size() && a[i] != "--for"; ++i) reason += (reason.empty() ? "" : " ") + a[i];
      --i;
    } else {
      return err += "unexpected argument \"" + display_escape(a[i]) + "\"\n" + kAccessHelp, 2;
    }
  }
  if (ttl <= 0) return err += "request needs --for DURATION (e.g. 30m, 2h)\n", 2;
  if (reason.empty()) return err += "request needs --reason TEXT (approvers see it)\n", 2;
  if (ttl > cfg_.approvals.max_grant)
    return err += "at most " + format_duration(cfg_.approvals.max_grant) + " may be requested\n", 1;
  const auto it = cfg_.targets.find(target);
  const std::string shown_target = display_escape(target);
  if (it == cfg_.targets.end()) return err += "unknown target \"" + shown_target + "\"\n", 1;
  if (it->second.approvers.empty())
    return err += "target \"" + shown_target + "\" takes no access requests (no approvers)\n", 1;
  for (const auto& p : actor_.principals)
    if (std::find(it->second.allow.begin(), it->second.allow.end(), p) != it->second.allow.end())
      return out += "you already have access to \"" + shown_target + "\"\n", 0;
  {
    // Bounded: one pending request per target, a few in all, so nobody can
    // bury the approvers' list (or the webhook's queue) in requests.
    std::string e;
    int pending = 0;
    const int64_t now = unix_now();
    for (const auto& p : store_.requests(actor_.identity, e)) {
      if (p.kind != "access" || effective_state(p, now) != ApprovalState::pending) continue;
      if (p.target == target)
        return err += "request #" + std::to_string(p.id) + " for \"" + shown_target + "\" is already pending\n", 1;
      ++pending;
    }
    if (pending >= kMaxPendingAccessRequests)
      return err += "you have " + std::to_string(pending) + " pending access requests; wait for a decision\n", 1;
  }
  ApprovalRequest r;
  r.kind = "access";
  r.requester = actor_.identity;
  r.target = target;
  r.reason = reason;
  r.approvers = it->second.approvers;
  r.created_at = unix_now();
  r.expires_at = r.created_at + cfg_.approvals.request_ttl;
  r.grant_ttl = ttl;
  if (refine_) {
    if (const auto d = refine_(r)) {
      if (d->verdict == Decision::Verdict::deny)
        return err += "request refused by policy: " +
                          (d->reason.empty() ? std::string("denied") : display_escape(d->reason)) + "\n",
               1;
      if (d->verdict == Decision::Verdict::review) {
        if (!d->approvers.empty()) r.approvers = d->approvers;
        r.min_approvals = d->min_approvals;
      }
    }
  }
  std::string e;
  if (!store_.create_request(r, e)) return err += "the approval store is unavailable: " + display_escape(e) + "\n", 1;
  if (event_) event_(r, "created");
  if (changed_) changed_();
  out += "request #" + std::to_string(r.id) + " created: access to " + shown_target + " for " + format_duration(ttl) +
         " once approved by one of: " + escaped_list(r.approvers) + " (pending for " +
         format_duration(cfg_.approvals.request_ttl) + ")\n";
  return 0;
}

int ApprovalCommands::list_mine(std::string& out, std::string& err) {
  return list(
      actor_.identity,
      [](const ApprovalRequest& r, int64_t now) {
        std::string text = describe_request(r, now);
        if (r.kind == "access" && effective_state(r, now) == ApprovalState::approved)
          text += "  grant ends in " + format_duration(r.grant_expires_at - now);
        return text;
      },
      "no requests\n", out, err);
}

int ApprovalCommands::revoke(int64_t id, std::string& out, std::string& err) {
  std::string e;
  const auto r = store_.request(id, e);
  if (!r || r->kind != "access" || !may_see(*r)) return err += "no access grant #" + std::to_string(id) + " you may revoke\n", 1;
  const int64_t now = unix_now();
  if (effective_state(*r, now) != ApprovalState::approved)
    return err += "request #" + std::to_string(id) + " is " + approval_state_name(effective_state(*r, now)) + "\n", 1;
  if (!store_.transition(id, ApprovalState::approved, ApprovalState::revoked, now, actor_.identity, "revoked by " + actor_.identity, 0, e))
    return err += "request #" + std::to_string(id) + " changed meanwhile\n", 1;
  if (event_) event_(*r, "revoked");
  if (changed_) changed_();
  out += "grant #" + std::to_string(id) + " revoked\n";
  return 0;
}

}  // namespace bastion
