#include "approvals/approval.h"

#include <algorithm>
#include <set>

namespace bastion {

std::string effective_state(const ApprovalRequest& r, int64_t now) {
  if (r.state == "pending" && now >= r.expires_at) return "expired";
  if (r.kind == "access" && r.state == "approved" && now >= r.grant_expires_at) return "expired";
  return r.state;
}

std::string vote_refusal(const ApprovalRequest& r, const std::string& identity,
                         const std::vector<std::string>& principals, bool admin, int64_t now) {
  const std::string st = effective_state(r, now);
  if (st != "pending") return "request #" + std::to_string(r.id) + " is " + st;
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

std::string tally(const ApprovalRequest& r) {
  std::set<std::string> approvals;
  for (const auto& v : r.votes) {
    if (v.decision == "deny") return "denied";
    if (v.decision == "approve") approvals.insert(v.approver);
  }
  return static_cast<int>(approvals.size()) >= std::max(1, r.min_approvals) ? "approved" : "pending";
}

}  // namespace bastion
