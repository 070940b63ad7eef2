#include "approvals/pending_approval.h"

#include "common/display_escape.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace bastion {
namespace {

constexpr int64_t kStorePollSeconds = 2;

ApprovalOutcome outcome_of(ApprovalState state) {
  switch (state) {
    case ApprovalState::pending: return ApprovalOutcome::pending;
    case ApprovalState::approved: return ApprovalOutcome::approved;
    case ApprovalState::denied: return ApprovalOutcome::denied;
    case ApprovalState::expired: return ApprovalOutcome::expired;
    case ApprovalState::cancelled: return ApprovalOutcome::cancelled;
    case ApprovalState::used: return ApprovalOutcome::used;
    case ApprovalState::revoked: return ApprovalOutcome::revoked;
  }
  return ApprovalOutcome::denied;
}

// When a request times out, in UTC: "14:05:30Z" today, with the date on
// another day ("2026-12-01 14:05:30Z").
std::string deadline_text(int64_t at, int64_t now) {
  const std::string a = iso8601(at), n = iso8601(now);  // "2026-11-28T23:59:01Z"
  const std::string time = a.substr(11);
  return a.compare(0, 10, n, 0, 10) == 0 ? time : a.substr(0, 10) + " " + time;
}

}  // namespace

const char* approval_outcome_name(ApprovalOutcome o) {
  switch (o) {
    case ApprovalOutcome::pending: return "pending";
    case ApprovalOutcome::approved: return "approved";
    case ApprovalOutcome::reused: return "reused";
    case ApprovalOutcome::denied: return "denied";
    case ApprovalOutcome::expired: return "expired";
    case ApprovalOutcome::cancelled: return "cancelled";
    case ApprovalOutcome::used: return "used";
    case ApprovalOutcome::revoked: return "revoked";
  }
  return "denied";
}

PendingApproval::PendingApproval(ApprovalLinks links, ApprovalRequest r)
    : links_(std::move(links)), request_(std::move(r)) {}

std::unique_ptr<PendingApproval> PendingApproval::create(ApprovalLinks links, ApprovalRequest r,
                                                         std::string& refusal) {
  if (r.approvers.empty()) {
    refusal = "approval required (" + r.reason + ") but nobody may approve it here";
    return nullptr;
  }
  std::string err;
  if (!links.store || !links.store->create_request(r, err)) {
    log_error("cannot create approval request", {{"session", r.session_id}, {"error", err}});
    refusal = "approval required, but approvals are unavailable";
    return nullptr;
  }
  links.changed();
  if (links.webhook) links.webhook(r, "created");
  links.marker("approval requested: #" + std::to_string(r.id));
  log_info("approval requested", {{"session", r.session_id}, {"request", std::to_string(r.id)},
                                  {"text", r.command_text}});
  std::unique_ptr<PendingApproval> p(new PendingApproval(std::move(links), std::move(r)));
  p->seen_version_ = p->links_.version();
  return p;
}

ApprovalOutcome PendingApproval::poll(int64_t now) {
  const uint64_t v = links_.version();
  if (v == seen_version_ && now < next_poll_ && now < request_.expires_at) return ApprovalOutcome::pending;
  seen_version_ = v;
  next_poll_ = now + kStorePollSeconds;
  std::string err;
  const auto r = links_.store->request(request_.id, err);
  if (!r) return ApprovalOutcome::pending;
  request_ = *r;
  const ApprovalOutcome o = outcome_of(effective_state(*r, now));
  if (o == ApprovalOutcome::pending) return o;
  if (o == ApprovalOutcome::approved) {
    // Bound to this request: this text, this session, once.
    if (!links_.store->transition(r->id, ApprovalState::approved, ApprovalState::used, now, r->decided_by, "", 0, err))
      return ApprovalOutcome::reused;
    links_.changed();
  } else if (o == ApprovalOutcome::expired) {
    links_.store->transition(r->id, ApprovalState::pending, ApprovalState::expired, now, "", "timed out", 0, err);
    links_.changed();
    if (links_.webhook) links_.webhook(*r, "expired");
  }
  links_.marker(std::string("approval ") + approval_outcome_name(o) + ": #" + std::to_string(r->id));
  return o;
}

ApprovalOutcome PendingApproval::cancel(const std::string& reason, int64_t now) {
  std::string err;
  const std::string id = std::to_string(request_.id);
  if (!links_.store->transition(request_.id, ApprovalState::pending, ApprovalState::cancelled, now, request_.requester,
                                reason, 0, err)) {
    // Decided (or failed) before the cancel reached the store: say what it
    // holds, never "cancelled" (the command does not run either way).
    std::string read_err;
    const auto r = links_.store->request(request_.id, read_err);
    if (r) request_ = *r;
    const std::string held = r ? approval_state_name(r->state) : "unreadable";
    log_warn("approval not cancelled: the store no longer holds it pending",
             {{"session", request_.session_id}, {"request", id}, {"state", held}, {"error", err}});
    links_.marker("approval not cancelled: #" + id + " is " + held);
    return r ? outcome_of(r->state) : ApprovalOutcome::denied;
  }
  request_.state = ApprovalState::cancelled;
  request_.decided_by = request_.requester;
  request_.deny_reason = reason;
  links_.changed();
  if (links_.webhook) links_.webhook(request_, "cancelled");
  links_.marker("approval cancelled: #" + id);
  return ApprovalOutcome::cancelled;
}

bool PendingApproval::status_due(int64_t now) {
  if (now < next_status_) return false;
  next_status_ = now + 1;
  return true;
}

std::string PendingApproval::status_line(int64_t now) const {
  const ApprovalRequest& r = request_;
  const std::string needed = r.min_approvals > 1 ? std::to_string(r.min_approvals) + " approvals" : "approval";
  return display_escape("bastion: request #" + std::to_string(r.id) + " waits for " + needed + " by " +
                        join(r.approvers, ", ") + " (" + r.reason + "), " + format_duration(now - r.created_at) +
                        " so far, times out at " + deadline_text(r.expires_at, now) + "; Ctrl-C cancels it, nothing runs");
}

std::string PendingApproval::refusal(ApprovalOutcome o) const {
  const ApprovalRequest& r = request_;
  if (o == ApprovalOutcome::denied)
    return "denied by " + r.decided_by + (r.deny_reason.empty() ? "" : ": " + r.deny_reason);
  if (o == ApprovalOutcome::expired) return "timed out waiting for approval";
  if (o == ApprovalOutcome::reused) return "was already used";
  return approval_outcome_name(o);
}

std::string PendingApproval::voters() const {
  std::vector<std::string> by;
  for (const auto& v : request_.votes)
    if (v.decision == "approve") by.push_back(v.approver);
  return join(by, ", ");
}

}  // namespace bastion
