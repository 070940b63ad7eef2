// Where approval requests and votes live: the audit store (so a second
// bastion sharing the store sees them, and auditors have them with the rest).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "approvals/approval.h"

namespace bastion {

class ApprovalStore {
 public:
  virtual ~ApprovalStore() = default;
  virtual bool create_request(ApprovalRequest& r, std::string& error) = 0;  // sets r.id
  // With its votes.
  virtual std::optional<ApprovalRequest> request(int64_t id, std::string& error) = 0;
  // Newest first (at most 200); `requester` empty: everyone's.
  virtual std::vector<ApprovalRequest> requests(const std::string& requester, std::string& error) = 0;
  // Pending requests with an id above `after`, oldest first (at most 200),
  // with their votes; `after` becomes the newest id looked at, so what was
  // not pending is not looked at again. The approvers' consoles poll this
  // once a second: a store should make it cheap when nothing arrived. This
  // default reads requests().
  virtual std::vector<ApprovalRequest> pending_after(int64_t& after, std::string& error) {
    std::vector<ApprovalRequest> all = requests("", error), out;
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->id <= after) continue;
      after = it->id;
      if (it->state == ApprovalState::pending) out.push_back(std::move(*it));
    }
    return out;
  }
  virtual bool add_vote(int64_t id, const ApprovalVote& v, std::string& error) = 0;
  // Moves `id` from state `from` to `to`; false (no error) if it was not in `from`.
  virtual bool transition(int64_t id, ApprovalState from, ApprovalState to, int64_t at,
                          const std::string& by, const std::string& reason, int64_t grant_expires_at,
                          std::string& error) = 0;
  // The newest approved, unexpired access grant of `identity` to `target`.
  virtual std::optional<ApprovalRequest> active_grant(const std::string& identity, const std::string& target,
                                                      int64_t now, std::string& error) = 0;
};

}  // namespace bastion
