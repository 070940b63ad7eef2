// Just-in-time access: a request for a human decision (a held command, or
// time-boxed access to a target), its votes, and the pure rules deciding who
// may vote and what the votes add up to. No SSH, no storage here.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_util.h"

namespace bastion {

// Where a request stands. The store keeps these names.
enum class ApprovalState { pending, approved, denied, expired, cancelled, used, revoked };
const char* approval_state_name(ApprovalState s);
// A name this bastion does not know (a newer bastion's, sharing the store)
// is never an approval: it reads as denied.
ApprovalState approval_state_from(std::string_view name);

struct ApprovalVote {
  std::string approver;  // identity (or "admin:NAME" from bastionctl)
  std::string decision;  // approve | deny
  std::string comment;
  int64_t at = 0;
};

struct ApprovalRequest {
  int64_t id = 0;
  std::string kind;  // command | access
  std::string session_id;
  int channel = 0;
  std::string requester;  // identity
  std::string target;
  std::string command_kind, command_text;  // for command requests
  std::string reason;                      // why it needs approval / why access is asked
  std::vector<std::string> approvers;      // principals that may decide
  int min_approvals = 1;
  int64_t created_at = 0, expires_at = 0;  // pending until expires_at (unix seconds)
  ApprovalState state = ApprovalState::pending;
  int64_t decided_at = 0;
  std::string decided_by;
  std::string deny_reason;
  int64_t grant_ttl = 0, grant_expires_at = 0;  // access: seconds granted, counted from approval
  std::vector<ApprovalVote> votes;
};

// The state as of `now` (a pending request past its deadline is expired; an
// access grant past its end is expired too).
ApprovalState effective_state(const ApprovalRequest& r, int64_t now);

// Why `identity` (with `principals`) may not vote on `r` now; empty if it may.
// `admin` votes (bastionctl on the bastion host) skip the principal check but
// not four eyes.
std::string vote_refusal(const ApprovalRequest& r, const std::string& identity,
                         const std::vector<std::string>& principals, bool admin, int64_t now);

// What the votes add up to: approved (enough distinct approvals), denied
// (any denial), or pending.
ApprovalState tally(const ApprovalRequest& r);

}  // namespace bastion
