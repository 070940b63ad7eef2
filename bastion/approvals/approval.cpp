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

int64_t parse_duration(const std::string& in) {
  std::string s = in;
  if (s.empty()) return -1;
  int64_t unit = 1;
  switch (s.back()) {
    case 's': s.pop_back(); break;
    case 'm': unit = 60, s.pop_back(); break;
    case 'h': unit = 3600, s.pop_back(); break;
    case 'd': unit = 86400, s.pop_back(); break;
    default: break;
  }
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(s) * unit;
}

std::string format_duration(int64_t s) {
  if (s < 0) s = 0;
  if (s >= 3600) return std::to_string(s / 3600) + "h" + (s % 3600 / 60 ? std::to_string(s % 3600 / 60) + "m" : "");
  if (s >= 60) return std::to_string(s / 60) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  return std::to_string(s) + "s";
}

}  // namespace bastion
