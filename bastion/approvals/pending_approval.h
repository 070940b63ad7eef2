// One request for a human decision that something waits on: a held channel
// or a held command inside a channel. It creates the request, polls the
// store for its outcome (consuming an approval once), writes the status line
// the requester sees, and cancels: every cancellation (Ctrl-C, the channel
// closing, the session ending) goes through cancel(), so the store, the
// webhook and the recording always hear of it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "approvals/approval_store.h"

namespace bastion {

// What became of a request, as the waiting side sees it. The store keeps its
// own strings; these name the outcome in markers, refusals and end reasons.
enum class ApprovalOutcome { pending, approved, reused, denied, expired, cancelled, used, revoked };
const char* approval_outcome_name(ApprovalOutcome o);

// What a pending approval talks to besides the store.
struct ApprovalLinks {
  ApprovalStore* store = nullptr;
  std::function<uint64_t()> version;  // bumped when this process decides a request
  std::function<void()> changed;      // bump it
  std::function<void(const ApprovalRequest&, const std::string&)> webhook;  // empty: none configured
  std::function<void(const std::string&)> marker;                          // the channel's recording
};

class PendingApproval {
 public:
  // Stores `r` (a pending command request) and tells the webhook and the
  // recording. Null + the refusal for the user when nobody may approve it or
  // the store cannot take it.
  static std::unique_ptr<PendingApproval> create(ApprovalLinks links, ApprovalRequest r, std::string& refusal);

  // The outcome as of `now`: pending until decided. Reads the store when this
  // process decided something or every 2 s (another bastion may share the
  // store). An approval is consumed here, once (approved -> used); when
  // someone consumed it first the outcome is `reused`.
  ApprovalOutcome poll(int64_t now);
  // The requester cancelled, or left: a pending request is cancelled in the
  // store, the webhook gets "cancelled", the recording a marker. When the
  // store no longer holds it pending (an approver decided first, it timed
  // out), nothing changes there and nobody hears "cancelled": the result is
  // what the store holds (`cancelled` only when this call cancelled it).
  ApprovalOutcome cancel(const std::string& reason, int64_t now);

  // True once a second while it waits: time to show the status line again.
  bool status_due(int64_t now);
  // "bastion: request #N waits for approval by oncall (why), 5s so far,
  // times out at 14:05:30Z; Ctrl-C cancels", escaped ("waits for 2
  // approvals" when more are needed; the date too when not today, UTC).
  std::string status_line(int64_t now) const;
  // Why it will not run, after "request #N " (denied by, timed out, ...).
  std::string refusal(ApprovalOutcome o) const;
  // The approvers who approved, comma-separated.
  std::string voters() const;
  const ApprovalRequest& request() const { return request_; }
  int64_t id() const { return request_.id; }

 private:
  PendingApproval(ApprovalLinks links, ApprovalRequest r);

  ApprovalLinks links_;
  ApprovalRequest request_;
  uint64_t seen_version_ = 0;
  int64_t next_poll_ = 0, next_status_ = 0;
};

}  // namespace bastion
