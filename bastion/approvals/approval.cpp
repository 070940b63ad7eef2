#include "approvals/approval.h"

#include <algorithm>
#include <set>

namespace bastion {

const char* approval_state_name(ApprovalState s) {
  switch (s) {
    case ApprovalState::pending: return "pending";
    case ApprovalState::approved: return "approved";
    case ApprovalState::denied: return "denied";
    case ApprovalState::expired: return "expired";
    case ApprovalState::cancelled: return "cancelled";
    case ApprovalState::used: return "used";
    case ApprovalState::revoked: return "revoked";
  }
  return "denied";
}

ApprovalState approval_state_from(std::string_view name) {
  for (ApprovalState s : {ApprovalState::pending, ApprovalState::approved, ApprovalState::denied, ApprovalState::expired,
                          ApprovalState::cancelled, ApprovalState::used, ApprovalState::revoked})
    if (name == approval_state_name(s)) return s;
  return ApprovalState::denied;
}

ApprovalState effective_state(const ApprovalRequest& r, int64_t now) {
  if (r.state == ApprovalState::pending && now >= r.expires_at) return ApprovalState::expired;
  if (r.kind == "access" && r.state == ApprovalState::approved && now >= r.grant_expires_at) return ApprovalState::expired;
  return r.state;
}

std::string vote_refusal(const ApprovalRequest& r, const std::string& identity,
                         const std::vector<std::string>& principals, bool admin, int64_t now) {
  const ApprovalState st = effective_state(r, now);
  if (st != ApprovalState::pending) return "request #" + std::to_string(r.id) + " is " + approval_state_name(st);
  if (identity == r.requester) return "you cannot decide your own request (four eyes)";
  if (!admin) {
    const bool approver = std::any_of(principals.begin(), principals.end(), [&](const std::string& p) {
      return std::find(r.approvers.begin(), r.approvers.end(), p) != r.approvers.end();
    });
    if (!approver) return "you are not an approver of request #" + std::to_string(r.id);
  }
  for (const auto& v : r.votes)
    if (v.approver == identity) return "you already decided request #" + std::to_string(r.id);
  return "";
}

ApprovalState tally(const ApprovalRequest& r) {
  std::set<std::string> approvals;
  for (const auto& v : r.votes) {
    if (v.decision == "deny") return ApprovalState::denied;
    if (v.decision == "approve") approvals.insert(v.approver);
  }
  return static_cast<int>(approvals.size()) >= std::max(1, r.min_approvals) ? ApprovalState::approved
                                                                             : ApprovalState::pending;
}

}  // namespace bastion
